"""Every use of wasmtime-py's private API, in one place, for the one major version it was written for.

wasmtime-py 50 has no public API for three things the runtime needs:

* **an epoch-deadline callback** (``wasmtime_store_epoch_deadline_callback``): ``Store`` only has
  ``set_epoch_deadline``, which traps at the deadline, but a run must decide at every tick whether
  to go on (its own timeout, Ctrl-C, the output cap) without a thread touching its store;
* **one export of an instance** without wrapping them all: ``Instance.exports(store)`` builds a
  Python object for every export of the module, on every run (measured: 12-20 µs more per run for
  the Rust hello world's five exports, of a ~110 µs run);
* **the pooling instance allocator** (``wasmtime_pooling_allocation_*``), which ``wagi-nb serve``
  uses: instance slots reserved once instead of mapped and unmapped every run.

And the per-run fast path, which wasmtime-py's public API has but slowly: argv and the environment
as one C array of strings each (wasmtime-py makes a ctypes object per string: ~40 µs for Wagi's
environment), and instantiating an ``InstancePre`` and calling a ``() -> ()`` export with direct
C calls (``Func.__call__`` builds the function's type, its parameter and result lists and a
wrapper each time: ~15 µs).

Nothing outside this file touches a private name of wasmtime-py. The major version is pinned in
pyproject.toml (``wasmtime>=50,<51``); importing this module under another one fails with a line
saying what to do, rather than later with a ctypes crash.
"""
from __future__ import annotations

import array
import ctypes
import threading
from importlib.metadata import version
from typing import Callable, Optional

import wasmtime

SUPPORTED_MAJOR = 50
INSTALLED = version("wasmtime")
if int(INSTALLED.split(".")[0]) != SUPPORTED_MAJOR:  # pragma: no cover - the pin prevents it
    raise ImportError(f"wagi_nb needs wasmtime {SUPPORTED_MAJOR}.x (it uses parts of wasmtime-py "
                      f"that change every major version), but wasmtime {INSTALLED} is installed. "
                      f"Install the pinned one: pip install 'wasmtime>={SUPPORTED_MAJOR},"
                      f"<{SUPPORTED_MAJOR + 1}'")

from wasmtime import _ffi as ffi  # noqa: E402
from wasmtime._extern import wrap_extern  # noqa: E402

_CALLBACK = ctypes.CFUNCTYPE(ctypes.c_size_t, ctypes.POINTER(ffi.wasmtime_context_t), ctypes.c_void_p,
                             ctypes.POINTER(ctypes.c_uint64),
                             ctypes.POINTER(ffi.wasmtime_update_deadline_kind_t))
_NO_FINALIZER = ctypes.CFUNCTYPE(None, ctypes.c_void_p)()
_CONTINUE = 0

#: Called at each epoch tick with the id a store was armed with; returns why to stop it, or None.
Decide = Callable[[int], Optional[str]]


def epoch_callback(decide: Decide):
    """A C callback for :func:`arm_epoch_callback`: at each tick, stop with ``decide``'s message or
    set the next deadline one tick on. Keep a reference to it for as long as stores use it."""
    @_CALLBACK
    def on_tick(_context, data, delta, kind):
        message = decide(data)
        if message:
            return ctypes.cast(ffi.wasmtime_error_new(message.encode()), ctypes.c_void_p).value
        delta[0] = 1
        kind[0] = _CONTINUE
        return 0
    return on_tick


def arm_epoch_callback(store: wasmtime.Store, callback, data: int) -> None:
    """Have ``callback`` (from :func:`epoch_callback`) decide at every tick for ``store``."""
    store.set_epoch_deadline(1)
    ffi.wasmtime_store_epoch_deadline_callback(store.ptr(), callback, data, _NO_FINALIZER)


def exported_function(store: wasmtime.Store, instance: wasmtime.Instance, name: str):
    """``instance.exports(store)[name]``, without wrapping every other export too."""
    raw = name.encode()
    item = ffi.wasmtime_extern_t()
    if not ffi.wasmtime_instance_export_get(store._context(), ctypes.byref(instance._instance),
                                            ctypes.cast(ctypes.c_char_p(raw), ctypes.POINTER(ctypes.c_char)),
                                            len(raw), ctypes.byref(item)):
        raise KeyError(name)
    return wrap_extern(item)


# -- the per-run fast path ------------------------------------------------------------------------
# wasmtime-py's own way costs, per run of a CGI module, ~2 µs for every environment variable
# (a ctypes object per string: ~40 µs for Wagi's environment; ~8 µs with _CStrings) and ~15 µs
# to call an export (a FuncType, its parameter and result lists, a Func wrapper). These do the
# same C calls directly.
from wasmtime._error import WasmtimeError  # noqa: E402
from wasmtime._func import maybe_raise_last_exn  # noqa: E402
from wasmtime._trap import Trap  # noqa: E402

_FUNC = ffi.WASMTIME_EXTERN_FUNC.value
# Function pointers of our own (wasmtime-py's keep their argtypes): the arrays go in as they are.
_SET_ARGV = ctypes.CFUNCTYPE(ctypes.c_bool, ctypes.c_void_p, ctypes.c_size_t, ctypes.c_void_p)(
    ("wasi_config_set_argv", ffi.dll))
_SET_ENV = ctypes.CFUNCTYPE(ctypes.c_bool, ctypes.c_void_p, ctypes.c_size_t, ctypes.c_void_p,
                            ctypes.c_void_p)(("wasi_config_set_env", ffi.dll))


class _CStrings(dict):
    """One thread's C copies of the strings its runs gave wasmtime, by text, as addresses: one
    run's environment is mostly the last one's strings (the names, ``GET``, the host, the route),
    so most are found here instead of made again. Emptied between calls once over ``LIMIT``
    bytes; a thread's own, so that no other thread frees a copy a call is still using."""

    LIMIT = 1 << 20

    def __init__(self):
        super().__init__()
        self.buffers: list = []
        self.size = 0

    def __missing__(self, text) -> int:
        is_text = isinstance(text, str)
        buffer = ctypes.create_string_buffer(text.encode() if is_text else str(text).encode())
        self.buffers.append(buffer)
        self.size += len(buffer)
        address = ctypes.addressof(buffer)
        if is_text:  # (not 1 or True: equal keys, different text)
            self[text] = address
        return address

    def array(self, items) -> array.array:
        """A C array of pointers to ``items``' C strings (valid until the next call's start)."""
        try:
            return array.array(_POINTER, map(self.__getitem__, items))
        except TypeError:  # an unhashable item: by its text
            return array.array(_POINTER, map(self.__getitem__, map(str, items)))

    def start_call(self) -> "_CStrings":
        if self.size > self.LIMIT:
            self.clear()
            self.buffers, self.size = [], 0
        return self


_POINTER = "Q" if ctypes.sizeof(ctypes.c_void_p) == 8 else "I"
_threads = threading.local()


def _c_strings() -> _CStrings:
    strings = getattr(_threads, "strings", None)
    if strings is None:
        strings = _threads.strings = _CStrings()
    return strings.start_call()


def set_argv_env(wasi: wasmtime.WasiConfig, argv, env) -> None:
    """``wasi.argv = argv`` and ``wasi.env = env.items()`` (``env`` a mapping), in two C calls, each
    given arrays of pointers to C strings (wasmtime copies them)."""
    strings, config = _c_strings(), wasi.ptr()
    args = strings.array(argv)
    if not _SET_ARGV(config, len(args), args.buffer_info()[0]):
        raise WasmtimeError("failed to configure argv")
    if env:
        names, values = strings.array(env), strings.array(env.values())
        if not _SET_ENV(config, len(names), names.buffer_info()[0], values.buffer_info()[0]):
            raise WasmtimeError("failed to configure environment")


def _raise_for(error, trap) -> None:
    """What wasmtime-py's ``enter_wasm`` does after a call into wasm."""
    if trap:
        trap_obj = Trap._from_ptr(trap)
        maybe_raise_last_exn()
        raise trap_obj
    if error:
        maybe_raise_last_exn()
        raise WasmtimeError._from_ptr(error)


def instantiate(store: wasmtime.Store, pre: wasmtime.InstancePre):
    """``pre.instantiate(store)``, as the raw C instance (for :func:`call_plain`)."""
    instance = ffi.wasmtime_instance_t()
    trap = ctypes.POINTER(ffi.wasm_trap_t)()
    error = ffi.wasmtime_instance_pre_instantiate(pre.ptr(), store._context(), ctypes.byref(instance),
                                                  ctypes.byref(trap))
    _raise_for(error, trap)
    return instance


def call_plain(store: wasmtime.Store, instance, name: str) -> None:
    """Call the export ``name`` of a raw instance, a function taking and returning nothing
    (see :func:`plain_functions`); traps and ``proc_exit`` raise as ``Func.__call__``'s do."""
    raw = name.encode()
    context = store._context()
    item = ffi.wasmtime_extern_t()
    if not ffi.wasmtime_instance_export_get(context, ctypes.byref(instance),
                                            ctypes.cast(ctypes.c_char_p(raw), ctypes.POINTER(ctypes.c_char)),
                                            len(raw), ctypes.byref(item)) or item.kind != _FUNC:
        raise KeyError(name)
    trap = ctypes.POINTER(ffi.wasm_trap_t)()
    error = ffi.wasmtime_func_call(context, ctypes.byref(item.of.func), None, 0, None, 0, ctypes.byref(trap))
    _raise_for(error, trap)


def plain_functions(module: wasmtime.Module) -> frozenset:
    """Names of the functions ``module`` exports that take no parameters and return nothing."""
    return frozenset(export.name for export in module.exports
                     if isinstance(export.type, wasmtime.FuncType)
                     and not export.type.params and not export.type.results)


#: What the pool itself allows a module: loose bounds (a module past one cannot even be loaded);
#: the store limits of each run (limits.py) are what keep instances small, with their messages.
POOL_MAX_PER_MODULE = 100
POOL_MAX_MEMORY_BYTES = 4 << 30  # all a 32-bit memory can have: each slot reserves that anyway
POOL_MAX_INSTANCE_BYTES = 16 << 20


def use_pooling_allocator(config: wasmtime.Config, *, instances: int, memories: int, tables: int,
                          table_elements: int) -> None:
    """Have engines made from ``config`` allocate instances from a pool (wasmtime-py has no
    public API for it): ``instances`` instances and ``memories`` memories at once, ``tables``
    tables of up to ``table_elements`` elements."""
    pool = ffi.wasmtime_pooling_allocation_config_new()
    try:
        ffi.wasmtime_pooling_allocation_config_total_core_instances_set(pool, instances)
        ffi.wasmtime_pooling_allocation_config_total_memories_set(pool, memories)
        ffi.wasmtime_pooling_allocation_config_total_tables_set(pool, tables)
        ffi.wasmtime_pooling_allocation_config_max_memories_per_module_set(pool, POOL_MAX_PER_MODULE)
        ffi.wasmtime_pooling_allocation_config_max_tables_per_module_set(pool, POOL_MAX_PER_MODULE)
        ffi.wasmtime_pooling_allocation_config_max_memory_size_set(pool, POOL_MAX_MEMORY_BYTES)
        ffi.wasmtime_pooling_allocation_config_max_core_instance_size_set(pool, POOL_MAX_INSTANCE_BYTES)
        ffi.wasmtime_pooling_allocation_config_table_elements_set(pool, table_elements)
        ffi.wasmtime_pooling_allocation_strategy_set(config.ptr(), pool)
    finally:
        ffi.wasmtime_pooling_allocation_config_delete(pool)


# -- host functions without wasmtime-py's wrappers --------------------------------------------------
# wasmtime-py's ``Linker.define_func`` turns every argument into a ``Val`` and back (~20 µs a
# call for ``fd_write``'s four integers), far more than a module's whole write. An *unchecked*
# host function sees the raw argument array (results are written over it), and the caller's
# memory is three C calls away (~1.5 µs, with C functions typed to take plain addresses).
_RAW_CALLBACK = ctypes.CFUNCTYPE(ctypes.c_size_t, ctypes.c_void_p, ctypes.c_void_p,
                                 ctypes.POINTER(ffi.wasmtime_val_raw_t), ctypes.c_size_t)
_ADDRESS = ctypes.c_void_p
_CALLER_EXPORT_GET = ctypes.CFUNCTYPE(ctypes.c_bool, _ADDRESS, _ADDRESS, ctypes.c_size_t, _ADDRESS)(
    ("wasmtime_caller_export_get", ffi.dll))
_CALLER_CONTEXT = ctypes.CFUNCTYPE(_ADDRESS, _ADDRESS)(("wasmtime_caller_context", ffi.dll))
_MEMORY_DATA = ctypes.CFUNCTYPE(_ADDRESS, _ADDRESS, _ADDRESS)(("wasmtime_memory_data", ffi.dll))
_MEMORY_SIZE = ctypes.CFUNCTYPE(ctypes.c_size_t, _ADDRESS, _ADDRESS)(("wasmtime_memory_data_size", ffi.dll))
_MEMORY = ffi.WASMTIME_EXTERN_MEMORY.value
_MEMORY_NAME = ctypes.create_string_buffer(b"memory")
_MEMORY_NAME_ADDRESS = ctypes.addressof(_MEMORY_NAME)
_OF = ffi.wasmtime_extern_t.of.offset
#: Callbacks and their types, kept alive for as long as a linker may call them (the process).
_kept: list = []

#: ``function(caller, values, count)``: reads its arguments from ``values`` (``values[0].i32``...,
#: ``count`` long) and writes its results over them; returns 0, or a trap (``wasm_trap_t *``) to raise.
RawFunction = Callable[[int, "ctypes.Array", int], int]


def define_raw_function(linker: wasmtime.Linker, module: str, name: str, ty: wasmtime.FuncType,
                        function: RawFunction) -> None:
    """Define ``module.name`` in ``linker`` (shadowing what is there) as a raw host function; the
    linker refuses shadowing again afterwards. ``function`` must never raise: ctypes would print
    the exception and carry on as if it returned 0."""
    callback = _RAW_CALLBACK(lambda _env, caller, values, count: function(caller, values, count))
    _kept.append((callback, ty))
    module_raw, name_raw = module.encode(), name.encode()
    linker.allow_shadowing = True
    try:
        error = ffi.wasmtime_linker_define_func_unchecked(
            linker.ptr(), ctypes.create_string_buffer(module_raw), len(module_raw),
            ctypes.create_string_buffer(name_raw), len(name_raw), ty.ptr(),
            ctypes.cast(callback, ffi.wasmtime_func_unchecked_callback_t), None, _NO_FINALIZER)
    finally:
        linker.allow_shadowing = False
    if error:
        raise WasmtimeError._from_ptr(error)


def _extern_buffer() -> int:
    """This thread's ``wasmtime_extern_t`` to look exports up into, as an address."""
    item = getattr(_threads, "extern", None)
    if item is None:
        item = _threads.extern = ffi.wasmtime_extern_t()
    return ctypes.addressof(item)


def caller_memory(caller: int) -> Optional[tuple]:
    """(address, size in bytes) of the calling instance's exported ``memory``, or None."""
    item = _extern_buffer()
    if not _CALLER_EXPORT_GET(caller, _MEMORY_NAME_ADDRESS, 6, item) or \
            ctypes.c_uint8.from_address(item).value != _MEMORY:
        return None
    context = _CALLER_CONTEXT(caller)
    return _MEMORY_DATA(context, item + _OF) or 0, _MEMORY_SIZE(context, item + _OF)


def new_trap(message: str) -> int:
    """A trap for a raw host function to return (wasmtime raises it in the calling module)."""
    raw = message.encode()
    return ctypes.cast(ffi.wasmtime_trap_new(raw, len(raw)), ctypes.c_void_p).value or 0


def raw_values(count: int):
    """A fresh argument array for :meth:`NativeFunctions.call`."""
    return (ffi.wasmtime_val_raw_t * count)()


_FUNC_CALL = ctypes.CFUNCTYPE(_ADDRESS, _ADDRESS, _ADDRESS, ctypes.POINTER(ffi.wasmtime_val_raw_t),
                              ctypes.c_size_t, _ADDRESS)(("wasmtime_func_call_unchecked", ffi.dll))


class NativeFunctions:
    """Host functions of another linker (wasmtime's own WASI, which ours shadow), called from
    inside a raw host function *for the calling instance*.

    wasmtime's WASI functions find the memory they read and write among the exports of the
    instance that calls them; called from the host (``Func.__call__``) they have none. So each
    store gets, on first use, a small helper instance that imports the caller's memory, exports
    it as ``memory``, and exports each function as a wasm function that calls wasmtime's: the
    caller wasmtime sees is the helper, whose memory is the module's. A store therefore holds
    up to two instances (``limits.py``)."""

    def __init__(self, engine: wasmtime.Engine, linker: wasmtime.Linker, module: str,
                 functions: "dict[str, wasmtime.FuncType]"):
        self.linker, self.module, self.names = linker, module, list(functions)
        imports, exports = ['(import "host" "memory" (memory 0))'], ['(export "memory" (memory 0))']
        for index, (name, ty) in enumerate(functions.items()):
            params = " ".join(str(p) for p in ty.params)
            results = " ".join(str(r) for r in ty.results)
            imports.append(f'(import "{module}" "{name}" (func $f{index} (param {params}) (result {results})))')
            gets = " ".join(f"(local.get {i})" for i in range(len(ty.params)))
            exports.append(f'(func (export "{name}") (param {params}) (result {results}) (call $f{index} {gets}))')
        self.helper = wasmtime.Module(engine, "(module\n" + "\n".join(imports + exports) + ")")
        self._local = threading.local()

    def reset(self) -> None:
        """Forget this thread's helper instance (call when a new store starts on this thread)."""
        self._local.functions = None
        if not hasattr(self._local, "trap"):
            self._local.trap = ctypes.c_void_p()

    def call(self, caller: int, name: str, values, count: int) -> int:
        """Call ``name`` with ``values`` (arguments in, results out; ``count`` long); 0 or a trap."""
        context = _CALLER_CONTEXT(caller)
        local = self._local
        functions = local.functions
        if functions is None:
            functions = local.functions = self._instantiate(caller, context)
        trap = local.trap
        trap.value = None
        error = _FUNC_CALL(context, functions[name], values, count, ctypes.addressof(trap))
        if error:  # (a function of another store: a bug here, reported as a trap)
            return new_trap(str(WasmtimeError._from_ptr(ctypes.cast(error, ctypes.POINTER(ffi.wasmtime_error_t)))))
        return trap.value or 0

    def _instantiate(self, caller: int, context: int) -> dict:
        """The helper instance for the caller's store: name → address of its ``wasmtime_func_t``."""
        store = ctypes.cast(context, ctypes.POINTER(ffi.wasmtime_context_t))
        imports = (ffi.wasmtime_extern_t * (1 + len(self.names)))()
        if not _CALLER_EXPORT_GET(caller, _MEMORY_NAME_ADDRESS, 6, ctypes.addressof(imports[0])):
            raise KeyError("memory")
        module = self.module.encode()
        for index, name in enumerate(self.names, start=1):
            raw = name.encode()
            if not ffi.wasmtime_linker_get(self.linker.ptr(), store, ctypes.create_string_buffer(module),
                                           len(module), ctypes.create_string_buffer(raw), len(raw),
                                           ctypes.byref(imports[index])):
                raise KeyError(name)
        instance = ffi.wasmtime_instance_t()
        trap = ctypes.POINTER(ffi.wasm_trap_t)()
        error = ffi.wasmtime_instance_new(store, self.helper.ptr(), imports, len(imports),
                                          ctypes.byref(instance), ctypes.byref(trap))
        _raise_for(error, trap)
        found: dict = {"": (instance, [])}  # (keeps the structures the addresses point into)
        for name in self.names:
            item = ffi.wasmtime_extern_t()
            raw = name.encode()
            ffi.wasmtime_instance_export_get(store, ctypes.byref(instance),
                                             ctypes.cast(ctypes.c_char_p(raw), ctypes.POINTER(ctypes.c_char)),
                                             len(raw), ctypes.byref(item))
            found[""][1].append(item)
            found[name] = ctypes.addressof(item) + _OF
        return found
