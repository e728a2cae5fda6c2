"""The limits of one run, as one value (:class:`RunLimits`), and what the memory limit means.

A cell, a route, a call of an exported function and a server's request all run under a
:class:`RunLimits`: a wall-clock timeout, a memory limit for the instance, a cap on what it
prints. ``Runtime.run`` and ``Runtime.running`` (engine.py) are the one place that applies them.

wasmtime's store limits are per linear memory and per table, so a bound on the
instance as a whole needs a bound on how many of each it may have as well: one
linear memory of up to the limit (every toolchain wagi_nb knows emits one) and up
to :data:`TABLES` tables whose elements, 8 bytes each, take at most a sixteenth
of the limit between them. An instance thus holds at most 1.0625 × the limit.
"""
from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from typing import Optional

from .. import defaults

MiB = 1024 * 1024
TABLES = 4
#: Bytes a table element takes in wasmtime (a function reference).
TABLE_ELEMENT_BYTES = 8
#: Tables are never limited below this many elements (a large interpreter has ~20,000 functions).
MIN_TABLE_ELEMENTS = 65536


@dataclass(frozen=True)
class RunLimits:
    """What one run may take; None lifts a limit."""

    #: Wall-clock seconds, computing or waiting in a WASI call.
    timeout: Optional[float] = defaults.CELL_TIMEOUT
    #: MiB the instance may allocate: its linear memory and tables.
    memory_limit_mib: Optional[float] = defaults.MEMORY_MIB
    #: MiB it may print to stdout, and to stderr; past it the module is stopped.
    max_output_mib: Optional[float] = defaults.MAX_OUTPUT_MIB

    def but(self, **changes) -> "RunLimits":
        """These limits with the ones given (not None) replaced: ``limits.but(timeout=args.timeout)``."""
        given = {k: v for k, v in changes.items() if v is not None}
        return dataclasses.replace(self, **given) if given else self  # (every request asks: most change none)


#: A cell's, and the Python API's (10 s).
CELL_LIMITS = RunLimits()
#: A server's request (``wagi-nb serve``): 30 s.
SERVE_LIMITS = RunLimits(timeout=defaults.SERVE_TIMEOUT)


def instance_limits(memory_limit_mib: float) -> dict:
    """Keyword arguments for :meth:`wasmtime.Store.set_limits`."""
    limit = int(memory_limit_mib * MiB)
    elements = max(MIN_TABLE_ELEMENTS, limit // 16 // TABLES // TABLE_ELEMENT_BYTES)
    # Two instances: the module's, and the helper through which stdio.py calls wasmtime's own WASI
    # functions (it imports the module's memory, and has no memory or table of its own).
    return dict(memory_size=limit, memories=1, tables=TABLES, table_elements=elements, instances=2)


_LIMITS = re.compile(r"(memory|table) minimum size .* exceeds|resource limit exceeded|"
                     r"(memory|table|instance)s? count|count of (memories|tables|instances)", re.I)


def limit_message(error: str, memory_limit_mib: Optional[float]) -> Optional[str]:
    """One line for an instantiation that broke the limits, or None for any other error."""
    if not _LIMITS.search(error):
        return None
    first = error.strip().splitlines()[0] if error.strip() else error
    return (f"the module asks for more than an instance may have ({first}): one linear memory of "
            f"up to {memory_limit_mib:g} MiB (the memory limit) and at most {TABLES} tables")
