"""Entry slots: the module's functions other than ``_start`` that the adapter can call.

The adapter reaches the module's functions only through imports from ``__main_module__``, whose
names are fixed when the adapter is built, and wit-component requires every such import to exist
in the module. So the entries adapter imports ``wagi-entry-0`` .. ``wagi-entry-7`` besides
``_start``, and the module gets eight more exports with those names: slot ``k + 1`` of the
component environment (``WAGI_NB_ENTRY``, ``WAGI_NB_ROUTES``) is export ``wagi-entry-k``, an alias of
the ``k``-th entrypoint asked for; the slots not asked for alias ``_start``. Slot 0 is ``_start``
itself. Only the export section changes: no code, no index.
"""
from __future__ import annotations

from typing import Sequence

from .. import binary

SLOTS = 8
PREFIX = "wagi-entry-"


def with_entry_slots(wasm: bytes, entrypoints: Sequence[str]) -> bytes:
    """``wasm`` exporting ``wagi-entry-0..7`` as aliases of ``entrypoints`` (then of ``_start``); an
    export of that name the module already had is replaced. Raises ValueError for more than
    :data:`SLOTS` entrypoints, or a name that is not an exported function."""
    if len(entrypoints) > SLOTS:
        raise ValueError(f"{len(entrypoints)} entrypoints; the adapter has {SLOTS} slots")
    parts = binary.sections(wasm)
    section = binary.first(parts, binary.EXPORT)
    exports = binary.read_exports(section.body) if section is not None else []
    functions = {entry.name: entry.index for entry in exports if entry.kind == binary.FUNC_KIND}
    kept = [entry for entry in exports if not entry.name.startswith(PREFIX)]
    aliases = []
    for slot in range(SLOTS):
        target = entrypoints[slot] if slot < len(entrypoints) else "_start"
        if target not in functions:
            raise ValueError(f"the module exports no function {target!r}")
        aliases.append(binary.ExportEntry(f"{PREFIX}{slot}", binary.FUNC_KIND, functions[target]))
    replaced = binary.Section(binary.EXPORT, binary.vector([entry.encode() for entry in kept + aliases]))
    return binary.assemble([replaced if part is section else part for part in parts])
