"""Every real Wagi app runs unchanged: volumes whose guest path has no leading ``/``, Wagi's other
``serve`` flags (accepted, or refused with what to do instead), env files read as Wagi 0.8.1 reads
them, and modules that cannot run told apart from the file's bytes before anything is compiled.

Real parts only: modules built with ``wagi_nb.build`` (C with clang and wasi-libc, WAT), real
``python -m wagi_nb serve`` processes on real sockets, real files.
"""
from __future__ import annotations

import hashlib
import shutil
import subprocess
import uuid
import warnings
from pathlib import Path

import pytest
import wasmtime
from hypothesis import given, settings

import wagi_nb
from wagi_nb.export import export_app
from wagi_nb.cache.native import WASMTIME_VERSION, native_cache_dir
from wagi_nb.envvars import EnvFileWarning, parse_env_file, parse_env_pair, parse_env_text
from wagi_nb.errors import ModuleLoadError, WagiNbError
from wagi_nb.runtime import get_runtime
from wagi_nb.runtime.imports import read_interface
from wagi_nb.wagi import WagiApp
from wagi_nb.wagi.config import ConfigError, ConfigWarning, load_config

from helpers import fuzz_targets, servers as ss
from helpers.subprocesses import wagi_nb_cli
from helpers.wagi_modules import printed_env
from helpers.waiting import wait_until

CONTENT = "hello from the content volume\n"
HEADER = b"Content-Type: text/plain\n\n"


def run_serve(python_env, cwd, *args, timeout=60, **env) -> subprocess.CompletedProcess:
    return wagi_nb_cli("serve", *args, cwd=cwd, env=python_env(**env), timeout=timeout)


def one_line_error(done: subprocess.CompletedProcess) -> str:
    """The single stderr line of a start-up that failed as it should: exit 2, no traceback."""
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert done.returncode == 2, done.stderr
    assert len(lines) == 1 and lines[0].startswith("wagi-nb: "), done.stderr
    assert "Traceback" not in done.stderr and "Ready" not in done.stdout
    return lines[0]


#: A module that answers `fine`.
ROUTED_OK = ('(module (import "wasi_snapshot_preview1" "fd_write" (func $w (param i32 i32 i32 i32) (result i32)))'
             ' (memory (export "memory") 1) (data (i32.const 100) "Content-Type: text/plain\\n\\nfine\\n")'
             ' (func (export "_start") (i32.store (i32.const 0) (i32.const 100)) (i32.store (i32.const 4)'
             ' (i32.const 31)) (drop (call $w (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 40)))))')


def native_files() -> list:
    return sorted(path for path in native_cache_dir().rglob("*") if path.is_file())


def write_wasm(path: Path, wat_text: str) -> bytes:
    data = bytes(wasmtime.wat2wasm(wat_text))
    path.write_bytes(data)
    return data


# -- volumes: a guest path without a leading "/" ---------------------------------------------------------
#: Prints the name of the first preopened folder (fd 3) as WASI reports it.
PREOPEN_NAME_WAT = r"""(module
  (import "wasi_snapshot_preview1" "fd_prestat_get" (func $prestat (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_prestat_dir_name" (func $name (param i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 256) "Content-Type: text/plain\n\n")
  (func (export "_start")
    (drop (call $prestat (i32.const 3) (i32.const 0)))
    (drop (call $name (i32.const 3) (i32.const 512) (i32.load (i32.const 4))))
    (i32.store (i32.const 64) (i32.const 256))
    (i32.store (i32.const 68) (i32.const 26))
    (drop (call $write (i32.const 1) (i32.const 64) (i32.const 1) (i32.const 128)))
    (i32.store (i32.const 64) (i32.const 512))
    (i32.store (i32.const 68) (i32.load (i32.const 4)))
    (drop (call $write (i32.const 1) (i32.const 64) (i32.const 1) (i32.const 128)))))
"""


@pytest.fixture
def content_site(tmp_path, tool_module):
    """Bartholomew's way of writing a volume: ``"content/" = "content/"``."""
    (tmp_path / "content").mkdir()
    (tmp_path / "content" / "x.txt").write_text(CONTENT)
    shutil.copyfile(tool_module.wasm_path, tmp_path / "tool.wasm")
    write_wasm(tmp_path / "name.wasm", PREOPEN_NAME_WAT)
    (tmp_path / "modules.toml").write_text(
        '[[module]]\nroute = "/read"\nmodule = "tool.wasm"\nvolumes = { "content/" = "content/" }\n\n'
        '[[module]]\nroute = "/name"\nmodule = "name.wasm"\nvolumes = { "content/" = "content/" }\n')
    return tmp_path


def test_a_guest_path_without_a_leading_slash_is_accepted(content_site):
    read, name = load_config(content_site / "modules.toml")
    assert read.volumes == name.volumes == {"content/": str((content_site / "content").resolve())}


def test_a_c_module_opens_files_under_such_a_volume_when_served(content_site, python_env):
    with ss.serve_process(python_env, content_site, "-c", "modules.toml", "-l", "127.0.0.1:0") as served:
        for path in ("content/x.txt", "/content/x.txt"):  # wasi-libc finds both in the preopen
            reply = served.request("GET", f"/read?read={path}")
            assert (reply.status, reply.text) == (200, CONTENT), (path, reply.text)
        assert served.request("GET", "/read?read=content/none.txt").text == "cannot open content/none.txt\n"
        # ... and wasmtime got the guest path as written: that is the preopen's name.
        assert served.request("GET", "/name").text == "content/"


def test_an_export_of_such_a_volume_serves_the_same(content_site, tmp_path):
    app = WagiApp.from_config(content_site / "modules.toml")
    export_app(app, tmp_path / "out", format="wagi")
    exported = WagiApp.from_config(tmp_path / "out" / "modules.toml")
    assert exported.request("GET", "/read?read=content/x.txt").text == CONTENT
    assert exported.request("GET", "/name").text == "content/"


@pytest.mark.parametrize("guest, needle", [("", "empty guest path"), ("../up", "`..`"), ("/a/../b", "`..`")])
def test_a_guest_path_that_names_nothing_is_refused(content_site, guest, needle):
    (content_site / "bad.toml").write_text(f'[[module]]\nroute = "/"\nmodule = "tool.wasm"\n'
                                           f'volumes = {{ "{guest}" = "content" }}\n')
    with pytest.raises(ConfigError, match=needle):
        load_config(content_site / "bad.toml")


# -- --module-cache, --cache, WAGI_LOG_DIR ----------------------------------------------------------------
@pytest.fixture
def fresh_site(tmp_path, wat):
    """A module no other test compiled (its native code is in no cache yet), with stderr output."""
    data = write_wasm(tmp_path / "m.wasm", wat.program((1, HEADER + f"{uuid.uuid4()}\n".encode()),
                                                       (2, b"to the log\n")))
    (tmp_path / "modules.toml").write_text('[[module]]\nroute = "/x"\nmodule = "m.wasm"\n')
    return tmp_path, hashlib.sha256(data).hexdigest()


def test_module_cache_dir_gets_the_native_code_of_parent_and_workers(fresh_site, python_env):
    folder, sha = fresh_site
    with ss.serve_process(python_env, folder, "-c", "modules.toml", "-l", "127.0.0.1:0",
                          "--module-cache", "native-here", "--workers", "2") as served:
        assert all(served.request("GET", "/x").status == 200 for _ in range(8))
        assert served.stop() == 0
    cached = [path.relative_to(folder / "native-here").as_posix()
              for path in (folder / "native-here").rglob("*") if path.is_file()]
    assert cached == [f"{sha[:2]}/{sha}-wasmtime{WASMTIME_VERSION}.cwasm"]
    assert not list(native_cache_dir().rglob(f"{sha}*")), "a process compiled into the default cache"


def test_a_module_cache_that_cannot_be_written_is_one_line(fresh_site, python_env):
    folder, _ = fresh_site
    (folder / "a-file").write_text("")
    line = one_line_error(run_serve(python_env, folder, "-c", "modules.toml", "-l", "127.0.0.1:0",
                                    "--module-cache", "a-file/native"))
    assert "--module-cache" in line and "a-file/native" in line


def test_cache_config_is_accepted_with_a_one_line_note(fresh_site, python_env):
    folder, _ = fresh_site
    (folder / "cache.toml").write_text('[cache]\nenabled = true\ndirectory = "/tmp/wasmtime-cache"\n')
    with ss.serve_process(python_env, folder, "-c", "modules.toml", "-l", "127.0.0.1:0",
                          "--cache", "cache.toml", "--workers", "2") as served:
        assert served.request("GET", "/x").status == 200
        assert served.stop() == 0
    notes = [line for line in served.stderr_lines() if "--cache" in line]
    assert len(notes) == 1, served.stderr
    assert notes[0].startswith("wagi-nb: note: --cache cache.toml is not read: ")
    assert str(native_cache_dir()) in notes[0]


def test_wagi_log_dir_sets_the_log_dir_and_the_flag_wins(fresh_site, python_env, tmp_path_factory):
    folder, _ = fresh_site
    from_env, from_flag = tmp_path_factory.mktemp("from-env"), tmp_path_factory.mktemp("from-flag")
    route = hashlib.sha256(b"/x").hexdigest()
    with ss.serve_process(python_env, folder, "-c", "modules.toml", "-l", "127.0.0.1:0",
                          WAGI_LOG_DIR=from_env) as served:
        served.request("GET", "/x")
        wait_until(lambda: (from_env / route / "module.stderr").is_file(), timeout=15, what="the module's log")
    assert "Module stderr goes to" not in served.stderr
    with ss.serve_process(python_env, folder, "-c", "modules.toml", "-l", "127.0.0.1:0",
                          "--log-dir", from_flag, WAGI_LOG_DIR=from_env) as served:
        served.request("GET", "/x")
        wait_until(lambda: (from_flag / route / "module.stderr").is_file(), timeout=15, what="the module's log")
    assert (from_env / route / "module.stderr").read_text() == "to the log\n"  # one request's worth


# -- Wagi flags wagi-nb cannot honour -----------------------------------------------------------------------
REFUSED = {
    "--tls-cert/--tls-key": (["--tls-cert", "cert.pem", "--tls-key", "key.pem"], {}, "TLS-terminating proxy"),
    "--tls-key": (["--tls-key", "key.pem"], {}, "TLS-terminating proxy"),
    "WAGI_TLS_CERT": ([], {"WAGI_TLS_CERT": "cert.pem"}, "WAGI_TLS_CERT is set"),
    "-b": (["-b", "example.com/hello/1.0.0"], {}, "-b/--bindle"),
    "--bindle --bindle-path": (["--bindle", "example.com/hello/1.0.0", "--bindle-path", "bindles"], {},
                               "--bindle-path"),
    "--bindle-url": (["--bindle-url", "http://localhost:8080/v1"], {}, "--bindle-url"),
    "--bindle-server": (["--bindle-server", "http://localhost:8080/v1"], {}, "--bindle-server"),
    "--bindle-http-user": (["--bindle-http-user", "me"], {}, "--bindle-http-user"),
    "-k": (["-k"], {}, "-k/--bindle-insecure"),
}


@pytest.mark.parametrize("args, env, needle", list(REFUSED.values()), ids=list(REFUSED))
@pytest.mark.parametrize("config", [True, False], ids=["with -c", "without -c"])
def test_wagi_flags_that_cannot_be_honoured_say_what_to_do(fresh_site, python_env, args, env, needle, config):
    folder, _ = fresh_site
    line = one_line_error(run_serve(python_env, folder, *(["-c", "modules.toml"] if config else []),
                                    *args, "-l", "127.0.0.1:0", **env))
    assert needle in line, line
    advice = "TLS-terminating proxy" if "tls" in needle.lower() else "modules.toml"
    assert advice in line, line


# -- -e and --env-file, as Wagi reads them ----------------------------------------------------------------------
ENV_FILE = """# a comment, skipped without a word

export X=1
QUOTED="a b"
SINGLE='c d'
TEST_NAME = "test value"
BAD LINE
EMPTY=
HALF="open
LAST=first\r
LAST=wins
"""


def served_env(served, target="/env") -> dict:
    reply = served.request("GET", target)
    assert reply.status == 200, reply.text
    return printed_env(reply.text)


@pytest.fixture
def env_site(tmp_path, env_module):
    shutil.copyfile(env_module.wasm_path, tmp_path / "env.wasm")
    (tmp_path / "modules.toml").write_text('[[module]]\nroute = "/env"\nmodule = "env.wasm"\n')
    (tmp_path / "vars.env").write_bytes(ENV_FILE.encode())
    return tmp_path


def test_env_file_lines_as_wagi_reads_them_and_a_warning_per_skipped_line(env_site, python_env):
    with ss.serve_process(python_env, env_site, "-c", "modules.toml", "-l", "127.0.0.1:0",
                          "--env-file", "vars.env", "--workers", "2") as served:
        for _ in range(4):  # whichever worker answers
            env = served_env(served)
            assert {k: env.get(k) for k in ("X", "QUOTED", "SINGLE", "EMPTY", "HALF", "LAST")} == \
                {"X": "1", "QUOTED": "a b", "SINGLE": "'c d'", "EMPTY": "", "HALF": "open", "LAST": "wins"}
            assert "TEST_NAME" not in env and "TEST_NAME " not in env
        assert served.stop() == 0
    warned = [line for line in served.stderr_lines() if "warning" in line]
    assert len(warned) == 2, served.stderr  # once, by the parent: not again by each worker
    assert warned[0].startswith("wagi-nb: warning: vars.env, line 6: 'TEST_NAME = \"test value\"' has a "
                                "space before `=`"), warned[0]
    assert warned[1].startswith("wagi-nb: warning: vars.env, line 7: 'BAD LINE' has no `=`"), warned[1]
    assert all(line.endswith("the line is skipped, as Wagi skips it.") for line in warned)


def test_env_flags_take_several_values_and_unquote_as_wagi_does(env_site, python_env):
    with ss.serve_process(python_env, env_site, "-c", "modules.toml", "-l", "127.0.0.1:0",
                          "-e", "A=1", "B=2", "-e", 'Q="a b"', "-e", "S='c d'", "-e", 'E=""x""',
                          "-e", "KEEP='half", "-e", "M='\"mixed\"'", "-e", "EQ=a=b",
                          "--env-file", "vars.env", "-e", "X=flag") as served:
        env = served_env(served)
    assert {k: env[k] for k in ("A", "B", "Q", "S", "E", "KEEP", "M", "EQ", "X")} == \
        {"A": "1", "B": "2", "Q": "a b", "S": "c d", "E": "x", "KEEP": "'half", "M": '"mixed"', "EQ": "a=b",
         "X": "flag"}


#: (file text, variables) as env-file-reader 0.2 reads it: its regex
#: ``^(export )?(?P<key>[0-9A-Za-z_\-]+)="?(?P<val>[^"]*)"?$`` against each line.
ENV_TEXTS = [
    ("A=B\nB=C\nA=C\n", {"A": "C", "B": "C"}),
    ("export EXPORT=WORKS\n", {"EXPORT": "WORKS"}),
    ('SOME="hello, with spaces!"', {"SOME": "hello, with spaces!"}),
    ("S='single'", {"S": "'single'"}),
    ('H="half\nT=tail"\nE=""\nN=\n', {"H": "half", "T": "tail", "E": "", "N": ""}),
    ("LINE_BREAK=\\\n  TEST\n", {"LINE_BREAK": "\\"}),
    (r"ESC=a\nb", {"ESC": r"a\nb"}),  # no escapes: a backslash is a backslash
    (r'ESC="a\"b"', {}),
    (r"ESC=a\"", {"ESC": "a\\"}),  # the last " closes, whatever is before it
    ("U=a=b\nP= padded \nC=value # not a comment\n", {"U": "a=b", "P": " padded ", "C": "value # not a comment"}),
    ("this-variable-name=is-ok\n123_this-too=true\nFoo=baz\nfoo=qux\n",
     {"this-variable-name": "is-ok", "123_this-too": "true", "Foo": "baz", "foo": "qux"}),
    ("A=1\r\nB=2\r\n", {"A": "1", "B": "2"}),
    ("A=x\ry\n", {"A": "x\ry"}),
    ('K = v\n  L=1\nexport  X=1\nQ="a"b"\nN.M=1\n=v\nBAD\n\ufeffZ=1\nπ=1\n', {}),
]


@pytest.mark.parametrize("text, variables", ENV_TEXTS)
def test_env_file_text_reads_as_env_file_reader_does(text, variables):
    assert parse_env_text(text)[0] == variables


def test_only_lines_that_mean_something_are_warned_about(tmp_path):
    path = tmp_path / "app.env"
    path.write_text("# comment\n   \nA=1\nB = 2\n\ufeffC=3\n")
    with pytest.warns(EnvFileWarning) as record:
        assert parse_env_file(path) == {"A": "1"}
    assert [(w.filename, w.lineno) for w in record] == [(str(path), 4), (str(path), 5)]
    assert str(record[0].message).startswith(f"{path}, line 4: 'B = 2' has a space before `=`")
    assert "is not one Wagi reads" in str(record[1].message)  # past line 1 a BOM is just a character


def test_a_bom_on_the_first_line_is_named(tmp_path):
    path = tmp_path / "bom.env"
    path.write_bytes("\ufeffA=1\nB=2\n".encode())
    with pytest.warns(EnvFileWarning, match="byte-order mark"):
        assert parse_env_file(path) == {"B": "2"}


def test_an_env_file_that_is_not_utf8_is_an_error(tmp_path):
    (tmp_path / "latin.env").write_bytes("NAME=caf\xe9\n".encode("latin-1"))
    with pytest.raises(WagiNbError, match="not UTF-8"):
        parse_env_file(tmp_path / "latin.env")


@pytest.mark.parametrize("pair, expected", [
    ("A=1", ("A", "1")), ('Q="a b"', ("Q", "a b")), ("S='c d'", ("S", "c d")), ('E=""x""', ("E", "x")),
    ('O="', ("O", "")), ("KEEP='half", ("KEEP", "'half")), ("M='\"x\"'", ("M", '"x"')), ("EQ=a=b", ("EQ", "a=b")),
    ("EMPTY=", ("EMPTY", "")), (" SPACED =1", (" SPACED ", "1")),
])
def test_env_pairs_unquote_as_wagis_parse_env_var(pair, expected):
    assert parse_env_pair(pair) == expected


@pytest.mark.parametrize("pair", ["NOEQUALS", "=value", "A=b\x00c"])
def test_bad_env_pairs_are_errors(pair):
    with pytest.raises(WagiNbError):
        parse_env_pair(pair)


@settings(max_examples=300, deadline=None)
@given(text=fuzz_targets.env_files())
def test_env_file_reader_never_raises_and_agrees_with_a_second_reading(text):
    fuzz_targets.check_env_text(text)


@settings(max_examples=200, deadline=None)
@given(variables=fuzz_targets.env_round_trips)
def test_env_files_the_export_writes_read_back(variables):
    fuzz_targets.check_env_round_trip(variables)


# -- modules that cannot run, told before compiling --------------------------------------------------------
def load_fails(path: Path) -> str:
    """The one-paragraph message of a load that fails, having written nothing to the native cache."""
    before = native_files()
    with pytest.raises(ModuleLoadError) as caught:
        get_runtime().load(path)
    assert native_files() == before, "something was compiled"
    return str(caught.value)


def test_an_import_from_env_is_named_before_compiling(tmp_path):
    path = tmp_path / "undefined.wasm"
    write_wasm(path, '(module (import "env" "foo" (func)) (memory (export "memory") 1)\n'
                     '  (func (export "_start") (call 0)))')
    message = load_fails(path)
    assert message.startswith("undefined.wasm cannot be linked: wagi-nb does not provide 1 of its imports: "
                              "`env.foo` (a function).")
    assert "Imports from `env`" in message and "Nothing was compiled." in message


def test_an_unknown_wasi_function_and_a_wrong_kind_are_named(tmp_path):
    path = tmp_path / "sockets.wasm"
    write_wasm(path, '(module\n'
                     '  (import "wasi_snapshot_preview1" "sock_open" (func (param i32 i32 i32) (result i32)))\n'
                     '  (import "wasi_snapshot_preview1" "fd_write" (memory 1))\n'
                     '  (import "wasi_snapshot_preview1" "fd_read" (func (param i32 i32 i32 i32) (result i32)))\n'
                     '  (func (export "_start")))')
    message = load_fails(path)
    assert "2 of its imports: `wasi_snapshot_preview1.sock_open` (a function), " \
           "`wasi_snapshot_preview1.fd_write` (imported as a memory; wagi-nb provides a function" in message
    assert "fd_read" not in message
    assert "WASI preview 1 (`wasi_snapshot_preview1`)" in message


def test_wagis_outbound_http_functions_count_as_provided(tmp_path):
    params = " ".join(["i32"] * 10)
    path = tmp_path / "outbound.wasm"
    write_wasm(path, f'(module (import "wasi_experimental_http" "req" (func (param {params}) (result i32)))\n'
                     '  (import "wasi_experimental_http" "close" (func (param i32) (result i32)))\n'
                     '  (memory (export "memory") 1) (func (export "_start")))')
    assert "_start" in get_runtime().load(path).functions


def test_a_module_that_cannot_be_linked_is_a_500_with_nothing_compiled(tmp_path, python_env):
    # As Wagi does (spec section 9): the server starts, says why at start-up, and the route answers 500.
    write_wasm(tmp_path / "undefined.wasm", '(module (import "env" "foo" (func)) (func (export "_start")))')
    write_wasm(tmp_path / "spin.wasm", '(module (memory (export "memory") 1) (func (export "handle-http-request")))')
    write_wasm(tmp_path / "fine.wasm", ROUTED_OK)
    (tmp_path / "modules.toml").write_text('[[module]]\nroute = "/"\nmodule = "undefined.wasm"\n'
                                           '[[module]]\nroute = "/spin"\nmodule = "spin.wasm"\n'
                                           '[[module]]\nroute = "/fine"\nmodule = "fine.wasm"\n')
    with ss.serve_process(python_env, tmp_path, "-c", "modules.toml", "-l", "127.0.0.1:0",
                          "--module-cache", "native", "--workers", "1") as server:
        warning = server.wait_for_stderr(r"\[\[module\]\] #1")
        assert warning.startswith("wagi-nb: warning: modules.toml: [[module]] #1") and "`env.foo`" in warning
        assert "answers 500" in warning and "spin up" in server.wait_for_stderr(r"\[\[module\]\] #2")
        broken = server.request("GET", "/")
        assert broken.status == 500 and b"undefined.wasm cannot be linked" in broken.body, broken
        assert b"`env.foo`" in broken.body
        spin = server.request("GET", "/spin")
        assert spin.status == 500 and b"is a Spin HTTP component" in spin.body
        assert server.request("GET", "/fine").body == b"fine\n"
        health = server.request("GET", "/healthz")  # (as Wagi answers it: no Content-Type)
        assert (health.status, health.body) == (200, b"OK")
        assert "content-type" not in {name.lower() for name, _ in health.headers}
    compiled = [path for path in (tmp_path / "native").rglob("*") if path.is_file()]
    assert len(compiled) == 1  # fine.wasm's only


@pytest.mark.parametrize("export", ["handle-http-request", "fermyon:spin/inbound-http#handle-request"])
def test_a_spin_http_component_points_at_spin(tmp_path, export):
    path = tmp_path / "spin_app.wasm"
    write_wasm(path, f'(module (memory (export "memory") 1) (func (export "{export}")))')
    message = load_fails(path)
    assert message.startswith(f"spin_app.wasm is a Spin HTTP component (it exports `{export}` and no `_start`)")
    assert "`spin up`" in message


def test_a_module_with_a_start_and_a_spin_export_is_a_wagi_module(tmp_path):
    path = tmp_path / "both.wasm"
    write_wasm(path, '(module (func (export "handle-http-request")) (func (export "_start")))')
    assert {"_start", "handle-http-request"} <= get_runtime().load(path).functions


@pytest.mark.parametrize("inside, needle", [
    (b"", "is a WebAssembly component (the component model's binary format)"),
    (b"fermyon:spin/inbound-http@2.0.0", "is a Spin component"),
    (b"wasi:http/incoming-handler@0.2.0", "`wasmtime serve`"),
])
def test_a_component_gets_its_own_message(tmp_path, inside, needle):
    path = tmp_path / "component.wasm"
    path.write_bytes(b"\0asm\x0d\x00\x01\x00" + b"\x00\x20\x08component" + inside)
    message = load_fails(path)
    assert message.startswith("component.wasm ") and needle in message, message


def test_a_text_placeholder_named_python3_wasm_stops_serve_naming_it(tmp_path, python_env):
    (tmp_path / "python3.wasm").write_bytes(b"TODO: add wasm\n")
    (tmp_path / "modules.toml").write_text('[[module]]\nroute = "/py/..."\nmodule = "python3.wasm"\n')
    line = one_line_error(run_serve(python_env, tmp_path, "-c", "modules.toml", "-l", "127.0.0.1:0"))
    assert "python3.wasm holds 15 bytes of text: 'TODO: add wasm\\n', not a WebAssembly module " \
           "(which starts with \\0asm)" in line, line


@pytest.mark.parametrize("data, needle", [
    (b"version https://git-lfs.github.com/spec/v1\noid sha256:4d7a\nsize 99000000\n", "`git lfs pull`"),
    (b"", "is empty (0 bytes)"),
    (b"<!DOCTYPE html><html><body>Not Found</body></html>", "of HTML"),
    (b"\x7fELF\x02\x01\x01\x00", "a native program or library (ELF)"),
    (b"\x00\x01\x02\x03", "starting with the bytes 00 01 02 03"),
    (b"(module (func (export \"_start\")", "wat2wasm cannot read: expected `)` (line 1, column 32)"),
])
def test_other_files_say_what_they_hold(tmp_path, data, needle):
    path = tmp_path / "module.wasm"
    path.write_bytes(data)
    message = load_fails(path)
    assert message.startswith("module.wasm ") and needle in message, message


def test_webassembly_text_in_a_wasm_file_still_runs(tmp_path, wat):
    path = tmp_path / "text.wasm"
    path.write_text(wat.program((1, b"from text\n")))
    assert wagi_nb.load(path).run().text == "from text\n"


def test_a_wat_module_is_still_served(tmp_path, python_env, wat):
    (tmp_path / "hello.wat").write_text(wat.program((1, HEADER + b"hello from wat\n")))
    (tmp_path / "modules.toml").write_text('[[module]]\nroute = "/"\nmodule = "hello.wat"\n')
    with ss.serve_process(python_env, tmp_path, "-c", "modules.toml", "-l", "127.0.0.1:0") as served:
        assert served.request("GET", "/").text == "hello from wat\n"


@pytest.mark.parametrize("language", ["wat", "c", "rust", "go"])
def test_the_import_reader_agrees_with_wasmtime(language, need_toolchain, hello_sources):
    source = hello_sources.get(language) or 'package main\n\nimport "fmt"\n\nfunc main() { fmt.Println("hi") }\n'
    need_toolchain(language)
    binary = Path(wagi_nb.build(source, language).wasm_path).read_bytes()
    interface = read_interface(binary)
    module = wasmtime.Module(get_runtime().engine, binary)
    assert [(item.module, item.name) for item in interface.imports] == \
        [(item.module, item.name) for item in module.imports]
    assert interface.exports == {item.name for item in module.exports}


# -- config warnings: one plain line -------------------------------------------------------------------------
def test_an_unknown_key_is_one_plain_line_once(fresh_site, python_env):
    folder, _ = fresh_site
    (folder / "modules.toml").write_text('[[module]]\nroute = "/x"\nmodule = "m.wasm"\nshiny = true\n')
    with ss.serve_process(python_env, folder, "-c", "modules.toml", "-l", "127.0.0.1:0", "--workers", "2") as served:
        assert served.stop() == 0
    warned = [line for line in served.stderr_lines() if "warning" in line.lower()]
    assert warned == ["wagi-nb: warning: modules.toml, [[module]] #1 (route '/x'): unknown key `shiny` is ignored."]


def test_the_two_line_form_warning_is_one_plain_line(fresh_site, python_env):
    folder, _ = fresh_site
    (folder / "modules.toml").write_text('module = "m.wasm"\nroute = "/x"\n')
    with ss.serve_process(python_env, folder, "-c", "modules.toml", "-l", "127.0.0.1:0") as served:
        assert served.request("GET", "/x").status == 200
    warned = [line for line in served.stderr_lines() if "warning" in line.lower()]
    assert warned == ["wagi-nb: warning: modules.toml has `module` and `route` at the top level; read as one "
                      "[[module]] entry. Wagi itself needs a [[module]] line above them."]


def test_a_config_warning_is_the_config_files_not_wagi_nbs(fresh_site):
    folder, _ = fresh_site
    path = folder / "modules.toml"
    path.write_text('[[module]]\nroute = "/x"\nmodule = "m.wasm"\n\n[[module]]\nroute = "/y"\n'
                    'module = "m.wasm"\n"odd key" = 1\n')
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        load_config(path)
    # (only the config's: another test's garbage may be collected in this block, with a ResourceWarning)
    (warning,) = [w for w in caught if issubclass(w.category, ConfigWarning)]
    assert (warning.filename, warning.lineno) == (str(path), 8)
    shown = warnings.formatwarning(warning.message, warning.category, warning.filename, warning.lineno)
    assert "wagi_nb" not in shown and "config.py" not in shown
    assert str(warning.message) == f"{path}, [[module]] #2 (route '/y'): unknown key `odd key` is ignored."
