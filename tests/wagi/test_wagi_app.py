"""WagiApp end to end: the seed's Rust module, volumes, listeners, the Response and Request objects."""
from __future__ import annotations

import pytest

from wagi_nb.errors import WagiNbError
from wagi_nb.wagi import BadRequest, Request, WagiApp

from helpers import wagi_modules as wm

SEED_RUST = r"""
fn main() {
    println!("Content-Type: text/plain");
    println!();
    println!("Hello, world!");
}
"""


@pytest.mark.toolchain  # wm.build compiles Rust (the marker is otherwise set by need_toolchain)
def test_seed_rust_module_at_root():
    app = WagiApp()
    app.add_route("/", wm.build(SEED_RUST, "rust"))
    response = app.request("GET", "/")
    assert response.status == 200
    assert response.reason == "OK"
    assert response.headers["content-type"] == "text/plain"
    assert response.body == b"Hello, world!\n"
    assert response.text == "Hello, world!\n"
    assert response.warnings == [] and response.error == ""
    assert response.route == "/"


@pytest.mark.toolchain
def test_seed_rust_module_without_the_header_is_500_explaining_it():
    app = WagiApp()
    app.add_route("/", wm.build('fn main() { println!("Hello, world!"); }', "rust"))
    response = app.request("GET", "/")
    assert response.status == 500
    assert "Content-Type" in response.text and "blank line" in response.text
    assert response.raw == b"Hello, world!\n"


@pytest.mark.toolchain
def test_rust_module_reads_the_cgi_environment():
    source = r"""
use std::io::Read;
fn main() {
    let mut body = String::new();
    std::io::stdin().read_to_string(&mut body).unwrap();
    println!("Content-Type: application/json");
    println!("Status: 201 Created");
    println!();
    println!("{{\"method\": \"{}\", \"path_info\": \"{}\", \"args\": {}, \"body\": \"{}\"}}",
             std::env::var("REQUEST_METHOD").unwrap(), std::env::var("PATH_INFO").unwrap(),
             std::env::args().count(), body);
}
"""
    app = WagiApp()
    app.add_route("/api/...", wm.build(source, "rust"))
    response = app.request("POST", "/api/items%21?a=1&b=2", body="payload")
    assert response.status == 201
    assert response.json() == {"method": "POST", "path_info": "/items!", "args": 3, "body": "payload"}


# -- volumes -----------------------------------------------------------------------------------------------
@pytest.fixture
def volume(tmp_path):
    static = tmp_path / "static"
    (static / "sub").mkdir(parents=True)
    (static / "hello.txt").write_text("hello from the host\n")
    (static / "sub" / "deep.txt").write_text("deep\n")
    (tmp_path / "secret.txt").write_text("do not read\n")
    return tmp_path


def read(app, path):
    return app.request("GET", f"/read?read={path}").text


def test_volume_file_is_readable(tool_module, volume):
    app = WagiApp()
    app.add_route("/read", tool_module, volumes={"/data": str(volume / "static")})
    assert read(app, "/data/hello.txt") == "hello from the host\n"
    assert read(app, "/data/sub/deep.txt") == "deep\n"


@pytest.mark.parametrize("outside", ["/data/../secret.txt", "SECRET", "/etc/passwd", "/secret.txt",
                                     "../secret.txt", "/data/sub/../../secret.txt"])
def test_nothing_outside_the_volume_is_reachable(tool_module, volume, outside):
    outside = outside.replace("SECRET", str(volume / "secret.txt"))
    app = WagiApp()
    app.add_route("/read", tool_module, volumes={"/data": str(volume / "static")})
    text = read(app, outside)
    assert text.startswith("cannot open")
    assert "do not read" not in text


def test_no_volume_no_files(tool_module, volume):
    app = WagiApp()
    app.add_route("/read", tool_module)
    assert read(app, "/data/hello.txt").startswith("cannot open")
    assert read(app, str(volume / "static" / "hello.txt")).startswith("cannot open")


def test_nested_guest_path_and_two_volumes(tool_module, volume):
    app = WagiApp()
    app.add_route("/read", tool_module, volumes={"/srv/www": str(volume / "static"),
                                                 "/other": str(volume / "static" / "sub")})
    assert read(app, "/srv/www/hello.txt") == "hello from the host\n"
    assert read(app, "/other/deep.txt") == "deep\n"


def test_volume_with_a_missing_host_folder_is_an_error(tool_module, tmp_path):
    with pytest.raises(WagiNbError, match="does not exist"):
        WagiApp().add_route("/read", tool_module, volumes={"/data": str(tmp_path / "nope")})


# -- the app as a whole ---------------------------------------------------------------------------------------
def test_listeners_see_every_request_and_response(env_module):
    app = WagiApp()
    app.add_route("/x", env_module)
    seen = []
    app.listeners.append(lambda request, response: seen.append((request.path, response.status)))
    app.request("GET", "/x")
    app.request("GET", "/nope")
    app.request("GET", "/healthz")
    assert seen == [("/x", 200), ("/nope", 404), ("/healthz", 200)]


def test_response_carries_its_request(env_module):
    app = WagiApp()
    app.add_route("/x", env_module)
    response = app.request("POST", "/x?q=1", {"X-A": "b"}, b"body")
    assert response.request.method == "POST"
    assert response.request.target == "/x?q=1"
    assert response.request.body == b"body"


def test_response_text_uses_the_charset(tool_module):
    app = WagiApp()
    app.add_route("/t", tool_module)
    response = app.request("POST", "/t", body=b"Content-Type: text/plain; charset=latin-1\n\ncaf\xe9")
    assert response.text == "café"
    utf8 = app.request("POST", "/t", body="Content-Type: text/plain\n\ncafé".encode())
    assert utf8.text == "café"


def test_response_repr(tool_module):
    app = WagiApp()
    app.add_route("/t", tool_module)
    response = app.request("POST", "/t", body=b"Content-Type: text/plain\n\nabc")
    assert repr(response) == "<Response 200 OK text/plain, 3 bytes>"


def test_request_method_is_upper_cased(env_module):
    app = WagiApp()
    app.add_route("/x", env_module)
    assert wm.Seen(app.request("post", "/x")).env["REQUEST_METHOD"] == "POST"


def test_request_target_must_start_with_slash():
    with pytest.raises(BadRequest, match="does not start with '/'"):
        WagiApp().request("GET", "x")


# -- Request parsing (the %wagi_request / --request forms) ----------------------------------------------------
@pytest.mark.parametrize("line, method, path, query, protocol", [
    ("GET /", "GET", "/", "", "HTTP/1.1"),
    ("/x?y=1", "GET", "/x", "y=1", "HTTP/1.1"),
    ("post /submit?a=1&b=2", "POST", "/submit", "a=1&b=2", "HTTP/1.1"),
    ("PUT /x HTTP/1.0", "PUT", "/x", "", "HTTP/1.0"),
])
def test_request_line(line, method, path, query, protocol):
    request = Request.parse_line(line)
    assert (request.method, request.path, request.query, request.protocol) == \
        (method, path, query, protocol)


@pytest.mark.parametrize("line", ["", "FE(TCH /", "GET", "GET / HTTP/1.1 extra", "x"])
def test_bad_request_line(line):
    with pytest.raises(BadRequest):
        Request.parse_line(line)


@pytest.mark.parametrize("newline", ["\n", "\r\n"])
def test_http_file_form(env_module, newline):
    text = newline.join(["POST /x?a=1 HTTP/1.1", "Content-Type: text/plain", "X-Thing:  spaced ",
                         "", "line 1", "line 2"])
    request = Request.parse_http(text)
    assert request.method == "POST" and request.target == "/x?a=1"
    assert request.headers["X-Thing"] == "spaced"
    assert request.body == f"line 1{newline}line 2".encode()
    assert request.headers["Content-Length"] == str(len(request.body))
    app = WagiApp()
    app.add_route("/x", env_module)
    seen = wm.Seen(app.handle(request))
    assert seen.stdin == request.body
    assert seen.env["CONTENT_TYPE"] == "text/plain"


@pytest.mark.parametrize("text", ["GET /x", "GET /x\n", "GET /x\r\n", "\nGET /x\n\n"])
def test_http_file_form_request_line_only(text):
    # IPython hands a %%wagi_request cell over with a trailing newline.
    request = Request.parse_http(text)
    assert (request.method, request.path, request.body) == ("GET", "/x", b"")


@pytest.mark.parametrize("text", ["GET /x\nAccept: */*", "GET /x\nAccept: */*\n",
                                  "\nGET /x\r\nAccept: */*\r\n"])
def test_http_file_form_without_body(text):
    request = Request.parse_http(text)
    assert request.body == b"" and request.headers["Accept"] == "*/*"


def test_http_file_form_bad_header_line():
    with pytest.raises(BadRequest, match="Line 2"):
        Request.parse_http("GET /x\nnot a header\n\n")
