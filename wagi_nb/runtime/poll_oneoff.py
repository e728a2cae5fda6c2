"""WASI ``poll_oneoff`` that a run's deadline and Ctrl-C can cut short.

Epoch interruption only stops a module while it runs wasm code, never inside a
host call, so a module asleep in ``poll_oneoff`` (``sleep()``, ``nanosleep()``,
Go's scheduler) would outlive any timeout. This replacement, defined over
wasmtime's own in the linker, waits for clock subscriptions itself in short
slices and gives up as soon as the run is cancelled or out of time; the epoch
callback then stops the module at its next instruction. Subscriptions on file
descriptors are ready at once: every descriptor a run has (captured stdin,
stdout and stderr, files in preopened folders) is a regular file, which is always
ready. (wasmtime's own ``poll_oneoff`` cannot be called from here to do that
part: it needs the calling instance's memory.)
"""
from __future__ import annotations

import struct
import threading
import time
from typing import Optional

import wasmtime

from .deadlines import Deadline

SUBSCRIPTION_SIZE = 48
EVENT_SIZE = 32
CLOCK, FD_READ, FD_WRITE = 0, 1, 2
REALTIME, MONOTONIC = 0, 1
ABSTIME = 1
ESUCCESS, EFAULT, EINVAL = 0, 21, 28
#: The longest single sleep between two looks at the deadline.
SLICE = 0.05

_SUBSCRIPTION = struct.Struct("<QB7xIxxxxQQH6x")  # userdata, tag, clock id, timeout, precision, flags
_EVENT = struct.Struct("<QHB5xQH6x")              # userdata, errno, type, nbytes, flags


class RunClock:
    """What the host ``poll_oneoff`` needs to know about the run on this thread."""

    def __init__(self):
        self._local = threading.local()

    def start(self, deadline: Deadline) -> None:
        """Call just before ``Store.set_wasi``: the module's monotonic clock starts there."""
        self._local.deadline = deadline
        self._local.origin = time.monotonic_ns()

    @property
    def deadline(self) -> Optional[Deadline]:
        return getattr(self._local, "deadline", None)

    @property
    def origin(self) -> int:
        return getattr(self._local, "origin", 0)


def define(linker: wasmtime.Linker, clock: RunClock) -> None:
    """Put the interruptible ``poll_oneoff`` in ``linker`` (which already has WASI)."""

    def poll_oneoff(caller, subscriptions: int, events: int, count: int, nevents_ptr: int) -> int:
        # Never raise: an exception in a host function is parked in a global of wasmtime-py's
        # (not per thread), where another thread's trap could pick it up.
        try:
            memory = caller.get("memory")
            if count == 0:
                return EINVAL
            if not isinstance(memory, wasmtime.Memory):
                return EFAULT
            size = memory.data_len(caller)
            if subscriptions + count * SUBSCRIPTION_SIZE > size or events + count * EVENT_SIZE > size \
                    or nevents_ptr + 4 > size or min(subscriptions, events, nevents_ptr) < 0:
                return EFAULT
            raw = memory.read(caller, subscriptions, subscriptions + count * SUBSCRIPTION_SIZE)
            subs = [_SUBSCRIPTION.unpack_from(raw, index * SUBSCRIPTION_SIZE) for index in range(count)]
            if any(tag != CLOCK for _, tag, *_ in subs):
                ready = [(userdata, tag) for userdata, tag, *_ in subs if tag != CLOCK]
                return _report(caller, memory, ready, events, nevents_ptr)
            return _wait_for_clocks(caller, memory, subs, events, nevents_ptr, clock)
        except Exception:
            return EFAULT

    # A type per linker: wasmtime ties a function type to the first engine it is used with.
    poll_type = wasmtime.FuncType([wasmtime.ValType.i32()] * 4, [wasmtime.ValType.i32()])
    linker.allow_shadowing = True
    linker.define_func("wasi_snapshot_preview1", "poll_oneoff", poll_type, poll_oneoff,
                       access_caller=True)
    linker.allow_shadowing = False


def _wait_for_clocks(caller, memory, subs, events: int, nevents_ptr: int, clock: RunClock) -> int:
    now = time.monotonic_ns()
    due = []
    for userdata, _tag, clock_id, timeout, _precision, flags in subs:
        if flags & ABSTIME:
            if clock_id == REALTIME:
                wait = timeout - time.time_ns()
            else:  # the module's monotonic (and CPU-time) clocks count from the store's creation
                wait = timeout - (now - clock.origin)
        else:
            wait = timeout
        due.append((now + max(0, wait), userdata))
    first = min(when for when, _ in due)
    deadline = clock.deadline
    while True:
        left = first - time.monotonic_ns()
        if left <= 0:
            break
        if deadline is not None and not deadline.may_wait:
            deadline.reason = "timeout"  # (a run that may not wait: it is stopped, and run elsewhere)
            break
        if deadline is not None:
            reason = deadline.check()
            if reason:
                # The epoch callback stops the module as soon as it runs wasm again; the reason is
                # kept now so that a module ending before that still counts as stopped.
                deadline.reason = reason
                break
            deadline.sleep(min(left / 1e9, SLICE))
        else:
            time.sleep(min(left / 1e9, SLICE))
    now = time.monotonic_ns()
    ready = [(userdata, CLOCK) for when, userdata in due if when <= now] or [(due[0][1], CLOCK)]
    return _report(caller, memory, ready, events, nevents_ptr)


def _report(caller, memory, ready: list, events: int, nevents_ptr: int) -> int:
    """Write one event per ``(userdata, type)``: no error, nothing known about sizes."""
    out = b"".join(_EVENT.pack(userdata, ESUCCESS, kind, 0, 0) for userdata, kind in ready)
    memory.write(caller, out, events)
    memory.write(caller, struct.pack("<I", len(ready)), nevents_ptr)
    return ESUCCESS
