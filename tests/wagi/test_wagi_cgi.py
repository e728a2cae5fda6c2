"""Spec section 3, "What the module sees": every row of the environment table, argv, stdin, global env.

All driven through a real C module that prints its environment, argv and stdin.
"""
from __future__ import annotations

import hashlib
import os

import pytest

from wagi_nb.wagi import WagiApp

from helpers import wagi_modules as wm

CGI_KEYS = {"REQUEST_METHOD", "QUERY_STRING", "SCRIPT_NAME", "X_MATCHED_ROUTE", "X_RAW_PATH_INFO",
            "PATH_INFO", "PATH_TRANSLATED", "X_FULL_URL", "SERVER_NAME", "SERVER_PORT",
            "SERVER_PROTOCOL", "SERVER_SOFTWARE", "GATEWAY_INTERFACE", "REMOTE_ADDR", "REMOTE_HOST",
            "AUTH_TYPE", "REMOTE_USER", "CONTENT_LENGTH", "CONTENT_TYPE"}


@pytest.fixture
def app(env_module):
    app = WagiApp()
    app.add_route("/exact", env_module)
    app.add_route("/pre/...", env_module)
    return app


def seen(app, method="GET", target="/exact", headers=None, body=b"", **fields) -> wm.Seen:
    return wm.Seen(app.request(method, target, headers, body, **fields))


# -- the whole environment -------------------------------------------------------------------------
def test_environment_is_exactly_the_cgi_variables_and_headers(app, monkeypatch):
    monkeypatch.setenv("WAGI_NB_LEAK", "host secret")
    env = seen(app, headers={"X-Thing": "1"}).env
    assert set(env) == CGI_KEYS | {"HTTP_X_THING"}
    assert "WAGI_NB_LEAK" not in env
    for host_name in ("PATH", "HOME", "WAGI_NB_CACHE_DIR"):
        assert host_name not in env


# -- the table, row by row -------------------------------------------------------------------------
@pytest.mark.parametrize("method", ["GET", "POST", "PUT", "DELETE", "PATCH"])
def test_request_method(app, method):
    assert seen(app, method).env["REQUEST_METHOD"] == method


@pytest.mark.parametrize("target, query", [
    ("/exact", ""),
    ("/exact?", ""),
    ("/exact?a=1", "a=1"),
    ("/exact?a=1&b=%20x+y&c", "a=1&b=%20x+y&c"),
])
def test_query_string_raw_without_question_mark(app, target, query):
    assert seen(app, target=target).env["QUERY_STRING"] == query


@pytest.mark.parametrize("route, target, script_name", [
    ("/exact", "/exact", "/exact"),                  # exact route: the route
    ("/pre/...", "/pre", "/pre"),                    # prefix route: without /...
    ("/pre/...", "/pre/a/b", "/pre"),
    ("/a/b/...", "/a/b/c", "/a/b"),
    ("/...", "/", "/"),                              # /... gives /
    ("/...", "/anything/at/all", "/"),
])
def test_script_name(env_module, route, target, script_name):
    app = WagiApp()
    app.add_route(route, env_module)
    env = seen(app, target=target).env
    assert env["SCRIPT_NAME"] == script_name
    assert env["X_MATCHED_ROUTE"] == route          # as configured, with /...


@pytest.mark.parametrize("route, target, raw, decoded", [
    ("/exact", "/exact", "", ""),                                    # exact: ""
    ("/pre/...", "/pre", "", ""),
    ("/pre/...", "/pre/", "/", "/"),
    ("/pre/...", "/pre/a/b?q=1", "/a/b", "/a/b"),
    ("/pre/...", "/pre/a%20b+c", "/a%20b+c", "/a b+c"),              # + stays +
    ("/pre/...", "/pre/caf%C3%A9/%2F", "/caf%C3%A9/%2F", "/café//"),
    ("/...", "/x%3Fy", "/x%3Fy", "/x?y"),
])
def test_path_info_raw_and_decoded(env_module, route, target, raw, decoded):
    app = WagiApp()
    app.add_route(route, env_module)
    env = seen(app, target=target).env
    assert env["X_RAW_PATH_INFO"] == raw
    assert env["PATH_INFO"] == decoded
    assert env["PATH_TRANSLATED"] == decoded


@pytest.mark.parametrize("hostname, host, url", [
    ("localhost:3000", None, "http://localhost:3000/pre/a%20b?x=1&y=2"),
    ("localhost:3000", "example.com", "http://example.com:3000/pre/a%20b?x=1&y=2"),
    ("localhost:3000", "example.com:8080", "http://example.com:8080/pre/a%20b?x=1&y=2"),
    ("wagi.test:8443", None, "http://wagi.test:8443/pre/a%20b?x=1&y=2"),
])
def test_full_url_always_has_the_port(env_module, hostname, host, url):
    app = WagiApp(hostname=hostname)
    app.add_route("/pre/...", env_module)
    headers = {"Host": host} if host else None
    assert seen(app, target="/pre/a%20b?x=1&y=2", headers=headers).env["X_FULL_URL"] == url


def test_full_url_without_query_has_no_question_mark(app):
    assert seen(app, target="/exact").env["X_FULL_URL"] == "http://localhost:3000/exact"


@pytest.mark.parametrize("hostname, host, name, port", [
    ("localhost:3000", None, "localhost", "3000"),             # no Host: --hostname (default)
    ("localhost:3000", "example.com:8080", "example.com", "8080"),
    ("localhost:3000", "example.com", "example.com", "3000"),  # Host without port keeps 3000
    ("wagi.test:8443", None, "wagi.test", "8443"),             # a custom --hostname
    ("wagi.test:8443", "example.com", "example.com", "8443"),
    ("wagi.test:8443", "example.com:9", "example.com", "9"),
    ("localhost:3000", "[::1]:8080", "[::1]", "8080"),         # IPv6 literal keeps its brackets
    ("localhost:3000", "[::1]", "[::1]", "3000"),
    ("localhost:3000", "127.0.0.1:80", "127.0.0.1", "80"),
])
def test_server_name_and_port(env_module, hostname, host, name, port):
    app = WagiApp(hostname=hostname)
    app.add_route("/exact", env_module)
    env = seen(app, headers={"Host": host} if host else None).env
    assert (env["SERVER_NAME"], env["SERVER_PORT"]) == (name, port)


def test_default_hostname_is_localhost_3000(env_module):
    app = WagiApp()
    assert app.hostname == "localhost:3000"


@pytest.mark.parametrize("protocol", ["HTTP/1.1", "HTTP/1.0"])
def test_server_protocol(app, protocol):
    assert seen(app, protocol=protocol).env["SERVER_PROTOCOL"] == protocol


def test_server_protocol_defaults_to_http_1_1(app):
    assert seen(app).env["SERVER_PROTOCOL"] == "HTTP/1.1"


def test_fixed_values(app):
    env = seen(app, headers={"Authorization": "Basic dXNlcjpwYXNz"}).env
    assert env["SERVER_SOFTWARE"] == "WAGI/1"
    assert env["GATEWAY_INTERFACE"] == "CGI/1.1"
    assert env["AUTH_TYPE"] == ""
    assert env["REMOTE_USER"] == ""


@pytest.mark.parametrize("fields, address", [({}, "127.0.0.1"),
                                              ({"remote_addr": "10.1.2.3"}, "10.1.2.3"),
                                              ({"remote_addr": "::1"}, "::1")])
def test_remote_addr_and_host_are_the_client_ip(app, fields, address):
    env = seen(app, **fields).env
    assert env["REMOTE_ADDR"] == address
    assert env["REMOTE_HOST"] == address


@pytest.mark.parametrize("body, length", [(b"", "0"), (b"hello", "5"), ("héllo", "6"),
                                          (b"\x00" * 1000, "1000")])
def test_content_length_is_the_body_length_in_bytes(app, body, length):
    assert seen(app, "POST", body=body).env["CONTENT_LENGTH"] == length


def test_content_length_is_zero_for_get(app):
    assert seen(app).env["CONTENT_LENGTH"] == "0"


def test_content_type_is_passed(app):
    env = seen(app, "POST", headers={"Content-Type": "application/json; charset=utf-8"},
               body=b"{}").env
    assert env["CONTENT_TYPE"] == "application/json; charset=utf-8"


def test_content_type_is_empty_without_one(app):
    assert seen(app, "POST", body=b"x").env["CONTENT_TYPE"] == ""


def test_http_headers(app):
    env = seen(app, headers=[("User-Agent", "pytest/1"), ("X-Custom-Header", "a b"),
                             ("Accept", "text/html"), ("Host", "example.com"),
                             ("Authorization", "Bearer secret"), ("Connection", "keep-alive")]).env
    assert env["HTTP_USER_AGENT"] == "pytest/1"
    assert env["HTTP_X_CUSTOM_HEADER"] == "a b"
    assert env["HTTP_ACCEPT"] == "text/html"
    assert env["HTTP_HOST"] == "example.com"
    assert "HTTP_AUTHORIZATION" not in env
    assert "HTTP_CONNECTION" not in env
    assert "secret" not in "".join(env.values())


def test_header_names_are_case_insensitive_and_upper_cased(app):
    env = seen(app, headers={"x-lower-case": "v"}).env
    assert env["HTTP_X_LOWER_CASE"] == "v"


# -- global env: --env-file, then -e; the CGI variables always win -------------------------------
@pytest.fixture
def env_file(tmp_path):
    path = tmp_path / "app.env"
    path.write_text("# a comment\n\nFROM_FILE=file\nBOTH=file\nQUOTED=\"a b\"\n")
    return path


def test_env_file_values_reach_the_module(app, env_file):
    app.add_env_file(env_file)
    env = seen(app).env
    assert env["FROM_FILE"] == "file"
    assert env["QUOTED"] == "a b"
    assert env["BOTH"] == "file"


def test_flag_beats_file(app, env_file):
    app.add_env_file(env_file)
    app.set_env(["BOTH=flag", "FROM_FLAG='x y'"])
    env = seen(app).env
    assert env["BOTH"] == "flag"
    assert env["FROM_FILE"] == "file"
    assert env["FROM_FLAG"] == "x y"


def test_flag_beats_file_whatever_the_order(app, env_file):
    app.set_env(["BOTH=flag"])
    app.add_env_file(env_file)
    assert seen(app).env["BOTH"] == "flag"


def test_later_env_file_beats_earlier(app, env_file, tmp_path):
    second = tmp_path / "second.env"
    second.write_text("BOTH=second\n")
    app.add_env_file(env_file)
    app.add_env_file(second)
    assert seen(app).env["BOTH"] == "second"


def test_cgi_variables_beat_global_env(app, env_file, tmp_path):
    overrides = tmp_path / "overrides.env"
    overrides.write_text("SCRIPT_NAME=/from-file\nSERVER_SOFTWARE=evil\n")
    app.add_env_file(overrides)
    app.set_env(["REQUEST_METHOD=HACKED", "QUERY_STRING=nope", "CONTENT_LENGTH=99",
                 "HTTP_X_TOKEN=global", "AUTH_TYPE=Basic"])
    env = seen(app, "POST", "/pre/x?real=1", headers={"X-Token": "request"}).env
    assert env["REQUEST_METHOD"] == "POST"
    assert env["QUERY_STRING"] == "real=1"
    assert env["CONTENT_LENGTH"] == "0"
    assert env["SCRIPT_NAME"] == "/pre"
    assert env["SERVER_SOFTWARE"] == "WAGI/1"
    assert env["HTTP_X_TOKEN"] == "request"
    assert env["AUTH_TYPE"] == ""


def test_set_env_accepts_a_mapping(app):
    app.set_env({"GREETING": "hi"})
    assert seen(app).env["GREETING"] == "hi"


def test_clear_env(app):
    app.set_env(["GREETING=hi"])
    app.clear_env()
    assert "GREETING" not in seen(app).env


def test_env_pair_without_equals_is_an_error(app):
    from wagi_nb.errors import WagiNbError
    with pytest.raises(WagiNbError, match="KEY=VALUE"):
        app.set_env(["NOVALUE"])


# -- argv -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("target, argv", [
    ("/pre/a%20b", ["/pre/a%20b"]),                                  # no query: no extra args
    ("/pre/a%20b?x=1", ["/pre/a%20b", "x=1"]),
    ("/pre/x?a=1&b=%20c+d", ["/pre/x", "a=1", "b=%20c+d"]),          # no decoding
    ("/exact?one", ["/exact", "one"]),
])
def test_argv_without_template(app, target, argv):
    assert seen(app, target=target).argv == argv


@pytest.mark.parametrize("template, target, argv", [
    ("${SCRIPT_NAME} ${ARGS}", "/t/sub/path?a=1&b=2", ["/t/sub/path", "a=1", "b=2"]),
    ("${SCRIPT_NAME} ${ARGS}", "/t/sub", ["/t/sub"]),
    ("${SCRIPT_NAME} ${ARGS}", "/t/a%20b?x=%20", ["/t/a%20b", "x=%20"]),
    ("prog --verbose ${ARGS}", "/t?a=1&b=2", ["prog", "--verbose", "a=1", "b=2"]),
    ("${SCRIPT_NAME}   --flag", "/t/x?ignored=1", ["/t/x", "--flag"]),
])
def test_argv_with_template(env_module, template, target, argv):
    app = WagiApp()
    app.add_route("/t/...", env_module, argv=template)
    assert seen(app, target=target).argv == argv


# -- stdin is the body ------------------------------------------------------------------------------
def test_stdin_is_the_body_byte_for_byte(app):
    body = b"line 1\nline 2\r\n\x00\xff binary \x7f\n" * 100
    assert seen(app, "POST", body=body).stdin == body


def test_stdin_is_empty_without_a_body(app):
    assert seen(app).stdin == b""


def test_stdin_text_body_is_utf8(app):
    assert seen(app, "PUT", body="héllo wörld").stdin == "héllo wörld".encode()


# -- stderr -----------------------------------------------------------------------------------------
def test_stderr_is_kept_on_the_response_and_per_route(app):
    response = app.request("GET", "/pre/x")
    assert response.stderr == b"env-module stderr\n"
    assert app.stderr_log["/pre/..."][-1][1] == b"env-module stderr\n"


def test_stderr_is_appended_to_the_log_dir_per_route(env_module, tmp_path):
    app = WagiApp(log_dir=tmp_path)
    app.add_route("/pre/...", env_module)
    app.add_route("/exact", env_module)
    app.request("GET", "/pre/a")
    app.request("GET", "/pre/b")
    app.request("GET", "/exact")
    folder = tmp_path / hashlib.sha256(b"/pre/...").hexdigest()
    assert (folder / "module.stderr").read_bytes() == b"env-module stderr\n" * 2
    other = tmp_path / hashlib.sha256(b"/exact").hexdigest() / "module.stderr"
    assert other.read_bytes() == b"env-module stderr\n"
    assert sorted(os.listdir(tmp_path)) == sorted([folder.name, other.parent.name])
