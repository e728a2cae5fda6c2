"""The Python API: build a source into a module, run it.

>>> import wagi_nb
>>> hello = wagi_nb.build('fn main() { println!("Hello, world!"); }', language="rust")
>>> hello.run().text                                   # doctest: +SKIP
'Hello, world!\\n'

Nothing here needs Jupyter; the magics are a thin skin over these functions.
"""
from __future__ import annotations

import os
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Mapping, Optional, Sequence, Union

from . import toolchains
from .cache import BuildCache, CachedBuild, build_key
from .errors import WagiNbError
from . import defaults
from .runtime import LoadedModule, RunResult, get_runtime
from .toolchains.base import Progress

#: Modules kept under a name (``build(..., name=...)``, the magics' ``-n/--name``).
modules: dict = {}


@dataclass(kw_only=True)
class Artifact:
    """A compiled ``.wasm`` module, ready to run."""

    language: str
    wasm_path: Path
    #: The build cache key ("" for a module loaded from a file).
    key: str = ""
    #: Compiler identity: name, path, version, target.
    toolchain: dict = field(default_factory=dict)
    #: How long the compiler ran when this module was built.
    build_seconds: float = 0.0
    #: True when this call found the module in the cache and started no compiler.
    cached: bool = False
    #: The compiler's warnings, if any.
    warnings: str = ""
    name: Optional[str] = None
    #: The build flags that went into the key (``{"release": True}``).
    flags: dict = field(default_factory=dict)

    @property
    def wasm(self) -> bytes:
        return Path(self.wasm_path).read_bytes()

    @property
    def size(self) -> int:
        return os.path.getsize(self.wasm_path)

    def load(self) -> LoadedModule:
        """The module compiled to native code and linked (cached on disk and in memory)."""
        return get_runtime().load(self.wasm_path)

    def run(self, args: Union[str, Sequence[str]] = (), *, env: Optional[Mapping] = None,
            stdin: Union[bytes, str] = b"", timeout: Optional[float] = defaults.CELL_TIMEOUT,
            memory_limit_mib: Optional[int] = defaults.MEMORY_MIB,
            max_output_mib: Optional[float] = defaults.MAX_OUTPUT_MIB,
            dirs: Iterable = (), entrypoint: str = "_start", inherit_stdio: bool = False) -> RunResult:
        """Run the module once on a fresh instance and return what it printed and how it ended.

        ``args`` is a list, or a string split like a shell would. ``env`` is
        all the module sees (nothing is inherited from this process).
        ``dirs`` are ``"HOST[:GUEST][:ro]"`` strings or ``(host, guest)`` pairs to
        preopen; nothing else of the file system is reachable. ``memory_limit_mib``
        bounds all the instance allocates; ``max_output_mib`` caps stdout and stderr
        (the module is stopped past it); None lifts either.
        ``inherit_stdio`` connects the module to this process's standard
        streams instead of capturing them.
        """
        if isinstance(args, str):
            import shlex
            args = shlex.split(args)
        program = f"{self.name or 'main'}.wasm"
        return get_runtime().run(self.load(), args, env=env, stdin=stdin, timeout=timeout,
                                 memory_limit_mib=memory_limit_mib, max_output_mib=max_output_mib,
                                 dirs=parse_dirs(dirs),
                                 entrypoint=entrypoint, program=program,
                                 inherit_stdio=inherit_stdio)

    @property
    def how_built(self) -> str:
        """``"cached"`` or ``"built in 0.31 s"``."""
        return "cached" if self.cached else f"built in {self.build_seconds:.2f} s"

    def __repr__(self) -> str:
        return (f"<Artifact {self.name or self.key[:12] or self.wasm_path} ({self.language}, "
                f"{self.size:,} bytes, {self.how_built})>")


def parse_dirs(dirs: Iterable) -> list:
    """``"HOST[:GUEST][:ro]"`` or ``(host, guest[, read_only])`` → ``[(host, guest, read_only)]``;
    GUEST defaults to HOST."""
    preopens = []
    for item in dirs:
        if isinstance(item, (tuple, list)):
            host, guest, *rest = item
            read_only = bool(rest and rest[0])
        else:
            text = str(item)
            read_only = text.endswith(":ro")
            host, _, guest = (text[:-3] if read_only else text).partition(":")
            guest = guest or host
        if not os.path.isdir(host):
            raise WagiNbError(f"Cannot preopen {host!r}: no such folder on this machine. "
                              "Pass an existing folder as HOST[:GUEST][:ro].")
        preopens.append((os.path.abspath(host), guest, read_only))
    return preopens


def build(source: str, language: str, *, name: Optional[str] = None, release: bool = True,
          force: bool = False, line_offset: int = 0, progress: Optional[Progress] = None,
          cache: Optional[BuildCache] = None) -> Artifact:
    """Compile ``source`` to a ``wasm32-wasi`` module, or fetch it from the build cache.

    ``language`` is one of ``rust``, ``c``, ``cpp``, ``zig``, ``wat``.
    ``line_offset`` shifts the compiler's line numbers (the magics pass 1, so
    errors point at the lines as the notebook numbers them). ``force``
    rebuilds even when the cache has the module. Raises
    :class:`~wagi_nb.errors.CompileError` with the diagnostics, or
    :class:`~wagi_nb.errors.ToolchainNotFound` naming the install command.
    """
    toolchain = toolchains.get_toolchain(language)
    info = toolchains.require(toolchain.language)
    text = "\n" * line_offset + source
    flags = {"release": release} if toolchain.has_profiles else {}
    key = build_key(text, toolchain.language, flags, toolchain.key_inputs(info, release))
    cache = cache or BuildCache()
    hit = None if force else cache.get(key)
    if hit:
        wasm_path, record = hit
        artifact = Artifact(language=toolchain.language, wasm_path=wasm_path, key=key,
                            toolchain=record.toolchain, build_seconds=record.build_seconds, cached=True,
                            warnings=record.warnings, name=name, flags=flags)
    else:
        with tempfile.TemporaryDirectory(prefix="wagi_nb-build-") as folder:
            workdir = Path(folder)
            source_name = f"cell.{toolchain.extension}"
            (workdir / source_name).write_text(text, encoding="utf-8")
            start = time.perf_counter()
            warnings = toolchain.compile(info, workdir, source_name, "cell.wasm", release, progress)
            seconds = time.perf_counter() - start
            record = CachedBuild(key=key, language=toolchain.language, toolchain=info.identity,
                                 flags=flags, build_seconds=seconds, warnings=warnings)
            wasm_path = cache.put(record, (workdir / "cell.wasm").read_bytes())
        artifact = Artifact(language=toolchain.language, wasm_path=wasm_path, key=key,
                            toolchain=info.identity, build_seconds=seconds, cached=False,
                            warnings=warnings, name=name, flags=flags)
    if name:
        modules[name] = artifact
    return artifact


def load(path: Union[str, os.PathLike], name: Optional[str] = None) -> Artifact:
    """An :class:`Artifact` for an existing ``.wasm`` (or ``.wat``) file."""
    path = Path(path)
    if not path.is_file():
        raise WagiNbError(f"No such module file: {str(path)!r}. Give the path of a .wasm or .wat file.")
    if path.suffix == ".wat":
        return build(path.read_text(encoding="utf-8"), "wat", name=name)
    artifact = Artifact(language="wasm", wasm_path=path, name=name)
    if name:
        modules[name] = artifact
    return artifact
