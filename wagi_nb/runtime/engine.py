"""One wasmtime engine and linker per process; a fresh store and instance per run."""
from __future__ import annotations

import ctypes
import hashlib
import os
import shutil
import tempfile
import threading
import time
import weakref
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Iterable, Mapping, Optional, Sequence, Union

import wasmtime
from wasmtime import _ffi as ffi
from wasmtime._extern import wrap_extern

from ..cache import atomic_write, cache_root
from ..errors import ModuleInterrupted, ModuleLoadError, NotACommand
from .deadlines import Deadline, start_ticker, watch
from .interrupts import cancels_on_sigint
from .result import EXIT, INTERRUPTED, OK, TIMEOUT, TRAP, RunResult
from .traps import split_trap

MiB = 1024 * 1024
DEFAULT_TIMEOUT = 10.0
DEFAULT_MEMORY_MIB = 256
WASMTIME_VERSION = version("wasmtime")


@dataclass
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
        self._loaded: dict = {}
        #: path → ((device, inode, size, mtime, ctime), LoadedModule): see :meth:`load`.
        self._by_path: dict = {}
        self._lock = threading.Lock()
        self._scratch = Path(tempfile.mkdtemp(prefix="wagi_nb-", dir=_fast_tmp()))
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
        loaded = self._load_data(Path(path).read_bytes())
        self._by_path[path] = (signature, loaded)
        return loaded

    def _load_data(self, data: Union[bytes, bytearray]) -> LoadedModule:
        sha = hashlib.sha256(data).hexdigest()
        loaded = self._loaded.get(sha)
        if loaded is None:
            with self._lock:
                loaded = self._loaded.get(sha) or self._load(bytes(data), sha)
                self._loaded[sha] = loaded
        return loaded

    def _load(self, data: bytes, sha: str) -> LoadedModule:
        module = self._native_module(data, sha)
        try:
            pre = self.linker.instantiate_pre(module)
        except wasmtime.WasmtimeError as error:
            raise ModuleLoadError(
                f"The module cannot be linked: {str(error).strip()}. wagi_nb provides WASI preview 1 "
                "(wasi_snapshot_preview1) and nothing else; build for wasm32-wasi/wasm32-wasip1 and "
                "import nothing from other modules.") from None
        functions = frozenset(e.name for e in module.exports if isinstance(e.type, wasmtime.FuncType))
        return LoadedModule(module, pre, sha, functions, len(data))

    def _native_module(self, data: bytes, sha: str) -> wasmtime.Module:
        """wasmtime's compiled code for ``data``, cached on disk so a re-run does not re-JIT."""
        path = cache_root() / "native" / sha[:2] / f"{sha}-wasmtime{WASMTIME_VERSION}.cwasm"
        if path.is_file():
            try:
                return wasmtime.Module.deserialize_file(self.engine, str(path))
            except wasmtime.WasmtimeError:
                pass  # written by an incompatible engine configuration: compile again
        try:
            module = wasmtime.Module(self.engine, data)
        except wasmtime.WasmtimeError as error:
            raise ModuleLoadError(f"wasmtime cannot compile this module: {str(error).strip()}. "
                                  "Is it a WebAssembly binary (it should start with \\0asm)?") from None
        try:
            atomic_write(path, bytes(module.serialize()))
        except OSError:
            pass  # a read-only cache only costs the next process a compile
        return module

    # -- running -----------------------------------------------------------------------------
    def run(self, module: LoadedModule, args: Sequence[str] = (), *, env: Optional[Mapping] = None,
            stdin: Union[bytes, str] = b"", timeout: Optional[float] = DEFAULT_TIMEOUT,
            memory_limit_mib: Optional[int] = DEFAULT_MEMORY_MIB,
            dirs: Iterable[tuple] = (), entrypoint: str = "_start",
            program: str = "main.wasm", deadline: Optional[Deadline] = None,
            inherit_stdio: bool = False) -> RunResult:
        """Run ``module`` once on a fresh instance.

        ``args`` follow ``program`` in argv; ``env`` is all the module sees of
        an environment; ``dirs`` are ``(host_path, guest_path)`` pairs to
        preopen. ``inherit_stdio`` connects the module to this process's
        stdin/stdout/stderr instead (the command line's ``run``); the result's
        streams are then empty. On the main thread (a notebook cell), Ctrl-C stops
        the module within a tick and raises :class:`~wagi_nb.errors.ModuleInterrupted`
        (a :class:`KeyboardInterrupt`).
        """
        if entrypoint not in module.functions:
            raise NotACommand(_missing_entrypoint(module, entrypoint))
        if isinstance(stdin, str):
            stdin = stdin.encode()
        deadline = deadline or Deadline(timeout)
        job = (module, list(args), dict(env or {}), stdin, memory_limit_mib, list(dirs),
               entrypoint, program, deadline, inherit_stdio)
        if threading.current_thread() is not threading.main_thread():
            return self._run(*job)
        # On the main thread (a notebook cell, the command line) Ctrl-C stops the module and then
        # the cell, instead of waiting for the module.
        with cancels_on_sigint(deadline):
            result = self._run(*job)
        if deadline.reason == "interrupted":
            raise ModuleInterrupted()
        return result

    def _scratch_files(self) -> tuple:
        files = getattr(self._local, "files", None)
        if files is None:
            folder = self._scratch / str(threading.get_ident())
            folder.mkdir(exist_ok=True)
            files = self._local.files = tuple(str(folder / name) for name in ("in", "out", "err"))
        return files

    def _run(self, module, args, env, stdin, memory_limit_mib, dirs, entrypoint, program,
             deadline, inherit_stdio) -> RunResult:
        stdin_path, stdout_path, stderr_path = self._scratch_files()
        wasi = wasmtime.WasiConfig()
        wasi.argv = [program, *args]
        if env:
            wasi.env = [(str(k), str(v)) for k, v in env.items()]
        if inherit_stdio:
            wasi.inherit_stdin()
            wasi.inherit_stdout()
            wasi.inherit_stderr()
        else:
            if stdin:
                Path(stdin_path).write_bytes(stdin)
                wasi.stdin_file = stdin_path
            wasi.stdout_file = stdout_path
            wasi.stderr_file = stderr_path
        for host, guest in dirs:
            wasi.preopen_dir(str(host), str(guest))
        store = wasmtime.Store(self.engine)
        store.set_wasi(wasi)
        if memory_limit_mib:
            store.set_limits(memory_size=int(memory_limit_mib * MiB))
        outcome, code, trap, frames = OK, 0, None, []
        start = time.perf_counter()
        with watch(store, deadline):
            try:
                instance = module.pre.instantiate(store)
                _export(store, instance, entrypoint)(store)
            except wasmtime.ExitTrap as exit_:
                outcome, code = (OK if exit_.code == 0 else EXIT), exit_.code
            except (wasmtime.Trap, wasmtime.WasmtimeError) as error:
                trap, frames = split_trap(str(error))
                code = None
                if deadline.reason == "timeout":
                    outcome, trap = TIMEOUT, f"timed out after {deadline.timeout:g} s"
                elif deadline.reason == "interrupted":
                    outcome, trap = INTERRUPTED, "interrupted"
                else:
                    outcome = TRAP
        duration = time.perf_counter() - start
        if inherit_stdio:
            return RunResult(b"", b"", outcome, code, trap, frames, duration)
        return RunResult(_read(stdout_path), _read(stderr_path), outcome, code, trap, frames, duration)


def _read(path: str) -> bytes:
    with open(path, "rb") as file:
        return file.read()


def _export(store: wasmtime.Store, instance: wasmtime.Instance, name: str):
    """``instance.exports(store)[name]`` without wrapping every other export of the module too."""
    raw = name.encode()
    item = ffi.wasmtime_extern_t()
    if not ffi.wasmtime_instance_export_get(store._context(), ctypes.byref(instance._instance),
                                            ctypes.cast(ctypes.c_char_p(raw), ctypes.POINTER(ctypes.c_char)),
                                            len(raw), ctypes.byref(item)):
        raise KeyError(name)
    return wrap_extern(item)


def _missing_entrypoint(module: LoadedModule, entrypoint: str) -> str:
    exported = ", ".join(sorted(module.functions)) or "none"
    if entrypoint == "_start":
        return ("This module has no `_start` export, so it is not a WASI command that can be run "
                f"(exported functions: {exported}). Give the program a `main` function and build it "
                "as an executable (not a library/reactor), or name an exported function to call "
                "as the entrypoint.")
    return (f"This module does not export a function named {entrypoint!r} "
            f"(exported functions: {exported}). Pick one of those as the entrypoint.")


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
