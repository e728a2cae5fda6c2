"""The three adapters, built from this package's C sources (``adapter/``) on first use and kept.

* ``wagi_adapter``: ``wasi_snapshot_preview1`` on WASI 0.2 and the ``wasi:http/incoming-handler``
  export; it calls only the module's ``_start``.
* ``wagi_adapter_entries``: the same, built with ``-DWAGI_ENTRIES``: it also calls the module's
  entry slots (``entry_slots.py``).
* ``experimental_http``: ``wasi_experimental_http`` (Wagi's outbound HTTP) on
  ``wasi:http/outgoing-handler``, for a module that imports it (wit-component takes one adapter per
  import module name).

Each is compiled with clang for ``wasm32`` (freestanding, no libc) and linked by wasm-ld into a core
module that imports the main module's memory, then ``wasm-tools component embed`` writes its world
(``adapter/world.wit`` over the WASI 0.2.0 WIT files) into it. wit-component's rules for an adapter
are checked here, as errors: no data section (constant text must be written by stores, see
``adapter/common.h``), no element section (a function pointer), and no shadow stack in ``experimental_http``
(see its header). Its ``name`` section keeps only the global names (``names.py``).

The builds are kept under ``<cache>/bridge/adapters/<key>/``, the key the SHA-256 of the sources,
the flags, the clang and wasm-tools versions and the pinned WIT crate: a second export builds nothing.
"""
from __future__ import annotations

import functools
import hashlib
import json
import re
import shutil
import subprocess
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Dict, Sequence, Tuple

from .. import binary
from ..cache import atomic_write, cache_root
from . import tools
from .errors import BridgeUnavailable
from .names import only_global_names

SOURCES = Path(__file__).resolve().parent / "adapter"
WORLDS = "world.wit"

CFLAGS = ("--target=wasm32", "-Oz", "-ffreestanding", "-nostdlib", "-fno-builtin", "-fno-jump-tables",
          "-mbulk-memory", "-mmutable-globals", "-mno-sign-ext", "-Wall", "-Wextra", "-Werror",
          "-Wno-unused-function", "-Wno-error=pass-failed")
#: No entry point, the main module's memory, a small stack of its own only until ``wagi_enter``
#: moves it (``globals.s``), unused code dropped.
LDFLAGS = ("-Wl,--no-entry", "-Wl,--import-memory", "-Wl,--initial-memory=65536", "-Wl,-z,stack-size=4096",
           "-Wl,--gc-sections", "-Wl,--strip-debug")
PREVIEW1_SOURCES = ("adapter.c", "cgi.c", "preview1.c")


@dataclass(frozen=True)
class Recipe:
    name: str
    world: str
    defines: Tuple[str, ...]
    sources: Tuple[str, ...]
    #: It must not use a shadow stack (``__stack_pointer``).
    stackless: bool = False


RECIPES = (Recipe("wagi_adapter", "wagi", (), PREVIEW1_SOURCES),
           Recipe("wagi_adapter_entries", "wagi", ("-DWAGI_ENTRIES",), PREVIEW1_SOURCES),
           Recipe("experimental_http", "experimental-http", (), ("experimental_http.c",), stackless=True))


@dataclass(frozen=True)
class Adapters:
    """The built adapters (embedded worlds included), and the key they are kept under."""

    plain: Path
    entries: Path
    http: Path
    key: str


def adapters() -> Adapters:
    """The three adapters, built now if this cache has none for these sources and tools; raises
    :class:`BridgeUnavailable` (no wasm-tools, WIT files, clang or wasm-ld, or a build that fails)."""
    wasm_tools, deps, clang = tools.wasm_tools(), tools.wit_deps(), _clang()
    built = _adapters(wasm_tools, deps, clang, cache_root())
    if not all(path.is_file() for path in (built.plain, built.entries, built.http)):  # the cache was emptied
        _adapters.cache_clear()
        built = _adapters(wasm_tools, deps, clang, cache_root())
    return built


@functools.lru_cache(maxsize=8)
def _adapters(wasm_tools: Path, deps: Path, clang: str, root: Path) -> Adapters:
    key = adapter_key(clang_version(clang), tools.wasm_tools_version(wasm_tools) or "")
    folder = root / "bridge" / "adapters" / key
    paths = {recipe.name: folder / f"{recipe.name}.wasm" for recipe in RECIPES}
    if not all(path.is_file() for path in paths.values()):
        with tempfile.TemporaryDirectory(prefix="wagi-nb-adapters-") as work:
            built = _build_all(Path(work), wasm_tools, deps, clang)
        for name, wasm in built.items():
            atomic_write(paths[name], wasm)
    return Adapters(plain=paths["wagi_adapter"], entries=paths["wagi_adapter_entries"],
                    http=paths["experimental_http"], key=key)


def adapter_key(clang: str, wasm_tools: str) -> str:
    """What the adapters are made of, as one SHA-256: sources, flags, recipes, tool versions."""
    record = {"sources": {path.name: hashlib.sha256(path.read_bytes()).hexdigest() for path in source_files()},
              "cflags": CFLAGS, "ldflags": LDFLAGS, "recipes": [asdict(recipe) for recipe in RECIPES],
              "clang": clang, "wasm-tools": wasm_tools, "wit": tools.WIT_SHA256}
    return hashlib.sha256(json.dumps(record, sort_keys=True).encode()).hexdigest()


def source_files() -> Sequence[Path]:
    return sorted(path for path in SOURCES.iterdir() if path.suffix in (".c", ".h", ".s", ".wit"))


# -- the compiler ------------------------------------------------------------------------------------
def _clang() -> str:
    clang, linker = shutil.which("clang"), shutil.which("wasm-ld")
    if clang and linker:
        return clang
    missing = [name for name, path in (("clang", clang), ("wasm-ld", linker)) if not path]
    raise BridgeUnavailable(f"The component bridge builds its adapter with clang and wasm-ld, and "
                            f"{' and '.join(missing)} {'is' if len(missing) == 1 else 'are'} not on PATH. Install "
                            f"them (Debian: apt-get install clang lld), then run `{tools.INSTALL}` to check the rest.")


@functools.lru_cache(maxsize=8)
def clang_version(clang: str) -> str:
    """clang's first ``--version`` line (``Debian clang version 14.0.6``)."""
    said = subprocess.run([clang, "--version"], capture_output=True, text=True, timeout=60).stdout
    return said.splitlines()[0].strip() if said else "unknown"


# -- the build ---------------------------------------------------------------------------------------
def _build_all(work: Path, wasm_tools: Path, deps: Path, clang: str) -> Dict[str, bytes]:
    wit = work / "wit"
    wit.mkdir()
    shutil.copy(SOURCES / WORLDS, wit / WORLDS)
    (wit / "deps").symlink_to(deps, target_is_directory=True)
    globals_o = work / "globals.o"
    _run([clang, "--target=wasm32", "-c", str(SOURCES / "globals.s"), "-o", str(globals_o)], "assemble globals.s")
    return {recipe.name: _build(recipe, work, wit, globals_o, wasm_tools, clang) for recipe in RECIPES}


def _build(recipe: Recipe, work: Path, wit: Path, globals_o: Path, wasm_tools: Path, clang: str) -> bytes:
    core = work / f"{recipe.name}.core.wasm"
    _run([clang, *CFLAGS, *recipe.defines, *LDFLAGS, "-o", str(core),
          *(str(SOURCES / source) for source in recipe.sources), str(globals_o)], f"build {recipe.name}")
    _check(recipe, core, wasm_tools, clang)
    core.write_bytes(only_global_names(core.read_bytes()))
    embedded = work / f"{recipe.name}.wasm"
    _run([str(wasm_tools), "component", "embed", str(wit), "--world", recipe.world, str(core), "-o", str(embedded)],
         f"embed the world {recipe.world} in {recipe.name}")
    return embedded.read_bytes()


#: Sections an adapter may not have: wit-component places it in the main module's memory, where it
#: owns no fixed address. (wasm-ld's empty function table is accepted; a function pointer would need
#: an element segment.)
FORBIDDEN = {binary.DATA: "a data section (a string literal or a lookup table slipped in: see common.h)",
             12: "a data count section", binary.ELEMENT: "an element section (a function pointer)"}


def _check(recipe: Recipe, core: Path, wasm_tools: Path, clang: str) -> None:
    found = [FORBIDDEN[part.id] for part in binary.sections(core.read_bytes()) if part.id in FORBIDDEN]
    if found:
        raise BridgeUnavailable(f"The {recipe.name} adapter built by {clang_version(clang)} has "
                                f"{', '.join(found)}, which wit-component refuses in an adapter; this compiler "
                                "does not build it as Debian 12's clang 14 does.")
    if recipe.stackless:
        text = _run([str(wasm_tools), "print", str(core)], f"print {recipe.name}")
        if re.search(r"global\.[gs]et \$__stack_pointer\b", text):
            raise BridgeUnavailable(f"The {recipe.name} adapter uses a shadow stack, which would sit in the "
                                    "pages an old allocator claims (see experimental_http.c); this compiler "
                                    "does not build it as Debian 12's clang 14 does.")


def _run(argv: Sequence[str], what: str) -> str:
    done = subprocess.run(list(argv), capture_output=True, text=True, timeout=300)
    if done.returncode != 0:
        raise BridgeUnavailable(f"Could not {what} for the component bridge ({Path(argv[0]).name} failed): "
                                f"{(done.stderr or done.stdout).strip()[-1500:]}")
    return done.stdout
