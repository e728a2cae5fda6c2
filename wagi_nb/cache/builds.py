"""Content-addressed store of compiled modules.

A build's key is the SHA-256 of one visible record: the source, the language,
the flags that change the output, the compiler's identity and version, and
wagi_nb's version. The same key always means the same ``.wasm``.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Optional

from .._version import __version__
from .root import atomic_write, cache_root


def build_key(source: str, language: str, flags: dict, toolchain: dict) -> str:
    record = {"source": source, "language": language, "flags": flags,
              "toolchain": toolchain, "wagi_nb": __version__}
    return hashlib.sha256(json.dumps(record, sort_keys=True).encode()).hexdigest()


@dataclass(kw_only=True)
class CachedBuild:
    """What the cache remembers of a build besides the ``.wasm`` itself."""

    key: str
    language: str
    toolchain: dict
    flags: dict
    build_seconds: float
    warnings: str = ""
    #: Files an export needs to rebuild the module the same way (``go.mod``, ``Cargo.lock``), and
    #: which of them is the source (Cargo's ``src/main.rs``), if one is.
    project_files: dict = field(default_factory=dict)
    project_main: str = ""
    #: An interpreted cell's script file name: the entry is a folder holding it, not a ``.wasm``.
    script: str = ""


class BuildCache:
    """``<root>/builds/<key[:2]>/<key>.wasm`` (or, for an interpreted cell, the folder
    ``<key>.app/`` holding its script) with a ``.json`` beside it.

    The ``.json`` is written last, so its presence means the entry is complete.
    """

    def __init__(self, root: Optional[Path] = None):
        self.root = Path(root) if root else cache_root()

    def paths(self, key: str) -> tuple:
        folder = self.root / "builds" / key[:2]
        return folder / f"{key}.wasm", folder / f"{key}.json"

    def get(self, key: str) -> Optional[tuple]:
        """(wasm path or script folder, CachedBuild) for a complete entry, else None."""
        wasm, meta = self.paths(key)
        try:
            record = CachedBuild(**json.loads(meta.read_text()))
        except (OSError, ValueError, TypeError):
            return None
        if record.script:
            folder = wasm.with_suffix(".app")
            return (folder, record) if (folder / record.script).is_file() else None
        return (wasm, record) if wasm.is_file() else None

    def put(self, record: CachedBuild, wasm_bytes: bytes) -> Path:
        wasm, meta = self.paths(record.key)
        atomic_write(wasm, wasm_bytes)
        atomic_write(meta, json.dumps(asdict(record), indent=1).encode())
        return wasm

    def put_script(self, record: CachedBuild, text: str) -> Path:
        """Keep an interpreted cell's script as ``<key>.app/<record.script>``; returns the folder."""
        wasm, meta = self.paths(record.key)
        folder = wasm.with_suffix(".app")
        atomic_write(folder / record.script, text.encode("utf-8"))
        atomic_write(meta, json.dumps(asdict(record), indent=1).encode())
        return folder
