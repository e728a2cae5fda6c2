"""Waiting for something a process does in its own time (a connection, a file, an exit)."""
from __future__ import annotations

import time


def wait_until(condition, timeout: float = 30, what: str = "condition", interval: float = 0.02) -> None:
    """Call ``condition()`` every ``interval`` seconds until it is true; an AssertionError naming
    ``what`` once ``timeout`` seconds have passed."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(interval)
