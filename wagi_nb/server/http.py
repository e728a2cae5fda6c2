"""The server's application side: each HTTP exchange becomes a Wagi request, and its module runs.

Two edges read HTTP and hand each request to :class:`WagiServer`: ``wagi-nb serve``'s
(``edge.py``, httptools on asyncio) and the notebook's tornado server, for which
:class:`WagiServer` is the ``HTTPServerConnectionDelegate`` and an :class:`Exchange`
one request. Both read a body against ``--max-body`` with :class:`RequestBody`, run the
module through :meth:`WagiServer.respond_inline` or :meth:`WagiServer.respond` (the route
scheduler's slots), and write the response from :func:`wire_headers`. Every response, errors
included, is wagi-nb's own.

Where the module runs: most modules end in a fraction of a millisecond, less than
handing the run to another thread and back costs (the two threads pass the GIL to
each other at every wasmtime call). So a request's module first runs right on the
event loop's thread, with a budget (:data:`~wagi_nb.defaults.INLINE_BUDGET`): a run
still going at the budget, or that would wait (a WASI sleep), is stopped, forgotten and
run again from the start on the thread pool (wasmtime releases the GIL there, so a slow
module never blocks the event loop), and that route's next requests go straight to the
pool, for longer each time it happens again (:class:`InlinePolicy`); so do a route's
whose run ended in time but was not short (:data:`~wagi_nb.defaults.INLINE_SLOW`): the
loop is for short runs, since every other request waits while one runs there. Only routes
a run cut short cannot have changed anything for are run this way: no writable volume, no
outbound HTTP.
"""
from __future__ import annotations

import asyncio
import collections
import re
import statistics
import sys
import time
from email.utils import formatdate
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Optional

from tornado.httputil import (HTTPHeaders, HTTPMessageDelegate, HTTPServerConnectionDelegate,
                              RequestStartLine, ResponseStartLine)

from .. import defaults
from ..wagi import HEALTHZ, Request, Response, WagiApp
from ..wagi.application import INLINE_WALL
from ..wagi.request import split_target
from ..wagi.response import error_response
from .access_log import AccessLog
from .connections import WagiHTTPServer
from .tornado_internals import client_address, remote_ip
from .host_check import HostCheck
from .scheduler import Closed, QueueFull, RouteScheduler

MiB = 1024 * 1024
#: A body over --max-body is still read (and dropped) up to this much past the limit before the 413
#: is sent: a client that is still sending (no ``Expect: 100-continue``) would otherwise meet a
#: connection reset instead of the answer. Past it, the 413 goes out at once and the connection closes.
DRAIN_BYTES = 16 * MiB
#: Module headers that describe the connection, which the server writes itself.
HOP_BY_HOP = frozenset({"content-length", "transfer-encoding", "connection", "keep-alive"})
_UNSAFE_VALUE = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")


@dataclass(kw_only=True)
class Limits:
    #: Modules running at once; further requests wait in the queue.
    max_concurrency: int = field(default_factory=defaults.max_concurrency)
    #: Requests waiting for a free slot before new ones get 503.
    max_queue: int = defaults.MAX_QUEUE
    #: Request line and headers, in bytes (tornado closes the connection past it).
    max_header_size: int = defaults.MAX_HEADER_BYTES
    #: Slots no single route may take, kept for the others (default: a quarter, at least 1).
    route_reserve: Optional[int] = None
    #: Seconds of CPU time a module may use on the event loop's thread before it is stopped and
    #: run again on the pool (None: always on the pool; see InlinePolicy).
    inline_budget: Optional[float] = defaults.INLINE_BUDGET
    #: Seconds a connection may wait for a request's headers (idle between requests, or sending
    #: them slowly) before it is closed.
    idle_timeout: float = 60.0

    def __post_init__(self) -> None:
        if not self.idle_timeout > 0:
            raise ValueError(f"idle_timeout must be a positive number of seconds, not {self.idle_timeout!r}: "
                             "it is how long a connection may wait for a request's headers before it "
                             "is closed (default 60).")

    @property
    def reserve(self) -> int:
        return self.route_reserve if self.route_reserve is not None else max(1, self.max_concurrency // 4)


_date_cache: dict = {"second": 0, "text": ""}


def http_date() -> str:
    """The ``Date`` header for now (computed once a second)."""
    now = int(time.time())
    if _date_cache["second"] != now:
        _date_cache.update(second=now, text=formatdate(now, usegmt=True))
    return _date_cache["text"]


def wire_headers(response: Response, method: str) -> HTTPHeaders:
    """The headers the server sends for ``response``: the module's (without hop-by-hop ones) and
    ``Server``/``Date``/``Content-Length``. Values are str of Latin-1 code points (each one byte
    on the wire)."""
    headers = HTTPHeaders()
    headers["Server"] = "wagi-nb"
    headers["Date"] = http_date()
    for name, value in response.headers.get_all():
        if name.lower() in HOP_BY_HOP or _UNSAFE_VALUE.search(value) or \
                not (value.isascii() or _latin1(value)):
            continue  # response.py never lets these through; this keeps the wire safe regardless
        headers.add(name, value)
    if has_body(response.status):
        headers["Content-Length"] = str(len(response.body))
    return headers


def has_body(status: int) -> bool:
    return not (100 <= status < 200 or status in (204, 304))


def _latin1(value: str) -> bool:
    try:
        value.encode("latin-1")
    except UnicodeEncodeError:
        return False
    return True


def wire_bytes(status: int, reason: str, headers: HTTPHeaders, body: bytes, close: bool = True) -> bytes:
    """A whole HTTP/1.1 response: what ``wagi-nb serve``'s edge writes, and the notebook server
    for a socket tornado has let go of (a half-closed client); ``close`` adds ``Connection: close``."""
    lines = [f"HTTP/1.1 {status} {reason}", *(f"{n}: {v}" for n, v in headers.get_all()),
             *(("Connection: close",) if close else ()), "", ""]
    return "\r\n".join(lines).encode("latin-1") + body


class RequestBody:
    """A request's body read against ``--max-body`` (``limit_mib``; None: no limit), by either edge.

    It is kept while it fits. Past the limit it is read and dropped as it comes, and the 413 goes out
    once it has been read (a client that is still sending would otherwise meet a reset); but at once,
    from the headers, when the client waits for ``100 Continue`` or the body would be more than
    :data:`DRAIN_BYTES` past the limit to read, and as soon as what was read is."""

    def __init__(self, limit_mib: Optional[float]):
        self.limit_mib = limit_mib
        self.limit = float("inf") if limit_mib is None else limit_mib * MiB
        self.chunks: list = []
        self.size = 0
        self.rejected = False
        self.too_big = 0  # the body size a 413 reports: Content-Length, or what was read

    def declared(self, headers: HTTPHeaders) -> bool:
        """Look at ``Content-Length`` (and ``Expect``); True: answer the 413 now."""
        length = headers.get("Content-Length", "")
        if not (length.isdigit() and int(length) > self.limit):
            return False
        self.rejected, self.too_big = True, int(length)
        return "100-continue" in headers.get("Expect", "").lower() or self.too_big > self.limit + DRAIN_BYTES

    def received(self, chunk: bytes) -> bool:
        """Take the next piece; True: answer the 413 now (too much to drain)."""
        self.size += len(chunk)
        if not self.rejected and self.size > self.limit:
            self.rejected, self.chunks = True, []
        if not self.rejected:
            self.chunks.append(chunk)
            return False
        self.too_big = max(self.too_big, self.size)
        return self.size > self.limit + DRAIN_BYTES

    def take(self) -> bytes:
        """The whole body (once it has been read and fits)."""
        body, self.chunks = b"".join(self.chunks), []
        return body

    def refusal(self) -> Response:
        return error_response(413, f"The request body ({self.too_big:,} bytes) is over the "
                                   f"{self.limit_mib:g} MiB limit (--max-body).")


class InlinePolicy:
    """Which routes' modules are tried on the event loop's thread, with what budget.

    A route starts there. A run cut short at the budget, or runs that are not short (the median
    CPU time of the route's last ``RECENT`` runs over ``slow``: one run slowed by something else
    on the machine does not count), send the route's next ``penalty`` requests to the pool (16,
    then twice as many each time again, up to 4,096); each short run halves the penalty. A
    route's first ``WARM_UP`` runs in a process are not judged: they pay once for what later
    runs find ready (the module's code paged in, wasmtime's lazily made trampolines and caches:
    the seed's hello takes 2.9, 1.1, 0.5, then 0.3 ms of CPU). Judged on them, or on one slow
    run, a quick route would go to the pool and stay there under load: its runs on the pool's
    threads make the next try on the loop slow too (they share the GIL and the process's
    memory map, whose changes interrupt every core running it).
    """

    FIRST_PENALTY, MAX_PENALTY = 16, 4096
    WARM_UP, RECENT = 4, 8

    def __init__(self, budget: Optional[float], slow: float = defaults.INLINE_SLOW):
        self.budget = budget or None
        self.slow = slow
        self._skip: dict = {}
        self._penalty: dict = {}
        self._runs: dict = collections.Counter()
        self._recent: dict = {}

    def eligible(self, handler, timeout: Optional[float]) -> bool:
        """A run of this route's module that is cut short changes nothing outside it, and the
        timeout is well past the budget's wall-clock limit (else the pool keeps the timeout)."""
        return (self.budget is not None and not handler.allowed_hosts
                and (timeout is None or timeout > 2 * INLINE_WALL * self.budget)
                and all(guest in handler.read_only for guest in handler.volumes))

    def should_try(self, key) -> bool:
        skip = self._skip.get(key)
        if not skip:
            return True
        self._skip[key] = skip - 1
        return False

    def finished(self, key, cpu: float) -> None:
        """A run that ended on the loop, having used ``cpu`` seconds of CPU time."""
        if self._warming(key):
            return
        recent = self._recent.setdefault(key, collections.deque(maxlen=self.RECENT))
        recent.append(cpu)
        if statistics.median(recent) > self.slow:
            self._penalise(key)
            return
        penalty = self._penalty.get(key)
        if penalty:
            self._penalty[key] = penalty // 2

    def cut_short(self, key) -> None:
        """A run stopped at the budget (it is run again on the pool)."""
        if not self._warming(key):
            self._penalise(key)

    def _warming(self, key) -> bool:
        self._runs[key] += 1
        return self._runs[key] <= self.WARM_UP

    def _penalise(self, key) -> None:
        penalty = min(self.MAX_PENALTY, max(self.FIRST_PENALTY, 2 * self._penalty.get(key, 0)))
        self._penalty[key] = self._skip[key] = penalty


class WagiServer(HTTPServerConnectionDelegate):
    """Runs a WagiApp's requests with bounded, route-fair concurrency; shared by every connection."""

    def __init__(self, app: WagiApp, limits: Optional[Limits] = None,
                 access_log: Optional[AccessLog] = None, host_check: Optional[HostCheck] = None):
        self.app = app
        self.limits = limits or Limits()
        self.access_log = access_log or AccessLog(sys.stderr)
        self.host_check = host_check
        self.executor = ThreadPoolExecutor(self.limits.max_concurrency, thread_name_prefix="wagi_nb-req")
        self.scheduler = RouteScheduler(self.limits.max_concurrency, self.limits.max_queue,
                                        self.limits.reserve)
        self.inline = InlinePolicy(self.limits.inline_budget)
        #: Requests being answered (for a graceful stop).
        self.active = 0

    # -- tornado's side --------------------------------------------------------------------------
    def start_request(self, server_conn, request_conn) -> HTTPMessageDelegate:
        return Exchange(self, request_conn)

    def on_close(self, server_conn) -> None:
        pass

    def http_server(self) -> WagiHTTPServer:
        # tornado's own body cap is out of the way when we have one, so that we, not tornado's bare
        # "400 Bad Request", answer 413: the body is streamed and dropped once rejected (and the
        # connection closed after the 413 past DRAIN_BYTES), so the large cap costs no memory.
        max_body = 1 << 62 if self.app.max_body_mib is not None else 1024 * MiB
        return WagiHTTPServer(self, max_header_size=self.limits.max_header_size,
                              max_body_size=max_body, idle_connection_timeout=self.limits.idle_timeout,
                              body_timeout=60)

    def add_sockets(self, http: WagiHTTPServer, sockets, shared: bool = False) -> None:
        http.add_sockets(sockets, log=self.access_log.notice, shared=shared)

    # -- answering -------------------------------------------------------------------------------
    def respond_inline(self, request: Request) -> Optional[Response]:
        """The response, if it can be had on this thread (the event loop's) within the inline
        budget: /healthz, a 404, or a module that ended in time; None: :meth:`respond` it."""
        if self.app.stale():  # a changed module file: loading it waits for a worker thread
            return None
        found = self.app.match(request.path, refresh=False) if request.path != HEALTHZ else None
        if found is None:  # /healthz, 404: no module runs
            return self.app.handle(request)
        handler, route, entrypoint = found
        key = (route.text, entrypoint)
        # No pool slot is taken: the run holds the loop's thread, so nothing else starts meanwhile, and
        # the pool's queue (often this route's own requests, sent there while it was penalised) must
        # not keep a short run off the loop for good.
        if not (self.scheduler.accepting and self.inline.eligible(handler, self.app.timeout)
                and self.inline.should_try(key)):
            return None
        started, began = time.thread_time(), time.monotonic()
        budget = self.inline.budget or 0.0
        response = self.app.handle_within(request, found, budget)
        cpu = time.thread_time() - started
        if response is not None:
            self.inline.finished(key, cpu)
        elif cpu >= budget / 2 or time.monotonic() - began < INLINE_WALL * budget:
            self.inline.cut_short(key)  # it ran long, or would have waited (a WASI sleep)
        # Else the run was stopped at the wall-clock limit having used little CPU: this thread was
        # kept from the CPU (another process, the pool's threads holding the GIL), which says
        # nothing about the route; it is run again on the pool this time only.
        return response

    async def respond(self, request: Request) -> Response:
        if request.path == HEALTHZ:
            found = None
        elif self.app.stale():
            found = await asyncio.get_running_loop().run_in_executor(self.executor, self.app.match, request.path)
        else:
            found = self.app.match(request.path, refresh=False)
        if found is None:  # /healthz, 404: no module runs
            return self.app.handle(request)
        route = found[0].route.text
        try:
            await self.scheduler.acquire(route)
        except Closed:
            return error_response(503, "The server is stopping. Try again when it is back.")
        except QueueFull:
            return error_response(503, "The server is busy: too many requests are waiting for a "
                                       "module. Try again shortly.")
        try:
            return await asyncio.get_running_loop().run_in_executor(
                self.executor, self.app.handle, request, found)
        finally:
            self.scheduler.release(route)

    def close(self, wait: bool = True) -> None:
        self.executor.shutdown(wait=wait, cancel_futures=not wait)


class Exchange(HTTPMessageDelegate):
    """One request on a connection and its response."""

    def __init__(self, server: WagiServer, connection):
        self.server, self.connection = server, connection
        self.stream = connection.stream
        self.body = RequestBody(server.app.max_body_mib)
        self.answered = False
        self.closed = False
        self.task: Optional[asyncio.Task] = None
        self.counted = False
        self.start_line: Optional[RequestStartLine] = None
        self.headers: Optional[HTTPHeaders] = None  # tornado's, from headers_received

    def headers_received(self, start_line, headers) -> None:
        self.server.active += 1
        self.counted = True
        self.start_line, self.headers = start_line, headers
        self.stream.request_started()
        check = self.server.host_check
        if check is not None and not check.allows(headers.get("Host"), headers.get("X-Forwarded-Context"),
                                                  client_address(self.connection)):
            self._send(self._request(b""), error_response(403, check.refusal(headers["Host"])))
            return
        if self.body.declared(headers):
            self._reject_body()

    def data_received(self, chunk: bytes) -> None:
        if not self.answered and self.body.received(chunk):
            self._reject_body()

    def finish(self) -> None:
        if self.answered:
            return
        if self.body.rejected:
            self._reject_body()  # the body has been read and dropped
            return
        request = self._request(self.body.take())
        try:
            response = self.server.respond_inline(request)
        except Exception as error:
            response = self._internal_error(request, error)
        if response is None:
            self.task = asyncio.ensure_future(self._answer(request))
        else:
            self._send(request, response)

    def on_connection_close(self) -> None:
        self.closed = True
        if self.task is None and not self.answered:  # the request never arrived whole
            orphan = self.stream.orphan
            if orphan is not None:
                self.stream.orphan = None
                orphan.close()
            self._uncount()

    # -- the answer -------------------------------------------------------------------------------
    def _request(self, body: bytes) -> Request:
        start = self.start_line
        assert start is not None and self.headers is not None  # tornado calls headers_received first
        path, query = split_target(start.path)
        return Request(method=start.method, path=path, query=query, headers=_decoded(self.headers),
                       body=body, remote_addr=remote_ip(self.connection),
                       protocol=start.version)

    def _internal_error(self, request: Request, error: Exception) -> Response:
        self.server.access_log.notice(f"internal error answering {request.method} "
                                      f"{request.target}: {error!r}")
        return error_response(500, "wagi-nb could not answer this request (an internal "
                                   "error; the server's log has the details).")

    async def _answer(self, request: Request) -> None:
        try:
            response = await self.server.respond(request)
            response.request = request
        except Exception as error:
            response = self._internal_error(request, error)
        if self.stream.orphan is not None:  # the client half-closed: tornado let go of the socket
            await self._send_to_orphan(request, response)
        else:
            self._send(request, response)
        self._uncount()

    def _reject_body(self) -> None:
        self._send(self._request(b""), self.body.refusal())

    def _send(self, request: Request, response: Response) -> None:
        if self.answered:
            return
        self.answered = True
        if self.stream.orphan is not None:
            self.task = asyncio.ensure_future(self._send_to_orphan(request, response))
            return
        self.stream.answered()
        headers = wire_headers(response, request.method)
        body = response.body if has_body(response.status) else b""
        if not self.closed:
            start = ResponseStartLine("HTTP/1.1", response.status, response.reason or "Unknown")
            self.connection.write_headers(start, headers, body if request.method != "HEAD" else None)
            self.connection.finish()
        self.server.access_log.write(request, response, len(body))
        if self.task is None:
            self._uncount()

    async def _send_to_orphan(self, request: Request, response: Response) -> None:
        self.answered = True
        sock, self.stream.orphan = self.stream.orphan, None
        headers = wire_headers(response, request.method)
        body = response.body if has_body(response.status) and request.method != "HEAD" else b""
        data = wire_bytes(response.status, response.reason or "Unknown", headers, body)
        try:
            await asyncio.get_running_loop().sock_sendall(sock, data)
        except OSError:
            pass  # the client is gone after all
        finally:
            sock.close()
        self.server.access_log.write(request, response, len(body))
        self._uncount()

    def _uncount(self) -> None:
        if self.counted:
            self.counted = False
            self.server.active -= 1


def _decoded(headers: HTTPHeaders) -> HTTPHeaders:
    """tornado reads header values as Latin-1; a value that is really UTF-8 becomes its text."""
    if all(value.isascii() for _, value in headers.get_all()):
        return headers
    fixed = HTTPHeaders()
    for name, value in headers.get_all():
        if not value.isascii():
            raw = value.encode("latin-1", "replace")
            try:
                value = raw.decode("utf-8")
            except UnicodeDecodeError:
                pass  # not UTF-8: each byte stays the Latin-1 character it is
        fixed.add(name, value)
    return fixed
