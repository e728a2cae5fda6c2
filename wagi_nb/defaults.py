"""Every default limit and address in one place; the API, the magics and the command line read them."""
from __future__ import annotations

import os

#: Seconds a module may run: in a cell (and the notebook's routes), and per request of `wagi-nb serve`.
CELL_TIMEOUT = 10.0
SERVE_TIMEOUT = 30.0
#: What one instance may allocate (its linear memory and tables), in MiB.
MEMORY_MIB = 256
#: What one run may print to stdout, and to stderr, in MiB.
MAX_OUTPUT_MIB = 64.0
#: The largest request body, in MiB.
MAX_BODY_MIB = 16.0
#: What the answers to a run's outbound HTTP requests (wasi_experimental_http) may hold at once, in MiB.
MAX_OUTBOUND_MIB = 16.0
#: Requests that may wait for a module slot before new ones get 503.
MAX_QUEUE = 1024
#: Request line and headers, in bytes.
MAX_HEADER_BYTES = 64 * 1024
#: `wagi-nb serve --listen`, `--hostname`, and `%wagi_serve --port`.
LISTEN = "127.0.0.1:3000"
HOSTNAME = "localhost:3000"
NOTEBOOK_PORT = 3000


def usable_cpus() -> int:
    """The CPUs this process may run on (its affinity mask, which containers narrow)."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except (AttributeError, OSError):  # pragma: no cover (not Linux)
        return os.cpu_count() or 1


def serve_workers() -> int:
    """`wagi-nb serve` worker processes: one per usable CPU (`--workers N` says otherwise)."""
    return usable_cpus()


#: A request's module first runs on the server's event-loop thread, without a hand-off to a
#: thread of the pool, and is stopped there once it has used this many seconds of CPU time (or
#: five times that of wall-clock time), or as soon as it waits (a WASI sleep), then run again,
#: from the start, on the pool (see server/http.py). Most modules end in well under a
#: millisecond; the hand-off costs more. Every other request waits while one runs there.
INLINE_BUDGET = 0.002
#: A route whose runs on the event loop's thread use more CPU time than this (the median of its last
#: few) sends its next requests to the pool, as a run stopped at the budget does: the loop stays for
#: short runs. (Half a millisecond until the HTTP edge cost ~0.13 ms a request instead of ~0.3: then a
#: run of 0.5-1 ms cost ~0.12 ms more on the pool, in hand-offs and the GIL, than it held the loop.)
INLINE_SLOW = 0.001


def max_concurrency() -> int:
    """Modules running at once in one server process: 4 per core, at least 8."""
    return max(8, 4 * (os.cpu_count() or 1))
