"""The Python API: build a source into a module, run it.

>>> import wagi_nb
>>> hello = wagi_nb.build('fn main() { println!("Hello, world!"); }', language="rust")
>>> hello.run().text                                   # doctest: +SKIP
'Hello, world!\\n'

Nothing here needs Jupyter; the magics are a thin skin over these functions.
"""
from __future__ import annotations

import hashlib
import os
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Mapping, Optional, Sequence, Tuple, Union

from . import toolchains
from .cache import BuildCache, CachedBuild, build_key
from .errors import CompileError, WagiNbError
from . import defaults
from .runtime import LoadedModule, RunResult, get_runtime
from .runtime.exports import Exports, ExportError, Instance, fresh_exports
from .runtime.limits import RunLimits
from .runtime.outbound_http import OutboundPolicy
from .toolchains.base import SCRIPT_DIR, CompileJob, Progress
from .toolchains import crate_sources, wasi_libc
from .toolchains.cargo import paired_with, parse_dependency

#: Modules kept under a name (``build(..., name=...)``, the magics' ``-n/--name``).
modules: dict = {}


@dataclass(kw_only=True)
class Artifact:
    """A compiled ``.wasm`` module, ready to run; or, for an interpreted language, the
    interpreter's module (``wasm_path``) and the cell's script (in ``script_dir``)."""

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
    #: The build flags that went into the key (``{"release": True, "flags": [...]}``).
    flags: dict = field(default_factory=dict)
    #: Files beside the source that rebuild it the same way (``go.mod``): for exports; and where the
    #: source itself is among them (Cargo's ``src/main.rs``), if it is.
    project_files: dict = field(default_factory=dict)
    project_main: str = ""
    #: Interpreted: the folder holding the script, mounted read-only at ``/app``, and the argv
    #: that runs it (``("python", "/app/cell.py")``).
    script_dir: Optional[Path] = None
    script_argv: Tuple[str, ...] = ()
    #: The Cargo crate the module was built from (``%wasm_cargo``), if it was.
    crate: Optional[Path] = None

    @property
    def argv_template(self) -> Optional[str]:
        """For an interpreted cell as a route: Wagi's ``argv`` that runs the script."""
        return " ".join([*self.script_argv, "${ARGS}"]) if self.script_argv else None

    @property
    def wasm(self) -> bytes:
        return Path(self.wasm_path).read_bytes()

    @property
    def size(self) -> int:
        return os.path.getsize(self.wasm_path)

    def load(self) -> LoadedModule:
        """The module compiled to native code and linked (cached on disk and in memory)."""
        return get_runtime().load(self.wasm_path, title=self._title)

    @property
    def _title(self) -> Optional[str]:
        """What the module is, for the runtime's report of a slow compile: an interpreter's name."""
        return interpreter_title(self.language) if self.script_dir is not None else None

    def run(self, args: Union[str, Sequence[str]] = (), *, env: Optional[Mapping] = None,
            stdin: Union[bytes, str] = b"", timeout: Optional[float] = defaults.CELL_TIMEOUT,
            memory_limit_mib: Optional[int] = defaults.MEMORY_MIB,
            max_output_mib: Optional[float] = defaults.MAX_OUTPUT_MIB,
            dirs: Iterable = (), entrypoint: str = "_start", inherit_stdio: bool = False,
            allowed_hosts: Iterable[str] = (), on_stdout: Optional[Callable[[bytes], None]] = None) -> RunResult:
        """Run the module once on a fresh instance and return what it printed and how it ended.

        ``args`` is a list, or a string split like a shell would. ``env`` is
        all the module sees (nothing is inherited from this process).
        ``dirs`` are ``"HOST[:GUEST][:ro]"`` strings or ``(host, guest)`` pairs to
        preopen; nothing else of the file system is reachable. ``memory_limit_mib``
        bounds all the instance allocates; ``max_output_mib`` caps stdout and stderr
        (the module is stopped past it); None lifts either.
        ``inherit_stdio`` connects the module to this process's standard
        streams instead of capturing them. ``allowed_hosts`` are the hosts the module may
        reach over HTTP (``wasi_experimental_http``), as in modules.toml: none by default.
        ``on_stdout`` is given stdout as the module writes it (a notebook streams it so).
        """
        if isinstance(args, str):
            import shlex
            args = shlex.split(args)
        program, *argv = [f"{self.name or 'main'}.wasm", *args]
        preopens = parse_dirs(dirs)
        if self.script_dir is not None:
            program, *argv = [*self.script_argv, *args]
            preopens.append((str(self.script_dir), SCRIPT_DIR, True))
        return get_runtime().run(self.load(), argv, limits=RunLimits(timeout, memory_limit_mib, max_output_mib),
                                 env=env, stdin=stdin, dirs=preopens, entrypoint=entrypoint, program=program,
                                 inherit_stdio=inherit_stdio, on_stdout=on_stdout,
                                 outbound=OutboundPolicy(tuple(allowed_hosts)) if allowed_hosts else None)

    # -- calling exported functions from Python (wagi_nb/runtime/exports.py) --------------------------
    @property
    def exports(self) -> Exports:
        """The module's exported functions, each call on a fresh instance: ``exports.add(2, 3)``.

        Numbers in and out, converted per the function's wasm type; ``dir(exports)`` lists the
        functions. Limits as :meth:`run`'s defaults; :meth:`exports_with` sets others, and
        :meth:`instantiate` keeps one instance (and its state) between calls.
        """
        return self.exports_with()

    def exports_with(self, *, timeout: Optional[float] = defaults.CELL_TIMEOUT,
                     memory_limit_mib: Optional[int] = defaults.MEMORY_MIB,
                     max_output_mib: Optional[float] = defaults.MAX_OUTPUT_MIB) -> Exports:
        """:attr:`exports` with other limits per call (None lifts one)."""
        return fresh_exports(self._callable_module(), self._label,
                             RunLimits(timeout, memory_limit_mib, max_output_mib))

    def instantiate(self, *, timeout: Optional[float] = defaults.CELL_TIMEOUT,
                    memory_limit_mib: Optional[int] = defaults.MEMORY_MIB,
                    max_output_mib: Optional[float] = defaults.MAX_OUTPUT_MIB) -> Instance:
        """One instance kept between calls: ``inst.exports.bump()`` twice counts to 2.

        A reactor's ``_initialize`` runs once here; ``_start`` (``main``) never does. ``timeout``
        and ``max_output_mib`` hold per call, ``memory_limit_mib`` for the instance's life. Bytes go
        in and out with ``inst.write_bytes(data) -> (ptr, len)``, ``inst.read_bytes(ptr, len)`` and
        ``inst.call_with_bytes(name, data)``.
        """
        return Instance(self._callable_module(), label=self._label,
                        limits=RunLimits(timeout, memory_limit_mib, max_output_mib))

    @property
    def _label(self) -> str:
        return self.name or Path(self.wasm_path).stem

    def _callable_module(self) -> LoadedModule:
        if self.script_dir is not None:
            raise ExportError(f"A {self.language} cell runs as a script of the interpreter's module, so it "
                              "has no exported functions of its own to call from Python; write the function "
                              "in a compiled language (C, Rust, Zig, WAT ...).")
        return self.load()

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
          flags: Sequence[str] = (), dependencies: Sequence[str] = (), update: bool = False,
          force: bool = False, line_offset: int = 0, progress: Optional[Progress] = None,
          cache: Optional[BuildCache] = None) -> Artifact:
    """Compile ``source`` to a ``wasm32-wasi`` module, or fetch it from the build cache.

    ``language`` is a language of the registry (``wagi_nb.toolchains.TOOLCHAINS``: ``rust``,
    ``c``, ``cpp``, ``zig``, ``go``, ``assemblyscript``, ``wat``, ``python``, ``js``).
    ``flags`` are extra compiler arguments (part of the cache key). ``dependencies``
    are ``name = spec`` lines of a Cargo manifest (Rust; a cell may also declare them in a
    cargo-script ``---`` manifest at its top); their resolved lock is kept per dependency
    set, and ``update`` resolves them again. ``line_offset``
    shifts the compiler's line numbers (the magics pass 1, so errors point at the
    lines as the notebook numbers them). ``force`` rebuilds even when the cache has
    the module. An interpreted language's cell is checked for syntax and kept as the
    interpreter's script. Raises :class:`~wagi_nb.errors.CompileError` with the
    diagnostics, or :class:`~wagi_nb.errors.ToolchainNotFound` naming the install command.
    """
    toolchain = toolchains.get_toolchain(language)
    if flags and not toolchain.takes_flags:
        raise WagiNbError(f"{toolchain.title} cells take no compiler flags (--flags); leave them out.")
    text, declared = toolchain.split_manifest("\n" * line_offset + source)
    wanted = {**declared, **dict(parse_dependency(spec) for spec in dependencies)}
    if wanted and not toolchain.takes_dependencies:
        raise WagiNbError(f"{toolchain.title} cells take no dependencies (--dep); leave them out.")
    info = toolchains.require(toolchain.language)
    job = CompileJob(source=toolchain.source_name, release=release, flags=tuple(flags),
                     dependencies=wanted, update=update)
    key_flags: dict = {"release": release} if toolchain.has_profiles else {}
    if job.flags:
        key_flags["flags"] = list(job.flags)
    if wanted:
        key_flags["dependencies"] = wanted
    key = build_key(text, toolchain.language, key_flags, toolchain.key_inputs(info, job))
    cache = cache or BuildCache()
    hit = None if force else cache.get(key)
    if hit:
        path, record = hit
        seconds, warnings, built_with = record.build_seconds, record.warnings, record.toolchain
    else:
        start = time.perf_counter()
        if toolchain.interpreted:
            warnings = _check_script(toolchain, info, text)
            record = CachedBuild(key=key, language=toolchain.language, toolchain=info.identity,
                                 flags=key_flags, build_seconds=0.0, warnings=warnings,
                                 script=job.source)
            record.build_seconds = time.perf_counter() - start
            path = cache.put_script(record, text)
        else:
            with tempfile.TemporaryDirectory(prefix="wagi_nb-build-") as folder:
                workdir = Path(folder)
                (workdir / job.source).write_text(text, encoding="utf-8")
                warnings = toolchain.compile(info, workdir, job, progress)
                wasm, unfixable = wasi_libc.linked(info, (workdir / job.output).read_bytes())
                warnings = "\n".join(filter(None, [warnings, unfixable]))
                record = CachedBuild(key=key, language=toolchain.language, toolchain=info.identity,
                                     flags=key_flags, build_seconds=time.perf_counter() - start,
                                     warnings=warnings, project_files=toolchain.project_files(workdir),
                                     project_main=toolchain.project_main(job))
                path = cache.put(record, wasm)
        seconds, built_with = record.build_seconds, info.identity
    interpreted = dict(wasm_path=Path(info.path), script_dir=path, script_argv=toolchain.script_argv()) \
        if toolchain.interpreted else dict(wasm_path=path)
    artifact = Artifact(language=toolchain.language, key=key, toolchain=built_with, build_seconds=seconds,
                        cached=bool(hit), warnings=warnings, name=name, flags=key_flags,
                        project_files=dict(record.project_files), project_main=record.project_main,
                        **interpreted)
    if name:
        modules[name] = artifact
    return artifact


def build_crate(path: Union[str, os.PathLike], *, release: bool = True, binary: Optional[str] = None,
                name: Optional[str] = None, progress: Optional[Progress] = None,
                cache: Optional[BuildCache] = None) -> Artifact:
    """Build an existing Cargo crate (``cargo new hello-rust``) for wasm with the Rust toolchain's
    paired cargo, a release build without debug info as a cell's unless the crate says otherwise.
    An unchanged crate is a cache hit that starts no Cargo: the key covers the files its build
    depends on (``toolchains/crate_sources.py``); otherwise Cargo decides what to rebuild."""
    crate = Path(path).expanduser()
    if not (crate / "Cargo.toml").is_file():
        raise WagiNbError(f"{str(crate)!r} is not a Cargo crate (no Cargo.toml there). Give the crate's folder, "
                          "or make one with %wasm_cargo --new NAME.")
    crate = crate.resolve()
    info = toolchains.require("rust")
    setup = paired_with(info)
    cache = cache or BuildCache()
    toolchain = {**info.identity, **setup.identity}
    wanted = {"release": release, "crate": str(crate), "bin": binary,
              "profile": crate_sources.release_environment(crate) if release else {},
              "environment": crate_sources.environment()}

    def input_key(inputs: dict) -> str:
        return build_key("", "rust", {**wanted, "inputs": inputs}, toolchain)

    before = crate_sources.crate_inputs(crate, crate_sources.remembered(cache.root, crate, release, binary))
    hit = cache.get(input_key(before)) if before is not None else None
    if hit:
        wasm_path, record = hit
    else:
        start = time.perf_counter()
        built = setup.build_crate(crate, release, binary, progress)
        wasm, unfixable = wasi_libc.linked(info, built.wasm)
        after = crate_sources.after_build(crate, before, built.sources) if before is not None else None
        if after is not None:
            key = input_key(after)
            crate_sources.remember(cache.root, crate, release, binary, built.sources or [])
        else:  # (a build script, or sources that changed while Cargo ran: the module's own hash)
            key = hashlib.sha256(wasm).hexdigest()
        record = CachedBuild(key=key, language="rust", toolchain=toolchain,
                             flags={"release": release, "crate": str(crate), "bin": built.binary,
                                    "profile": wanted["profile"]},
                             build_seconds=time.perf_counter() - start,
                             warnings="\n".join(filter(None, [built.warnings, unfixable])))
        wasm_path = cache.put(record, wasm)
    artifact = Artifact(language="rust", wasm_path=wasm_path, key=record.key, toolchain=record.toolchain,
                        build_seconds=record.build_seconds, cached=bool(hit), warnings=record.warnings,
                        name=name, flags=record.flags, crate=crate)
    if name:
        modules[name] = artifact
    return artifact


def _check_script(toolchain, info, text: str) -> str:
    """Run the interpreter's syntax check on the script; raises CompileError as it reports it."""
    argv = toolchain.check_argv()
    if not argv:
        return ""
    with tempfile.TemporaryDirectory(prefix="wagi_nb-check-") as folder:
        (Path(folder) / toolchain.source_name).write_text(text, encoding="utf-8")
        interpreter = get_runtime().load(info.path, title=interpreter_title(toolchain.language))
        result = get_runtime().run(interpreter, argv[1:], program=argv[0],
                                   dirs=[(folder, SCRIPT_DIR, True)], limits=RunLimits(timeout=60))
    report = toolchain.diagnostics(result.stderr_text + result.text, Path(SCRIPT_DIR)).strip("\n")
    if not result.ok:
        raise CompileError(toolchain.title, report.rstrip() or result.status, toolchain=info.label)
    return report.rstrip()


def interpreter_title(language: str) -> str:
    """An interpreted language's module as a status line names it: "the Python interpreter"."""
    return f"the {toolchains.get_toolchain(language).title} interpreter"


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
