"""The language registry: one file per language in this package, each defining ``TOOLCHAIN``.

Everything that knows about languages reads this registry: ``build()``, the
``%%wasm_<language>`` magics and their settings, ``%wasm_toolchains`` and
``wagi-nb toolchains``, the headless notebook reader and the export. Adding a
language is adding its file.

>>> from wagi_nb.toolchains import get_toolchain
>>> get_toolchain("rust").discover().found   # doctest: +SKIP
True
"""
from __future__ import annotations

import functools
import importlib
import pkgutil
from typing import Dict, Optional

from ..errors import ToolchainNotFound, WagiNbError
from . import cargo, discovery_cache
from .base import Toolchain, ToolchainInfo, missing_message


def _registry() -> Dict[str, Toolchain]:
    found = []
    for module in pkgutil.iter_modules(__path__):
        toolchain = getattr(importlib.import_module(f"{__name__}.{module.name}"), "TOOLCHAIN", None)
        if isinstance(toolchain, Toolchain):
            found.append(toolchain)
    return {tc.language: tc for tc in sorted(found, key=lambda tc: (tc.order, tc.language))}


#: language → Toolchain, in the order ``%wasm_toolchains`` lists them.
TOOLCHAINS: Dict[str, Toolchain] = _registry()
ALIASES = {alias: tc.language for tc in TOOLCHAINS.values() for alias in tc.aliases}
#: Cell magic name (``wasm_rust``) → Toolchain.
MAGICS = {tc.magic: tc for tc in TOOLCHAINS.values()}

#: Compiler chosen by the user per language (a path or a name on PATH); set by
#: :func:`set_compiler`, by traitlets config (``WasmMagics.rustc`` …) or ``%config``.
overrides: dict = {}


def get_toolchain(language: str) -> Toolchain:
    key = ALIASES.get(language.lower(), language.lower())
    if key not in TOOLCHAINS:
        raise WagiNbError(f"Unknown language {language!r}. wagi_nb compiles "
                          f"{', '.join(TOOLCHAINS)}; pass one of those as language=.")
    return TOOLCHAINS[key]


#: Whether this process probes again instead of using results kept on disk (after :func:`refresh`).
_probe_again = False


@functools.lru_cache(maxsize=None)
def _discover(language: str, override: Optional[str]) -> ToolchainInfo:
    return discovery_cache.discover(TOOLCHAINS[language], override, use_kept=not _probe_again)


def discover(language: str) -> ToolchainInfo:
    """What compiler ``language`` would use now: memoised per process, and kept on disk for the
    next process while the compilers it found are unchanged (``discovery_cache.py``); see
    :func:`refresh`."""
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
    """Forget discovery results, e.g. after installing a toolchain: from now on this process asks
    the compilers again (once per language) and rewrites the results kept on disk."""
    global _probe_again
    _probe_again = True
    _discover.cache_clear()
    cargo._paired.cache_clear()


def all_toolchains() -> list:
    """Discovery results for every language, in the registry's order."""
    return [discover(language) for language in TOOLCHAINS]


__all__ = ["Toolchain", "ToolchainInfo", "TOOLCHAINS", "MAGICS", "get_toolchain", "discover",
           "require", "set_compiler", "refresh", "all_toolchains", "overrides"]
