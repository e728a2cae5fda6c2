"""One wasmtime engine and linker per process; a fresh store and instance per run."""
from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import threading
import time
import weakref
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterable, Mapping, Optional, Sequence, Tuple, Union

import wasmtime

from .. import defaults
from ..cache import atomic_write
from ..cache.native import WASMTIME_VERSION as WASMTIME_VERSION  # where it used to be defined
from ..cache.native import native_code_path
from ..errors import ModuleInterrupted, ModuleLoadError, NotACommand
from . import outbound_http, poll_oneoff
from .deadlines import Deadline, start_ticker, watch
from .imports import check_linkable, linker_provides, wasm_binary
from .interrupts import cancels_on_sigint
from .limits import instance_limits, limit_message
from .result import EXIT, INTERRUPTED, OK, OUTPUT, TIMEOUT, TRAP, RunResult
from .traps import describe_trap
from .wasmtime_internals import exported_function

MiB = 1024 * 1024


@dataclass(kw_only=True)
class LoadedModule:
    """A compiled module, linked once and instantiated afresh for every run."""

    module: wasmtime.Module
    pre: wasmtime.InstancePre
    sha256: str
    #: Exported function names.
    functions: frozenset
    size: int

    @property
    def is_command(self) -> bool:
        return "_start" in self.functions


class Runtime:
    """Runs WASI modules. Use :func:`get_runtime` for the process-wide one."""

    def __init__(self):
        config = wasmtime.Config()
        config.epoch_interruption = True
        self.engine = wasmtime.Engine(config)
        self.linker = wasmtime.Linker(self.engine)
        self.linker.define_wasi()
        self._clock = poll_oneoff.RunClock()
        poll_oneoff.define(self.linker, self._clock)
        self._outbound = outbound_http.RunSessions()
        outbound_http.define(self.linker, self._outbound)
        self._loaded: dict = {}
        #: path → ((device, inode, size, mtime, ctime), LoadedModule): see :meth:`load`.
        self._by_path: dict = {}
        self._lock = threading.Lock()
        folder = _fast_tmp()
        _remove_orphaned_scratch(folder)
        self._scratch = Path(tempfile.mkdtemp(prefix=f"wagi_nb-{os.getpid()}-", dir=folder))
        weakref.finalize(self, shutil.rmtree, self._scratch, True)
        self._local = threading.local()
        start_ticker(self.engine)

    # -- loading -----------------------------------------------------------------------------
    def load(self, wasm: Union[bytes, str, os.PathLike]) -> LoadedModule:
        """Compile (or fetch from the native-code cache) and link a module; memoised by content.

        A file already loaded is not read and hashed again while its device, inode, size,
        modification and change times are the same (a server loads its module on every
        request); any write to the file, or a new file in its place, changes them.
        """
        if isinstance(wasm, (bytes, bytearray)):
            return self._load_data(wasm)
        path = os.fspath(wasm)
        stat = os.stat(path)
        signature = (stat.st_dev, stat.st_ino, stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns)
        known = self._by_path.get(path)
        if known is not None and known[0] == signature:
            return known[1]
        # stat before reading: a change made in between leaves a signature that no longer matches
        loaded = self._load_data(Path(path).read_bytes(), name=Path(path).name)
        self._by_path[path] = (signature, loaded)
        return loaded

    def _load_data(self, data: Union[bytes, bytearray], name: str = "The module") -> LoadedModule:
        sha = hashlib.sha256(data).hexdigest()
        loaded = self._loaded.get(sha)
        if loaded is None:
            with self._lock:
                loaded = self._loaded.get(sha) or self._load(bytes(data), sha, name)
                self._loaded[sha] = loaded
        return loaded

    def _load(self, data: bytes, sha: str, name: str = "The module") -> LoadedModule:
        # What can be told from the bytes is told before compiling, the slow part, and before
        # anything is written to the native-code cache.
        binary = wasm_binary(data, name)
        check_linkable(binary, self.provides(), name)
        module = self._native_module(binary, sha)
        try:
            pre = self.linker.instantiate_pre(module)
        except wasmtime.WasmtimeError as error:
            raise ModuleLoadError(
                f"{name} cannot be linked: {str(error).strip()}. It imports something wagi-nb provides, "
                "but with another type than wagi-nb's (WASI preview 1, `wasi_snapshot_preview1`); build "
                "for wasm32-wasi/wasm32-wasip1 with a current toolchain.") from None
        functions = frozenset(e.name for e in module.exports if isinstance(e.type, wasmtime.FuncType))
        return LoadedModule(module=module, pre=pre, sha256=sha, functions=functions, size=len(data))

    def provides(self):
        """``(module, name) → kind or None``: what this runtime's linker defines, asked of the linker."""
        return linker_provides(self.linker, self.engine)

    def _native_module(self, data: bytes, sha: str) -> wasmtime.Module:
        """wasmtime's compiled code for ``data``, cached on disk so a re-run does not re-JIT."""
        path = native_code_path(sha)
        if path.is_file():
            try:
                return wasmtime.Module.deserialize_file(self.engine, str(path))
            except wasmtime.WasmtimeError:
                pass  # written by an incompatible engine configuration: compile again
        try:
            module = wasmtime.Module(self.engine, data)
        except wasmtime.WasmtimeError as error:
            raise ModuleLoadError(f"wasmtime cannot compile this module: {str(error).strip()}. "
                                  "The file starts as a WebAssembly module does but is not a valid one "
                                  "(cut short, or damaged?): build or download it again.") from None
        try:
            atomic_write(path, bytes(module.serialize()))
        except OSError:
            pass  # a read-only cache only costs the next process a compile
        return module

    # -- running -----------------------------------------------------------------------------
    def run(self, module: LoadedModule, args: Sequence[str] = (), *, env: Optional[Mapping] = None,
            stdin: Union[bytes, str] = b"", timeout: Optional[float] = defaults.CELL_TIMEOUT,
            memory_limit_mib: Optional[int] = defaults.MEMORY_MIB,
            max_output_mib: Optional[float] = defaults.MAX_OUTPUT_MIB,
            dirs: Iterable[tuple] = (), entrypoint: str = "_start",
            program: str = "main.wasm", deadline: Optional[Deadline] = None,
            inherit_stdio: bool = False,
            outbound: Optional[outbound_http.OutboundPolicy] = None) -> RunResult:
        """Run ``module`` once on a fresh instance.

        ``args`` follow ``program`` in argv; ``env`` is all the module sees of
        an environment; ``dirs`` are ``(host_path, guest_path)`` or
        ``(host_path, guest_path, read_only)`` tuples to preopen.
        ``memory_limit_mib`` bounds everything the instance can allocate
        (:mod:`~wagi_nb.runtime.limits`); ``max_output_mib`` caps stdout and
        stderr each (past it the module is stopped: outcome ``"output"``); None
        lifts a limit. ``inherit_stdio`` connects the module to this process's
        stdin/stdout/stderr instead (the command line's ``run``); the result's
        streams are then empty. ``outbound`` is what the module may reach with
        ``wasi_experimental_http`` (default: nothing). On the main thread (a notebook cell), Ctrl-C stops
        the module within a tick and raises :class:`~wagi_nb.errors.ModuleInterrupted`
        (a :class:`KeyboardInterrupt`).
        """
        if entrypoint not in module.functions:
            raise NotACommand(_missing_entrypoint(module, entrypoint))
        files = self._scratch_files()
        max_output = None if max_output_mib is None or inherit_stdio else int(max_output_mib * MiB)
        spec = RunSpec(module=module, argv=(program, *args), env=dict(env or {}),
                       stdin=stdin.encode() if isinstance(stdin, str) else stdin,
                       memory_limit_mib=memory_limit_mib, dirs=tuple(dirs), entrypoint=entrypoint,
                       deadline=deadline or Deadline(timeout, max_output, files[1:]),
                       inherit_stdio=inherit_stdio, files=files, outbound=outbound)
        if threading.current_thread() is not threading.main_thread():
            return self._run(spec)
        # On the main thread (a notebook cell, the command line) Ctrl-C stops the module and then
        # the cell, instead of waiting for the module.
        with cancels_on_sigint(spec.deadline):
            result = self._run(spec)
        if spec.deadline.reason == "interrupted":
            raise ModuleInterrupted()
        return result

    def _scratch_files(self) -> Tuple[str, str, str]:
        files = getattr(self._local, "files", None)
        if files is None:
            folder = self._scratch / str(threading.get_ident())
            folder.mkdir(exist_ok=True)
            files = self._local.files = (str(folder / "in"), str(folder / "out"), str(folder / "err"))
        return files

    def _run(self, spec: RunSpec) -> RunResult:
        store = wasmtime.Store(self.engine)
        self._clock.start(spec.deadline)
        outbound = self._outbound.start(spec.outbound, spec.deadline)
        store.set_wasi(_wasi_config(spec))
        if spec.memory_limit_mib:
            store.set_limits(**instance_limits(spec.memory_limit_mib))
        start = time.perf_counter()
        try:
            with watch(store, spec.deadline):
                outcome, code, trap, frames = _call(store, spec)
        finally:
            self._outbound.end()
        duration = time.perf_counter() - start
        stdout, stderr = _collect(spec)
        if outbound.notes:
            stderr += outbound.stderr_lines()
        # A stop decided by wagi_nb wins over how the module happened to end after it.
        deadline = spec.deadline
        if deadline.reason == "timeout":
            outcome, code, trap = TIMEOUT, None, f"timed out after {deadline.timeout:g} s"
        elif deadline.reason == "interrupted":
            outcome, code, trap = INTERRUPTED, None, "interrupted"
        elif deadline.reason == "output":
            outcome, code = OUTPUT, None
            trap = f"printed more than the {(deadline.max_output or 0) / MiB:g} MiB output cap"
        return RunResult(stdout=stdout, stderr=stderr, outcome=outcome, exit_code=code, trap=trap,
                         backtrace=frames, duration=duration)


@dataclass(frozen=True, kw_only=True)
class RunSpec:
    """One run, as :meth:`Runtime.run` hands it to the thread that runs it."""

    module: LoadedModule
    argv: Tuple[str, ...]
    env: Dict[str, str]
    stdin: bytes
    memory_limit_mib: Optional[int]
    #: ``(host, guest)`` or ``(host, guest, read_only)``.
    dirs: Tuple[tuple, ...]
    entrypoint: str
    deadline: Deadline
    inherit_stdio: bool
    #: This thread's scratch files: stdin, stdout, stderr.
    files: Tuple[str, str, str]
    #: What ``wasi_experimental_http`` may reach (None: nothing).
    outbound: Optional[outbound_http.OutboundPolicy] = None


def _wasi_config(spec: RunSpec) -> wasmtime.WasiConfig:
    stdin_path, stdout_path, stderr_path = spec.files
    wasi = wasmtime.WasiConfig()
    wasi.argv = list(spec.argv)
    if spec.env:
        wasi.env = [(str(k), str(v)) for k, v in spec.env.items()]
    if spec.inherit_stdio:
        wasi.inherit_stdin()
        wasi.inherit_stdout()
        wasi.inherit_stderr()
    else:
        if spec.stdin:
            Path(stdin_path).write_bytes(spec.stdin)
            wasi.stdin_file = stdin_path
        wasi.stdout_file = stdout_path
        wasi.stderr_file = stderr_path
    for host, guest, *read_only in spec.dirs:
        wasi.preopen_dir(str(host), str(guest), not (read_only and read_only[0]))
    return wasi


def _call(store: wasmtime.Store, spec: RunSpec) -> tuple:
    """Instantiate and call the entrypoint: (outcome, exit code, trap line, backtrace)."""
    instance = None
    try:
        instance = spec.module.pre.instantiate(store)
        exported_function(store, instance, spec.entrypoint)(store)
    except wasmtime.ExitTrap as exit_:
        return (OK if exit_.code == 0 else EXIT), exit_.code, None, []
    except (wasmtime.Trap, wasmtime.WasmtimeError) as error:
        trap, frames = describe_trap(error)
        if instance is None:  # a limit the module's declarations break, before it ran
            trap = limit_message(str(error), spec.memory_limit_mib) or trap
        return TRAP, None, trap, frames
    return OK, 0, None, []


def _collect(spec: RunSpec) -> Tuple[bytes, bytes]:
    """What the run printed (the output cap's worth), leaving the scratch files empty."""
    if spec.inherit_stdio:
        return b"", b""
    stdin_path, stdout_path, stderr_path = spec.files
    limit = spec.deadline.max_output
    stdout, stderr = _take(stdout_path, limit), _take(stderr_path, limit)
    if spec.stdin:
        os.truncate(stdin_path, 0)
    if limit is not None and max(len(stdout), len(stderr)) > limit:
        spec.deadline.reason = spec.deadline.reason or "output"
        stdout, stderr = stdout[:limit], stderr[:limit]
    return stdout, stderr


def _take(path: str, limit: Optional[int]) -> bytes:
    """A captured stream, at most ``limit + 1`` bytes of it, leaving the file empty for the next run.

    Sized by ``fstat`` first: ``read(limit + 1)`` would allocate the whole cap on every run.
    """
    fd = os.open(path, os.O_RDWR)
    try:
        size = os.fstat(fd).st_size
        if not size:
            return b""
        want = size if limit is None else min(size, limit + 1)
        chunks = []
        while want > 0:
            chunk = os.read(fd, want)
            if not chunk:
                break
            chunks.append(chunk)
            want -= len(chunk)
        os.ftruncate(fd, 0)
        return chunks[0] if len(chunks) == 1 else b"".join(chunks)
    finally:
        os.close(fd)


def _missing_entrypoint(module: LoadedModule, entrypoint: str) -> str:
    exported = ", ".join(sorted(module.functions)) or "none"
    if entrypoint == "_start":
        return ("This module has no `_start` export, so it is not a WASI command that can be run "
                f"(exported functions: {exported}). Give the program a `main` function and build it "
                "as an executable (not a library/reactor), or name an exported function to call "
                "as the entrypoint.")
    return (f"This module does not export a function named {entrypoint!r} "
            f"(exported functions: {exported}). Pick one of those as the entrypoint.")


def _remove_orphaned_scratch(folder: Optional[str]) -> None:
    """Scratch folders of processes that were killed (and so could not remove their own)."""
    for path in Path(folder or tempfile.gettempdir()).glob("wagi_nb-*-*"):
        pid = path.name.split("-")[1]
        if pid.isdigit() and not Path(f"/proc/{pid}").exists():
            shutil.rmtree(path, ignore_errors=True)


def _fast_tmp() -> Optional[str]:
    """A memory-backed folder for per-run stdin/stdout files, where there is one."""
    shm = "/dev/shm"
    return shm if os.path.isdir(shm) and os.access(shm, os.W_OK) else None


_runtime: Optional[Runtime] = None
_runtime_lock = threading.Lock()


def get_runtime() -> Runtime:
    """The process-wide :class:`Runtime` (created on first use)."""
    global _runtime
    if _runtime is None:
        with _runtime_lock:
            if _runtime is None:
                _runtime = Runtime()
    return _runtime
