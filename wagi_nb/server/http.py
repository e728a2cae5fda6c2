"""The tornado application over a :class:`~wagi_nb.wagi.WagiApp`: HTTP in, a module run, HTTP out.

tornado owns the protocol (parsing, keep-alive, header-size limits); this file
only turns a tornado request into a Wagi request, runs it on a thread pool so a
slow module never blocks the event loop (wasmtime releases the GIL), and writes
the response back.
"""
from __future__ import annotations

import asyncio
import collections
import os
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Optional, TextIO

from tornado.httpserver import HTTPServer
from tornado.ioloop import IOLoop
from tornado.web import Application, RequestHandler, stream_request_body

from ..wagi import Request, Response, WagiApp
from ..wagi.response import error_response

MiB = 1024 * 1024
#: A body over --max-body is still read (and dropped) up to this much past the limit before the 413
#: is sent: a client that is still sending (no ``Expect: 100-continue``) would otherwise meet a
#: connection reset instead of the answer. Past it, the 413 goes out at once and the connection closes.
DRAIN_BYTES = 16 * MiB
#: Module headers that describe the connection, which the server writes itself.
HOP_BY_HOP = {"content-length", "transfer-encoding", "connection", "keep-alive"}


@dataclass
class Limits:
    #: Modules running at once; further requests wait in the queue.
    max_concurrency: int = max(4, 2 * (os.cpu_count() or 1))
    #: Requests waiting for a free slot before new ones get 503.
    max_queue: int = 1024
    #: Request line and headers, in bytes (tornado closes the connection past it).
    max_header_size: int = 64 * 1024


class AccessLog:
    """One line per request on a stream, and the recent lines kept for ``%wagi_log``."""

    def __init__(self, stream: Optional[TextIO] = None, keep: int = 200):
        self.stream = stream
        self.lines = collections.deque(maxlen=keep)

    def write(self, request: Request, response: Response, size: int) -> None:
        line = (f'{request.remote_addr} "{request.method} {request.target} {request.protocol}" '
                f"{response.status} {size} {response.duration * 1000:.2f}ms"
                + (f" route={response.route}" if response.route else ""))
        self.lines.append(f"{time.strftime('%H:%M:%S')} {line}")
        if self.stream is not None:
            print(line, file=self.stream, flush=True)


class WagiServer:
    """Runs a WagiApp's requests with bounded concurrency; shared by every connection."""

    def __init__(self, app: WagiApp, limits: Optional[Limits] = None, access_log: Optional[AccessLog] = None):
        self.app = app
        self.limits = limits or Limits()
        self.access_log = access_log or AccessLog(sys.stderr)
        self.executor = ThreadPoolExecutor(self.limits.max_concurrency, thread_name_prefix="wagi_nb-req")
        self._waiting = 0
        self._lock = threading.Lock()
        #: Requests being answered (for a graceful stop).
        self.active = 0

    async def respond(self, request: Request) -> Response:
        with self._lock:
            full = self._waiting >= self.limits.max_concurrency + self.limits.max_queue
            if not full:
                self._waiting += 1
        if full:
            return error_response(503, "The server is busy: too many requests are waiting for a "
                                       "module. Try again shortly.")
        try:
            return await asyncio.get_running_loop().run_in_executor(self.executor, self.app.handle, request)
        finally:
            with self._lock:
                self._waiting -= 1

    def application(self) -> Application:
        return Application([(r".*", WagiRequestHandler, {"server": self})], log_function=lambda h: None,
                           compress_response=False)

    def http_server(self) -> HTTPServer:
        # tornado's own body cap is out of the way when we have one, so that we, not tornado's bare
        # "400 Bad Request", answer 413: tornado checks a chunk's announced size before handing it
        # to data_received (so a chunked body never reached our check), and after our 413 to a big
        # Content-Length it appended its own 400. The body is streamed and dropped once rejected (and
        # the connection closed after the 413 past DRAIN_BYTES), so the large cap costs no memory.
        max_body = 1 << 62 if self.app.max_body_mib is not None else 1024 * MiB
        return WagiHTTPServer(self.application(), max_header_size=self.limits.max_header_size,
                              max_body_size=max_body, idle_connection_timeout=60, body_timeout=60)

    def close(self) -> None:
        self.executor.shutdown(wait=True, cancel_futures=False)


class WagiHTTPServer(HTTPServer):
    """tornado's HTTPServer, taking one waiting connection each time the listening socket is ready.

    tornado accepts up to 128 waiting connections in one go. With ``--workers N`` sharing one
    listening socket, the worker that wakes first then takes a whole burst of keep-alive
    connections (a load generator opens them all at once) and the others sit idle: with wrk -c32
    and 2 workers, 10 of 24 starts put all 32 connections on one worker. One accept per wake-up
    lets every worker's loop take turns (none of 24 starts did that; the worst split was 2/30); a
    single process loses nothing (the socket stays readable, so its loop comes straight back for
    the next one).
    """

    def add_sockets(self, sockets) -> None:
        for sock in sockets:
            self._sockets[sock.fileno()] = sock
            self._handlers[sock.fileno()] = _accept_one_at_a_time(sock, self._handle_connection)


def _accept_one_at_a_time(sock, callback):
    """``tornado.netutil.add_accept_handler`` with one ``accept()`` per readiness event."""
    loop = IOLoop.current()
    removed = []

    def accept(fd, events) -> None:
        if removed:
            return
        try:
            connection, address = sock.accept()
        except (BlockingIOError, ConnectionAbortedError):
            return  # another worker took it, or the client gave up while it waited
        callback(connection, address)

    def remove() -> None:
        loop.remove_handler(sock)
        removed.append(True)

    loop.add_handler(sock, accept, IOLoop.READ)
    return remove


@stream_request_body
class WagiRequestHandler(RequestHandler):
    SUPPORTED_METHODS = ("GET", "HEAD", "POST", "DELETE", "PATCH", "PUT", "OPTIONS")

    def initialize(self, server: WagiServer):
        self.server = server
        self.chunks, self.size, self.rejected = [], 0, False
        self._counted = False
        #: The body size to report in a 413: Content-Length, or what was read.
        self._too_big = 0

    def compute_etag(self):
        return None  # a module's response is passed on as it is

    def prepare(self):
        self.server.active += 1
        self._counted = True
        length = self.request.headers.get("Content-Length", "")
        if length.isdigit() and int(length) > self._max_body:
            self.rejected, self._too_big = True, int(length)
            # A client waiting for "100 Continue" sends nothing more: answer now. So for a body too
            # big to drain. Otherwise the 413 goes out in _handle, once the body has been read.
            if "100-continue" in self.request.headers.get("Expect", "").lower() or \
                    self._too_big > self._max_body + DRAIN_BYTES:
                self._reject_body()

    def data_received(self, chunk: bytes):
        self.size += len(chunk)
        if not self.rejected and self.size > self._max_body:
            self.rejected, self.chunks = True, []
        if self.rejected:
            self._too_big = max(self._too_big, self.size)
            if self.size > self._max_body + DRAIN_BYTES:
                self._reject_body()
        else:
            self.chunks.append(chunk)

    @property
    def _max_body(self) -> float:
        limit = self.server.app.max_body_mib
        return float("inf") if limit is None else limit * MiB

    def _reject_body(self):
        size = self._too_big
        response = error_response(413, f"The request body ({size:,} bytes) is over the "
                                       f"{self.server.app.max_body_mib:g} MiB limit (--max-body).")
        self._send(self._wagi_request(b""), response)

    def _wagi_request(self, body: bytes) -> Request:
        r = self.request
        return Request(r.method, r.path, r.query, r.headers, body, r.remote_ip or "", r.protocol,
                       r.version)

    async def _handle(self):
        if self.rejected:
            self._reject_body()  # the body has been read and dropped (unless the 413 went out already)
            return
        request = self._wagi_request(b"".join(self.chunks))
        response = await self.server.respond(request)
        response.request = request
        self._send(request, response)

    get = head = post = delete = patch = put = options = _handle

    def _send(self, request: Request, response: Response):
        if self._finished:
            return
        self.set_status(response.status, response.reason or "Unknown")
        self.clear_header("Content-Type")
        self.set_header("Server", "wagi-nb")
        for name, value in response.headers.get_all():
            if name.lower() not in HOP_BY_HOP:
                self.add_header(name, value)
        body = b"" if response.status in (204, 304) or 100 <= response.status < 200 else response.body
        if body and request.method != "HEAD":
            self.write(body)
        elif body:
            self.set_header("Content-Length", str(len(body)))
        self.finish()
        self.server.access_log.write(request, response, len(body))

    def _uncount(self):
        if self._counted:
            self._counted = False
            self.server.active -= 1

    def on_finish(self):
        self._uncount()

    def on_connection_close(self):
        # A client gone mid-request never reaches on_finish: without this, `active` stayed up and
        # every later graceful stop waited out its whole deadline.
        super().on_connection_close()
        self._uncount()
