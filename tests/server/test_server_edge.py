"""``wagi-nb serve``'s HTTP/1.1 edge (httptools on asyncio, ``server/edge.py``) against hostile
and unusual clients, over raw sockets; and its parser fuzzed in process.

The rest of the protocol (bad requests, 413s, 100-continue, idle and half-closed connections,
pipelining to a slow module) is tested in the other files of this folder, which ran against
tornado before this edge replaced it for ``wagi-nb serve``.
"""
from __future__ import annotations

import asyncio
import shutil
import socket
import time

import pytest
from hypothesis import given, settings, strategies as st

from helpers import servers as ss


@pytest.fixture(scope="module")
def site(need_toolchain, tmp_path_factory):
    folder = tmp_path_factory.mktemp("edge-site")
    shutil.copyfile(ss.build(need_toolchain, ss.TOOL_C, "c", name="server_tool").wasm_path, folder / "tool.wasm")
    (folder / "modules.toml").write_text('[[module]]\nroute = "/m/..."\nmodule = "tool.wasm"\n')
    return folder


@pytest.fixture(scope="module")
def server(site, python_env):
    with ss.serve_process(python_env, site, "-c", "modules.toml", "-l", "127.0.0.1:0", "--workers", "1",
                          "--max-body", 1) as served:
        yield served
        assert served.process.poll() is None, served.stderr
    assert "Traceback" not in served.stderr, served.stderr


def answers(raw: bytes) -> list:
    """(status, body) of each response in ``raw``, in order."""
    found = []
    while raw:
        head, _, rest = raw.partition(b"\r\n\r\n")
        status = ss.status_of(head)
        length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n")
                       if line.lower().startswith(b"content-length:")), 0)
        found.append((status, rest[:length]))
        raw = rest[length:]
    return found


def test_pipelined_requests_are_answered_in_order_then_a_bad_one_gets_400_and_the_close(server):
    good = b"GET /m/x?id=%d HTTP/1.1\r\nHost: x\r\n\r\n"
    raw = ss.raw_exchange(server.port, good % 1 + good % 2 + b"GET /m/x?id=3 HTTP/1.1\r\nno colon here\r\n\r\n"
                          + good % 4, close_write=False)
    assert answers(raw)[:2] == [(200, b"id=1\n"), (200, b"id=2\n")], raw[:500]
    assert [status for status, _ in answers(raw)] == [200, 200, 400], raw[:500]
    assert b"id=4" not in raw  # nothing after the bad request is read


def test_raw_utf8_in_a_request_line_in_two_writes_or_after_another_request_reaches_the_module(server):
    """llhttp refuses bytes past ASCII in a target; Wagi's hyper takes them (curl sends what the
    user typed), so the edge hands llhttp the line percent-encoded and the module the target as
    sent: over two writes, and as the second of two pipelined requests."""
    line = "GET /m/naïve/café?q=é HTTP/1.1\r\n".encode()
    received = bytearray()
    with socket.create_connection(("127.0.0.1", server.port), timeout=15) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.sendall(line[:10])
        time.sleep(0.2)
        sock.sendall(line[10:] + b"Host: x\r\nX-Obs: caf\xe9\r\n\r\n"
                     b"GET /m/x?id=1 HTTP/1.1\r\nHost: x\r\n\r\n" + line + b"Connection: close\r\n\r\n")
        while chunk := sock.recv(65536):
            received += chunk
    replies = answers(bytes(received))
    assert [status for status, _ in replies] == [200, 200, 200], bytes(received)[:500]
    for reply in (replies[0][1], replies[2][1]):
        text = reply.decode("utf-8")
        assert "E PATH_INFO=/naïve/café\n" in text and "E QUERY_STRING=q=é\n" in text, text
    assert b"E HTTP_X_OBS=caf\xe9" in replies[0][1] or "caf\u00e9" in replies[0][1].decode("utf-8", "replace")
    assert replies[1][1] == b"id=1\n"


def test_a_method_llhttp_does_not_know_reaches_the_module_even_split_across_writes(server):
    """Any method token reaches the module, as under Wagi (llhttp knows a fixed set, upper case)."""
    received = bytearray()
    with socket.create_connection(("127.0.0.1", server.port), timeout=15) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.sendall(b"Fro")
        time.sleep(0.2)
        sock.sendall(b"b /m/x HTTP/1.1\r\nHost: x\r\n\r\nBREW /m/y HTTP/1.1\r\nHost: x\r\n"
                     b"Content-Length: 4\r\nConnection: close\r\n\r\ntea!")
        while chunk := sock.recv(65536):
            received += chunk
    replies = answers(bytes(received))
    assert [status for status, _ in replies] == [200, 200], bytes(received)[:500]
    assert b"E REQUEST_METHOD=Frob\n" in replies[0][1] and b"E REQUEST_METHOD=BREW\n" in replies[1][1]
    assert replies[1][1].endswith(b"tea!")


def test_a_header_block_dribbled_past_the_limit_is_431_and_the_connection_closed(server):
    with socket.create_connection(("127.0.0.1", server.port), timeout=15) as sock:
        sock.sendall(b"GET /m/x?id=big HTTP/1.1\r\nHost: x\r\n")
        raw = b""
        try:
            for _ in range(200):  # 200 KiB of headers, 1 KiB at a time: past the 64 KiB limit
                sock.sendall(b"X-Pad: " + b"a" * 1015 + b"\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass
        try:
            while chunk := sock.recv(65536):
                raw += chunk
        except ConnectionResetError:
            pass
    assert ss.status_of(raw) == 431, raw[:300]
    assert b"id=big" not in raw
    assert server.request("GET", "/m/x?id=after").body == b"id=after\n"


@pytest.mark.parametrize("request_line", [b"GET /m/x?id=old\r\n\r\n", b"GET /m/x?id=old HTTP/0.9\r\n\r\n"])
def test_http_0_9_is_400(server, request_line):
    raw = ss.raw_exchange(server.port, request_line, close_write=False)
    assert ss.status_of(raw) == 400 and b"id=old" not in raw, raw[:300]


def test_http_1_0_closes_unless_kept_alive(server):
    raw = ss.raw_exchange(server.port, b"GET /m/x?id=ten HTTP/1.0\r\n\r\n", close_write=False, timeout=10)
    assert answers(raw) == [(200, b"id=ten\n")] and b"Connection: close" in raw
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        for n in (1, 2):
            sock.sendall(b"GET /m/x?id=k%d HTTP/1.0\r\nConnection: keep-alive\r\n\r\n" % n)
            reply = sock.recv(65536)
            assert answers(reply) == [(200, b"id=k%d\n" % n)], reply


def test_a_client_that_never_reads_its_8_mib_answer_holds_up_no_one_else(server):
    with socket.create_connection(("127.0.0.1", server.port), timeout=15) as hog:
        # 32 MiB asked for and nothing read: past what the socket buffers hold, so the server waits
        # to write (a tiny receive buffer would make the reading below take minutes).
        hog.sendall(b"GET /m/x?big=8388608 HTTP/1.1\r\nHost: x\r\n\r\n" * 4)
        time.sleep(0.5)
        started = time.monotonic()
        for n in range(20):
            assert server.request("GET", f"/m/x?id=other{n}").body == f"id=other{n}\n".encode()
        assert time.monotonic() - started < 10
        received = 0
        while received < 4 * 8388608:  # and the hog still gets all four answers, whole, in order
            chunk = hog.recv(1 << 20)
            assert chunk
            received += len(chunk)


# -- the parser, fuzzed in process ----------------------------------------------------------------------
class Transport(asyncio.Transport):
    def __init__(self):
        super().__init__()
        self.written, self.closed, self.reading = bytearray(), False, True

    def write(self, data) -> None:
        self.written += data

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True

    def get_extra_info(self, name, default=None):
        return ("127.0.0.1", 40000) if name == "peername" else default

    def pause_reading(self) -> None:
        self.reading = False

    def resume_reading(self) -> None:
        self.reading = True


@pytest.fixture(scope="module")
def edge(site):
    from wagi_nb.server.access_log import AccessLog
    from wagi_nb.server.edge import Edge
    from wagi_nb.server.http import Limits, WagiServer
    from wagi_nb.wagi import WagiApp

    app = WagiApp.from_config(site / "modules.toml", max_body_mib=1)
    loop = asyncio.new_event_loop()
    server = WagiServer(app, Limits(), AccessLog(open("/dev/null", "w")))
    yield loop, Edge(server)
    server.close(wait=False)
    loop.close()


PIECES = st.sampled_from([b"GET ", b"POST ", b"/m/x?id=1", b"/", b" HTTP/1.1", b" HTTP/1.0", b"\r\n", b"\n",
                          b"Host: x", b"Content-Length: 3", b"Content-Length: -1", b"Transfer-Encoding: chunked",
                          b"Expect: 100-continue", b"abc", b"0\r\n\r\n", b"3\r\nabc\r\n", b"\xc3\xa9", b"\x00",
                          b":", b" ", b"Connection: close", b"Upgrade: x", b"Connection: upgrade"])


@settings(max_examples=300, deadline=None)
@given(st.lists(st.lists(PIECES, max_size=12).map(b"".join), max_size=6), st.binary(max_size=64))
def test_any_bytes_get_answers_or_a_close_never_an_exception(edge, chunks, tail):
    """Whatever a client sends, in whatever pieces: each response is well formed, the server's count
    of requests in progress returns to zero, and nothing raises."""
    from wagi_nb.server.edge import Connection
    loop, listening = edge
    server = listening.server

    async def feed():
        connection = Connection(listening)
        transport = Transport()
        connection.connection_made(transport)
        for chunk in [*chunks, tail]:
            if transport.closed:
                break
            connection.data_received(chunk)
            await asyncio.sleep(0)
        for _ in range(200):  # requests sent to the pool are answered
            if not connection.busy:
                break
            await asyncio.sleep(0.01)
        connection.connection_lost(None)
        return bytes(transport.written)

    written = loop.run_until_complete(feed())
    for status, _ in answers(written.replace(b"HTTP/1.1 100 Continue\r\n\r\n", b"")):
        assert status is not None and 100 <= status < 600, written[:300]
    assert server.active == 0
