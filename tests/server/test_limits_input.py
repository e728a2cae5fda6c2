"""Bad input never crashes: odd header bytes from a module, malformed modules.toml files, nonsense
flags, duplicate routes. Properties checked with hypothesis (``scripts/fuzz.py`` runs the same ones
100,000 times), and each case the issue found over a real socket or the real command line."""
from __future__ import annotations

import shutil

import pytest
from hypothesis import HealthCheck, given, settings

from helpers import attackers
from helpers import fuzz_targets
from helpers import servers as ss


SETTINGS = settings(max_examples=400, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow])


# -- the CGI output parser --------------------------------------------------------------------------
@SETTINGS
@given(fuzz_targets.cgi_outputs())
def test_any_cgi_output_becomes_a_well_formed_response(stdout):
    fuzz_targets.check_cgi_output(stdout)


@pytest.fixture(scope="module")
def raw_site(need_toolchain, tmp_path_factory):
    folder = tmp_path_factory.mktemp("raw-site")
    shutil.copyfile(ss.build(need_toolchain, attackers.ATTACKER_C, "c", name="attacker").wasm_path,
                    folder / "attacker.wasm")
    (folder / "modules.toml").write_text('[[module]]\nroute = "/raw"\nmodule = "attacker.wasm"\n')
    return folder


@pytest.fixture(scope="module")
def raw_server(raw_site, python_env):
    with ss.serve_process(python_env, raw_site, "-c", "modules.toml", "-l", "127.0.0.1:0") as process:
        yield process
    assert "Traceback" not in process.stderr, process.stderr


def printed(server, output: bytes) -> bytes:
    """The raw HTTP response to a module that prints exactly ``output``."""
    request = (b"POST /raw?raw HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
               + f"Content-Length: {len(output)}\r\n\r\n".encode() + output)
    return ss.raw_exchange(server.port, request)


def test_obs_text_header_bytes_pass_through_byte_for_byte(raw_server):
    raw = printed(raw_server, "Content-Type: text/plain\nX-Euro: €\nLocation: /café\n\nbody".encode())
    head = raw.split(b"\r\n\r\n")[0]
    assert ss.status_of(raw) == 302
    assert "\r\nX-Euro: €\r\n".encode() in head + b"\r\n"
    assert "\r\nLocation: /café".encode() in head
    assert raw.endswith(b"\r\n\r\nbody")


def test_a_status_of_unicode_digits_is_502_in_wagi_nb_s_own_words(raw_server):
    raw = printed(raw_server, "Status: ²00\nContent-Type: text/plain\n\nbody".encode())
    assert ss.status_of(raw) == 502
    assert b"Server: wagi-nb" in raw and b"TornadoServer" not in raw and b"<html" not in raw
    assert "Status: ²00".encode() in raw and b"100 to 599" in raw


def test_a_header_value_with_a_control_character_is_dropped(raw_server):
    raw = printed(raw_server, b"Content-Type: text/plain\nX-Bad: a\x01b\nX-Good: yes\n\nbody")
    assert ss.status_of(raw) == 200
    assert b"X-Good: yes" in raw and b"X-Bad" not in raw


@settings(max_examples=60, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(output=fuzz_targets.cgi_outputs())
def test_any_module_output_gets_a_real_http_response_over_a_socket(raw_server, output):
    raw = printed(raw_server, output)
    assert ss.status_of(raw) is not None, raw[:200]
    assert b"\r\nServer: wagi-nb\r\n" in raw.split(b"\r\n\r\n")[0] + b"\r\n"


# -- modules.toml -------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def config_folder():
    folder = fuzz_targets.config_folder()
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@settings(max_examples=400, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(text=fuzz_targets.modules_tomls())
def test_any_modules_toml_is_read_or_refused_with_a_config_error(config_folder, text):
    fuzz_targets.check_modules_toml(text, config_folder)


MALFORMED = {
    "module is a list of numbers": ("module = [1]\n", "#1 is a number"),
    "nested 1,000 deep": ("module = " + "[" * 1000 + "]" * 1000 + "\n", "nests arrays or tables too deeply"),
    "NUL in a module path": ('[[module]]\nroute = "/"\nmodule = "a\\u0000b.wasm"\n', "NUL character"),
    "route is a table": ('[[module]]\nroute = { a = 1 }\nmodule = "hello.wasm"\n', "`route` must be"),
    "volume host is a number": ('[[module]]\nroute = "/"\nmodule = "hello.wasm"\nvolumes = { "/d" = 1 }\n',
                                "volume '/d' must map to a host folder"),
    "allowed_hosts holds a table": ('[[module]]\nroute = "/"\nmodule = "hello.wasm"\n'
                                    'allowed_hosts = [{ a = 1 }]\n', "`allowed_hosts` must be"),
    "http_max_concurrency is zero": ('[[module]]\nroute = "/"\nmodule = "hello.wasm"\n'
                                     'http_max_concurrency = 0\n', "`http_max_concurrency` must be"),
    "read-only volume that is not a volume": ('[[module]]\nroute = "/"\nmodule = "hello.wasm"\n'
                                              'read_only_volumes = ["/nope"]\n', "not one of this entry"),
    "module is a date": ('[[module]]\nroute = "/"\nmodule = 1979-05-27\n', "a date or time"),
}


@pytest.mark.parametrize("text, needle", MALFORMED.values(), ids=MALFORMED.keys())
def test_a_malformed_modules_toml_is_one_line_and_exit_status_2(config_folder, text, needle, tmp_path,
                                                                wagi_nb_cli):
    shutil.copyfile(config_folder / "hello.wasm", tmp_path / "hello.wasm")
    (tmp_path / "modules.toml").write_text(text)
    done = wagi_nb_cli("serve", "-c", tmp_path / "modules.toml", "-l", "127.0.0.1:0")
    stderr = done.stderr.decode()
    assert done.returncode == 2, stderr
    assert len(stderr.strip().splitlines()) == 1, stderr
    assert stderr.startswith("wagi-nb: ") and "Traceback" not in stderr
    assert needle in stderr, stderr


# -- flags ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("flag, value, needle", [
    ("--memory-limit", "0", "at least 1"),
    ("--memory-limit", "-5", "at least 1"),
    ("--timeout", "-1", "more than 0"),
    ("--timeout", "0", "more than 0"),
    ("--timeout", "nan", "more than 0"),
    ("--max-body", "-1", "at least 0"),
    ("--max-output", "0", "more than 0"),
    ("--workers", "0", "at least 1"),
    ("--max-concurrency", "0", "at least 1"),
    ("--workers", "two", "not a whole number"),
])
def test_nonsense_flags_are_refused_with_a_message(raw_site, wagi_nb_cli, flag, value, needle):
    done = wagi_nb_cli("serve", "-c", raw_site / "modules.toml", "-l", "127.0.0.1:0", flag, value)
    stderr = done.stderr.decode()
    assert done.returncode == 2
    assert len(stderr.strip().splitlines()) == 1, stderr
    assert flag in stderr and needle in stderr, stderr


def test_an_unwritable_log_dir_is_refused_at_start_up(raw_site, wagi_nb_cli, tmp_path):
    a_file = tmp_path / "not-a-folder"
    a_file.write_text("")
    for log_dir in (a_file, "/proc/wagi-nb-logs"):
        done = wagi_nb_cli("serve", "-c", raw_site / "modules.toml", "-l", "127.0.0.1:0",
                           "--log-dir", log_dir, timeout=60)
        stderr = done.stderr.decode()
        assert done.returncode == 2, stderr
        assert f"Cannot write module logs to --log-dir {log_dir}" in stderr
        assert len(stderr.strip().splitlines()) == 1, stderr


# -- duplicate routes ---------------------------------------------------------------------------------
def test_the_first_of_two_entries_with_one_route_is_served_with_a_warning(need_toolchain, tmp_path,
                                                                          python_env):
    shutil.copyfile(ss.build(need_toolchain, ss.version_source("A"), "c").wasm_path, tmp_path / "a.wasm")
    shutil.copyfile(ss.build(need_toolchain, ss.version_source("B"), "c").wasm_path, tmp_path / "b.wasm")
    (tmp_path / "modules.toml").write_text('[[module]]\nroute = "/x"\nmodule = "a.wasm"\n\n'
                                           '[[module]]\nroute = "/x"\nmodule = "b.wasm"\n')
    with ss.serve_process(python_env, tmp_path, "-c", "modules.toml", "-l", "127.0.0.1:0") as served:
        assert served.request("GET", "/x").body == b"version A\n"
        warning = served.wait_for_stderr("repeats route")
    assert warning == ("wagi-nb: warning: modules.toml: [[module]] #2 repeats route /x of [[module]] #1; "
                       "the first one is served.")
