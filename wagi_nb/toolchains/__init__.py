"""Compilers from cell source to ``wasm32-wasi``, one module per language.

>>> from wagi_nb.toolchains import get_toolchain
>>> get_toolchain("rust").discover().found   # doctest: +SKIP
True
"""
from __future__ import annotations

import functools
from typing import Optional

from ..errors import ToolchainNotFound, WagiNbError
from .base import Toolchain, ToolchainInfo, missing_message
from .clang import Clang, ClangCxx
from .rust import Rust
from .wat import Wat
from .zig import Zig

TOOLCHAINS = {tc.language: tc for tc in (Rust(), Clang(), ClangCxx(), Zig(), Wat())}
ALIASES = {"rs": "rust", "c++": "cpp", "cxx": "cpp"}

#: Compiler chosen by the user per language (a path or a name on PATH); set by
#: :func:`set_compiler`, by traitlets config (``WasmMagics.rustc`` …) or ``%config``.
overrides: dict = {}


def get_toolchain(language: str) -> Toolchain:
    key = ALIASES.get(language.lower(), language.lower())
    if key not in TOOLCHAINS:
        raise WagiNbError(f"Unknown language {language!r}. wagi_nb compiles "
                          f"{', '.join(TOOLCHAINS)}; pass one of those as language=.")
    return TOOLCHAINS[key]


@functools.lru_cache(maxsize=None)
def _discover(language: str, override: Optional[str]) -> ToolchainInfo:
    return TOOLCHAINS[language].discover(override)


def discover(language: str) -> ToolchainInfo:
    """What compiler ``language`` would use now (memoised per process; see :func:`refresh`)."""
    toolchain = get_toolchain(language)
    return _discover(toolchain.language, overrides.get(toolchain.language) or None)


def require(language: str) -> ToolchainInfo:
    """Like :func:`discover`, but raise :class:`~wagi_nb.errors.ToolchainNotFound` if missing."""
    toolchain = get_toolchain(language)
    info = discover(language)
    if not info.found:
        raise ToolchainNotFound(missing_message(info, toolchain.title))
    return info


def set_compiler(language: str, path: Optional[str]) -> None:
    """Use ``path`` to compile ``language`` (None: back to discovery)."""
    overrides[get_toolchain(language).language] = path or None


def refresh() -> None:
    """Forget discovery results, e.g. after installing a toolchain."""
    _discover.cache_clear()


def all_toolchains() -> list:
    """Discovery results for every language, in a stable order."""
    return [discover(language) for language in TOOLCHAINS]


__all__ = ["Toolchain", "ToolchainInfo", "TOOLCHAINS", "get_toolchain", "discover", "require",
           "set_compiler", "refresh", "all_toolchains", "overrides"]
