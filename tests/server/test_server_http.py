"""The Wagi contract over real HTTP: one ``wagi-nb serve`` subprocess on 127.0.0.1, real clients.

Spec sections 4 and 5 seen from a client (status, headers, body, argv/QUERY_STRING, stdin, HEAD,
/healthz, 404), the limits (timeout 504, memory limit, --max-body 413, header cap), malformed
requests, 64 concurrent clients, an 8 MiB body, -e/--env-file, --log-dir and the access log,
and the address the server binds.
"""
from __future__ import annotations

import hashlib
import http.client
import re
import shutil
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from helpers import ports, servers as ss
from helpers.wagi_modules import printed_argv, printed_env


TIMEOUT = 2  # --timeout: the runaway module's 504 comes after this many seconds
MEMORY_MIB = 64  # --memory-limit


@pytest.fixture(scope="module")
def site(need_toolchain, tmp_path_factory):
    """A folder with modules.toml, its modules, an env file and a log folder."""
    folder = tmp_path_factory.mktemp("served-site")
    shutil.copyfile(ss.build(need_toolchain, ss.HELLO_RUST, "rust").wasm_path, folder / "hello.wasm")
    shutil.copyfile(ss.build(need_toolchain, ss.TOOL_C, "c", name="server_tool").wasm_path,
                    folder / "tool.wasm")
    (folder / "loop.wat").write_text(ss.LOOP_WAT)
    (folder / "modules.toml").write_text(
        '[[module]]\nroute = "/"\nmodule = "hello.wasm"\n\n'
        '[[module]]\nroute = "/m"\nmodule = "tool.wasm"\n\n'
        '[[module]]\nroute = "/loop"\nmodule = "loop.wat"\n')
    (folder / "vars.env").write_text("FROM_FILE=file\nBOTH=file\n")
    (folder / "logs").mkdir()
    return folder


@pytest.fixture(scope="module")
def server(site, python_env):
    process = ss.serve_process(
        python_env, site, "-c", "modules.toml", "-l", "127.0.0.1:0", "--timeout", TIMEOUT,
        "--memory-limit", MEMORY_MIB, "--max-body", 1, "--log-dir", site / "logs",
        "--env-file", "vars.env", "-e", "BOTH=flag", "-e", "QUOTED='two words'")
    with process:
        yield process
        assert process.process.poll() is None, f"the server died: {process.stderr}"
        assert process.stop() == 0
    assert "Traceback" not in process.stderr, process.stderr


def env_of(reply: ss.Reply) -> dict:
    assert reply.status == 200, (reply.status, reply.text)
    return printed_env(reply.text)


def argv_of(reply: ss.Reply) -> list:
    return printed_argv(reply.text)


# -- spec section 4 over HTTP -------------------------------------------------------------------------
def test_content_type_status_and_body(server):
    reply = server.request("GET", "/m?id=abc")
    assert (reply.status, reply.reason) == (200, "OK")
    assert reply.header("Content-Type") == "text/plain"
    assert reply.header("Content-Length") == "7"
    assert reply.body == b"id=abc\n"


def test_status_and_location(server):
    reply = server.request("GET", "/m?redirect")
    assert (reply.status, reply.reason) == (301, "Moved Permanently")  # an explicit Status beats 302
    assert reply.header("Location") == "/elsewhere"
    assert reply.body == b""


def test_repeated_set_cookie_headers_both_arrive(server):
    reply = server.request("GET", "/m?cookies")
    assert reply.all("Set-Cookie") == ["a=1", "b=2"]
    assert reply.header("X-Custom") == "yes"
    assert reply.body == b"cookies\n"


def test_unknown_path_is_404_with_empty_body(server):
    reply = server.request("GET", "/no/such/route")
    assert reply.status == 404
    assert reply.body == b""
    assert server.request("GET", "/m/").status == 404  # exact route: /m is not /m/


def test_healthz(server):
    reply = server.request("GET", "/healthz")
    assert (reply.status, reply.body) == (200, b"OK")


def test_query_reaches_argv_and_query_string(server):
    reply = server.request("GET", "/m?first=1&second=two%20words")
    assert argv_of(reply) == ["/m", "first=1", "second=two%20words"]
    env = env_of(reply)
    assert env["QUERY_STRING"] == "first=1&second=two%20words"
    assert env["REQUEST_METHOD"] == "GET"
    assert env["REMOTE_ADDR"] == "127.0.0.1"
    assert env["SERVER_NAME"] == "127.0.0.1" and env["SERVER_PORT"] == str(server.port)


def test_post_body_reaches_stdin(server):
    body = b"line one\r\nline two\x00\xff end"
    reply = server.request("POST", "/m", body=body, headers={"Content-Type": "application/x-thing"})
    assert reply.body.split(b"STDIN\n", 1)[1] == body
    env = env_of(reply)
    assert env["REQUEST_METHOD"] == "POST"
    assert env["CONTENT_LENGTH"] == str(len(body))
    assert env["CONTENT_TYPE"] == "application/x-thing"


def test_head_has_the_headers_and_no_body(server):
    reply = server.request("HEAD", "/m?id=head")
    assert reply.status == 200
    assert reply.header("Content-Type") == "text/plain"
    assert reply.header("Content-Length") == str(len(b"id=head\n"))
    assert reply.body == b""
    # On the wire: nothing after the blank line.
    raw = ss.raw_exchange(server.port, b"HEAD /m?id=head HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
                          close_write=False)
    assert ss.status_of(raw) == 200
    assert raw.endswith(b"\r\n\r\n"), raw


def test_env_file_and_env_flags_reach_modules_flag_wins(server):
    env = env_of(server.request("GET", "/m"))
    assert env["FROM_FILE"] == "file"
    assert env["BOTH"] == "flag"
    assert env["QUOTED"] == "two words"


def test_module_stderr_goes_to_log_dir_per_route(server, site):
    assert server.request("GET", "/m?id=1&stderr=marker-41").status == 200
    log = site / "logs" / hashlib.sha256(b"/m").hexdigest() / "module.stderr"
    assert log.is_file()
    assert "tool stderr: marker-41\n" in log.read_text()


def test_access_log_line_per_request(server):
    for n in range(3):
        server.request("GET", f"/m?id=logged-{n}")
    server.request("GET", "/missing-logged")
    for n in range(3):
        line = server.wait_for_stderr(rf'"GET /m\?id=logged-{n} HTTP/1\.1"')
        # method + target, status, bytes, module time
        assert re.search(rf'^127\.0\.0\.1 "GET /m\?id=logged-{n} HTTP/1\.1" 200 {len(f"id=logged-{n}") + 1} '
                         r"[\d.]+ms route=/m$", line), line
    assert re.search(r'"GET /missing-logged HTTP/1\.1" 404 0 ', server.wait_for_stderr("missing-logged"))
    assert sum("id=logged-" in line for line in server.stderr_lines()) == 3


# -- concurrency and limits --------------------------------------------------------------------------
def test_64_concurrent_clients_each_get_their_own_answer(server):
    clients = 64
    barrier = threading.Barrier(clients)

    def client(n):
        ident = f"client-{n}-{n * 7919}"
        barrier.wait(30)
        return ident, server.request("GET", f"/m?id={ident}")

    with ThreadPoolExecutor(clients) as pool:
        results = list(pool.map(client, range(clients)))
    assert len(results) == clients
    for ident, reply in results:
        assert reply.status == 200
        assert reply.body == f"id={ident}\n".encode()


def test_runaway_module_is_cut_off_while_other_requests_are_served(server):
    outcome = {}

    def runaway():
        started = time.monotonic()
        outcome["reply"] = server.request("GET", "/loop")
        outcome["seconds"] = time.monotonic() - started

    thread = threading.Thread(target=runaway)
    thread.start()
    time.sleep(0.2)  # the runaway module is spinning
    served = [server.request("GET", f"/m?id=meanwhile-{n}") for n in range(10)]
    assert thread.is_alive(), "the runaway request ended before the others were served"
    assert [r.body for r in served] == [f"id=meanwhile-{n}\n".encode() for n in range(10)]
    thread.join(60)
    reply = outcome["reply"]
    assert reply.status == 504
    assert "timeout" in reply.text
    assert TIMEOUT - 0.5 <= outcome["seconds"] < TIMEOUT + 20  # cut off by the timeout, not ended early
    assert server.request("GET", "/m?id=after").body == b"id=after\n"


def test_memory_bomb_is_contained(server):
    def bomb():
        reply = server.request("GET", "/m?bomb")
        assert reply.status in (200, 500), (reply.status, reply.text)
        if reply.status == 200:  # malloc returned NULL inside the module: what it printed
            mib = int(re.search(r"bomb stopped after (\d+) MiB", reply.text).group(1))
            assert 0 < mib <= MEMORY_MIB
        return reply

    bomb()  # the first run may grow pools and caches once
    before = ss.rss_bytes(server.pid)
    for _ in range(6):
        bomb()
        assert server.request("GET", "/m?id=alive").body == b"id=alive\n"
    grown = ss.rss_bytes(server.pid) - before
    # Six instances each touched ~64 MiB; none of it may stay (generous bound: less than two of them).
    assert grown < 2 * MEMORY_MIB * 1024 * 1024, f"RSS grew by {grown / 2**20:.0f} MiB"


def test_8_mib_response_is_intact(server):
    size = 8 * 1024 * 1024
    reply = server.request("GET", f"/m?big={size}")
    assert reply.status == 200
    assert reply.header("Content-Length") == str(size)
    assert len(reply.body) == size
    assert hashlib.sha256(reply.body).digest() == hashlib.sha256(ss.big_body(size)).digest()


# -- bad requests ---------------------------------------------------------------------------------------
#: name → (bytes, whether the client then half-closes: "cut off" requests end with the client's EOF;
#: complete ones wait for the server's answer, since tornado drops a half-closed connection at once).
MALFORMED = {
    "binary garbage": (b"\x00\x01\x02\xff garbage \x7f\r\n\r\n", False),
    "request line without version": (b"GET /m?id=x\r\n\r\n", False),
    "unknown protocol": (b"GET /m?id=x HTTP/9.9\r\nHost: x\r\n\r\n", False),
    "header without colon": (b"GET /m?id=x HTTP/1.1\r\nHost: x\r\nthis is not a header\r\n\r\n", False),
    "bad content-length": (b"POST /m HTTP/1.1\r\nHost: x\r\nContent-Length: lots\r\n\r\nabc", False),
    "bad chunk size": (b"POST /m HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                       b"zz\r\nabc\r\n0\r\n\r\n", False),
    "cut-off request line": (b"GET /m?id", True),
    "cut-off headers": (b"GET /m?id=x HTTP/1.1\r\nHost: x\r\nX-Partial: ab", True),
    "body shorter than content-length": (b"POST /m HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n"
                                         b"short", True),
}


@pytest.mark.parametrize("payload, cut_off", list(MALFORMED.values()), ids=list(MALFORMED))
def test_malformed_request_is_rejected_without_harming_the_next(server, payload, cut_off):
    raw = ss.raw_exchange(server.port, payload, close_write=cut_off)
    if cut_off:
        assert raw == b"", raw[:300]  # nothing to answer: the client is gone
    else:
        assert ss.status_of(raw) == 400, raw[:300]
    assert b"id=x" not in raw  # the module did not run on it
    assert server.request("GET", "/m?id=next").body == b"id=next\n"


def test_oversized_body_is_413_and_the_connection_stays_usable(server):
    """A client that sends the whole body (no Expect) gets the 413 after it, not a reset mid-upload,
    and its keep-alive connection serves the next request."""
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
    try:
        conn.request("POST", "/m", body=b"x" * (2 * 1024 * 1024))
        response = conn.getresponse()
        assert response.status == 413
        assert b"--max-body" in response.read()
        chunk = b"y" * 65536  # the same, chunked: 2 MiB and the end chunk
        conn.request("POST", "/m", body=iter([chunk] * 32), encode_chunked=True)
        response = conn.getresponse()
        assert response.status == 413
        assert b"2,097,152 bytes" in response.read()
        conn.request("GET", "/m?id=same-connection")
        response = conn.getresponse()
        assert (response.status, response.read()) == (200, b"id=same-connection\n")
    finally:
        conn.close()


def test_oversized_body_is_413_before_the_body_when_the_client_waits_for_100_continue(server):
    raw = ss.raw_exchange(server.port, b"POST /m HTTP/1.1\r\nHost: x\r\nContent-Length: 2097152\r\n"
                                       b"Expect: 100-continue\r\n\r\n", close_write=False)
    assert ss.status_of(raw) == 413, raw[:300]  # at once, and no "100 Continue" first
    assert server.request("POST", "/m", body=b"x" * 1000).status == 200


def test_huge_body_is_413_at_once_from_content_length(server):
    # Far past the limit: not worth reading; answered from the headers alone, connection closed.
    raw = ss.raw_exchange(server.port, b"POST /m HTTP/1.1\r\nHost: x\r\nContent-Length: 1073741824\r\n\r\n",
                          close_write=False)
    assert ss.status_of(raw) == 413, raw[:300]
    assert b"1,073,741,824 bytes" in raw
    assert server.request("GET", "/m?id=next").body == b"id=next\n"


def test_oversized_body_from_curl_is_413(server, tmp_path):
    payload = tmp_path / "two-mib"
    payload.write_bytes(b"\x00" * (2 * 1024 * 1024))
    for extra in ([], ["-H", "Transfer-Encoding: chunked"], ["-H", "Expect:"]):
        out = subprocess.run(["curl", "-s", "-o", "-", "-w", "\n%{http_code}", "--data-binary",
                              f"@{payload}", *extra, f"http://127.0.0.1:{server.port}/m"],
                             capture_output=True, text=True, timeout=60)
        assert out.stdout.rsplit("\n", 1)[-1] == "413", (extra, out.stdout, out.stderr)
    assert server.request("POST", "/m", body=b"fits").body.endswith(b"STDIN\nfits")


def test_body_at_the_limit_is_served(server):
    body = bytes(range(256)) * 4096  # exactly 1 MiB
    reply = server.request("POST", "/m", body=body)
    assert reply.status == 200
    assert reply.body.split(b"STDIN\n", 1)[1] == body


def test_oversized_header_block_is_rejected_without_harming_the_next(server):
    big = b"GET /m?id=x HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 100_000 + b"\r\n\r\n"
    raw = ss.raw_exchange(server.port, big, close_write=False)
    status = ss.status_of(raw)
    assert raw == b"" or (status is not None and 400 <= status < 500), raw[:300]
    assert b"id=x" not in raw
    # The same through http.client: the connection is refused an answer, never a module run.
    try:
        reply = server.request("GET", "/m?id=x", headers={"X-Big": "a" * 100_000}, timeout=15)
    except (OSError, http.client.HTTPException):
        pass  # closed without an answer
    else:
        assert 400 <= reply.status < 500 and b"id=x" not in reply.body, reply
    # Many ordinary headers are fine.
    headers = {f"X-H{n}": "v" * 100 for n in range(100)}
    assert server.request("GET", "/m?id=many", headers=headers).body == b"id=many\n"
    assert server.request("GET", "/m?id=next").body == b"id=next\n"


# -- where it listens ---------------------------------------------------------------------------------
def test_binds_only_to_the_address_given(server):
    assert server.host == "127.0.0.1"
    assert ports.listening_addresses(server.port) == [f"127.0.0.1:{server.port}"]
    other = ports.other_local_ipv4()
    if other is not None:  # the machine's own non-loopback address does not reach it
        assert ports.connect_fails(other, server.port)
    assert not ports.connect_fails("127.0.0.1", server.port)


def test_default_listen_address_is_loopback():
    from wagi_nb.cli import parser
    args = parser().parse_args(["serve", "-c", "modules.toml"])
    assert args.listen == "127.0.0.1:3000"
    assert args.hostname == "localhost:3000"


# -- the seed article, end to end ----------------------------------------------------------------------
@pytest.mark.parametrize("header", ["", "[[module]]\n"], ids=["article's two lines", "with header"])
def test_seed_article_modules_toml_and_curl(need_toolchain, tmp_path, python_env, header):
    """`wagi -c ./modules.toml` then `curl http://localhost:3000/`, as the article shows it (on a free
    port: the article's 3000 may be taken on a test machine)."""
    target = tmp_path / "target" / "wasm32-wasi" / "debug"
    target.mkdir(parents=True)
    shutil.copyfile(ss.build(need_toolchain, ss.HELLO_RUST, "rust").wasm_path, target / "hello-wasm.wasm")
    (tmp_path / "modules.toml").write_text(
        header + 'module = "target/wasm32-wasi/debug/hello-wasm.wasm"\nroute = "/"\n')
    with ss.serve_process(python_env, tmp_path, "-c", "./modules.toml", "-l", "127.0.0.1:0") as served:
        assert served.ready_line == f"Ready: serving on http://127.0.0.1:{served.port}"
        url = f"http://127.0.0.1:{served.port}/"
        plain = subprocess.run(["curl", "-s", url], capture_output=True, text=True, timeout=30)
        assert plain.stdout == "Hello, world!\n"
        verbose = subprocess.run(["curl", "-v", url], capture_output=True, text=True, timeout=30)
        assert verbose.stdout == "Hello, world!\n"
        received = [line[2:].strip().lower() for line in verbose.stderr.splitlines() if line.startswith("< ")]
        assert received[0] == "http/1.1 200 ok"
        assert "content-type: text/plain" in received
        assert "content-length: 14" in received
        assert any(line.startswith("date: ") for line in received)
        assert served.stop() == 0
    assert re.search(r"^Module stderr goes to \S+", served.stderr, re.M)
