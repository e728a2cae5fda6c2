"""Calling a module's exported functions from Python: ``wagi_nb.modules["m"].exports.add(2, 3)``.

Two ways, as wasmtime-py and ``%%cython`` users would expect:

* ``artifact.exports.add(2, 3)`` — every call on a **fresh instance** (nothing is kept between calls);
* ``inst = artifact.instantiate()`` then ``inst.exports.add(2, 3)`` — a **kept instance**: globals and
  memory stay between calls (a counter counts), and ``inst.write_bytes`` / ``inst.read_bytes`` /
  ``inst.call_with_bytes`` move bytes through its linear memory.

Each call has the limits of a run (:meth:`wagi_nb.Artifact.run`): an instance may allocate at most
``memory_limit_mib``, each call is stopped after ``timeout`` seconds (epoch interruption, also while it
sleeps), or once it prints more than ``max_output_mib``; Ctrl-C stops it. WASI has no arguments but the
program name, no environment, an empty stdin and no preopened folders; what a call prints to stdout and
stderr is copied to Python's ``sys.stdout``/``sys.stderr`` when it returns (in a notebook: the cell's
output).

Arguments are Python numbers converted per the function's wasm type: ``int`` for ``i32``/``i64``
(from the signed minimum to the unsigned maximum; wasm integers carry no sign, so results come back
signed), ``int`` or ``float`` for ``f32``/``f64``. A function returns ``None`` (no results), a number, or a
tuple (several). ``bytes`` are never passed implicitly: a pointer and a length are two wasm arguments,
and the bytes must first be put into the memory of the instance that reads them (``call_with_bytes``).

Command or reactor: an instance made here never runs ``_start`` (that would run ``main``). A reactor's
``_initialize`` (C built with ``-mexec-model=reactor``) is called once when the instance is made; a
module with neither ``_start`` nor ``_initialize`` that exports ``__wasm_call_ctors`` gets that called
instead. A command (C and Rust cells with a ``main``) needs nothing: wasm-ld wraps every export of a
command so that it runs the constructors before the function and the destructors (which flush C's stdio)
after it.
"""
from __future__ import annotations

import inspect
import numbers
import operator
import sys
import threading
from dataclasses import dataclass
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple

import wasmtime

from ..errors import ModuleInterrupted, WagiNbError
from .engine import LoadedModule, Runtime, get_runtime
from .limits import CELL_LIMITS, RunLimits, instance_limits, limit_message
from .traps import describe_trap
from .wasmtime_internals import exported_function

#: Allocators :meth:`Instance.write_bytes` looks for, in this order, with the wasm types they must have.
ALLOCATORS: Tuple[Tuple[str, Tuple[str, ...]], ...] = (
    ("malloc", ("i32",)),                        # C (export it: -Wl,--export=malloc)
    ("alloc", ("i32",)),                         # a Rust/Zig `alloc(len) -> *mut u8`
    ("allocate", ("i32",)),
    ("cabi_realloc", ("i32", "i32", "i32", "i32")),  # the component model's (wit-bindgen)
)
#: Matching deallocators: ``free(ptr)``, ``dealloc(ptr, len)``, ``deallocate(ptr, len)``.
DEALLOCATORS: Tuple[Tuple[str, Tuple[str, ...]], ...] = (
    ("free", ("i32",)),
    ("dealloc", ("i32", "i32")),
    ("deallocate", ("i32", "i32")),
)
#: Exports that belong to the module's life cycle, not to the functions one calls.
LIFECYCLE = {"_start": "the command's entry point (it runs `main`): run it with .run()",
             "_initialize": "the reactor's initialiser, called once when an instance is made"}
#: What the C and Rust runtimes export beside a command's ``_start`` (which calls it): ``main`` itself,
#: not a function the user wrote to call. Left out of a command's listing and completion; still
#: callable by name, as before.
COMMAND_MAIN = frozenset({"main", "__main_argc_argv", "__main_void", "__original_main"})

_INT_BITS = {"i32": 32, "i64": 64}
_FLOATS = ("f32", "f64")


class ExportError(WagiNbError):
    """Something about calling a module's exports went wrong (no such memory, no allocator ...)."""


class NoSuchExport(ExportError, AttributeError):
    """The module exports no function of that name; the message lists those it does export."""


class ArgumentError(ExportError, TypeError):
    """The arguments do not fit the function's wasm signature (count, type or range)."""


class CallError(ExportError):
    """The call did not return: it trapped, called ``exit``, timed out or printed past the output cap.

    ``outcome`` is ``"trap"``, ``"exit"``, ``"timeout"`` or ``"output"``; ``trap`` wasmtime's one-line
    reason, ``backtrace`` the frames (innermost first), ``exit_code`` the status of an ``exit``.
    """

    def __init__(self, message: str, *, outcome: str, trap: Optional[str] = None,
                 backtrace: Optional[List[str]] = None, exit_code: Optional[int] = None):
        super().__init__(message)
        self.outcome, self.trap, self.exit_code = outcome, trap, exit_code
        self.backtrace = backtrace or []


@dataclass(frozen=True)
class Signature:
    """A function's wasm type: ``add(i32, i32) -> i32``."""

    name: str
    params: Tuple[str, ...]
    results: Tuple[str, ...]

    def __str__(self) -> str:
        text = f"{self.name}({', '.join(self.params)})"
        if len(self.results) == 1:
            return f"{text} -> {self.results[0]}"
        return f"{text} -> ({', '.join(self.results)})" if self.results else text


_signatures: Dict[str, Dict[str, Signature]] = {}


def signatures(module: LoadedModule) -> Dict[str, Signature]:
    """Every exported function of ``module`` (life-cycle ones too), name → :class:`Signature`."""
    known = _signatures.get(module.sha256)
    if known is None:
        known = {}
        for export in module.module.exports:
            if isinstance(export.type, wasmtime.FuncType):
                known[export.name] = Signature(export.name, tuple(str(t) for t in export.type.params),
                                               tuple(str(t) for t in export.type.results))
        _signatures[module.sha256] = known
    return known


def convert_arguments(signature: Signature, args: tuple, kwargs: Optional[dict] = None) -> list:
    """Python numbers → the values wasmtime takes for ``signature``; :class:`ArgumentError` if they
    do not fit."""
    if kwargs:
        raise ArgumentError(f"`{signature}` takes positional arguments only (wasm parameters have no "
                            f"names), but was given {', '.join(f'{k}=' for k in kwargs)}.")
    if len(args) != len(signature.params):
        wanted = len(signature.params)
        raise ArgumentError(f"`{signature}` takes {wanted} argument{'s' if wanted != 1 else ''}, "
                            f"but {len(args)} {'were' if len(args) != 1 else 'was'} given.")
    return [_to_wasm(signature, index, kind, value)
            for index, (kind, value) in enumerate(zip(signature.params, args, strict=True), 1)]


def _to_wasm(signature: Signature, index: int, kind: str, value: Any):
    where = f"`{signature}`: argument {index}"
    if isinstance(value, (bytes, bytearray, memoryview, str)):
        what = "a str (encode it to bytes first)" if isinstance(value, str) else "bytes"
        raise ArgumentError(
            f"{where} is {what}, {_short(value)}, but a wasm function takes numbers only. Put the bytes "
            f"into a kept instance's memory and pass their address and length: inst = artifact."
            f"instantiate(); inst.call_with_bytes({signature.name!r}, data) calls {signature.name}(ptr, len), "
            "or ptr, length = inst.write_bytes(data) first.")
    if kind in _INT_BITS:
        if isinstance(value, float) or not hasattr(value, "__index__"):
            raise ArgumentError(f"{where} is a {type(value).__name__} ({_short(value)}); an {kind} takes a "
                                "Python int.")
        number = operator.index(value)
        bits = _INT_BITS[kind]
        if not -(1 << (bits - 1)) <= number < (1 << bits):
            raise ArgumentError(f"{where}, {number}, does not fit an {kind}: it takes {-(1 << (bits - 1))} to "
                                f"{(1 << bits) - 1} (past {(1 << (bits - 1)) - 1} as an unsigned value's bits).")
        return number - (1 << bits) if number >= 1 << (bits - 1) else number
    if kind in _FLOATS:
        if not isinstance(value, numbers.Real):
            raise ArgumentError(f"{where} is a {type(value).__name__} ({_short(value)}); an {kind} takes a "
                                "Python float or int.")
        try:
            return float(value)
        except OverflowError:
            raise ArgumentError(f"{where}, {_short(value)}, is too large for an {kind}.") from None
    raise ArgumentError(f"`{signature}` takes a {kind} as argument {index}, which cannot be passed from "
                        "Python; only functions of i32, i64, f32 and f64 can be called.")


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _result(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


class Instance:
    """One instance of a module, kept between calls (state, memory, globals stay).

    Made by :meth:`wagi_nb.Artifact.instantiate`. ``exports.NAME(*args)`` calls a function;
    :meth:`write_bytes`, :meth:`read_bytes`, :meth:`call_with_bytes` and :meth:`free` move bytes
    through the instance's memory. Every call has its own ``timeout`` and output cap; the memory
    limit holds for the instance's whole life. A call that traps or times out leaves the instance
    usable, though its state may be half-updated. Calls from several threads take turns. Use it as a
    context manager, or :meth:`close` it, to let go of its memory at once.
    """

    def __init__(self, module: LoadedModule, *, label: str = "module", limits: RunLimits = CELL_LIMITS,
                 runtime: Optional[Runtime] = None):
        self.module, self.label, self.limits = module, label, limits
        self._runtime = runtime or get_runtime()
        self._signatures = signatures(module)
        self._lock = threading.RLock()
        self._functions: Dict[str, Any] = {}
        self._memory: Optional[wasmtime.Memory] = None
        store = wasmtime.Store(self._runtime.engine)
        if limits.memory_limit_mib:
            store.set_limits(**instance_limits(limits.memory_limit_mib))
        self._store: Optional[wasmtime.Store] = store
        self._instance: Optional[wasmtime.Instance] = None
        #: The exported functions: ``inst.exports.add(2, 3)``; ``dir(inst.exports)`` lists them.
        self.exports = Exports(self._signatures, self._call_converted, label)
        self._instance = self._guarded(Signature("instantiate", (), ()), lambda: module.pre.instantiate(store))
        for name in self._initialisers():
            self._call_converted(self._signatures[name], [])

    def _initialisers(self) -> List[str]:
        if "_initialize" in self._signatures:
            return ["_initialize"]
        if "_start" not in self._signatures and "__wasm_call_ctors" in self._signatures:
            return ["__wasm_call_ctors"]
        return []

    # -- calling -----------------------------------------------------------------------------------
    def call(self, name: str, *args: Any) -> Any:
        """``exports.NAME(*args)``, for a name that is no Python identifier (``"my-func"``)."""
        return self.exports[name](*args)

    def _call_converted(self, signature: Signature, values: list) -> Any:
        with self._lock:
            store = self._live_store()
            function = self._functions.get(signature.name)
            if function is None:
                function = self._functions[signature.name] = exported_function(store, self._made(),
                                                                               signature.name)
            return _result(self._guarded(signature, lambda: function(store, *values)))

    def _live_store(self) -> wasmtime.Store:
        if self._store is None:
            raise ExportError(f"This instance of {self.label} is closed; make another with "
                              "artifact.instantiate().")
        return self._store

    def _made(self) -> wasmtime.Instance:
        assert self._instance is not None, "the instance is being made"
        return self._instance

    def _guarded(self, signature: Signature, call: Callable[[], Any]) -> Any:
        """Run ``call`` (which enters wasm) with the limits, the output capture and Ctrl-C."""
        store, limits, runtime = self._live_store(), self.limits, self._runtime
        # A fresh WASI context per call: its stdout and stderr are captured in memory for the call,
        # and its clocks start with the call as poll_oneoff's do.
        spec = runtime.spec(self.module, limits, argv=(f"{self.label}.wasm",), entrypoint=signature.name)
        deadline = spec.deadline
        failure: Optional[CallError] = None
        value = None
        with runtime.running(store, spec) as captured:
            try:
                value = call()
            except wasmtime.ExitTrap as exit_:
                failure = CallError(f"`{signature}` called exit({exit_.code}) instead of returning; a function "
                                    "called from Python should return its result.",
                                    outcome="exit", exit_code=exit_.code)
            except (wasmtime.Trap, wasmtime.WasmtimeError) as error:
                trap, frames = describe_trap(error)
                if self._instance is None:
                    trap = limit_message(str(error), limits.memory_limit_mib) or trap
                failure = CallError(self._trap_message(signature, trap, frames), outcome="trap", trap=trap,
                                    backtrace=frames)
        _forward(captured.stdout, captured.stderr)
        if deadline.reason == "interrupted":
            raise ModuleInterrupted()
        if deadline.reason == "timeout":
            raise CallError(f"`{signature}` was stopped after {limits.timeout:g} s (the timeout); give it "
                            "longer with instantiate(timeout=...) or exports_with(timeout=...), or None "
                            "for no limit.", outcome="timeout", trap=f"timed out after {limits.timeout:g} s")
        if deadline.reason == "output":
            raise CallError(f"`{signature}` was stopped: it printed more than the {limits.max_output_mib:g} "
                            "MiB output cap (max_output_mib).", outcome="output")
        if failure is not None:
            raise failure
        return value

    def _trap_message(self, signature: Signature, trap: str, frames: List[str]) -> str:
        if self._instance is None:
            return f"{self.label} could not be instantiated: {trap}."
        where = ""
        names = [name for name in (frame.split(" ", 1)[-1] for frame in frames) if name != "<unknown>"]
        if names:
            where = f" (in {' ← '.join(names[:4])}{' ← …' if len(names) > 4 else ''})"
        kept = "" if signature.name in LIFECYCLE else \
            " The call was abandoned; a kept instance stays usable, but its state may be half-updated."
        return f"`{signature}` trapped: {trap}{where}.{kept}"

    # -- memory ------------------------------------------------------------------------------------
    @property
    def memory(self) -> wasmtime.Memory:
        """The instance's exported linear memory (``memory``, else the first one it exports)."""
        if self._memory is None:
            store = self._live_store()
            names = [e.name for e in self.module.module.exports if isinstance(e.type, wasmtime.MemoryType)]
            if not names:
                raise ExportError(f"{self.label} exports no memory, so Python cannot read or write its bytes.")
            found = exported_function(store, self._made(), "memory" if "memory" in names else names[0])
            assert isinstance(found, wasmtime.Memory)
            self._memory = found
        return self._memory

    @property
    def memory_size(self) -> int:
        """The linear memory's current size in bytes."""
        with self._lock:
            return self.memory.data_len(self._live_store())

    def read_bytes(self, ptr: int, length: int) -> bytes:
        """``length`` bytes of the instance's memory from address ``ptr``."""
        with self._lock:
            self._check_range(ptr, length, "read")
            return bytes(self.memory.read(self._live_store(), ptr, ptr + length))

    def write_bytes(self, data: bytes, ptr: Optional[int] = None) -> Tuple[int, int]:
        """Copy ``data`` into the instance's memory and return ``(ptr, len(data))``.

        Without ``ptr`` the bytes go into a block from the module's own allocator: the first
        exported of ``malloc(size)``, ``alloc(size)``, ``allocate(size)`` or
        ``cabi_realloc(0, 0, 1, size)``; free it with :meth:`free`. With ``ptr`` they are written
        there (a buffer the module owns, say).
        """
        if not isinstance(data, (bytes, bytearray, memoryview)):
            hint = " (encode a str first: text.encode())" if isinstance(data, str) else ""
            raise ArgumentError(f"write_bytes takes bytes, not a {type(data).__name__}{hint}.")
        data = bytes(data)
        with self._lock:
            if ptr is None:
                ptr = self._allocate(len(data))
            self._check_range(ptr, len(data), "write")
            self.memory.write(self._live_store(), data, ptr)
            return ptr, len(data)

    def free(self, ptr: int, length: int) -> None:
        """Give back a block :meth:`write_bytes` allocated: ``free(ptr)``, ``dealloc(ptr, length)`` or
        ``deallocate(ptr, length)``, the first the module exports; a module that exports none keeps it."""
        name = self._find(DEALLOCATORS)
        if name is not None:
            args = (ptr,) if len(self._signatures[name].params) == 1 else (ptr, length)
            self.exports[name](*args)

    def call_with_bytes(self, name: str, data: bytes, *args: Any) -> Any:
        """Call ``name(ptr, len, *args)`` with ``data`` copied into the instance's memory (the common
        ``count(const char *p, size_t n)`` shape), free the block afterwards, and return the result."""
        function = self.exports[name]
        if len(function.signature.params) < 2:
            raise ArgumentError(f"call_with_bytes passes a pointer and a length, but `{function.signature}` "
                                "takes fewer than two arguments.")
        with self._lock:
            ptr, length = self.write_bytes(data)
            try:
                return function(ptr, length, *args)
            finally:
                self.free(ptr, length)

    def _allocate(self, size: int) -> int:
        name = self._find(ALLOCATORS)
        if name is None:
            raise ExportError(
                f"{self.label} exports no allocator, so write_bytes cannot find room for the bytes. Export "
                "one of malloc(size), alloc(size), allocate(size) or cabi_realloc (a C cell: --flags "
                "'-Wl,--export=malloc -Wl,--export=free'), or pass ptr= (a buffer the module owns).")
        function = self.exports[name]
        ptr = function(0, 0, 1, max(size, 1)) if name == "cabi_realloc" else function(max(size, 1))
        ptr &= 0xFFFFFFFF
        if ptr == 0:
            raise ExportError(f"{name}({size}) returned NULL: the instance is out of memory "
                              f"(its limit is {self.limits.memory_limit_mib} MiB).")
        return ptr

    def _find(self, candidates) -> Optional[str]:
        for name, params in candidates:
            found = self._signatures.get(name)
            if found is not None and found.params == params:
                return name
        return None

    def _check_range(self, ptr: int, length: int, what: str) -> None:
        if isinstance(ptr, bool) or not isinstance(ptr, int) or not isinstance(length, int):
            raise ArgumentError(f"{what}_bytes takes an int address and length, not {_short(ptr)}, "
                                f"{_short(length)}.")
        size = self.memory.data_len(self._live_store())
        if ptr < 0 or length < 0 or ptr + length > size:
            raise ExportError(f"Cannot {what} {length} bytes at address {ptr}: the instance's memory has "
                              f"{size:,} bytes (addresses 0 to {size - 1}).")

    # -- life --------------------------------------------------------------------------------------
    def close(self) -> None:
        """Let go of the instance (its memory is freed); later calls raise :class:`ExportError`."""
        with self._lock:
            self._store = self._memory = None
            self._functions.clear()

    def __enter__(self) -> "Instance":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self._store is None else f"{self._memory_text()} bytes of memory"
        return f"<wagi_nb Instance of {self.label} ({state}); exports: {', '.join(self.exports) or 'none'}>"

    def _memory_text(self) -> Any:
        try:
            return f"{self.memory_size:,}"
        except ExportError:
            return "no"


def _forward(stdout: bytes, stderr: bytes) -> None:
    """What a call printed, onto Python's streams (a notebook shows it under the cell)."""
    if stdout:
        sys.stdout.write(stdout.decode("utf-8", "replace"))
        sys.stdout.flush()
    if stderr:
        sys.stderr.write(stderr.decode("utf-8", "replace"))
        sys.stderr.flush()


class ExportedFunction:
    """One exported function: call it with Python numbers (``add(2, 3)``); ``signature`` is its wasm
    type, ``str(f.signature)`` reads ``add(i32, i32) -> i32``."""

    def __init__(self, signature: Signature, call: Callable[[Signature, list], Any], label: str):
        self.signature, self._call, self.label = signature, call, label
        self.__name__ = signature.name
        self.__doc__ = f"`{signature}`, exported by {label}."

    @property
    def __signature__(self) -> inspect.Signature:
        params = [inspect.Parameter(f"arg{i}", inspect.Parameter.POSITIONAL_ONLY, annotation=kind)
                  for i, kind in enumerate(self.signature.params, 1)]
        results = self.signature.results
        returns = None if not results else results[0] if len(results) == 1 else tuple(results)
        return inspect.Signature(params, return_annotation=returns)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._call(self.signature, convert_arguments(self.signature, args, kwargs))

    def __repr__(self) -> str:
        return f"<wasm function {self.signature} of {self.label}>"


class Exports:
    """A module's exported functions as attributes: ``exports.add(2, 3)``, ``exports["my-func"]``.

    ``dir()`` and iteration give the names (``_start``/``_initialize`` left out: they are the
    module's life cycle; so is a command's ``main``, which its ``_start`` calls, though it can still be
    called by name); a name the module does not export raises :class:`NoSuchExport` (an
    :class:`AttributeError`) listing those it does. It has no other public attributes, so no
    exported name is hidden by one.
    """

    def __init__(self, functions: Dict[str, Signature], call: Callable[[Signature, list], Any], label: str):
        self._functions, self._caller, self._label = functions, call, label
        self._unlisted = LIFECYCLE.keys() | (COMMAND_MAIN if "_start" in functions else set())

    def __getattr__(self, name: str) -> ExportedFunction:
        if name in ("_functions", "_caller", "_label", "_unlisted") or (
                name.startswith("__") and name.endswith("__") and name not in self._functions):
            raise AttributeError(name)  # Python's own protocols (copy, pickle, IPython's display)
        return self[name]

    def __getitem__(self, name: str) -> ExportedFunction:
        functions = self._functions
        if name in functions and name not in LIFECYCLE:
            return ExportedFunction(functions[name], self._caller, self._label)
        listed = ", ".join(str(functions[n]) for n in self) or "none"
        why = f": {name!r} is {LIFECYCLE[name]}" if name in LIFECYCLE and name in functions else ""
        raise NoSuchExport(f"{self._label} exports no function {name!r}{why}. It exports: {listed}. (A C cell "
                           "exports with __attribute__((export_name(\"f\"))), Rust with #[no_mangle] pub "
                           "extern \"C\" fn, Zig with export fn and --flags=-rdynamic.)")

    def __dir__(self) -> List[str]:
        return list(self)

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(name for name in self._functions if name not in self._unlisted))

    def __len__(self) -> int:
        return sum(1 for _ in self)

    def __contains__(self, name: object) -> bool:
        return name in self._functions and name not in LIFECYCLE

    def __repr__(self) -> str:
        listed = ", ".join(str(self._functions[name]) for name in self) or "no functions"
        return f"<exports of {self._label}: {listed}>"


def fresh_exports(module: LoadedModule, label: str, limits: RunLimits = CELL_LIMITS) -> Exports:
    """The exports of ``module``, every call on a new instance with ``limits`` (arguments are checked
    before the instance is made)."""
    def call(signature: Signature, values: list) -> Any:
        instance = Instance(module, label=label, limits=limits)
        try:
            return instance._call_converted(signature, values)
        finally:
            instance.close()
    return Exports(signatures(module), call, label)
