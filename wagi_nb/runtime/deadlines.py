"""Stopping a running module: wall-clock timeouts and Ctrl-C, through epoch interruption.

One ticker thread advances the engine's epoch every :data:`TICK` seconds. Each
store has a deadline of one tick and an epoch callback that, at every tick,
either lets the module go on or stops it (it timed out, or someone cancelled
it). The callback runs on the thread that runs the module, so no store is ever
touched from another thread.
"""
from __future__ import annotations

import ctypes
import itertools
import threading
import time
from typing import Optional

from wasmtime import _ffi as ffi

TICK = 0.01

_CALLBACK = ctypes.CFUNCTYPE(ctypes.c_size_t, ctypes.POINTER(ffi.wasmtime_context_t), ctypes.c_void_p,
                             ctypes.POINTER(ctypes.c_uint64),
                             ctypes.POINTER(ffi.wasmtime_update_deadline_kind_t))
_NO_FINALIZER = ctypes.CFUNCTYPE(None, ctypes.c_void_p)()
_CONTINUE = 0


class Deadline:
    """The stop conditions of one run."""

    def __init__(self, timeout: Optional[float]):
        self.timeout = timeout
        self.expires = None if timeout is None else time.monotonic() + timeout
        self.cancelled = threading.Event()
        #: Why the module was stopped: "timeout", "interrupted", or None.
        self.reason: Optional[str] = None

    def cancel(self) -> None:
        self.cancelled.set()

    def check(self) -> Optional[str]:
        if self.cancelled.is_set():
            return "interrupted"
        if self.expires is not None and time.monotonic() >= self.expires:
            return "timeout"
        return None


_active: dict = {}
_ids = itertools.count(1)


@_CALLBACK
def _on_tick(_context, data, delta, kind):
    deadline = _active.get(data)
    reason = deadline.check() if deadline else None
    if reason:
        deadline.reason = reason
        error = ffi.wasmtime_error_new(f"wagi_nb: module stopped ({reason})".encode())
        return ctypes.cast(error, ctypes.c_void_p).value
    delta[0] = 1
    kind[0] = _CONTINUE
    return 0


class watch:
    """``with watch(store, deadline):`` — the module in ``store`` obeys ``deadline``."""

    def __init__(self, store, deadline: Deadline):
        self.store, self.deadline, self.id = store, deadline, next(_ids)

    def __enter__(self):
        _active[self.id] = self.deadline
        self.store.set_epoch_deadline(1)
        ffi.wasmtime_store_epoch_deadline_callback(self.store.ptr(), _on_tick, self.id, _NO_FINALIZER)
        return self.deadline

    def __exit__(self, *exc):
        _active.pop(self.id, None)
        return False


def start_ticker(engine) -> threading.Thread:
    def tick():
        while True:
            time.sleep(TICK)
            engine.increment_epoch()
    thread = threading.Thread(target=tick, name="wagi_nb-epoch", daemon=True)
    thread.start()
    return thread
