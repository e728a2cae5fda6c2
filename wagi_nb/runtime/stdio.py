"""A run's standard streams as Wagi's are: pipes that take every byte a write gives them.

wasmtime-py's own ``fd_write`` writes only the first non-empty iovec of a call to a file-backed
stdout (a short write, which POSIX allows), and its stdout is a regular file that can be seeked
and written at an offset. Wagi 0.8.1 (wasmtime 0.34, in-memory pipes) writes every iovec, and
its stdio, like Spin's (WASI 0.2 streams), cannot be seeked: a module that writes a line as two
iovecs without looking at how much was written works there, and Zig's file writer falls back
to plain writes when a positional one fails with ``ESPIPE``. So, defined over wasmtime's own in
the linker (as ``poll_oneoff`` is):

* ``fd_write`` to descriptors 1 and 2 appends every iovec to the run's captured stdout and
  stderr (or, for ``wagi-nb run``, this process's), in one system call;
* ``fd_seek``, ``fd_tell``, ``fd_pread`` and ``fd_pwrite`` on descriptors 0, 1 and 2 fail with
  ``ESPIPE``, as on a pipe;
* ``fd_close`` and ``fd_renumber`` keep track of which descriptors are still the run's streams;
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
from typing import Dict, Optional

import wasmtime

from .wasmtime_internals import NativeFunctions, caller_memory, define_raw_function, new_trap, raw_values

PREVIEW1 = "wasi_snapshot_preview1"
SNAPSHOT0 = "wasi_unstable"
ESUCCESS, EFAULT, EIO, ESPIPE = 0, 21, 29, 70
STDIN, STDOUT, STDERR = 0, 1, 2
_IOVEC = struct.Struct("<II")
_U32 = struct.Struct("<I")
MASK = 0xFFFFFFFF
OUT_OF_BOUNDS = "pointer out of bounds: an fd_write argument points outside the module's memory"


class RunStreams:
    """Where this thread's run sends descriptors 1 and 2 (descriptors of this process), and
    which of its descriptors are still its standard streams."""

    def __init__(self):
        self._local = threading.local()

    def start(self, stdout: int, stderr: int) -> None:
        """Call before each run (with its ``Store.set_wasi``)."""
        self._local.sinks = {STDOUT: stdout, STDERR: stderr}
        self._local.pipes = {STDIN, STDOUT, STDERR}

    @property
    def sinks(self) -> Dict[int, int]:
        return self._local.sinks

    @property
    def pipes(self) -> set:
        return self._local.pipes


def define(linker: wasmtime.Linker, engine: wasmtime.Engine, streams: RunStreams) -> NativeFunctions:
    """Put the stream-aware functions in ``linker`` (which already has WASI). Returns wasmtime's
    own functions, whose ``reset`` must be called as each run starts."""
    i32, i64 = wasmtime.ValType.i32(), wasmtime.ValType.i64()
    # Types per linker: wasmtime ties a function type to the first engine it is used with.
    types = {
        "fd_write": wasmtime.FuncType([i32] * 4, [i32]),
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
            call = _write_call(caller, values)
            if call is None:
                return new_trap(OUT_OF_BOUNDS)
            _, iovs, iovs_len, nwritten, base, size = call
            buffers = []
            for index in range(iovs_len):
                pointer, length = _IOVEC.unpack(ctypes.string_at(base + iovs + 8 * index, 8))
                if pointer + length > size:
                    return new_trap(OUT_OF_BOUNDS)
                if length:
                    buffers.append(ctypes.string_at(base + pointer, length))
            data = buffers[0] if len(buffers) == 1 else b"".join(buffers)
            _write_all(sink, data)
            ctypes.memmove(base + nwritten, _U32.pack(len(data)), 4)
            values[0].i32 = ESUCCESS
        except OSError:
            values[0].i32 = EIO
        except Exception:
            values[0].i32 = EFAULT
        return 0

    def unseekable(name: str):
        def call(caller, values, count: int) -> int:
            try:
                if values[0].i32 in streams.pipes:
                    values[0].i32 = ESPIPE
                    return 0
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
                streams.pipes.discard(fd)
            return trap
        except Exception:
            values[0].i32 = EFAULT
            return 0

    def fd_renumber(caller, values, count: int) -> int:
        try:
            fd, to = values[0].i32, values[1].i32
            trap = original.call(caller, "fd_renumber", values, count)
            if not trap and values[0].i32 == ESUCCESS and fd != to:
                sinks, pipes = streams.sinks, streams.pipes
                sinks.pop(to, None)
                pipes.discard(to)
                if fd in sinks:
                    sinks[to] = sinks.pop(fd)
                if fd in pipes:
                    pipes.discard(fd)
                    pipes.add(to)
            return trap
        except Exception:
            values[0].i32 = EFAULT
            return 0

    functions = {"fd_write": fd_write, "fd_close": fd_close, "fd_renumber": fd_renumber,
                 **{name: unseekable(name) for name in ("fd_seek", "fd_tell", "fd_pread", "fd_pwrite")}}
    for name, function in functions.items():
        define_raw_function(linker, PREVIEW1, name, types[name], function)
    define_raw_function(linker, SNAPSHOT0, "fd_write", wasmtime.FuncType([i32] * 4, [i32]), fd_write)
    return original


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
