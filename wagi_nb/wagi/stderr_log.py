"""What modules wrote to stderr, per route: a bounded history in memory, and the ``--log-dir`` files.

Memory holds at most :data:`KEEP_PER_RUN` bytes of one run and :data:`KEEP_PER_ROUTE`
bytes of a route's recent runs (``%wagi_log`` shows them); the files under
``<log-dir>/<sha256 of the route>/module.stderr`` hold the rest, each capped at
:data:`FILE_CAP` bytes with the previous one kept as ``module.stderr.1``.
"""
from __future__ import annotations

import collections
import hashlib
import os
import threading
import time
from pathlib import Path
from typing import Callable, Dict, Optional

KEEP_PER_RUN = 64 * 1024
KEEP_PER_ROUTE = 1024 * 1024
KEEP_RUNS = 50
FILE_CAP = 16 * 1024 * 1024


def route_folder(log_dir: Path, route: str) -> Path:
    return log_dir / hashlib.sha256(route.encode()).hexdigest()


class StderrLog:
    """route text → recent ``(time, bytes)`` entries, oldest first, bounded in count and bytes."""

    def __init__(self, log_dir: Optional[Path] = None, notice: Callable[[str], None] = lambda m: None):
        self.log_dir = log_dir
        self.notice = notice
        self._entries: Dict[str, collections.deque] = {}
        self._sizes: Dict[str, int] = collections.Counter()
        self._lock = threading.Lock()
        self._failed: set = set()
        #: route → its log file, once written (a run that wrote nothing to stderr then costs nothing).
        self._files: Dict[str, Path] = {}

    def record(self, route: str, stderr: bytes) -> None:
        if self.log_dir is not None:
            self._append_to_file(route, stderr)
        if not stderr:
            return
        kept = stderr[:KEEP_PER_RUN]
        if len(stderr) > KEEP_PER_RUN:
            kept += f"\n[… {len(stderr) - KEEP_PER_RUN:,} more bytes".encode() + \
                (b" in the --log-dir file]\n" if self.log_dir else b"]\n")
        with self._lock:
            entries = self._entries.setdefault(route, collections.deque())
            entries.append((time.time(), kept))
            self._sizes[route] += len(kept)
            while len(entries) > KEEP_RUNS or self._sizes[route] > KEEP_PER_ROUTE:
                _, dropped = entries.popleft()
                self._sizes[route] -= len(dropped)

    def _append_to_file(self, route: str, stderr: bytes) -> None:
        assert self.log_dir is not None
        path = self._files.get(route)
        if path is not None and not stderr:
            return  # the file is there already and nothing is added: no system call at all
        folder = route_folder(self.log_dir, route)
        path = folder / "module.stderr"
        try:
            folder.mkdir(parents=True, exist_ok=True)
            data = stderr[:FILE_CAP]
            with self._lock:
                try:
                    size = os.stat(path).st_size
                except FileNotFoundError:
                    size = 0
                if size and size + len(data) > FILE_CAP:
                    path.replace(folder / "module.stderr.1")
                with open(path, "ab") as log:
                    log.write(data)
            self._files[route] = path
        except OSError as error:
            self._files.pop(route, None)
            key = (route, error.errno)
            if key not in self._failed:  # once per route and kind of failure, not per request
                self._failed.add(key)
                self.notice(f"cannot write the stderr log of route {route} ({path}): "
                            f"{error.strerror or error}; its stderr is kept in memory only")

    # -- reading (``%wagi_log``) ----------------------------------------------------------------------
    def __contains__(self, route: str) -> bool:
        return route in self._entries

    def __getitem__(self, route: str) -> list:
        with self._lock:
            return list(self._entries.get(route, ()))

    def items(self):
        with self._lock:
            return [(route, list(entries)) for route, entries in self._entries.items()]

    def bytes_kept(self) -> int:
        return sum(self._sizes.values())
