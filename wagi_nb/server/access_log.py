"""One line per request, and the server's own notices, on a stream and in memory for ``%wagi_log``."""
from __future__ import annotations

import collections
import time
from typing import Optional, TextIO

from ..wagi import Request, Response


class AccessLog:
    def __init__(self, stream: Optional[TextIO] = None, keep: int = 200):
        self.stream = stream
        self.lines: collections.deque = collections.deque(maxlen=keep)

    def write(self, request: Request, response: Response, size: int) -> None:
        line = (f'{request.remote_addr} "{request.method} {request.target} {request.protocol}" '
                f"{response.status} {size} {response.duration * 1000:.2f}ms"
                + (f" route={response.route}" if response.route else ""))
        self._emit(line)

    def notice(self, message: str) -> None:
        """Something about the server itself (it cannot accept, a module file changed)."""
        self._emit(f"wagi-nb: {message}")

    def _emit(self, line: str) -> None:
        self.lines.append(f"{time.strftime('%H:%M:%S')} {line}")
        if self.stream is not None:
            print(line, file=self.stream, flush=True)
