"""One wasmtime engine and linker per process; a fresh store and instance per run."""
from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import shutil
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, Iterable, Iterator, Mapping, Optional, Sequence, Tuple, Union

import wasmtime

from ..cache import atomic_write
from ..cache.native import WASMTIME_VERSION as WASMTIME_VERSION  # where it used to be defined
from ..cache.native import native_code_path
from ..errors import ModuleInterrupted, ModuleLoadError, ModuleNotLinkable, NotACommand
from . import activity, outbound_http, poll_oneoff, stdio
from .deadlines import Deadline, start_ticker, watch
from .imports import check_linkable, linker_provides, wasm_binary
from .interrupts import cancels_on_sigint
from .module_memo import ModuleMemo
from .limits import CELL_LIMITS, RunLimits, instance_limits, limit_message
from .result import EXIT, INTERRUPTED, OK, OUTPUT, TIMEOUT, TRAP, RunResult
from .traps import describe_trap
from .wasmtime_internals import (call_plain, exported_function, instantiate, plain_functions, set_argv_env,
                                 use_pooling_allocator)

MiB = 1024 * 1024
#: The wasm stack of a run: Wagi 0.8.1's (wasmtime 0.34's default), where wasmtime-py 50's is
#: 512 KiB; deep recursion that works under Wagi (a Grain file server's 8 MiB file) works here.
WASM_STACK = 1 * MiB


@dataclass(kw_only=True)
class LoadedModule:
    """A compiled module, linked once and instantiated afresh for every run."""

    module: wasmtime.Module
    pre: wasmtime.InstancePre
    sha256: str
    #: Exported function names.
    functions: frozenset
    size: int
    #: The exported functions that take and return nothing (called without wasmtime-py's wrappers).
    plain: frozenset = frozenset()

    @property
    def is_command(self) -> bool:
        return "_start" in self.functions


@dataclass(frozen=True)
class Pooling:
    """wasmtime's pooling instance allocator, for a process whose instances at once are bounded
    (a server: its module slots). Each of ``instances`` slots keeps its address space reserved
    between instances instead of mapping and unmapping it every run; a module's memory image
    stays mapped copy-on-write in the slot it last used. An instantiation past ``instances`` at
    once fails (a trap), so give room over the bound. ``memory_mib`` is the memory limit the runs
    will have (the store limits still apply to each run; the pool's own bounds are looser)."""

    instances: int
    memory_mib: int


class Runtime:
    """Runs WASI modules. Use :func:`get_runtime` for the process-wide one."""

    def __init__(self, pooling: Optional[Pooling] = None):
        # wasmtime aborts the process when it cannot reserve the pool's address space: under an
        # address-space limit (ulimit -v) too small for it, instances are allocated one by one.
        self.pooling = pooling if pooling is not None and _pool_fits(pooling) else None
        self.engine = wasmtime.Engine(_config(self.pooling))
        self.linker = wasmtime.Linker(self.engine)
        self.linker.define_wasi()
        self._clock = poll_oneoff.RunClock()
        poll_oneoff.define(self.linker, self._clock)
        self._streams = stdio.RunStreams()
        self._wasi = stdio.define(self.linker, self.engine, self._streams)
        self._outbound = outbound_http.RunSessions()
        outbound_http.define(self.linker, self._outbound)
        self.loaded_modules = ModuleMemo()
        self._lock = threading.Lock()
        _remove_orphaned_scratch(_fast_tmp())  # (of an older wagi_nb's processes that were killed)
        start_ticker(self.engine)

    # -- loading -----------------------------------------------------------------------------
    def load(self, wasm: Union[bytes, str, os.PathLike], *, title: Optional[str] = None) -> LoadedModule:
        """Compile (or fetch from the native-code cache) and link a module; memoised by content
        (:mod:`~wagi_nb.runtime.module_memo`: the ones used last, and any still held elsewhere).

        A file already loaded is not read and hashed again while its device, inode, size,
        modification and change times are the same (a cell's module is loaded on every run);
        any write to the file, or a new file in its place, changes them. A compile (the module is
        not in the native-code cache) is told to the context's listener
        (:mod:`~wagi_nb.runtime.activity`), naming the module as ``title`` ("the Python
        interpreter"; default "the module").
        """
        if isinstance(wasm, (bytes, bytearray)):
            return self._load_data(wasm, title=title)
        path = os.fspath(wasm)
        stat = os.stat(path)
        signature = (stat.st_dev, stat.st_ino, stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns)
        known = self.loaded_modules.for_file(path, signature)
        if known is not None:
            return known
        # stat before reading: a change made in between leaves a signature that no longer matches
        loaded = self._load_data(Path(path).read_bytes(), name=Path(path).name, title=title)
        self.loaded_modules.file_loaded(path, signature, loaded.sha256)
        return loaded

    def _load_data(self, data: Union[bytes, bytearray], name: str = "The module",
                   title: Optional[str] = None) -> LoadedModule:
        sha = hashlib.sha256(data).hexdigest()
        loaded = self.loaded_modules.get(sha)
        if loaded is None:
            with self._lock:
                loaded = self.loaded_modules.get(sha) or self._load(bytes(data), sha, name, title)
                self.loaded_modules.add(sha, loaded)
        return loaded

    def _load(self, data: bytes, sha: str, name: str = "The module", title: Optional[str] = None) -> LoadedModule:
        # What can be told from the bytes is told before compiling, the slow part, and before
        # anything is written to the native-code cache.
        binary = wasm_binary(data, name)
        check_linkable(binary, self.provides(), name)
        module = self._native_module(binary, sha, title or "the module")
        try:
            pre = self.linker.instantiate_pre(module)
        except wasmtime.WasmtimeError as error:
            raise ModuleNotLinkable(
                f"{name} cannot be linked: {str(error).strip()}. It imports something wagi-nb provides, "
                "but with another type than wagi-nb's (WASI preview 1, `wasi_snapshot_preview1`); build "
                "for wasm32-wasi/wasm32-wasip1 with a current toolchain.") from None
        functions = frozenset(e.name for e in module.exports if isinstance(e.type, wasmtime.FuncType))
        return LoadedModule(module=module, pre=pre, sha256=sha, functions=functions, size=len(data),
                            plain=plain_functions(module))

    def provides(self):
        """``(module, name) → kind or None``: what this runtime's linker defines, asked of the linker."""
        return linker_provides(self.linker, self.engine)

    def _native_module(self, data: bytes, sha: str, title: str = "the module") -> wasmtime.Module:
        """wasmtime's compiled code for ``data``, cached on disk so a re-run does not re-JIT."""
        path = native_code_path(sha)
        if path.is_file():
            try:
                return wasmtime.Module.deserialize_file(self.engine, str(path))
            except wasmtime.WasmtimeError:
                pass  # written by an incompatible engine configuration: compile again
        try:
            # (wasmtime-py calls through ctypes, which lets other Python threads run meanwhile.)
            with activity.doing(compiling_message(title, len(data))):
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
    def run(self, module: LoadedModule, args: Sequence[str] = (), *, limits: RunLimits = CELL_LIMITS,
            env: Optional[Mapping] = None, stdin: Union[bytes, str] = b"", dirs: Iterable[tuple] = (),
            entrypoint: str = "_start", program: str = "main.wasm", inherit_stdio: bool = False,
            outbound: Optional[outbound_http.OutboundPolicy] = None,
            on_stdout: Optional[Callable[[bytes], None]] = None, sigint: bool = True,
            cpu_budget: Optional[float] = None) -> RunResult:
        """Run ``module`` once on a fresh instance, under ``limits``.

        ``args`` follow ``program`` in argv; ``env`` is all the module sees of
        an environment; ``dirs`` are ``(host_path, guest_path)`` or
        ``(host_path, guest_path, read_only)`` tuples to preopen.
        ``limits.memory_limit_mib`` bounds everything the instance can allocate
        (:mod:`~wagi_nb.runtime.limits`); ``limits.max_output_mib`` caps stdout and
        stderr each (past it the module is stopped: outcome ``"output"``).
        ``inherit_stdio`` connects the module to this process's
        stdin/stdout/stderr instead (the command line's ``run``); the result's
        streams are then empty. ``outbound`` is what the module may reach with
        ``wasi_experimental_http`` (default: nothing). ``on_stdout`` is given what the module writes
        to stdout while it runs, from another thread, every few tens of milliseconds (the result
        still holds all of it). On the main thread (a notebook cell), Ctrl-C stops
        the module within a tick and raises :class:`~wagi_nb.errors.ModuleInterrupted`
        (a :class:`KeyboardInterrupt`), unless ``sigint`` is False (a server's event loop, which
        handles its signals itself). ``cpu_budget`` (seconds) also stops the run, as a timeout,
        once its thread has used that much CPU time, or as soon as the module would wait.
        """
        if entrypoint not in module.functions:
            raise NotACommand(_missing_entrypoint(module, entrypoint))
        spec = self.spec(module, limits, argv=(program, *args), env=env, entrypoint=entrypoint,
                         stdin=stdin.encode() if isinstance(stdin, str) else stdin, dirs=tuple(dirs),
                         inherit_stdio=inherit_stdio, outbound=outbound, on_stdout=on_stdout,
                         cpu_budget=cpu_budget)
        store = wasmtime.Store(self.engine)
        if limits.memory_limit_mib:
            store.set_limits(**_limits(limits.memory_limit_mib))
        start = time.perf_counter()
        with self.running(store, spec, sigint=sigint) as captured:
            outcome, code, trap, frames = _call(store, spec)
        if spec.deadline.reason == "interrupted" and captured.sigint:
            raise ModuleInterrupted()
        duration = time.perf_counter() - start
        # A stop decided by wagi_nb wins over how the module happened to end after it.
        deadline = spec.deadline
        if deadline.reason == "timeout":
            outcome, code, trap = TIMEOUT, None, f"timed out after {deadline.timeout:g} s"
        elif deadline.reason == "interrupted":
            outcome, code, trap = INTERRUPTED, None, "interrupted"
        elif deadline.reason == "output":
            outcome, code = OUTPUT, None
            trap = f"printed more than the {(deadline.max_output or 0) / MiB:g} MiB output cap"
        return RunResult(stdout=captured.stdout, stderr=captured.stderr, outcome=outcome, exit_code=code,
                         trap=trap, backtrace=frames, duration=duration)

    def spec(self, module: LoadedModule, limits: RunLimits, *, argv: Tuple[str, ...], entrypoint: str,
             env: Optional[Mapping] = None, stdin: bytes = b"", dirs: Tuple[tuple, ...] = (),
             inherit_stdio: bool = False, outbound: Optional[outbound_http.OutboundPolicy] = None,
             on_stdout: Optional[Callable[[bytes], None]] = None,
             cpu_budget: Optional[float] = None) -> "RunSpec":
        """One run of ``module`` under ``limits``, its output captured in memory."""
        max_output = None if limits.max_output_mib is None or inherit_stdio else int(limits.max_output_mib * MiB)
        outputs = (stdio.Capture(max_output), stdio.Capture(max_output))
        deadline = (Deadline(limits.timeout, max_output, outputs) if cpu_budget is None
                    else CpuBudget(limits.timeout, cpu_budget, max_output, outputs))
        return RunSpec(module=module, argv=argv, env=dict(env or {}), stdin=stdin,
                       memory_limit_mib=limits.memory_limit_mib, dirs=dirs, entrypoint=entrypoint,
                       deadline=deadline, inherit_stdio=inherit_stdio, outputs=outputs, outbound=outbound,
                       on_stdout=on_stdout)

    @contextlib.contextmanager
    def running(self, store: wasmtime.Store, spec: "RunSpec", *, sigint: bool = True) -> Iterator["Captured"]:
        """Around every call into a module (``_start``, an entrypoint, an exported function): a fresh
        WASI context for ``spec`` on ``store``, its clock, streams and outbound HTTP, the deadline
        watched (Ctrl-C too, on the main thread unless ``sigint`` is False); afterwards what it
        printed is in the :class:`Captured` yielded (``.sigint``: Ctrl-C was watched)."""
        self._clock.start(spec.deadline)
        self.start_streams(spec)
        outbound = self._outbound.start(spec.outbound, spec.deadline)
        store.set_wasi(_wasi_config(spec))
        # On the main thread (a notebook cell, the command line) Ctrl-C stops the module and then
        # the cell, instead of waiting for the module.
        main = sigint and threading.current_thread() is threading.main_thread()
        captured = Captured(sigint=main)
        tail = StdoutTail(spec.outputs[0], spec.on_stdout) if spec.on_stdout and not spec.inherit_stdio else None
        try:
            with watch(store, spec.deadline), (cancels_on_sigint(spec.deadline) if main else contextlib.nullcontext()):
                yield captured
        finally:
            self._outbound.end()
            self._streams.end()
            if tail is not None:
                tail.finish()
            captured.stdout, captured.stderr = _collect(spec)
            if outbound.notes:
                captured.stderr += outbound.stderr_lines()

    def start_streams(self, spec: "RunSpec") -> None:
        """Point descriptors 1 and 2 of the run about to start at its captured streams (or, with
        ``inherit_stdio``, at this process's)."""
        self._wasi.reset()
        if spec.inherit_stdio:
            self._streams.start(1, 2, dirs=spec.dirs)
        else:
            self._streams.start(spec.outputs[0], spec.outputs[1], spec.stdin, spec.dirs)

class CpuBudget(Deadline):
    """A :class:`Deadline` that also times out once the thread that made it has used ``cpu``
    seconds of CPU time (looked at where the deadline is: at every epoch tick, and while the
    module waits in ``poll_oneoff``), or as soon as the module would wait (a WASI sleep). Unlike
    wall-clock time, it does not run out while the machine is busy with something else."""

    may_wait = False

    def __init__(self, timeout: Optional[float], cpu: float, max_output: Optional[int] = None,
                 outputs: tuple = ()):
        super().__init__(timeout, max_output, outputs)
        self.cpu_expires = time.thread_time() + cpu

    def check(self) -> Optional[str]:
        reason = super().check()
        if reason is None and time.thread_time() >= self.cpu_expires:
            return "timeout"
        return reason


@dataclass
class Captured:
    """What a run printed (filled in as :meth:`Runtime.running` ends)."""

    sigint: bool = False
    stdout: bytes = b""
    stderr: bytes = b""


@dataclass(kw_only=True)
class RunSpec:
    """One run: what :meth:`Runtime.running` sets a store up for."""

    module: LoadedModule
    argv: Tuple[str, ...]
    env: Dict[str, str]
    stdin: bytes
    memory_limit_mib: Optional[float]
    #: ``(host, guest)`` or ``(host, guest, read_only)``.
    dirs: Tuple[tuple, ...]
    entrypoint: str
    deadline: Deadline
    inherit_stdio: bool
    #: What the run writes to stdout and stderr.
    outputs: Tuple[stdio.Capture, stdio.Capture]
    #: What ``wasi_experimental_http`` may reach (None: nothing).
    outbound: Optional[outbound_http.OutboundPolicy] = None
    #: Given stdout as it is written (a notebook cell streams it).
    on_stdout: Optional[Callable[[bytes], None]] = None


class StdoutTail:
    """Hands what a running module appends to its stdout to a callback, from a thread."""

    INTERVAL = 0.05

    def __init__(self, capture: stdio.Capture, callback: Callable[[bytes], None]):
        self.capture, self.callback, self.taken = capture, callback, 0
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._follow, name="wagi_nb-stdout-tail", daemon=True)
        self._thread.start()

    def _follow(self) -> None:
        while not self._done.wait(self.INTERVAL):
            self._read()

    def _read(self) -> None:
        chunks = self.capture.chunks[self.taken:]  # (appended to by the run's thread: a copy)
        if chunks:
            self.taken += len(chunks)
            self.callback(b"".join(chunks))

    def finish(self) -> None:
        """Stop following, then hand over what is left."""
        self._done.set()
        self._thread.join()
        self._read()


def _wasi_config(spec: RunSpec) -> wasmtime.WasiConfig:
    wasi = wasmtime.WasiConfig()
    set_argv_env(wasi, spec.argv, spec.env)
    if spec.inherit_stdio:
        wasi.inherit_stdin()
        wasi.inherit_stdout()
        wasi.inherit_stderr()
    # Otherwise descriptors 0-2 are read and written by stdio.py (the body from memory, output into
    # memory); wasmtime's own streams only answer what those functions leave to it
    # (fd_fdstat_get, fd_filestat_get: the same "unknown" file type either way), so they are left
    # empty: no file opened and closed by wasmtime per run.
    for host, guest, *read_only in spec.dirs:
        wasi.preopen_dir(str(host), str(guest), not (read_only and read_only[0]))
    return wasi


@functools.lru_cache(maxsize=16)
def _limits(memory_limit_mib: float) -> dict:
    return instance_limits(memory_limit_mib)


def _call(store: wasmtime.Store, spec: RunSpec) -> tuple:
    """Instantiate and call the entrypoint: (outcome, exit code, trap line, backtrace)."""
    instance = None
    try:
        if spec.entrypoint in spec.module.plain:
            instance = instantiate(store, spec.module.pre)
            call_plain(store, instance, spec.entrypoint)
        else:  # a function with parameters or results: wasmtime-py checks and converts them
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
    """What the run printed (the output cap's worth)."""
    if spec.inherit_stdio:
        return b"", b""
    out, err = spec.outputs
    if out.over or err.over:
        spec.deadline.reason = spec.deadline.reason or "output"
    return out.value(), err.value()


def compiling_message(title: str, size: int) -> str:
    """What a compile to native code tells the listener: "Compiling the Python interpreter (26.3 MB) to
    native code (first use; later runs take a moment)". Later runs read the native-code cache."""
    return f"Compiling {title} ({size / 1e6:.1f} MB) to native code (first use; later runs take a moment)"


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
    """The memory-backed folder earlier versions kept per-run stdio files in, where there is one."""
    shm = "/dev/shm"
    return shm if os.path.isdir(shm) and os.access(shm, os.W_OK) else None


def _pool_fits(pooling: Pooling) -> bool:
    """The address space the pool reserves (4 GiB and a guard per memory slot, its tables) is
    within this process's limit, with room to spare."""
    import resource
    soft, _ = resource.getrlimit(resource.RLIMIT_AS)
    if soft == resource.RLIM_INFINITY:
        return True
    table_bytes = 4 * instance_limits(pooling.memory_mib)["table_elements"] * 8
    reserved = pooling.instances * ((4 << 30) + (64 << 20) + 4 * max(table_bytes, 8 << 20))
    return soft > 2 * reserved + (4 << 30)


def _config(pooling: Optional[Pooling]) -> wasmtime.Config:
    config = wasmtime.Config()
    config.epoch_interruption = True
    config.max_wasm_stack = WASM_STACK
    if pooling is not None:
        # The pool's table slots hold what the runs' store limits let a table have, and more: a
        # module whose table needs more still loads, and fails its runs with their message.
        limits = instance_limits(pooling.memory_mib)
        # Each run may add a memoryless helper instance (stdio.py): twice the instances, not memories.
        use_pooling_allocator(config, instances=limits["instances"] * pooling.instances,
                              memories=pooling.instances,
                              tables=pooling.instances * limits["tables"],
                              table_elements=max(4 * limits["table_elements"], 1 << 20))
    return config


_runtime: Optional[Runtime] = None
_runtime_lock = threading.Lock()
_pooling: Optional[Pooling] = None


def get_runtime() -> Runtime:
    """The process-wide :class:`Runtime` (created on first use)."""
    global _runtime
    if _runtime is None:
        with _runtime_lock:
            if _runtime is None:
                _runtime = Runtime(_pooling)
    return _runtime


def use_pooling(pooling: Optional[Pooling]) -> bool:
    """Have the process-wide runtime, when it is created, allocate instances from a pool (see
    :class:`Pooling`); False if it exists already (it is then left as it is)."""
    global _pooling
    with _runtime_lock:
        if _runtime is not None:
            return False
        _pooling = pooling
        return True
