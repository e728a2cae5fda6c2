"""A route's module file, watched: the version that loaded keeps serving until a replacement loads.

Wagi and Spin load every module once at start-up; a file deleted, replaced or
half-written under a running server must not break the route. Each request looks
at the file's identity (one ``stat``); when it changed, the new file is compiled
and linked, and asked for its ``_routes``, and used only if all of that works.
Otherwise one line says why and the route keeps the module it had, with its
sub-routes: a module and the sub-routes it printed change together.
"""
from __future__ import annotations

import os
import threading
from typing import Callable, Optional, Tuple

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
    turns it into a :class:`LoadedModule` again, and ``routes_of`` asks a module for its
    sub-routes (``subroutes`` are the first module's)."""

    def __init__(self, path, loaded: LoadedModule, reload: Optional[Callable[[], LoadedModule]] = None,
                 notice: Callable[[str], None] = lambda m: None, subroutes: tuple = (),
                 routes_of: Callable[[LoadedModule], tuple] = lambda loaded: ()):
        self.path = os.fspath(path)
        self.reload = reload or (lambda: get_runtime().load(self.path))
        self.notice = notice
        self.routes_of = routes_of
        self._current: Tuple[LoadedModule, tuple] = (loaded, subroutes)
        #: Goes up by one each time another module (and its sub-routes) is taken up.
        self.generation = 0
        self._signature = _signature(self.path)
        self._lock = threading.Lock()

    @property
    def loaded(self) -> LoadedModule:
        return self._current[0]

    @property
    def subroutes(self) -> tuple:
        """``(Route, entrypoint)`` pairs the module being served printed from ``_routes``."""
        return self._current[1]

    def stale(self) -> bool:
        """The file changed since it was last looked at (:meth:`current` takes the change up)."""
        return _signature(self.path) != self._signature

    def current(self) -> LoadedModule:
        """The module to run: the file's, if it changed and the change can be used."""
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
                loaded = self.reload()
                self._current = (loaded, self.routes_of(loaded))
            except (WagiNbError, OSError) as error:
                reason = " ".join(str(error).split())
                self.notice(f"{self.path} changed but cannot be used ({reason}); the route keeps "
                            "serving the module it loaded")
            else:
                self.generation += 1
                self.notice(f"{self.path} changed: serving the new module")
            return self.loaded
