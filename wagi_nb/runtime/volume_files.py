"""Reads of files in read-only volumes, done by wagi_nb instead of wasmtime: the same bytes, cheaper.

wasmtime-py 50's WASI runs each file read as a task on a thread of its own runtime and waits
for it: ~58 µs for every ``fd_read`` of 4 KiB, where Wagi 0.8.1's wasmtime reads in place
(~2 µs). A module serving a 48 KB file in 4 KiB reads spent most of its time there. So, for a
file opened in a *read-only* volume (``path_open`` succeeded, through wasmtime's own function,
so its sandbox decided what may be opened), wagi_nb opens the same file on the host too and
answers the module's ``fd_read``, ``fd_seek`` and ``fd_tell`` on that descriptor itself, keeping
the file position. Every other call on it (``fd_pread``, ``fd_filestat_get``, ``fd_close``…) is
still wasmtime's, which owns the descriptor.

Only read-only volumes: there the module can plant nothing (no symlink, no renamed file), so the
path wasmtime opened names the same file on the host. A file whose host resolution (the kernel's,
read back from ``/proc/self/fd``) is outside the volume, or that is not a regular file or a
directory, is left to wasmtime entirely.
"""
from __future__ import annotations

import os
import stat
from typing import Dict, Tuple

#: WASI's ``oflags`` that create or change a file (a read-only volume refuses them anyway).
O_CREAT, O_DIRECTORY, O_EXCL, O_TRUNC = 1, 2, 4, 8
#: WASI's ``lookupflags``: follow a symlink at the end of the path.
SYMLINK_FOLLOW = 1
SEEK_SET, SEEK_CUR, SEEK_END = 0, 1, 2


class OpenFile:
    """A host descriptor for a file the module opened, and the module's position in it."""

    __slots__ = ("fd", "position")

    def __init__(self, fd: int):
        self.fd, self.position = fd, 0


class ReadOnlyFiles:
    """One run's read-only volumes (guest descriptor → host folder) and the files opened in them."""

    def __init__(self, dirs: Tuple[tuple, ...]):
        #: Preopened folders are descriptors 3, 4, … in the order they are given to WASI.
        self.folders: Dict[int, Tuple[str, str]] = {}
        for number, (host, _guest, *read_only) in enumerate(dirs, start=3):
            if read_only and read_only[0]:
                root = os.path.realpath(host)
                self.folders[number] = (root, root)
        self.files: Dict[int, OpenFile] = {}

    def opened(self, dirfd: int, path: bytes, lookup: int, oflags: int, fd: int) -> None:
        """wasmtime opened ``path`` under ``dirfd`` as ``fd``: take the file over if it is in a
        read-only volume."""
        folder = self.folders.get(dirfd)
        if folder is None or oflags & (O_CREAT | O_EXCL | O_TRUNC):
            return
        root, base = folder
        flags = os.O_RDONLY | os.O_CLOEXEC | (0 if lookup & SYMLINK_FOLLOW else os.O_NOFOLLOW)
        try:
            if path.startswith(b"/"):
                return
            handle = os.open(os.path.join(os.fsencode(base), path), flags)
        except (OSError, ValueError):
            return
        try:
            # Where the kernel's resolution of the path ended: it must be in the volume.
            host = os.readlink(f"/proc/self/fd/{handle}")
            kind = os.fstat(handle).st_mode
        except OSError:
            os.close(handle)
            return
        if host != root and not host.startswith(root + os.sep):
            os.close(handle)
        elif stat.S_ISDIR(kind):
            os.close(handle)
            self.folders[fd] = (root, host)
        elif stat.S_ISREG(kind) and not oflags & O_DIRECTORY:
            self.files[fd] = OpenFile(handle)
        else:
            os.close(handle)

    def read(self, fd: int, size: int) -> bytes:
        """Up to ``size`` bytes from the position of a file taken over."""
        file = self.files[fd]
        data = os.pread(file.fd, size, file.position)
        file.position += len(data)
        return data

    def seek(self, fd: int, offset: int, whence: int) -> int:
        """The new position in a file taken over; ValueError for a bad one."""
        file = self.files[fd]
        if whence == SEEK_SET:
            start = 0
        elif whence == SEEK_CUR:
            start = file.position
        elif whence == SEEK_END:
            start = os.fstat(file.fd).st_size
        else:
            raise ValueError(whence)
        if start + offset < 0:
            raise ValueError(offset)
        file.position = start + offset
        return file.position

    def tell(self, fd: int) -> int:
        return self.files[fd].position

    def forget(self, fd: int) -> None:
        """``fd`` was closed (or renumbered over)."""
        self.folders.pop(fd, None)
        file = self.files.pop(fd, None)
        if file is not None:
            os.close(file.fd)

    def renumber(self, fd: int, to: int) -> None:
        self.forget(to)
        if fd in self.files:
            self.files[to] = self.files.pop(fd)
        if fd in self.folders:
            self.folders[to] = self.folders.pop(fd)

    def close(self) -> None:
        """The run ended: close what it left open."""
        for file in self.files.values():
            os.close(file.fd)
        self.files.clear()
        self.folders.clear()
