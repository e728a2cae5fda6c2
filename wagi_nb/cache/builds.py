"""Content-addressed store of compiled modules.

A build's key is the SHA-256 of one visible record: the source, the language,
the flags that change the output, the compiler's identity and version, and
wagi_nb's version. The same key always means the same ``.wasm``.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
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


class BuildCache:
    """``<root>/builds/<key[:2]>/<key>.wasm`` with a ``.json`` beside it.

    The ``.json`` is written after the ``.wasm``, so its presence means the
    entry is complete.
    """

    def __init__(self, root: Optional[Path] = None):
        self.root = Path(root) if root else cache_root()

    def paths(self, key: str) -> tuple:
        folder = self.root / "builds" / key[:2]
        return folder / f"{key}.wasm", folder / f"{key}.json"

    def get(self, key: str) -> Optional[tuple]:
        """(wasm path, CachedBuild) for a complete entry, else None."""
        wasm, meta = self.paths(key)
        try:
            record = CachedBuild(**json.loads(meta.read_text()))
        except (OSError, ValueError, TypeError):
            return None
        return (wasm, record) if wasm.is_file() else None

    def put(self, record: CachedBuild, wasm_bytes: bytes) -> Path:
        wasm, meta = self.paths(record.key)
        atomic_write(wasm, wasm_bytes)
        atomic_write(meta, json.dumps(asdict(record), indent=1).encode())
        return wasm
