"""Accepting connections and keeping them long enough to answer: the socket side of the server.

tornado's ``HTTPServer`` parses HTTP; three things around it are ours (what they need
of tornado's internals is in :mod:`.tornado_internals`):

* **Accepting**, one connection per readiness event when ``--workers`` processes
  share the listening socket (so they take turns instead of the first one to wake
  taking a whole burst; a worker busy answering does not wake, so the idle ones
  take the new connections), a batch of them otherwise (a loop busy answering its
  connections would else take one new connection per round of answers), and backing
  off when the process is out of file descriptors instead of spinning on ``EMFILE``:
  tornado's loop would retry at once, forever, logging each failure.
* **Closing connections that wait too long for a request** (an idle keep-alive
  connection, a client that sends its headers slowly): one sweep a second, instead of
  the timer tornado arms and cancels for every request. A connection waits from its
  start and from each answer until tornado has parsed the next request's headers; a
  request being answered, or read with the one before it (pipelined), is not waiting.
* **Answering a client that half-closed** after sending its request
  (:class:`~.tornado_internals.AnsweringStream`).
"""
from __future__ import annotations

import asyncio
import errno
import socket
import time
from typing import Callable, Optional

from tornado.ioloop import PeriodicCallback

from .tornado_internals import SweptHTTPServer

#: accept() failures that mean "no resources right now": wait and try again.
_EXHAUSTED = {errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM}
MIN_BACKOFF, MAX_BACKOFF = 0.01, 1.0


#: Connections one wake-up of a process that has the listening socket to itself accepts at most.
ACCEPT_BATCH = 64


class Acceptor:
    """Accepts on one listening socket, ``batch`` connections at most per wake-up, backing off
    when out of fds. On the running asyncio loop (tornado's IOLoop is one), for either edge."""

    def __init__(self, sock: socket.socket, on_connection: Callable, log: Callable[[str], None],
                 batch: int = 1):
        self.sock, self.on_connection, self.log = sock, on_connection, log
        self.batch = max(1, batch)
        self.loop = asyncio.get_event_loop()
        self.delay = 0.0
        self._last_log = 0.0
        self._failures = 0
        self.stopped = False
        self.loop.add_reader(sock.fileno(), self._ready)

    def _ready(self) -> None:
        for _ in range(self.batch):
            if self.stopped:
                return
            try:
                connection, address = self.sock.accept()
            except (BlockingIOError, InterruptedError, ConnectionAbortedError):
                return  # another worker took it, or the client gave up while it waited
            except OSError as error:
                self._back_off(error)
                return
            if self.delay:
                self.log(f"accepting connections again (after {self._failures} failed attempts)")
                self.delay, self._failures = 0.0, 0
            self.on_connection(connection, address)

    def _back_off(self, error: OSError) -> None:
        self._failures += 1
        self.delay = min(MAX_BACKOFF, max(MIN_BACKOFF, self.delay * 2))
        now = time.monotonic()
        if now - self._last_log >= 1.0:
            self._last_log = now
            hint = " (raise the limit with `ulimit -n`)" if error.errno in _EXHAUSTED else ""
            self.log(f"cannot accept a connection: {error.strerror or error}{hint}; retrying in "
                     f"{self.delay:g} s")
        self.loop.remove_reader(self.sock.fileno())
        self.loop.call_later(self.delay, self._resume)

    def _resume(self) -> None:
        if not self.stopped:
            self.loop.add_reader(self.sock.fileno(), self._ready)

    def stop(self) -> None:
        if not self.stopped:
            self.stopped = True
            self.loop.remove_reader(self.sock.fileno())


class WagiHTTPServer(SweptHTTPServer):
    """tornado's HTTPServer with our accept loop, and ``idle_connection_timeout`` kept by a sweep;
    everything else is tornado's."""

    _sweeper: Optional[PeriodicCallback] = None

    def add_sockets(self, sockets, log: Callable[[str], None] = lambda line: None,
                    shared: bool = False) -> None:
        """Accept on ``sockets``; ``shared``: other processes accept on them too."""
        self._acceptors = getattr(self, "_acceptors", [])
        for sock in sockets:
            self._acceptors.append(Acceptor(sock, self.start_stream, log, 1 if shared else ACCEPT_BATCH))
        if self._sweeper is None:
            self._sweeper = PeriodicCallback(self._close_waiting, 1000 * min(1.0, self.header_timeout / 4))
            self._sweeper.start()

    def _close_waiting(self) -> None:
        """Close the connections that have waited longer than the timeout for a request's headers."""
        oldest = time.monotonic() - self.header_timeout
        for stream in self.open_streams():
            since = getattr(stream, "waiting_since", None)
            if since is not None and since < oldest:
                stream.close()

    def stop(self) -> None:
        for acceptor in getattr(self, "_acceptors", []):
            acceptor.stop()
            acceptor.sock.close()
        self._acceptors = []
        if self._sweeper is not None:
            self._sweeper.stop()
            self._sweeper = None
        super().stop()
