"""The modules a process has loaded, found again without compiling, and let go of when nothing uses them.

A loaded module holds its native code and its linked ``InstancePre`` in memory (a 2,000-function
module: ~2 MiB). Kept forever, every edit of a cell would add its module for good (200 edits of one
cell: +381 MiB). So the memo keeps the :data:`KEEP` modules used last, and finds the older ones
only while something else holds them (a route, a preview, an artifact's caller): the rest are
freed, and loading one again reads the native-code cache on disk instead of compiling.
"""
from __future__ import annotations

import threading
import weakref
from collections import OrderedDict

#: Modules kept in memory though nothing else holds them: the ones used last.
KEEP = 8
#: Files whose identity → content hash is remembered (a stat then finds the module unread).
PATHS = 1024


class ModuleMemo:
    """Loaded modules by content hash, and files by identity (see :meth:`Runtime.load`)."""

    def __init__(self, keep: int = KEEP, paths: int = PATHS):
        self.keep, self.paths = keep, paths
        self._alive: weakref.WeakValueDictionary = weakref.WeakValueDictionary()
        self._recent: OrderedDict = OrderedDict()
        self._files: OrderedDict = OrderedDict()
        self._lock = threading.Lock()

    def get(self, sha: str):
        """The module with this content hash, if it is still in memory."""
        loaded = self._alive.get(sha)
        if loaded is not None:
            self._use(sha, loaded)
        return loaded

    def add(self, sha: str, loaded) -> None:
        self._alive[sha] = loaded
        self._use(sha, loaded)

    def _use(self, sha: str, loaded) -> None:
        with self._lock:
            self._recent[sha] = loaded
            self._recent.move_to_end(sha)
            while len(self._recent) > self.keep:
                self._recent.popitem(last=False)

    def for_file(self, path: str, signature: tuple):
        """The module last loaded from ``path``, if the file is the same (``signature``) and the
        module still in memory."""
        known = self._files.get(path)
        return self.get(known[1]) if known is not None and known[0] == signature else None

    def file_loaded(self, path: str, signature: tuple, sha: str) -> None:
        with self._lock:
            self._files[path] = (signature, sha)
            self._files.move_to_end(path)
            while len(self._files) > self.paths:
                self._files.popitem(last=False)

    def __len__(self) -> int:
        """Modules in memory that the memo can find."""
        return len(self._alive)
