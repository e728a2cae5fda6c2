"""Every use of wasmtime-py's private API, in one place, for the one major version it was written for.

wasmtime-py 50 has no public API for two things the runtime needs:

* **an epoch-deadline callback** (``wasmtime_store_epoch_deadline_callback``): ``Store`` only has
  ``set_epoch_deadline``, which traps at the deadline, but a run must decide at every tick whether
  to go on (its own timeout, Ctrl-C, the output cap) without a thread touching its store;
* **one export of an instance** without wrapping them all: ``Instance.exports(store)`` builds a
  Python object for every export of the module, on every run (measured: 12-20 µs more per run for
  the Rust hello world's five exports, of a ~110 µs run).

Nothing outside this file touches a private name of wasmtime-py. The major version is pinned in
pyproject.toml (``wasmtime>=50,<51``); importing this module under another one fails with a line
saying what to do, rather than later with a ctypes crash.
"""
from __future__ import annotations

import ctypes
from importlib.metadata import version
from typing import Callable, Optional

import wasmtime

SUPPORTED_MAJOR = 50
INSTALLED = version("wasmtime")
if int(INSTALLED.split(".")[0]) != SUPPORTED_MAJOR:  # pragma: no cover - the pin prevents it
    raise ImportError(f"wagi_nb needs wasmtime {SUPPORTED_MAJOR}.x (it uses parts of wasmtime-py "
                      f"that change every major version), but wasmtime {INSTALLED} is installed. "
                      f"Install the pinned one: pip install 'wasmtime>={SUPPORTED_MAJOR},"
                      f"<{SUPPORTED_MAJOR + 1}'")

from wasmtime import _ffi as ffi  # noqa: E402
from wasmtime._extern import wrap_extern  # noqa: E402

_CALLBACK = ctypes.CFUNCTYPE(ctypes.c_size_t, ctypes.POINTER(ffi.wasmtime_context_t), ctypes.c_void_p,
                             ctypes.POINTER(ctypes.c_uint64),
                             ctypes.POINTER(ffi.wasmtime_update_deadline_kind_t))
_NO_FINALIZER = ctypes.CFUNCTYPE(None, ctypes.c_void_p)()
_CONTINUE = 0

#: Called at each epoch tick with the id a store was armed with; returns why to stop it, or None.
Decide = Callable[[int], Optional[str]]


def epoch_callback(decide: Decide):
    """A C callback for :func:`arm_epoch_callback`: at each tick, stop with ``decide``'s message or
    set the next deadline one tick on. Keep a reference to it for as long as stores use it."""
    @_CALLBACK
    def on_tick(_context, data, delta, kind):
        message = decide(data)
        if message:
            return ctypes.cast(ffi.wasmtime_error_new(message.encode()), ctypes.c_void_p).value
        delta[0] = 1
        kind[0] = _CONTINUE
        return 0
    return on_tick


def arm_epoch_callback(store: wasmtime.Store, callback, data: int) -> None:
    """Have ``callback`` (from :func:`epoch_callback`) decide at every tick for ``store``."""
    store.set_epoch_deadline(1)
    ffi.wasmtime_store_epoch_deadline_callback(store.ptr(), callback, data, _NO_FINALIZER)


def exported_function(store: wasmtime.Store, instance: wasmtime.Instance, name: str):
    """``instance.exports(store)[name]``, without wrapping every other export too."""
    raw = name.encode()
    item = ffi.wasmtime_extern_t()
    if not ffi.wasmtime_instance_export_get(store._context(), ctypes.byref(instance._instance),
                                            ctypes.cast(ctypes.c_char_p(raw), ctypes.POINTER(ctypes.c_char)),
                                            len(raw), ctypes.byref(item)):
        raise KeyError(name)
    return wrap_extern(item)
