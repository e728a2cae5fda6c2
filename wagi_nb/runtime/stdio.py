"""A run's standard streams as Wagi's are: pipes that take every byte a write gives them.

wasmtime-py's own ``fd_write`` writes only the first non-empty iovec of a call to a file-backed
stdout (a short write, which POSIX allows), and its stdout is a regular file that can be seeked
and written at an offset. Wagi 0.8.1 (wasmtime 0.34, in-memory pipes) writes every iovec, and
its stdio, like Spin's (WASI 0.2 streams), cannot be seeked: a module that writes a line as two
iovecs without looking at how much was written works there, and Zig's file writer falls back
to plain writes when a positional one fails with ``ESPIPE``. So, defined over wasmtime's own in
the linker (as ``poll_oneoff`` is):

* ``fd_write`` to descriptors 1 and 2 appends every iovec to the run's captured stdout and
  stderr, in memory (or, for ``wagi-nb run``, to this process's, in one system call);
* ``fd_seek``, ``fd_tell``, ``fd_pread`` and ``fd_pwrite`` on descriptors 0, 1 and 2 fail with
  ``ESPIPE``, as on a pipe;
* ``fd_read`` on descriptor 0 reads the request body from memory (when the run captures its
  streams), as a pipe would give it; wasmtime's own hands each read of its stdin file to a
  thread of its own runtime (~58 µs a call);
* ``fd_close`` and ``fd_renumber`` keep track of which descriptors are still the run's streams;
* ``path_open``, ``fd_read``, ``fd_seek`` and ``fd_tell`` take over files opened in read-only
  volumes (``volume_files.py``);
* everything else, and every other descriptor, is wasmtime's own function; a write to a file in
  a volume gets all of its iovecs written too (one wasmtime call each), as Wagi writes them.

They are raw host functions (``wasmtime_internals.define_raw_function``): a module's every
``fd_write`` comes here, and wasmtime-py's own wrappers would cost more than the write.
``wasi_unstable.fd_write`` (WASI's snapshot 0, the same function) is defined as well: an exported
Go module's second import of ``fd_write`` is renamed to it for Wagi 0.8.1, which refuses a module
importing one name twice (``export/wagi_copy.py``).
"""
from __future__ import annotations

import ctypes
import os
import struct
import threading
from typing import Dict, List, Optional, Union

import wasmtime

from .volume_files import ReadOnlyFiles
from .wasmtime_internals import NativeFunctions, caller_memory, define_raw_function, new_trap, raw_values

PREVIEW1 = "wasi_snapshot_preview1"
SNAPSHOT0 = "wasi_unstable"
ESUCCESS, EFAULT, EINVAL, EIO, ESPIPE = 0, 21, 28, 29, 70
STDIN, STDOUT, STDERR = 0, 1, 2
_IOVEC = struct.Struct("<II")
_U32 = struct.Struct("<I")
_U64 = struct.Struct("<Q")
MASK = 0xFFFFFFFF
OUT_OF_BOUNDS = "pointer out of bounds: an fd_write argument points outside the module's memory"
OUT_OF_BOUNDS_READ = "pointer out of bounds: an fd_read argument points outside the module's memory"
OUT_OF_BOUNDS_SEEK = "pointer out of bounds: an fd_seek or fd_tell result points outside the module's memory"


#: Where a run's descriptor 1 or 2 goes.
Sink = Union["Capture", int]


class Capture:
    """What a run wrote to one of its streams, kept in memory: at most ``limit`` bytes (the output
    cap). ``size`` counts every byte written, so the deadline sees a run past the cap (and stops it
    at the next epoch tick) while what is kept stays within it."""

    __slots__ = ("chunks", "size", "kept", "limit")

    def __init__(self, limit: Optional[int] = None):
        self.chunks: List[bytes] = []
        self.size = self.kept = 0
        self.limit = limit

    def write(self, data: bytes) -> None:
        self.size += len(data)
        if self.limit is not None and self.kept + len(data) > self.limit:
            data = data[:self.limit - self.kept]
        if data:
            self.chunks.append(data)
            self.kept += len(data)

    @property
    def over(self) -> bool:
        """More was written than the cap."""
        return self.limit is not None and self.size > self.limit

    def value(self) -> bytes:
        """All that was kept (the pieces are let go of: one copy at a time)."""
        chunks = self.chunks
        whole = chunks[0] if len(chunks) == 1 else b"".join(chunks)
        self.chunks = [whole] if whole else []
        return whole


class Source:
    """A run's standard input, read from memory."""

    __slots__ = ("data", "position")

    def __init__(self, data: bytes):
        self.data, self.position = data, 0

    def read(self, size: int) -> bytes:
        part = self.data[self.position:self.position + size]
        self.position += len(part)
        return part


class RunStreams:
    """Where this thread's run sends descriptors 1 and 2 (descriptors of this process), what
    descriptor 0 reads, which of its descriptors are still its standard streams, and the files
    of its read-only volumes it has open (``volume_files.py``)."""

    def __init__(self):
        self._local = threading.local()

    def start(self, stdout: Sink, stderr: Sink, stdin: Optional[bytes] = None, dirs: tuple = ()) -> None:
        """Call before each run (with its ``Store.set_wasi``): where descriptors 1 and 2 go (a
        :class:`Capture`, or a descriptor of this process); ``stdin`` None: this process's."""
        local = self._local
        local.sinks = {STDOUT: stdout, STDERR: stderr}
        local.sources = {} if stdin is None else {STDIN: Source(stdin)}
        local.pipes = {STDIN, STDOUT, STDERR}
        local.files = ReadOnlyFiles(dirs)  # (the one before was closed by end(), in running()'s finally)

    def end(self) -> None:
        """Call after each run: closes the host descriptors of files it left open."""
        self._local.files.close()

    @property
    def sinks(self) -> Dict[int, Sink]:
        return self._local.sinks

    @property
    def sources(self) -> Dict[int, Source]:
        return self._local.sources

    @property
    def pipes(self) -> set:
        return self._local.pipes

    @property
    def files(self) -> ReadOnlyFiles:
        return self._local.files


def define(linker: wasmtime.Linker, engine: wasmtime.Engine, streams: RunStreams) -> NativeFunctions:
    """Put the stream-aware functions in ``linker`` (which already has WASI). Returns wasmtime's
    own functions, whose ``reset`` must be called as each run starts."""
    i32, i64 = wasmtime.ValType.i32(), wasmtime.ValType.i64()
    # Types per linker: wasmtime ties a function type to the first engine it is used with.
    types = {
        "fd_write": wasmtime.FuncType([i32] * 4, [i32]),
        "fd_read": wasmtime.FuncType([i32] * 4, [i32]),
        "path_open": wasmtime.FuncType([i32] * 5 + [i64, i64, i32, i32], [i32]),
        "fd_seek": wasmtime.FuncType([i32, i64, i32, i32], [i32]),
        "fd_tell": wasmtime.FuncType([i32, i32], [i32]),
        "fd_pread": wasmtime.FuncType([i32, i32, i32, i64, i32], [i32]),
        "fd_pwrite": wasmtime.FuncType([i32, i32, i32, i64, i32], [i32]),
        "fd_close": wasmtime.FuncType([i32], [i32]),
        "fd_renumber": wasmtime.FuncType([i32, i32], [i32]),
    }
    wasi = wasmtime.Linker(engine)
    wasi.define_wasi()
    original = NativeFunctions(engine, wasi, PREVIEW1, types)

    def fd_write(caller, values, count: int) -> int:
        # Never raise (see define_raw_function); a pointer outside the memory is a trap, as wasmtime's
        # own functions (and Wagi's) make it.
        try:
            sink = streams.sinks.get(values[0].i32)
            if sink is None:
                return _write_each(original, caller, values)
            call = _iovecs(caller, values)
            if call is None:
                return new_trap(OUT_OF_BOUNDS)
            iovecs, nwritten, base = call
            buffers = [ctypes.string_at(base + pointer, length) for pointer, length in iovecs if length]
            data = buffers[0] if len(buffers) == 1 else b"".join(buffers)
            if isinstance(sink, Capture):
                sink.write(data)
            else:
                _write_all(sink, data)
            _succeeded(values, base + nwritten, len(data))
        except OSError:
            values[0].i32 = EIO
        except Exception:
            values[0].i32 = EFAULT
        return 0

    def fd_read(caller, values, count: int) -> int:
        try:
            fd = values[0].i32
            source = streams.sources.get(fd)
            if source is None and fd not in streams.files.files:
                return original.call(caller, "fd_read", values, count)
            call = _iovecs(caller, values)  # (the same shape as fd_write's: fd, iovecs, their count, a result)
            if call is None:
                return new_trap(OUT_OF_BOUNDS_READ)
            iovecs, nread, base = call
            wanted = sum(length for _, length in iovecs)
            data = source.read(wanted) if source is not None else streams.files.read(fd, wanted)
            offset = 0
            for pointer, length in iovecs:  # (spread over the buffers in order, as readv fills them)
                part = data[offset:offset + length]
                if not part:
                    break
                ctypes.memmove(base + pointer, part, len(part))
                offset += len(part)
            _succeeded(values, base + nread, offset)
        except OSError:
            values[0].i32 = EIO
        except Exception:
            values[0].i32 = EFAULT
        return 0

    def path_open(caller, values, count: int) -> int:
        try:
            dirfd, lookup, path, path_len, oflags = (values[index].i32 & MASK for index in range(5))
            opened = values[8].i32 & MASK
            trap = original.call(caller, "path_open", values, count)
            if trap or values[0].i32 != ESUCCESS or dirfd not in streams.files.folders:
                return trap
            memory = caller_memory(caller)
            if memory is not None and path + path_len <= memory[1] and opened + 4 <= memory[1]:
                fd = _U32.unpack(ctypes.string_at(memory[0] + opened, 4))[0]
                streams.files.opened(dirfd, ctypes.string_at(memory[0] + path, path_len), lookup, oflags, fd)
            return 0
        except Exception:
            values[0].i32 = EFAULT
            return 0

    def unseekable(name: str):
        def call(caller, values, count: int) -> int:
            try:
                fd = values[0].i32
                if fd in streams.pipes:
                    values[0].i32 = ESPIPE
                    return 0
                if fd in streams.files.files and name in ("fd_seek", "fd_tell"):
                    return _position(caller, values, name, streams.files)
                return original.call(caller, name, values, count)
            except Exception:
                values[0].i32 = EFAULT
                return 0
        return call

    def fd_close(caller, values, count: int) -> int:
        try:
            fd = values[0].i32
            trap = original.call(caller, "fd_close", values, count)
            if not trap and values[0].i32 == ESUCCESS:
                streams.sinks.pop(fd, None)
                streams.sources.pop(fd, None)
                streams.pipes.discard(fd)
                streams.files.forget(fd)
            return trap
        except Exception:
            values[0].i32 = EFAULT
            return 0

    def fd_renumber(caller, values, count: int) -> int:
        try:
            fd, to = values[0].i32, values[1].i32
            trap = original.call(caller, "fd_renumber", values, count)
            if not trap and values[0].i32 == ESUCCESS and fd != to:
                _move(streams.sinks, fd, to)
                _move(streams.sources, fd, to)
                pipes = streams.pipes
                pipes.discard(to)
                if fd in pipes:
                    pipes.discard(fd)
                    pipes.add(to)
                streams.files.renumber(fd, to)
            return trap
        except Exception:
            values[0].i32 = EFAULT
            return 0

    functions = {"fd_write": fd_write, "fd_read": fd_read, "path_open": path_open, "fd_close": fd_close,
                 "fd_renumber": fd_renumber,
                 **{name: unseekable(name) for name in ("fd_seek", "fd_tell", "fd_pread", "fd_pwrite")}}
    for name, function in functions.items():
        define_raw_function(linker, PREVIEW1, name, types[name], function)
    define_raw_function(linker, SNAPSHOT0, "fd_write", wasmtime.FuncType([i32] * 4, [i32]), fd_write)
    return original


def _move(table: dict, fd: int, to: int) -> None:
    """``fd`` renumbered to ``to`` (which it replaces) in a table of descriptors."""
    table.pop(to, None)
    if fd in table:
        table[to] = table.pop(fd)


def _position(caller: int, values, name: str, files: ReadOnlyFiles) -> int:
    """``fd_seek`` or ``fd_tell`` on a file taken over by ``files``: 0 or a trap."""
    fd = values[0].i32
    result = (values[3] if name == "fd_seek" else values[1]).i32 & MASK
    memory = caller_memory(caller)
    if memory is None or result + 8 > memory[1]:
        return new_trap(OUT_OF_BOUNDS_SEEK)
    try:
        position = files.seek(fd, values[1].i64, values[2].i32 & 0xFF) if name == "fd_seek" else files.tell(fd)
    except ValueError:
        values[0].i32 = EINVAL
        return 0
    ctypes.memmove(memory[0] + result, _U64.pack(position), 8)
    values[0].i32 = ESUCCESS
    return 0


def _succeeded(values, address: int, count: int) -> None:
    """Answer an ``fd_write`` or ``fd_read`` that moved ``count`` bytes (its result at ``address``)."""
    ctypes.memmove(address, _U32.pack(count), 4)
    values[0].i32 = ESUCCESS


def _iovecs(caller: int, values) -> Optional[tuple]:
    """([(pointer, length), …], result pointer, memory address) of an ``fd_write`` or ``fd_read``
    call; None when any of it is outside the module's memory (a trap)."""
    call = _write_call(caller, values)
    if call is None:
        return None
    _, iovs, iovs_len, result, base, size = call
    iovecs = [_IOVEC.unpack(ctypes.string_at(base + iovs + 8 * index, 8)) for index in range(iovs_len)]
    if any(pointer + length > size for pointer, length in iovecs):
        return None
    return iovecs, result, base


def _write_call(caller: int, values) -> Optional[tuple]:
    """(fd, iovs, iovs_len, nwritten, memory address, memory size) of an ``fd_write`` call; None when
    its iovec array or result pointer is outside the memory (``EFAULT``)."""
    fd, iovs, iovs_len, nwritten = (values[index].i32 & MASK for index in range(4))
    memory = caller_memory(caller)
    if memory is None or iovs + 8 * iovs_len > memory[1] or nwritten + 4 > memory[1]:
        return None
    return fd, iovs, iovs_len, nwritten, *memory


def _write_each(original: NativeFunctions, caller: int, values) -> int:
    """wasmtime's ``fd_write`` once per non-empty iovec, until one is written short: every iovec of
    the call reaches the file, as Wagi's wasmtime writes them. 0 or a trap."""
    call = _write_call(caller, values)
    if call is None or call[2] <= 1:
        return original.call(caller, "fd_write", values, 4)  # (wasmtime's own answer for these)
    fd, iovs, iovs_len, nwritten, base, _ = call
    total, single = 0, raw_values(4)
    for index in range(iovs_len):
        _, length = _IOVEC.unpack(ctypes.string_at(base + iovs + 8 * index, 8))
        if not length:
            continue
        single[0].i32, single[1].i32, single[2].i32, single[3].i32 = fd, iovs + 8 * index, 1, nwritten
        trap = original.call(caller, "fd_write", single, 4)
        if trap:
            return trap
        if single[0].i32 != ESUCCESS:
            if not total:  # else what was written is reported; the error comes with the next call
                values[0].i32 = single[0].i32
                return 0
            break
        done = _U32.unpack(ctypes.string_at(base + nwritten, 4))[0]
        total += done
        if done < length:
            break
    ctypes.memmove(base + nwritten, _U32.pack(total), 4)
    values[0].i32 = ESUCCESS
    return 0


def _write_all(fd: int, data: bytes) -> None:
    view, offset = memoryview(data), 0
    while offset < len(data):
        offset += os.write(fd, view[offset:])
