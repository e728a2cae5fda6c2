"""``wagi-nb serve``'s HTTP/1.1 edge: httptools (llhttp, Node's parser) on an asyncio protocol.

tornado's HTTP/1.1 connection costs ~160–220 µs of CPU per request on the machines this was
measured on (a coroutine chain, a header object and a future per request), more than running
the seed's hello module; this edge costs ~7 µs for a trivial answer (benchmarks/peers.py and
docs/benchmarks.md have the figures). It hands each request to the same pipeline as the
notebook's tornado server (:meth:`WagiServer.respond_inline`, :meth:`WagiServer.respond`,
:func:`wire_headers`, the access log), and keeps the same limits:

* a request's line and headers past ``max_header_size`` bytes: 431, connection closed;
* a request llhttp cannot parse (or HTTP/0.9): 400, connection closed;
* a body past ``--max-body``: 413, as :class:`~.http.RequestBody` decides for both edges (read
  and dropped first, or at once and the connection closed); a body that fits gets ``100 Continue``
  when asked for;
* one request answered at a time per connection, in order (pipelined requests wait their turn,
  and the connection stops reading while too many wait);
* a connection that waits longer than ``idle_timeout`` for a request's headers, or
  :data:`BODY_TIMEOUT` for its body, is closed by a sweep once a second;
* a client that half-closes after sending its request still gets the answer.
"""
from __future__ import annotations

import asyncio
import collections
import re
import socket
import time
from typing import Callable, Deque, List, Optional, Set

import httptools
from tornado.httputil import HTTPHeaders

from ..wagi import Request, Response
from ..wagi.request import split_target
from ..wagi.response import error_response
from .connections import ACCEPT_BATCH, Acceptor
from .http import RequestBody, WagiServer, _decoded, has_body, wire_bytes, wire_headers

#: Seconds a request's body may take to arrive once its headers have (tornado's body_timeout).
BODY_TIMEOUT = 60.0
#: Complete requests a connection holds, waiting their turn, before it stops reading.
MAX_QUEUED = 8
_NON_ASCII = re.compile(rb"[\x80-\xff]")
#: A method token (RFC 9110 tchar).
_TOKEN = re.compile(rb"[!#$%&'*+.^_`|~0-9A-Za-z-]+")


def response_bytes(response: Response, method: str, close: bool) -> bytes:
    """The status line, headers and body of ``response`` to a ``method`` request."""
    body = response.body if method != "HEAD" and has_body(response.status) else b""
    return wire_bytes(response.status, response.reason or "Unknown", wire_headers(response, method), body, close)


class Connection(asyncio.Protocol):
    """One client connection: parses its requests and answers them in order."""

    def __init__(self, edge: "Edge"):
        self.edge, self.server = edge, edge.server
        self.transport: Optional[asyncio.Transport] = None
        self._new_parser()
        self.peer: tuple = ("", 0)
        self.queue: Deque[tuple] = collections.deque()
        #: A request is being answered (its module running, or its answer waiting to be sent).
        self.busy = False
        self.closing = False
        #: The parser is between requests (the next bytes start a request line); the request line
        #: being fed has not ended yet (both only looked at for lines with bytes past ASCII).
        self.between, self.in_line = True, False
        #: The start of a request line whose method has not come whole yet; requests completed.
        self.pending, self.completed = b"", 0
        #: Input is no longer looked at (a request failed after others still being answered).
        self.discarding = False
        self.eof = False
        self.paused = False
        self.writable: Optional[asyncio.Future] = None
        #: When the connection began waiting for a request's headers (None: not waiting).
        self.waiting_since: Optional[float] = time.monotonic()
        self.body_since: Optional[float] = None
        self._start_message()

    def _start_message(self) -> None:
        self.url = b""
        self.raw_line = b""
        self.raw_method: Optional[bytes] = None
        self.header_list: List[tuple] = []
        self.header_bytes = 0
        self.began_here = False
        self.in_headers = False
        self.body = RequestBody(self.server.app.max_body_mib)
        self.counted = False

    # -- asyncio's side ---------------------------------------------------------------------------
    def connection_made(self, transport) -> None:
        self.transport = transport
        peer = transport.get_extra_info("peername")
        self.peer = peer if isinstance(peer, tuple) else ("127.0.0.1", 0)
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.edge.connections.add(self)

    def connection_lost(self, exc) -> None:
        self.closing = True
        self.edge.connections.discard(self)
        if self.counted:  # a request that never arrived whole
            self._uncount()
        self.server.active -= sum(1 for request, _, _ in self.queue if request is not None)
        self.queue.clear()
        if self.writable is not None and not self.writable.done():
            self.writable.set_result(None)

    def data_received(self, data: bytes) -> None:
        if self.closing or self.discarding:
            return
        self.began_here = False
        at_start, completed = self.between, self.completed
        try:
            if self.pending or self.in_line or (self.between and not data.isascii()):
                self._feed_request_lines(data)
            else:
                try:
                    self.parser.feed_data(data)
                except httptools.HttpParserInvalidMethodError:
                    if not (at_start and self.completed == completed):
                        raise
                    # A method token llhttp does not know ("get", "FOO"): Wagi's hyper takes any.
                    self._new_parser()
                    self.between = True
                    self._feed_request_lines(data)
        except httptools.HttpParserUpgrade:
            self._fail(400, "Protocol upgrades are not served here.")
            return
        except httptools.HttpParserError as error:
            if not (self.closing or self.discarding):
                self._fail(400, f"The request could not be parsed ({error}).")
            return
        if self.in_headers and not self.began_here:  # (a message begun in this read is measured whole at its end)
            self.header_bytes += len(data)
            if self.header_bytes > self.edge.max_header_size and not (self.closing or self.discarding):
                self._header_too_big()

    def _new_parser(self) -> None:
        self.parser = httptools.HttpRequestParser(self)
        # Lines ended by a bare LF are taken, as tornado (and Wagi's hyper) take them.
        self.parser.set_dangerous_leniencies(lenient_optional_cr_before_lf=True)

    def _feed_request_lines(self, data: bytes) -> None:
        """Feed ``data`` a line at a time while request lines may be in it, each as llhttp takes it:
        Wagi's hyper takes any method token and raw UTF-8 in a target, llhttp a fixed set of methods
        and ASCII. So a request line goes to llhttp with ``GET`` for its method and its target
        percent-encoded, and the request keeps the method and target as sent. Header lines go as
        they are; a body at once. (Used when a read starts a request line with bytes past ASCII or
        a method llhttp refused: a client writes a request line at once.)"""
        data, self.pending = self.pending + data, b""
        while data:
            if not (self.between or self.in_line or self.in_headers):
                self.parser.feed_data(data)
                return
            end = data.find(b"\n") + 1 or len(data)
            line, data = data[:end], data[end:]
            if not (self.between or self.in_line):
                self.parser.feed_data(line)
                continue
            method = None
            fed = line
            if self.between:
                space = line.find(b" ")
                if space < 0 and not line.endswith(b"\n"):  # the method is not whole yet
                    if len(line) > self.edge.max_header_size:
                        self._header_too_big()
                        return
                    self.pending = line
                    return
                if space > 0 and _TOKEN.fullmatch(line[:space]):
                    method, fed = line[:space], b"GET" + line[space:]
            self.in_line = not line.endswith(b"\n")
            self.parser.feed_data(_NON_ASCII.sub(lambda m: b"%%%02X" % m.group()[0], fed))
            # (after the feed: a request that begins in this line starts the record)
            self.raw_line += line
            if method is not None:
                self.raw_method = method

    def eof_received(self) -> bool:
        self.eof = True
        # Keep the connection open for the answers to requests that arrived whole.
        return self.busy or bool(self.queue)

    def pause_writing(self) -> None:
        if self.writable is None or self.writable.done():
            self.writable = asyncio.get_running_loop().create_future()

    def resume_writing(self) -> None:
        if self.writable is not None and not self.writable.done():
            self.writable.set_result(None)

    # -- httptools' side --------------------------------------------------------------------------
    def on_message_begin(self) -> None:
        if self.discarding:
            return
        self._start_message()
        self.between = False
        self.in_headers = True
        self.began_here = True

    def on_url(self, url: bytes) -> None:
        self.url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        self.header_list.append((name.decode("latin-1"), value.decode("latin-1")))

    def on_headers_complete(self) -> None:
        if self.closing or self.discarding:
            return
        self.in_headers = False
        self.waiting_since = None
        self.server.active += 1
        self.counted = True
        size = len(self.url) + sum(len(name) + len(value) + 4 for name, value in self.header_list)
        if size > self.edge.max_header_size:
            self._header_too_big()
            return
        if self.parser.get_http_version() == "0.9":
            self._fail(400, "HTTP/0.9 requests are not served: send HTTP/1.0 or 1.1.")
            return
        headers = HTTPHeaders()
        for name, value in self.header_list:
            headers.add(name, value)
        self.headers = headers
        check = self.server.host_check
        if check is not None and not check.allows(headers.get("Host"), headers.get("X-Forwarded-Context"),
                                                  self.peer):
            self._finish_early(error_response(403, check.refusal(headers.get("Host", ""))))
            return
        if self.body.declared(headers):
            self._finish_early(self.body.refusal())
            return
        if not self.body.rejected and "100-continue" in headers.get("Expect", "").lower() and \
                self.parser.get_http_version() == "1.1" and self.transport is not None:
            self.transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        self.body_since = time.monotonic()

    def on_body(self, body: bytes) -> None:
        if not (self.closing or self.discarding) and self.body.received(body):
            self._finish_early(self.body.refusal())

    def on_message_complete(self) -> None:
        if self.closing or self.discarding:
            return
        self.between = True
        self.completed += 1
        self.body_since = None
        response = self.body.refusal() if self.body.rejected else None
        request = self._request(self.body.take())
        self.counted = False
        self.queue.append((request, response, self.parser.should_keep_alive()))
        if len(self.queue) >= MAX_QUEUED and not self.paused and self.transport is not None:
            self.paused = True
            self.transport.pause_reading()
        if not self.busy:
            self._next()

    # -- answering --------------------------------------------------------------------------------
    def _request(self, body: bytes) -> Request:
        target = self.url
        if self.raw_line:  # (percent-encoded for llhttp: the target as the client sent it)
            parts = self.raw_line.split(b" ")
            target = parts[1] if len(parts) > 2 else target
        path, query = split_target(target.decode("latin-1"))
        version = self.parser.get_http_version()
        method = self.raw_method or self.parser.get_method()
        return Request(method=method.decode("latin-1"), path=path, query=query,
                       headers=_decoded(self.headers), body=body, remote_addr=self.peer[0],
                       protocol=f"HTTP/{version}")

    def _next(self) -> None:
        """Answer the next complete request, if any (one at a time)."""
        while self.queue and not self.closing:
            request, response, keep_alive = self.queue.popleft()
            if request is None:  # a request that could not be parsed, after those before it
                self._fail_now(response)
                return
            if self.paused and len(self.queue) < MAX_QUEUED // 2 and self.transport is not None:
                self.paused = False
                self.transport.resume_reading()
            if response is None:
                try:
                    response = self.server.respond_inline(request)
                except Exception as error:
                    response = self._internal_error(request, error)
            if response is None:
                self.busy = True
                asyncio.ensure_future(self._answer(request, keep_alive))
                return
            if not self._send(request, response, keep_alive):
                return
        self.busy = False
        if self.eof and not self.queue and self.transport is not None:
            self.transport.close()
        elif not self.queue and self.waiting_since is None and not self.in_headers:
            self.waiting_since = time.monotonic()

    async def _answer(self, request: Request, keep_alive: bool) -> None:
        try:
            response = await self.server.respond(request)
            response.request = request
        except Exception as error:
            response = self._internal_error(request, error)
        if self._send(request, response, keep_alive):
            if self.writable is not None and not self.writable.done():
                await self.writable  # the client reads slowly: answer no more until it catches up
            self.busy = False
            self._next()

    def _send(self, request: Request, response: Response, keep_alive: bool) -> bool:
        """Write the answer to a request that arrived whole; False when the connection is closed
        after it."""
        close = not keep_alive or (self.eof and not self.queue)
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(response_bytes(response, request.method, close))
        body = len(response.body) if has_body(response.status) and request.method != "HEAD" else 0
        self.server.access_log.write(request, response, body)
        self.server.active -= 1
        if close and self.transport is not None:
            self.closing = True
            self.transport.close()
            return False
        return True

    def _finish_early(self, response: Response) -> None:
        """Answer now, before the body (or the rest of it) has been read, and close."""
        request = self._request(b"")
        self.closing = True
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(response_bytes(response, request.method, True))
            self.transport.close()
        self.server.access_log.write(request, response, len(response.body))
        self._uncount()

    def _header_too_big(self) -> None:
        self._fail(431, f"The request line and headers are over {self.edge.max_header_size:,} bytes: send "
                        "fewer or shorter headers.")

    def _fail(self, status: int, message: str) -> None:
        """A request that cannot be answered as one: this answer (after those to the requests
        before it), then the connection closes."""
        self._uncount()
        response = error_response(status, message)
        if self.transport is not None:
            self.transport.pause_reading()
        if self.busy or self.queue:
            self.queue.append((None, response, False))
            self.discarding = True
            return
        self._fail_now(response)

    def _fail_now(self, response: Response) -> None:
        self.closing = True
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(response_bytes(response, "GET", True))
            self.transport.close()

    def _uncount(self) -> None:
        if self.counted:
            self.counted = False
            self.server.active -= 1

    def _internal_error(self, request: Request, error: Exception) -> Response:
        self.server.access_log.notice(f"internal error answering {request.method} {request.target}: {error!r}")
        return error_response(500, "wagi-nb could not answer this request (an internal error; the "
                                   "server's log has the details).")


class Edge:
    """The listening side: accepts connections for :class:`Connection` and sweeps the idle ones."""

    def __init__(self, server: WagiServer):
        self.server = server
        self.max_header_size = server.limits.max_header_size
        self.idle_timeout = server.limits.idle_timeout
        self.connections: Set[Connection] = set()
        self._acceptors: List[Acceptor] = []
        self._sweeper: Optional[asyncio.TimerHandle] = None

    def add_sockets(self, sockets, log: Callable[[str], None] = lambda line: None, shared: bool = False) -> None:
        """Accept on ``sockets``; ``shared``: other processes accept on them too."""
        for sock in sockets:
            self._acceptors.append(Acceptor(sock, self._connected, log, 1 if shared else ACCEPT_BATCH))
        if self._sweeper is None:
            self._sweep()

    def _connected(self, sock: socket.socket, address) -> None:
        sock.setblocking(False)
        asyncio.ensure_future(asyncio.get_running_loop().connect_accepted_socket(lambda: Connection(self), sock))

    def _sweep(self) -> None:
        now = time.monotonic()
        for connection in list(self.connections):
            waited = connection.waiting_since
            body = connection.body_since
            if (waited is not None and now - waited > self.idle_timeout) or \
                    (body is not None and now - body > BODY_TIMEOUT):
                connection.closing = True
                if connection.transport is not None:
                    connection.transport.close()
        self._sweeper = asyncio.get_running_loop().call_later(min(1.0, self.idle_timeout / 4), self._sweep)

    def stop(self) -> None:
        """Accept no more connections."""
        for acceptor in self._acceptors:
            acceptor.stop()
            acceptor.sock.close()
        self._acceptors = []

    async def close_all_connections(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
            self._sweeper = None
        for connection in list(self.connections):
            if connection.transport is not None:
                connection.transport.close()
        await asyncio.sleep(0)
