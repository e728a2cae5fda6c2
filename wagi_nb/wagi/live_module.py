"""A route's module file, watched: the version that loaded keeps serving until a replacement loads.

Wagi and Spin load every module once at start-up; a file deleted, replaced or
half-written under a running server must not break the route. Each request looks
at the file's identity (one ``stat``); when it changed, the new file is compiled
and linked, and used only if that works. Otherwise one line says why and the
route keeps the module it had.
"""
from __future__ import annotations

import os
import threading
from typing import Callable, Optional

from ..errors import WagiNbError
from ..runtime import LoadedModule, get_runtime


def _signature(path: str) -> Optional[tuple]:
    try:
        stat = os.stat(path)
    except OSError:
        return None
    return stat.st_dev, stat.st_ino, stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns


class LiveModule:
    """``path`` is the file to watch (a ``.wasm``, or the ``.wat`` it is built from); ``reload``
    turns it into a :class:`LoadedModule` again."""

    def __init__(self, path, loaded: LoadedModule, reload: Optional[Callable[[], LoadedModule]] = None,
                 notice: Callable[[str], None] = lambda m: None):
        self.path = os.fspath(path)
        self.loaded = loaded
        self.reload = reload or (lambda: get_runtime().load(self.path))
        self.notice = notice
        self._signature = _signature(self.path)
        self._lock = threading.Lock()

    def current(self) -> LoadedModule:
        signature = _signature(self.path)
        if signature == self._signature:
            return self.loaded
        with self._lock:
            if signature == self._signature:  # another request just looked
                return self.loaded
            self._signature = signature
            if signature is None:
                self.notice(f"{self.path} is gone; the route keeps serving the module it loaded")
                return self.loaded
            try:
                self.loaded = self.reload()
            except (WagiNbError, OSError) as error:
                reason = " ".join(str(error).split())
                self.notice(f"{self.path} changed but cannot be used ({reason}); the route keeps "
                            "serving the module it loaded")
            else:
                self.notice(f"{self.path} changed: serving the new module")
            return self.loaded
