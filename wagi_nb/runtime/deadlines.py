"""Stopping a running module: wall-clock timeouts, Ctrl-C and the output cap, through epoch interruption.

One ticker thread advances the engine's epoch every :data:`TICK` seconds. Each
store has a deadline of one tick and an epoch callback that, at every tick,
either lets the module go on or stops it (it timed out, someone cancelled it,
or its captured output grew past the cap). The callback runs on the thread that
runs the module, so no store is ever touched from another thread. A module
waiting in a host call sees no ticks: ``poll_oneoff.py`` covers the one host
call that waits.
"""
from __future__ import annotations

import itertools
import threading
import time
from typing import Optional

from .wasmtime_internals import arm_epoch_callback, epoch_callback

TICK = 0.01


class Deadline:
    """The stop conditions of one run: a wall-clock timeout, cancelling, an output cap.

    ``max_output`` (bytes) applies to each of ``outputs`` (the captured stdout and stderr,
    anything with a ``size``: all that was written); it is looked at every tick, and the captures
    keep no more than the cap meanwhile.
    """

    def __init__(self, timeout: Optional[float], max_output: Optional[int] = None,
                 outputs: tuple = ()):
        self.timeout = timeout
        self.expires = None if timeout is None else time.monotonic() + timeout
        self.max_output = max_output
        self.outputs = outputs
        self.cancelled = False
        #: Made by the first :meth:`sleep` only: most runs never sleep, and an Event costs a lock.
        self._wake: Optional[threading.Event] = None
        #: Why the module was stopped: "timeout", "interrupted", "output", or None.
        self.reason: Optional[str] = None

    #: Whether the run may wait (a WASI sleep): not on a server's event loop (``CpuBudget``), where
    #: every other request would wait with it; such a run is stopped as soon as it would.
    may_wait = True

    def cancel(self) -> None:
        self.cancelled = True
        wake = self._wake
        if wake is not None:
            wake.set()

    def sleep(self, seconds: float) -> None:
        """Wait ``seconds``, or less if the run is cancelled meanwhile (on the run's own thread)."""
        if self._wake is None:
            self._wake = threading.Event()
        if not self.cancelled:  # (looked at after the Event exists: a cancel() before it is seen here)
            self._wake.wait(seconds)

    def check(self) -> Optional[str]:
        if self.cancelled:
            return "interrupted"
        if self.expires is not None and time.monotonic() >= self.expires:
            return "timeout"
        if self.max_output is not None:
            for output in self.outputs:
                if output.size > self.max_output:
                    return "output"
        return None


_active: dict = {}
_ids = itertools.count(1)


def _decide(data: int) -> Optional[str]:
    deadline = _active.get(data)
    reason = deadline.check() if deadline else None
    if deadline is None or not reason:
        return None
    deadline.reason = reason
    return f"wagi_nb: module stopped ({reason})"


_on_tick = epoch_callback(_decide)


class watch:
    """``with watch(store, deadline):`` — the module in ``store`` obeys ``deadline``."""

    def __init__(self, store, deadline: Deadline):
        self.store, self.deadline, self.id = store, deadline, next(_ids)

    def __enter__(self):
        _active[self.id] = self.deadline
        arm_epoch_callback(self.store, _on_tick, self.id)
        return self.deadline

    def __exit__(self, *exc):
        _active.pop(self.id, None)
        return False


def cancel_all() -> int:
    """Cancel every run in progress (a server that is stopping); returns how many."""
    running = list(_active.values())
    for deadline in running:
        deadline.cancel()
    return len(running)


def start_ticker(engine) -> threading.Thread:
    def tick():
        while True:
            time.sleep(TICK)
            engine.increment_epoch()
    thread = threading.Thread(target=tick, name="wagi_nb-epoch", daemon=True)
    thread.start()
    return thread
