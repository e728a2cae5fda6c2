"""An adapter's ``name`` section cut down to the names of its globals.

wit-component finds an adapter's shadow-stack pointer by its name (``__stack_pointer``, in the
``name`` section's global names); the function names are only debugging help, about 1 KB in every
component made with the adapter.
"""
from __future__ import annotations

from .. import binary

#: The ``name`` section's subsection of global names.
GLOBAL_NAMES = 7


def only_global_names(wasm: bytes) -> bytes:
    """``wasm`` with its ``name`` section holding only the global names (unchanged without one)."""
    parts = binary.sections(wasm)
    section = binary.first(parts, binary.CUSTOM, "name")
    if section is None:
        return wasm
    kept = binary.Section(binary.CUSTOM, binary.name("name") + _global_names(section.body))
    return binary.assemble([kept if part is section else part for part in parts])


def _global_names(body: bytes) -> bytes:
    position = binary.read_name(body, 0)[1]
    while position < len(body):
        subsection = body[position]
        size, start = binary.read_u32(body, position + 1)
        if subsection == GLOBAL_NAMES:
            return body[position:start + size]
        position = start + size
    return b""
