"""Copies of a module that a peer can run as the notebook runs the original.

**For Wagi 0.8.1: no (module, name) imported twice.** Go's wasip1 modules import ``fd_write``
twice (its runtime's and package syscall's), which WebAssembly allows and Wagi 0.8.1's wasmtime
0.34 refuses: ``duplicate import name `wasi_snapshot_preview1::fd_write``` — and Wagi then starts
none of the app's routes. The copy imports each repeat from ``wasi_unstable`` instead, WASI's
snapshot 0, where these functions are the same (same arguments, same layouts, same errors); Wagi
links snapshot 0 as well, and wagi-nb defines them there too (``runtime/stdio.py``). Renaming
keeps every function's index, so nothing else in the module changes.

**For Spin 3: the entrypoint as ``_start``.** Spin 3 refuses to start an app whose wagi executor
has an ``entrypoint`` key (measured with 3.6.3: "cannot use deprecated 'entrypoint' field") and
runs ``_start`` (``wasi:cli/run``). A route whose entrypoint is another export gets a copy whose
``_start`` export is that function: called on a fresh instance, without the original ``_start``,
as Wagi calls an entrypoint.
"""
from __future__ import annotations

from typing import List, Optional

from .. import binary
from ..runtime.stdio import PREVIEW1, SNAPSHOT0

#: Functions whose snapshot 0 form is the preview 1 one, and that wagi-nb defines under snapshot 0.
RENAMABLE = frozenset({"fd_write"})


def repeated_imports(wasm: bytes) -> List[str]:
    """``module.name`` of every import the module repeats (each once)."""
    seen, repeated = set(), []
    for entry in binary.imports(binary.sections(wasm)):
        key = (entry.module, entry.name)
        if key in seen and f"{entry.module}.{entry.name}" not in repeated:
            repeated.append(f"{entry.module}.{entry.name}")
        seen.add(key)
    return repeated


def for_wagi(wasm: bytes) -> Optional[bytes]:
    """The module with its repeated imports renamed, or None when it repeats none. Raises
    ValueError naming the repeats it cannot rename."""
    repeated = repeated_imports(wasm)
    if not repeated:
        return None
    counts: dict = {}
    for entry in binary.imports(binary.sections(wasm)):
        counts[f"{entry.module}.{entry.name}"] = counts.get(f"{entry.module}.{entry.name}", 0) + 1
    stuck = [name for name in repeated if name.partition(".")[2] not in RENAMABLE or counts[name] > 2
             or not name.startswith(PREVIEW1 + ".")]
    if stuck:
        raise ValueError(", ".join(stuck))
    parts = binary.sections(wasm)
    seen, entries = set(), []
    for entry in binary.imports(parts):
        key = (entry.module, entry.name)
        if key in seen:
            entry = binary.ImportEntry(SNAPSHOT0, entry.name, entry.kind, entry.description)
        seen.add(key)
        entries.append(entry.encode())
    section = binary.Section(binary.IMPORT, binary.vector(entries))
    return binary.assemble([section if s.id == binary.IMPORT else s for s in parts])


def for_spin(wasm: bytes, entrypoint: str) -> bytes:
    """The module with its ``_start`` export naming the function ``entrypoint`` exports (which must
    take and return nothing)."""
    parts = binary.sections(wasm)
    section = binary.first(parts, binary.EXPORT)
    exports = binary.read_exports(section.body) if section is not None else []
    target = next((e for e in exports if e.name == entrypoint and e.kind == binary.FUNC_KIND), None)
    if section is None or target is None:
        raise ValueError(f"the module exports no function {entrypoint!r}")
    kept = [e for e in exports if e.name != "_start"]
    entries = [e.encode() for e in kept] + [binary.ExportEntry("_start", binary.FUNC_KIND, target.index).encode()]
    replaced = binary.Section(binary.EXPORT, binary.vector(entries))
    return binary.assemble([replaced if s is section else s for s in parts])
