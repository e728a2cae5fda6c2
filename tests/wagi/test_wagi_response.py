"""Spec section 4, "Turning stdout into a response", and the limits of section 5.

The header cases run through a real C module that writes the request body to
stdout unchanged (fwrite), so each case is exactly the bytes a module printed.
"""
from __future__ import annotations

import threading
import time

import pytest

from wagi_nb.wagi import WagiApp, parse_cgi_output
from wagi_nb.wagi.response import charset

from helpers import wagi_modules as wm


@pytest.fixture
def app(tool_module):
    app = WagiApp()
    app.add_route("/tool", tool_module)
    return app


def printed(app, output: bytes):
    """The response to a module that printed exactly ``output``."""
    response = app.request("POST", "/tool", body=output)
    assert response.raw == output
    return response


# -- the header block ---------------------------------------------------------------------------------
@pytest.mark.parametrize("separator", [b"\n\n", b"\r\n\r\n", b"\n\r\n"])
def test_blank_line_ends_the_headers(app, separator):
    response = printed(app, b"Content-Type: text/plain" + separator + b"the body\n")
    assert response.status == 200
    assert response.headers["Content-Type"] == "text/plain"
    assert response.body == b"the body\n"
    assert response.warnings == []


def test_crlf_header_lines(app):
    response = printed(app, b"Content-Type: text/html\r\nX-One: 1\r\n\r\n<p>hi</p>")
    assert response.headers["Content-Type"] == "text/html"
    assert response.headers["X-One"] == "1"
    assert response.body == b"<p>hi</p>"


def test_carriage_returns_in_the_body_are_kept(app):
    body = b"line 1\r\nline 2\r\r\n\r\n\rend\r"
    response = printed(app, b"Content-Type: text/plain\r\n\r\n" + body)
    assert response.body == body


def test_body_bytes_are_kept_exactly(app):
    body = bytes(range(256)) * 4
    response = printed(app, b"Content-Type: application/octet-stream\n\n" + body)
    assert response.body == body


def test_only_the_first_blank_line_ends_the_headers(app):
    response = printed(app, b"Content-Type: text/plain\n\nNot-A-Header: x\n\nmore")
    assert response.body == b"Not-A-Header: x\n\nmore"
    assert "Not-A-Header" not in response.headers


def test_content_type(app):
    response = printed(app, b"Content-Type: application/json\n\n{\"a\": 1}")
    assert response.content_type == "application/json"
    assert response.json() == {"a": 1}


def test_header_names_and_values_are_trimmed(app):
    response = printed(app, b"content-type:   text/plain  \n\nx")
    assert response.headers["Content-Type"] == "text/plain"


@pytest.mark.parametrize("line, status", [
    (b"Status: 404 Not Found", 404),
    (b"Status: 201", 201),
    (b"Status: 418 I'm a teapot", 418),
    (b"Status: 100 Continue", 100),
    (b"Status: 599 Whatever", 599),
    (b"status: 204 No Content", 204),
])
def test_status_sets_the_status(app, line, status):
    response = printed(app, line + b"\nContent-Type: text/plain\n\nbody")
    assert response.status == status
    assert "Status" not in response.headers


def test_status_alone_is_a_header_block(app):
    response = printed(app, b"Status: 404 Not Found\n\n")
    assert response.status == 404
    assert response.body == b""


@pytest.mark.parametrize("value", [b"abc", b"OK 200", b"99 Too Low", b"600 Too High", b"0", b"",
                                   b"-200", b"20x", b"1e2"])
def test_status_that_is_not_a_code_from_100_to_599_is_502(app, value):
    response = printed(app, b"Status: " + value + b"\nContent-Type: text/plain\n\nbody")
    assert response.status == 502
    assert "100 to 599" in response.text
    assert response.error


def test_location_sets_the_header_and_302(app):
    response = printed(app, b"Location: https://example.com/elsewhere\n\n")
    assert response.status == 302
    assert response.headers["Location"] == "https://example.com/elsewhere"


def test_location_with_a_relative_url(app):
    response = printed(app, b"Location: /other\nContent-Type: text/plain\n\nmoved")
    assert response.status == 302
    assert response.headers["Location"] == "/other"
    assert response.body == b"moved"


@pytest.mark.parametrize("output", [
    b"Status: 301 Moved Permanently\nLocation: /new\n\n",
    b"Location: /new\nStatus: 301 Moved Permanently\n\n",
    b"Location: /new\nContent-Type: text/plain\nStatus: 303 See Other\n\n",
])
def test_explicit_status_beats_location(app, output):
    response = printed(app, output)
    assert response.status == (303 if b"303" in output else 301)
    assert response.headers["Location"] == "/new"


def test_other_headers_pass_through(app):
    response = printed(app, b"Content-Type: text/plain\nX-Custom: v 1\nCache-Control: no-store\n\nb")
    assert response.headers["X-Custom"] == "v 1"
    assert response.headers["Cache-Control"] == "no-store"


def test_repeated_headers_keep_every_value(app):
    response = printed(app, b"Content-Type: text/plain\nSet-Cookie: a=1; Path=/\n"
                            b"Set-Cookie: b=2\nX-Multi: one\nX-Multi: two\n\nbody")
    assert response.headers.get_list("Set-Cookie") == ["a=1; Path=/", "b=2"]
    assert response.headers.get_list("X-Multi") == ["one", "two"]


@pytest.mark.parametrize("bad_line", [b"this line has no colon", b"Bad Name: with a space",
                                      b": no name", b"X-Ctl: bell\x07here", b"Caf\xc3\xa9: accent"])
def test_bad_header_lines_are_dropped_and_reported(app, bad_line):
    response = printed(app, b"Content-Type: text/plain\n" + bad_line + b"\nX-Good: yes\n\nbody")
    assert response.status == 200
    assert response.body == b"body"
    assert response.headers["X-Good"] == "yes"
    assert len(response.warnings) == 1
    assert "dropped" in response.warnings[0]
    names = {name.lower() for name in response.headers}
    assert names == {"content-type", "x-good"}


def test_a_header_line_without_colon_does_not_stand_in_for_content_type(app):
    response = printed(app, b"Hello, world!\n\nbody")
    assert response.status == 500
    assert response.warnings and "Hello, world!" in response.warnings[0]


NO_HEADERS_CASES = [
    b"",                                    # empty output
    b"Hello, world!\n",                     # the seed's module before adding the header
    b"Hello, world!",
    b"\n\nbody",                            # a blank line but no headers
    b"X-Only: other\n\nbody",               # headers but none of the three
]


@pytest.mark.parametrize("output", NO_HEADERS_CASES)
def test_no_content_type_status_or_location_is_500_explaining_what_to_print(app, output):
    response = printed(app, output)
    assert response.status == 500
    text = response.text
    assert "Content-Type" in text
    assert "Location" in text
    assert "blank line" in text
    assert response.error == text


def test_no_blank_line_after_the_headers_is_500_saying_so(app):
    # A real module's output: its author forgot the empty line, so Wagi and Spin answer 500.
    response = printed(app, b"content-type: text/plain\nfib(0)=0\nfib(1)=1\n")
    assert response.status == 500
    assert "it lacks a blank line after the headers." in response.text
    assert response.raw.endswith(b"fib(1)=1\n")  # kept, for the preview's raw output
    both = printed(app, b"Hello, world!\n")
    assert "lacks a `Content-Type`, `Location` or `Status` header and a blank line after" in both.text
    only_header = printed(app, b"X-Only: other\n\nbody")
    assert "it lacks a `Content-Type`, `Location` or `Status` header. A Wagi" in only_header.text


def test_the_preview_says_which_part_is_missing(app):
    from wagi_nb.display import ResponseView
    view = ResponseView(printed(app, b"content-type: text/plain\nfib(0)=0\n"))
    shown = repr(view)
    assert "500" in shown and "lacks a blank line after the headers" in shown and "fib(0)=0" in shown
    assert "lacks a blank line after the headers" in view._repr_html_()


def test_a_repeated_singleton_header_is_sent_once_the_last_as_wagi_and_spin_send_it(app):
    response = printed(app, b"Content-Type: text/html\nContent-Type: text/plain\nLocation: /a\n"
                            b"Location: /b\nStatus: 201 Created\nStatus: 404 Not Found\n"
                            b"Set-Cookie: a=1\nSet-Cookie: b=2\n\nbody")
    assert response.status == 404
    assert response.headers.get_list("Content-Type") == ["text/plain"]
    assert response.headers.get_list("Location") == ["/b"]
    assert response.headers.get_list("Set-Cookie") == ["a=1", "b=2"]
    assert sum("repeated" in warning for warning in response.warnings) == 3


# -- how the run ended ----------------------------------------------------------------------------------
def test_trap_is_500(tool_module):
    app = WagiApp()
    app.add_route("/t", tool_module, argv="${SCRIPT_NAME} trap")
    response = app.request("GET", "/t")
    assert response.status == 500
    assert "trap" in response.text
    assert response.raw == b"Content-Type: text/plain\n\nbefore the trap\n"


@pytest.mark.parametrize("code", [1, 3, 125])
def test_non_zero_exit_is_500(tool_module, code):
    app = WagiApp()
    app.add_route("/t", tool_module, argv=f"${{SCRIPT_NAME}} exit={code}")
    response = app.request("GET", "/t")
    assert response.status == 500
    assert f"exited with code {code}" in response.text


def test_proc_exit_zero_is_a_normal_response(tool_module):
    app = WagiApp()
    app.add_route("/t", tool_module, argv="${SCRIPT_NAME} exit=0")
    response = app.request("GET", "/t")
    assert response.status == 200
    assert response.body == b"exiting\n"
    assert response.error == ""


def test_missing_entrypoint_is_500_at_request_time(tool_module):
    app = WagiApp()
    app.add_route("/t", tool_module, entrypoint="no_such_export")   # accepted when added
    response = app.request("GET", "/t")
    assert response.status == 500
    assert "no_such_export" in response.text


def test_timeout_is_504_and_the_app_keeps_serving(tool_module):
    app = WagiApp(timeout=0.5)
    app.add_route("/t/...", tool_module)
    start = time.perf_counter()
    response = app.request("GET", "/t/spin?spin")
    assert time.perf_counter() - start < 10
    assert response.status == 504
    assert "timeout" in response.text
    after = app.request("POST", "/t/echo", body=wm.plain("still here"))
    assert (after.status, after.body) == (200, b"still here")


def test_timeout_attribute_can_be_changed(tool_module):
    app = WagiApp()
    app.add_route("/t", tool_module, argv="${SCRIPT_NAME} spin")
    app.timeout = 0.3
    assert app.request("GET", "/t").status == 504


def test_body_over_the_limit_is_413_without_running_the_module(env_module):
    app = WagiApp(max_body_mib=0.001)          # 1048 bytes
    app.add_route("/...", env_module)
    response = app.request("POST", "/anything", body=b"x" * 2000)
    assert response.status == 413
    assert response.raw == b"" and response.stderr == b""
    assert "/..." not in app.stderr_log         # the module writes stderr on every run
    ok = app.request("POST", "/anything", body=b"x" * 1000)
    assert ok.status == 200
    assert len(app.stderr_log["/..."]) == 1


def test_default_body_limit_is_16_mib(env_module):
    app = WagiApp()
    app.add_route("/...", env_module)
    response = app.request("POST", "/", body=b"x" * (16 * 1024 * 1024 + 1))
    assert response.status == 413
    assert "/..." not in app.stderr_log


def test_memory_limit_fails_inside_the_module(tmp_path):
    # A module asking for more memory than the limit: memory.grow returns -1 inside the module.
    source = """(module
      (import "wasi_snapshot_preview1" "fd_write" (func $w (param i32 i32 i32 i32) (result i32)))
      (memory (export "memory") 1)
      (data (i32.const 64) "Content-Type: text/plain\\n\\ngrow failed")
      (data (i32.const 128) "Content-Type: text/plain\\n\\ngrow worked")
      (func (export "_start") (local $p i32)
        (local.set $p (i32.const 128))
        (if (i32.eq (memory.grow (i32.const 1000)) (i32.const -1)) (then (local.set $p (i32.const 64))))
        (i32.store (i32.const 0) (local.get $p))
        (i32.store (i32.const 4) (i32.const 37))
        (drop (call $w (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))))"""
    module = wm.build(source, "wat")
    small = WagiApp(memory_limit_mib=16)
    small.add_route("/", module)
    assert small.request("GET", "/").text == "grow failed"
    large = WagiApp(memory_limit_mib=256)
    large.add_route("/", module)
    assert large.request("GET", "/").text == "grow worked"


def test_each_request_gets_a_fresh_instance():
    # _start increments a global and prints it: always 1 on a fresh instance.
    source = """(module
      (import "wasi_snapshot_preview1" "fd_write" (func $w (param i32 i32 i32 i32) (result i32)))
      (memory (export "memory") 1)
      (global $n (mut i32) (i32.const 0))
      (data (i32.const 64) "Content-Type: text/plain\\n\\n0")
      (func (export "_start")
        (global.set $n (i32.add (global.get $n) (i32.const 1)))
        (i32.store8 (i32.const 90) (i32.add (i32.const 48) (global.get $n)))
        (i32.store (i32.const 0) (i32.const 64))
        (i32.store (i32.const 4) (i32.const 27))
        (drop (call $w (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))))"""
    app = WagiApp()
    app.add_route("/", wm.build(source, "wat"))
    assert [app.request("GET", "/").text for _ in range(3)] == ["1", "1", "1"]


def test_concurrent_requests_each_get_their_own_output(tool_module):
    app = WagiApp()
    app.add_route("/...", tool_module)
    results = {}

    def send(number):
        results[number] = app.request("POST", "/", body=wm.plain(f"request {number}")).text

    threads = [threading.Thread(target=send, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert results == {n: f"request {n}" for n in range(8)}


# -- parse_cgi_output directly (the same rules, without a module) ------------------------------------
@pytest.mark.parametrize("output, status, body", [
    (b"Content-Type: a/b\n\nx", 200, b"x"),
    (b"Content-Type: a/b\r\n\r\nx\r\n", 200, b"x\r\n"),
    (b"Content-Type: a/b\n\r\nx", 200, b"x"),
    (b"Status: 404\n\n", 404, b""),
    (b"Status: nope\n\n", 502, None),
    (b"Location: /x\n\n", 302, b""),
    (b"", 500, None),
])
def test_parse_cgi_output_table(output, status, body):
    response = parse_cgi_output(output)
    assert response.status == status
    if body is not None:
        assert response.body == body


# -- Response.text: the body in the charset the Content-Type declares ------------------------------
@pytest.mark.parametrize("content_type, expected", [
    ('text/plain; charset="iso-8859-1"', "iso8859-1"),
    ("text/plain; charset=UTF-8", "utf-8"),
    ("text/plain;CHARSET=latin1", "iso8859-1"),
    ('text/html; charset="utf\\-8"', "utf-8"),  # a quoted-string's backslash escape
    ('text/plain; title="x; charset=koi8-r"', None),  # inside another parameter's quoted value
    ("text/plain", None),
    ("text/plain; charset=no-such-charset", None),
    ("text/plain; charset=base64", None),  # a Python codec, but bytes to bytes
])
def test_charset_reads_a_token_or_a_quoted_string(content_type, expected):
    assert charset(content_type) == expected


def test_text_decodes_a_quoted_charset():
    response = parse_cgi_output(b'Content-Type: text/plain; charset="iso-8859-1"\n\ncaf\xe9')
    assert response.text == "café"
