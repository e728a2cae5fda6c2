"""Where wasmtime's compiled native code is kept: one ``.cwasm`` per module and wasmtime version."""
from __future__ import annotations

import os
from importlib.metadata import version
from pathlib import Path

from .root import cache_root

#: Set this to keep native code apart from the build cache (``wagi-nb serve --module-cache DIR`` sets
#: it, so that the worker processes it starts use the same folder).
NATIVE_CACHE_ENV = "WAGI_NB_NATIVE_CACHE_DIR"
WASMTIME_VERSION = version("wasmtime")


def native_cache_dir() -> Path:
    """``$WAGI_NB_NATIVE_CACHE_DIR``, else ``<cache root>/native``."""
    configured = os.environ.get(NATIVE_CACHE_ENV)
    return Path(configured).expanduser() if configured else cache_root() / "native"


def native_code_path(sha: str) -> Path:
    """The cached native code of the module whose SHA-256 is ``sha``."""
    return native_cache_dir() / sha[:2] / f"{sha}-wasmtime{WASMTIME_VERSION}.cwasm"
