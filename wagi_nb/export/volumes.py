"""Copying a volume into an export without following a symlink out of it.

A module can plant a relative symlink in its read-write volume that points
outside (``/data/leak -> ../../secret``). wasmtime never follows it, but a copy
that follows symlinks would put the host file into the exported app as a
regular file, where the same module could read it. So links are copied as
links when they stay inside the volume, and left out (with a note) otherwise.
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path


def _inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def copy_volume(source, destination) -> list:
    """Copy the folder ``source`` to ``destination``; returns the links left out, relative to it."""
    root = os.path.realpath(source)
    left_out = []

    def outside_links(folder, names):
        skipped = []
        for name in names:
            path = os.path.join(folder, name)
            if os.path.islink(path) and not _inside(os.path.realpath(path), root):
                skipped.append(name)
                left_out.append(os.path.relpath(path, source))
        return skipped

    shutil.copytree(source, destination, symlinks=True, ignore=outside_links, dirs_exist_ok=True)
    return sorted(Path(item).as_posix() for item in left_out)
