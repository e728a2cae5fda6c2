"""Outbound HTTP: a real C module calling Wagi's ``wasi_experimental_http`` functions against a real
tornado server on 127.0.0.1, through ``Artifact.run``, a notebook route, ``wagi-nb serve`` and the
export. Each test reads the error codes the ABI returned, as the module printed them."""
from __future__ import annotations

import http.client
import json
import re
import socket
import sys
import time
from pathlib import Path
from urllib.parse import quote

import pytest
from hypothesis import given, settings, strategies as st
from IPython.utils.capture import capture_output

import wagi_nb
from wagi_nb.runtime import outbound_http as abi
from wagi_nb.wagi import WagiApp, app

from helpers import outbound, tls_upstream
from helpers.subprocesses import serving
from helpers.wat import HELLO as HELLO_WAT

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

LOCAL = "http://127.0.0.1"


@pytest.fixture(scope="module")
def client(need_toolchain):
    need_toolchain("c")
    return wagi_nb.build(outbound.CLIENT_C, "c")


@pytest.fixture(scope="module")
def both_schemes(tmp_path_factory):
    """HTTPS and HTTP on one port of 127.0.0.1, and the certificate to trust (``SSL_CERT_FILE``)."""
    cert, key = tls_upstream.self_signed(tmp_path_factory.mktemp("tls"))
    server = tls_upstream.BothSchemes(cert, key)
    yield server, cert
    server.close()


@pytest.fixture
def tls_target(both_schemes, monkeypatch):
    server, cert = both_schemes
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))
    return server


@pytest.fixture(autouse=True)
def fresh_routes():
    app.clear()
    yield
    app.clear()


def calls(text: str) -> dict:
    """``{"req": 0, "header_get": 0, ...}``: the first error code each call printed."""
    found: dict = {}
    for name, code in re.findall(r"^(?:after close: )?(\w+)=(\d+)", text, re.M):
        found.setdefault(name, int(code))
    return found


def body_of(text: str) -> str:
    return text.split("body:\n", 1)[1].rsplit("\nbody_read=", 1)[0]


def run(client, target_url: str, allowed=(LOCAL,), **env):
    return client.run(env={"URL": target_url, "PRINT_BODY": "1", **env}, allowed_hosts=allowed, timeout=20)


def test_a_get_with_headers_reads_the_answer_s_status_headers_and_body(client, target):
    result = run(client, target.url("/echo?x=1"), HEADERS="X-Token:abc\nAccept: text/plain", HEADER="X-Echo")
    assert calls(result.text) == {"req": 0, "headers_get_all": 0, "header_get": 0, "body_read": 0, "close": 0}
    assert "status=200" in result.text and "header_get=0 yes" in result.text
    listed = result.text.split("headers_get_all=0\n", 1)[1]
    assert "content-type:text/plain; charset=utf-8\n" in listed and "x-echo:yes\n" in listed
    assert "set-cookie:a=1\n" in listed and "set-cookie:b=2\n" in listed
    body = body_of(result.text)
    assert "method=GET\npath=/echo?x=1\n" in body
    assert "h:x-token=abc" in body and "h:accept=text/plain" in body
    assert f"h:host=127.0.0.1:{target.port}" in body
    assert "after close: body_read=1" in result.text  # a closed handle is an invalid one


def test_a_post_sends_its_body(client, target):
    result = run(client, target.url("/echo"), METHOD="POST", BODY='{"name": "wasm"}',
                 HEADERS="Content-Type: application/json")
    body = body_of(result.text)
    assert "method=POST" in body and 'body={"name": "wasm"}' in body
    assert "h:content-type=application/json" in body and "h:content-length=16" in body


def test_a_large_body_is_read_in_chunks(client, target):
    result = client.run(env={"URL": target.url("/big?n=1000000"), "CHUNK": "4096"}, allowed_hosts=[LOCAL])
    assert "body_read=0 chunks=245 bytes=1000000" in result.text, result.text


def test_a_host_that_is_not_allowed_is_refused_without_a_request(client, target):
    before = len(target.seen)
    result = run(client, target.url("/echo"), allowed=("https://api.example.com",))
    assert calls(result.text)["req"] == abi.DESTINATION_NOT_ALLOWED
    assert len(target.seen) == before
    assert "127.0.0.1 is not in the route's allowed_hosts (https://api.example.com)" in result.stderr_text
    nothing = client.run(env={"URL": target.url("/echo")})  # no list at all: nothing is allowed
    assert calls(nothing.text)["req"] == abi.DESTINATION_NOT_ALLOWED and len(target.seen) == before


def test_allowed_hosts_compare_the_host_only_and_allow_all_allows_all(client, target):
    # Wagi's rule: scheme and port of an allowed_hosts entry are not compared.
    for allowed in (("https://127.0.0.1:9",), ("127.0.0.1",), (abi.ALLOW_ALL,)):
        assert calls(run(client, target.url("/echo"), allowed=allowed).text)["req"] == 0, allowed
    assert calls(run(client, target.url("/echo"), allowed=("http://localhost",)).text)["req"] == \
        abi.DESTINATION_NOT_ALLOWED


#: URLs urllib cannot split or http.client would not take: a port out of range or not a number, an
#: unclosed ``[``, hosts NFKC normalization turns into ``127.0.0.1/.example`` and ``aa/cb.example``, a space.
BAD_URLS = ["http://127.0.0.1:99999/", "http://127.0.0.1:abc/", "http://[::1/", "http://127.0.0.1\uff0f.example/",
            "http://a\u2100b.example/", "http://a b/"]


@pytest.mark.parametrize("url", ["not even a url", "http://", "http://127.0.0.1:notaport/", *BAD_URLS])
def test_a_bad_url_is_invalid_url_saying_why(client, url):
    result = run(client, url, allowed=(abi.ALLOW_ALL,))
    assert calls(result.text)["req"] == abi.INVALID_URL
    assert f"wagi_nb: outbound request refused: {url!r} is not a URL (" in result.stderr_text
    assert "inside wagi_nb" not in result.stderr_text


def test_a_bad_method_or_header_line_is_refused(client, target):
    assert calls(run(client, target.url("/echo"), METHOD="GE T").text)["req"] == abi.INVALID_METHOD
    result = run(client, target.url("/echo"), HEADERS="no colon here")
    assert calls(result.text)["req"] == abi.INVALID_ENCODING and "'no colon here'" in result.stderr_text


def test_a_refused_connection_is_a_request_error(client):
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    result = run(client, f"http://127.0.0.1:{port}/")
    assert calls(result.text)["req"] == abi.REQUEST_ERROR
    assert "the connection was refused" in result.stderr_text


def test_buffers_too_small_and_a_missing_header_say_so(client, target):
    result = run(client, target.url("/echo"), HEADERS_BUF="10", HEADER="x-nothing-like-it")
    assert calls(result.text)["headers_get_all"] == abi.BUFFER_TOO_SMALL
    assert calls(result.text)["header_get"] == abi.HEADER_NOT_FOUND


def test_redirects_are_followed_as_wagi_s_client_follows_them(client, target):
    result = run(client, target.url("/redirect?code=302&to=/echo/after"))
    assert "status=200" in result.text and "path=/echo/after" in body_of(result.text)
    posted = run(client, target.url("/redirect?code=303&to=/echo/seen"), METHOD="POST", BODY="gone")
    assert "method=GET" in body_of(posted.text) and "body=\n" in body_of(posted.text)
    kept = run(client, target.url("/redirect?code=307&to=/echo/kept"), METHOD="POST", BODY="kept")
    assert "method=POST" in body_of(kept.text) and "body=kept" in body_of(kept.text)
    away = run(client, target.url(f"/redirect?to=http://localhost:{target.port}/echo"))
    assert calls(away.text)["req"] == abi.REQUEST_ERROR
    assert f"redirected to http://localhost:{target.port}/echo, which is not an allowed host" in away.stderr_text


@pytest.mark.parametrize("url", BAD_URLS)
def test_a_redirect_to_a_bad_url_is_a_request_error_saying_why(client, target, url):
    start = target.url(f"/redirect?code=302&to={quote(url, safe='')}")
    result = run(client, start, allowed=(abi.ALLOW_ALL,))
    assert calls(result.text)["req"] == abi.REQUEST_ERROR
    assert f"wagi_nb: outbound request: {start} redirected to {url!r}, which is not a URL (" in result.stderr_text
    assert "inside wagi_nb" not in result.stderr_text


SECRETS = "Authorization: Bearer s3cret\nCookie: session=s3cret\nX-Other: kept"


@pytest.mark.parametrize("change", ["scheme", "host", "port", "nothing", "nothing, over https"])
def test_credentials_do_not_follow_a_redirect_to_another_origin(client, target, tls_target, change):
    # Where the module starts, and where the upstream sends it: https → http on one port, 127.0.0.1 →
    # localhost on one port, one port → another, or the same origin (which keeps them).
    start, to = {
        "scheme": (tls_target.url("https", "/redirect"), tls_target.url("http", "/echo/scheme")),
        "host": (target.url("/redirect"), f"http://localhost:{target.port}/echo/host"),
        "port": (target.url("/redirect"), tls_target.url("http", "/echo/port")),
        "nothing": (target.url("/redirect"), "/echo/same"),
        "nothing, over https": (tls_target.url("https", "/redirect"), "/echo/same"),
    }[change]
    result = run(client, f"{start}?to={quote(to, safe='')}", allowed=(LOCAL, "http://localhost"), HEADERS=SECRETS)
    assert calls(result.text)["req"] == 0 and "status=200" in result.text, result.stderr_text
    seen = body_of(result.text)
    assert "/echo/" in seen and "h:x-other=kept" in seen
    if change.startswith("nothing"):
        assert "h:authorization=Bearer s3cret" in seen and "h:cookie=session=s3cret" in seen
    else:
        assert "s3cret" not in seen and "h:authorization" not in seen and "h:cookie" not in seen


def test_http_max_concurrency_caps_the_responses_an_instance_holds(client, target):
    handler_app = WagiApp()
    handler_app.add_route("/out", client, allowed_hosts=[LOCAL], http_max_concurrency=2,
                          env={"URL": target.url("/echo"), "REQUESTS": "3", "CGI": "1"})
    response = handler_app.request("GET", "/out")
    assert response.text.count("req=0 ") == 2
    assert f"req={abi.TOO_MANY_SESSIONS} " in response.text
    assert "http_max_concurrency" in response.stderr_text


def test_response_bodies_count_against_the_outbound_cap(client, target):
    small = WagiApp(max_outbound_mib=0.5)
    small.add_route("/out", client, allowed_hosts=[LOCAL], env={"URL": target.url("/big?n=1000000"), "CGI": "1"})
    response = small.request("GET", "/out")
    assert f"req={abi.REQUEST_ERROR} " in response.text
    assert "is larger than the 0.5 MiB this run may still hold" in response.stderr_text


def test_outbound_time_counts_against_the_request_s_timeout(client, target, fails_if_hung):
    slow = WagiApp(timeout=1)
    slow.add_route("/out", client, allowed_hosts=[LOCAL], env={"URL": target.url("/slow?s=30"), "CGI": "1"})
    start = time.monotonic()
    with fails_if_hung(10):
        response = slow.request("GET", "/out")
    assert response.status == 504 and time.monotonic() - start < 5
    assert "was cut short: the run ran out of time" in response.stderr_text
    quick = slow.request("GET", "/healthz")
    assert quick.status == 200


def test_a_cell_s_allowed_host_option_reaches_its_route(client, target, ipython_shell):
    with capture_output():
        view = ipython_shell.run_cell_magic(
            "wasm_c", f"--route /proxy --allowed-host {LOCAL} --env URL={target.url('/echo/cell')} --env CGI=1",
            outbound.CLIENT_C)
    assert view.status == 200 and "req=0 status=200" in view.text
    assert app.handlers[0].allowed_hosts == (LOCAL,)
    assert LOCAL in repr(ipython_shell.run_line_magic("wagi_routes", ""))
    with capture_output():
        refused = ipython_shell.run_cell_magic("wasm_c", f"--env URL={target.url('/echo')}", outbound.CLIENT_C)
    assert f"req={abi.DESTINATION_NOT_ALLOWED}" in refused.text


def test_wagi_nb_serve_gives_a_module_the_hosts_its_config_allows(client, target, tmp_path):
    (tmp_path / "client.wasm").write_bytes(client.wasm_path.read_bytes())
    (tmp_path / "modules.toml").write_text(
        f'[[module]]\nroute = "/allowed"\nmodule = "client.wasm"\nallowed_hosts = ["{LOCAL}"]\n'
        '[[module]]\nroute = "/denied"\nmodule = "client.wasm"\n')
    env = ["-e", f"URL={target.url('/echo/served')}", "-e", "CGI=1", "-e", "PRINT_BODY=1"]
    with serving("-c", tmp_path / "modules.toml", *env, cwd=tmp_path, log=tmp_path / "serve.log") as port:
        answers = {}
        for route in ("/allowed", "/denied"):
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            connection.request("GET", route)
            answers[route] = connection.getresponse().read().decode()
            connection.close()
    assert "req=0 status=200" in answers["/allowed"] and "path=/echo/served" in answers["/allowed"]
    assert f"req={abi.DESTINATION_NOT_ALLOWED} " in answers["/denied"]


def test_wagi_nb_serve_s_max_outbound_caps_the_answers_a_run_holds(client, target, tmp_path):
    (tmp_path / "client.wasm").write_bytes(client.wasm_path.read_bytes())
    (tmp_path / "modules.toml").write_text(
        f'[[module]]\nroute = "/big"\nmodule = "client.wasm"\nallowed_hosts = ["{LOCAL}"]\n')
    env = ["-e", f"URL={target.url('/big?n=300000')}", "-e", "CGI=1"]
    answers = {}
    for cap in ("1", "0.25"):
        with serving("-c", tmp_path / "modules.toml", *env, "--max-outbound", cap, cwd=tmp_path,
                     log=tmp_path / "serve.log") as port:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            connection.request("GET", "/big")
            answers[cap] = connection.getresponse().read().decode()
            connection.close()
    assert "req=0 status=200" in answers["1"]
    assert f"req={abi.REQUEST_ERROR} " in answers["0.25"]


def test_the_export_carries_allowed_hosts_to_wagi_and_leaves_the_route_out_of_spin(client, target, tmp_path):
    from wagi_nb.export import export_app
    exporting = WagiApp()
    exporting.add_route("/out", client, allowed_hosts=[LOCAL, abi.ALLOW_ALL], http_max_concurrency=4)
    exporting.add_route("/plain", wagi_nb.build(HELLO_WAT, "wat"))
    report = export_app(exporting, tmp_path / "app")
    modules = tomllib.loads((tmp_path / "app" / "modules.toml").read_text())["module"][0]
    assert modules["allowed_hosts"] == [LOCAL, abi.ALLOW_ALL] and modules["http_max_concurrency"] == 4
    # Spin refuses to start an app with a module that imports wasi_experimental_http (measured with
    # Spin 3.6.3): the route is left out of spin.toml, loudly, and the rest of the app runs there.
    spin = tomllib.loads((tmp_path / "app" / "spin.toml").read_text())
    assert [t["route"] for t in spin["trigger"]["http"]] == ["/plain"]
    readme = (tmp_path / "app" / "README.md").read_text()
    assert "`/out` is not in spin.toml" in readme and "`/out` is not in spin.toml" in str(report)
    assert "LEFT OUT of spin.toml" in readme


def test_policy_unit_rules():
    policy = abi.OutboundPolicy(("https://api.example.com/v1", "http://10.0.0.1:8080", "bare.example.org"))
    assert policy.allows("http://api.example.com/other") and policy.allows("https://10.0.0.1/")
    assert policy.allows("https://bare.example.org/x")
    assert not policy.allows("https://api.example.com.evil.test/") and not policy.allows("https://evil.test/")
    assert not abi.OutboundPolicy(()).allows("https://api.example.com/")


# -- Wagi's own guest library ----------------------------------------------------------------------------
#: deislabs' Rust crate for the ABI (what Wagi's http example uses), from crates.io, pinned.
GUEST_CRATE = ("https://static.crates.io/crates/wasi-experimental-http/wasi-experimental-http-0.10.0.crate",
               "9805001ce441ef7cd4681b7688f2392e15abae743f2ad0714ffc6ebc5a28dc79")
CRATE_CELL = '''use bytes::Bytes;

fn main() {
    let url = std::env::var("TARGET").unwrap_or_default();
    let request = http::request::Builder::new().method("POST").uri(&url)
        .header("Content-Type", "text/plain").body(Some(Bytes::from("from the crate"))).unwrap();
    println!("Content-Type: text/plain\\n");
    match wasi_experimental_http::request(request) {
        Ok(mut response) => {
            let body = response.body_read_all().unwrap();
            println!("status {}", response.status_code);
            println!("x-echo {}", response.header_get("x-echo".to_string()).unwrap_or_default());
            println!("{}", String::from_utf8_lossy(&body));
        }
        Err(error) => println!("error: {}", error),
    }
}
'''


@pytest.fixture(scope="module")
def crates_with_the_guest_library(tmp_path_factory):
    """A Cargo directory source: Debian's packaged crates plus wasi-experimental-http from crates.io."""
    import hashlib
    import tarfile
    import urllib.request
    from wagi_nb.toolchains.cargo import DEBIAN_REGISTRY
    folder = tmp_path_factory.mktemp("crates")
    url, digest = GUEST_CRATE
    with urllib.request.urlopen(url, timeout=60) as reply:
        data = reply.read()
    assert hashlib.sha256(data).hexdigest() == digest
    (folder / "guest.crate").write_bytes(data)
    source = folder / "source"
    source.mkdir()
    for crate in Path(DEBIAN_REGISTRY).iterdir():
        (source / crate.name).symlink_to(crate)
    with tarfile.open(folder / "guest.crate") as archive:
        archive.extractall(source, filter="data")
    (source / "wasi-experimental-http-0.10.0" / ".cargo-checksum.json").write_text(
        json.dumps({"files": {}, "package": digest}))
    return source


@pytest.mark.network  # the guest crate comes from crates.io
def test_wagi_s_own_rust_crate_runs_unchanged(need_toolchain, target, crates_with_the_guest_library,
                                               monkeypatch):
    need_toolchain("rust")
    monkeypatch.setenv("WAGI_NB_CARGO_SOURCE", str(crates_with_the_guest_library))
    module = wagi_nb.build(CRATE_CELL, "rust", dependencies=['wasi-experimental-http = "0.10"', 'http = "0.2"',
                                                             'bytes = "1"'])
    result = module.run(env={"TARGET": target.url("/echo/crate")}, allowed_hosts=[LOCAL], timeout=20)
    assert "status 200 OK\nx-echo yes\n" in result.text, (result.text, result.stderr_text)
    assert "method=POST" in result.text and "body=from the crate" in result.text
    assert "h:content-type=text/plain" in result.text


# -- a hostile module: any arguments, any memory ------------------------------------------------------
def abi_call_wat(function: str, args, memory: bool = True) -> str:
    """A module that calls one ``wasi_experimental_http`` function with ``args`` and exits with the
    error code it returned (without a memory, WASI cannot exit: it ends normally if the code is
    memory_not_found and traps otherwise)."""
    params = " ".join(["i32"] * abi.FUNCTIONS[function])
    consts = " ".join(f"(i32.const {arg})" for arg in args)
    call = f"(call $f {consts})"
    body = (f"(call $exit {call})" if memory else
            f"(if (i32.ne {call} (i32.const {abi.MEMORY_NOT_FOUND})) (then unreachable))")
    return ("(module\n"
            f'  (import "wasi_experimental_http" "{function}" (func $f (param {params}) (result i32)))\n'
            '  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))\n'
            + ('  (memory (export "memory") 1)\n  (data (i32.const 0) "http://127.0.0.1/")\n' if memory else "")
            + f'  (func (export "_start") {body}))\n')



edges = st.sampled_from([0, 1, 17, 65535, 65536, 65537, 2**31 - 1, 2**31, 2**32 - 1, 2**32 - 16])
u32s = st.one_of(edges, st.integers(0, 2**32 - 1)).map(lambda n: n - 2**32 if n >= 2**31 else n)


@settings(max_examples=60, deadline=None)
@given(function=st.sampled_from(sorted(abi.FUNCTIONS)), data=st.data(), memory=st.booleans())
def test_any_arguments_get_an_error_code_never_a_crash(function, data, memory):
    args = data.draw(st.lists(u32s, min_size=abi.FUNCTIONS[function], max_size=abi.FUNCTIONS[function]))
    module = wagi_nb.build(abi_call_wat(function, args, memory), "wat")
    result = module.run(allowed_hosts=[abi.ALLOW_ALL], timeout=10)
    assert result.outcome in ("ok", "exit"), (result.status, result.stderr_text)
    code = result.exit_code or 0
    assert 0 <= code <= abi.TOO_MANY_SESSIONS
    if not memory:
        assert result.outcome == "ok"  # it returned memory_not_found
    if function == "close" and memory:
        assert code == abi.SUCCESS
    assert "inside wagi_nb" not in result.stderr_text  # no bug of ours behind any code


def test_pointers_past_the_memory_are_refused(need_toolchain):
    # url at the very end of memory, length past it: buffer_too_small, as Wagi's crate says.
    reading = wagi_nb.build(abi_call_wat("req", [65530, 100, 0, 3, 0, 0, 0, 0, 16, 20]), "wat")
    assert reading.run(allowed_hosts=[abi.ALLOW_ALL]).exit_code == abi.BUFFER_TOO_SMALL
    # body_read of an open handle into a buffer past the end: memory_access_error (handle 0 unknown here).
    unknown = wagi_nb.build(abi_call_wat("body_read", [0, 65530, 100, 0]), "wat")
    assert unknown.run().exit_code == abi.INVALID_HANDLE
