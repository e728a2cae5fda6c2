"""Connections that hold a server slot without sending a request: idle keep-alive connections and
clients that send their headers a byte at a time (slowloris) are closed once they have waited
``Limits.idle_timeout`` for a request's headers; a request that arrives in time is answered."""
from __future__ import annotations

import socket
import threading
import time

import pytest

from wagi_nb.server import BackgroundServer
from wagi_nb.server.http import Limits
from wagi_nb.wagi import WagiApp

TIMEOUT = 1.0
REQUEST = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"


@pytest.fixture
def server():
    server = BackgroundServer(WagiApp(), port=0, limits=Limits(idle_timeout=TIMEOUT))
    yield server
    server.stop()


def closed_after(sock: socket.socket, limit: float = 10.0) -> float:
    """Seconds until the server closes ``sock`` (reading and dropping what it sends)."""
    start = time.monotonic()
    sock.settimeout(limit)
    while sock.recv(65536):
        pass
    return time.monotonic() - start


def test_a_connection_that_sends_nothing_is_closed_after_the_timeout(server):
    sock = socket.create_connection(("127.0.0.1", server.port))
    waited = closed_after(sock)
    assert TIMEOUT <= waited < TIMEOUT + 1.5


def test_a_keep_alive_connection_left_idle_is_closed_after_its_answer_plus_the_timeout(server):
    sock = socket.create_connection(("127.0.0.1", server.port))
    time.sleep(0.6 * TIMEOUT)  # most of the timeout gone before the request: the answer resets it
    sock.sendall(REQUEST)
    answered = time.monotonic()
    first = sock.recv(65536)
    assert first.startswith(b"HTTP/1.1 200 ")
    closed_after(sock)
    assert TIMEOUT <= time.monotonic() - answered < TIMEOUT + 1.5


def test_headers_sent_a_byte_at_a_time_do_not_keep_the_connection_open(server):
    sock = socket.create_connection(("127.0.0.1", server.port))
    stop = threading.Event()

    def drip():
        for byte in b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + b"a" * 1000:
            if stop.wait(0.1):
                return
            try:
                sock.send(bytes([byte]))
            except OSError:
                return

    dripper = threading.Thread(target=drip)
    dripper.start()
    try:
        assert closed_after(sock) < TIMEOUT + 1.5
    finally:
        stop.set()
        dripper.join()


def test_many_requests_on_one_connection_outlast_the_timeout(server):
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=5)
    start = time.monotonic()
    while time.monotonic() - start < 2.5 * TIMEOUT:
        sock.sendall(REQUEST)
        assert sock.recv(65536).startswith(b"HTTP/1.1 200 ")
        time.sleep(0.1)
    sock.close()


@pytest.mark.parametrize("seconds", [0, -1, float("nan")])
def test_a_timeout_that_is_not_a_positive_number_is_refused_with_what_it_means(seconds):
    with pytest.raises(ValueError, match="idle_timeout must be a positive number of seconds.*request's headers"):
        Limits(idle_timeout=seconds)


def test_pipelined_requests_to_a_slow_module_are_all_answered():
    import wagi_nb
    from helpers.attackers import poll_wat
    app = WagiApp()
    slow = poll_wat(1_500_000_000, then=b"Content-Type: text/plain\n\nslept")  # sleeps 1.5 s
    app.add_route("/slow", wagi_nb.build(slow, language="wat"))
    server = BackgroundServer(app, port=0, limits=Limits(idle_timeout=TIMEOUT))
    try:
        sock = socket.create_connection(("127.0.0.1", server.port), timeout=10)
        sock.sendall(b"GET /slow HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n" * 2)  # two requests, one write
        received = b""
        while received.count(b"slept") < 2:
            chunk = sock.recv(65536)
            if not chunk:
                break
            received += chunk
        # (the second one was closed mid-request: its headers were read with the first's, so no
        # read marked it as a request, and the sweep took it for an idle connection)
        assert received.count(b"HTTP/1.1 200 ") == 2, received
        sock.close()
    finally:
        server.stop()
