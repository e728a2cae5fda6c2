"""One line per request, and the server's own notices, on a stream and in memory for ``%wagi_log``."""
from __future__ import annotations

import asyncio
import collections
import time
from typing import Optional, TextIO

from ..wagi import Request, Response


class AccessLog:
    """``batch``: request lines, written by the event loop's thread, go to the stream together
    once per turn of the loop (one write for all the requests a turn answered) instead of one
    write each; call :meth:`flush` when the loop has stopped. Notices are written at once."""

    def __init__(self, stream: Optional[TextIO] = None, keep: int = 200, batch: bool = False):
        self.stream = stream
        self.lines: collections.deque = collections.deque(maxlen=keep)
        self.batch = batch
        self._pending: list = []
        self._second, self._clock = -1, ""

    def write(self, request: Request, response: Response, size: int) -> None:
        target = f"{request.path}?{request.query}" if request.query else request.path
        route = f" route={response.route}" if response.route else ""
        self._emit(f'{request.remote_addr} "{request.method} {target} {request.protocol}" '
                   f"{response.status} {size} {response.duration * 1000:.2f}ms{route}", self.batch)

    def notice(self, message: str) -> None:
        """Something about the server itself (it cannot accept, a module file changed)."""
        self._emit(f"wagi-nb: {message}")

    def _emit(self, line: str, later: bool = False) -> None:
        now = int(time.time())
        if now != self._second:  # the clock is formatted once a second, not once a line
            self._second, self._clock = now, time.strftime("%H:%M:%S", time.localtime(now))
        self.lines.append(f"{self._clock} {line}")
        if self.stream is None:
            return
        if later:
            self._pending.append(line)
            if len(self._pending) == 1:
                try:
                    asyncio.get_running_loop().call_soon(self.flush)
                except RuntimeError:  # no loop running here after all
                    self.flush()
            return
        self.flush()
        self.stream.write(line + "\n")
        self.stream.flush()

    def flush(self) -> None:
        """Write the request lines still waiting (``batch``)."""
        pending, self._pending = self._pending, []
        if pending and self.stream is not None:
            self.stream.write("\n".join(pending) + "\n")
            self.stream.flush()
