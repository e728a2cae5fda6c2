"""Every use of tornado's internals, in one place, for the one major version it was written for.

tornado's public API parses and writes HTTP; the server needs five things from under it:

* **the socket under a stream**, kept when a client half-closes after sending its
  request (``shutdown(SHUT_WR)``, as ``nc -N`` and some HTTP/1.0 clients do): tornado
  treats end-of-input as a closed connection, so :class:`AnsweringStream` watches
  ``IOStream.read_from_fd`` for a request's end and keeps the socket from ``close_fd``
  for the answer to be written to;
* **whether the read buffer already holds the next request** (a pipelined one, read
  with the request before it);
* **``set_nodelay`` left on**: tornado turns it on for each response's last write and
  off again after it (two system calls a request), and a response goes out in one
  write anyway;
* **the header timeout** (``HTTPServer.conn_params.header_timeout``), which tornado keeps
  with a timer per request (a future, a timer, chained callbacks: ~4% of a short request's
  CPU), taken over by the server's once-a-second sweep of its open connections
  (``HTTPServer._connections``);
* **the client's address** (``HTTP1Connection.context.address``).

Nothing outside this file touches a private name of tornado. The major version is pinned in
pyproject.toml (``tornado>=6.3,<7``); importing this module under another one fails with a line
saying what to do.
"""
from __future__ import annotations

import socket
import time
from typing import Optional

import tornado
from tornado.httpserver import HTTPServer
from tornado.iostream import IOStream

SUPPORTED = (6, 3)
if not (SUPPORTED <= tornado.version_info[:2] and tornado.version_info[0] == SUPPORTED[0]):  # pragma: no cover
    raise ImportError(f"wagi_nb's server needs tornado {SUPPORTED[0]}.x, {SUPPORTED[0]}.{SUPPORTED[1]} or "
                      f"later (it uses parts of tornado that may change in another major version), but "
                      f"tornado {tornado.version} is installed. Install the pinned one: pip install "
                      f"'tornado>={SUPPORTED[0]}.{SUPPORTED[1]},<{SUPPORTED[0] + 1}'")

#: The end of a request's header block, with or without CRs.
_HEADER_ENDS = (b"\n\n", b"\n\r\n")


class AnsweringStream(IOStream):
    """An IOStream that keeps its socket for the answer when the client ends its input early.

    ``request_pending`` is set as soon as a header block's end has been read (the
    end-of-input may arrive in the same read, before tornado has parsed anything),
    and while a request is being answered; end-of-input while it is set leaves the
    socket open as ``orphan`` when tornado closes the stream, for the answer to be
    written to.
    """

    request_pending = False
    orphan: Optional[socket.socket] = None
    socket: Optional[socket.socket]  # type: ignore[assignment]  # None once closed, as in tornado
    _tail = b""
    #: When the connection began waiting for a request (None: tornado has parsed one, and it is
    #: being answered): from the connection's start, then from each answer.
    waiting_since: Optional[float] = None

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        super().set_nodelay(True)
        self.waiting_since = time.monotonic()

    def set_nodelay(self, value: bool) -> None:
        """Kept on (see the module's docstring)."""

    def read_from_fd(self, buf) -> Optional[int]:
        read = super().read_from_fd(buf)
        if read:
            if not self.request_pending:
                data = self._tail + bytes(memoryview(buf)[:read])
                self.request_pending = any(end in data for end in _HEADER_ENDS)
                self._tail = data[-2:]
        elif read == 0 and self.request_pending:
            self.orphan = self.socket
        return read

    def request_started(self) -> None:
        """tornado has parsed a request's headers."""
        self.request_pending, self.waiting_since = True, None

    def answered(self) -> None:
        """The request is answered; the next one may already be in the buffer, read with it."""
        self._tail = b""
        self.request_pending = any(end in self.buffered() for end in _HEADER_ENDS)
        self.waiting_since = time.monotonic()

    def buffered(self) -> bytes:
        """What has been read from the socket and not yet parsed."""
        if self._user_read_buffer:
            return b""
        return bytes(self._read_buffer[:self._read_buffer_size])

    def close_fd(self) -> None:
        if self.orphan is not None and self.orphan is self.socket:
            self.socket = None  # tornado forgets it; the answer closes it
            return
        super().close_fd()


class SweptHTTPServer(HTTPServer):
    """tornado's HTTPServer with its header timeout taken over (``header_timeout``, for a sweep of
    :meth:`open_streams` to keep), and streams started by :meth:`start_stream`."""

    def initialize(self, *args, **kwargs) -> None:
        super().initialize(*args, **kwargs)
        self.header_timeout: float = self.conn_params.header_timeout or 3600.0  # (tornado's default)
        self.conn_params.header_timeout = None

    def open_streams(self) -> list:
        """The stream of each connection the server has open."""
        return [connection.stream for connection in list(self._connections)]

    def start_stream(self, sock: socket.socket, address) -> None:
        """Serve HTTP on an accepted socket."""
        stream = AnsweringStream(sock, max_buffer_size=self.max_buffer_size, read_chunk_size=self.read_chunk_size)
        self.handle_stream(stream, address)


def remote_ip(connection) -> str:
    """The address of an HTTP/1 connection's other end, as text ("" where there is none)."""
    return getattr(connection.context, "remote_ip", None) or ""


def client_address(connection) -> Optional[tuple]:
    """(address, port) of an HTTP/1 connection's other end, where tornado knows it."""
    address = getattr(connection.context, "address", None)
    return tuple(address[:2]) if isinstance(address, tuple) and len(address) >= 2 else None
