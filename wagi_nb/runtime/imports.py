"""What a module file is, and what it imports and exports, read from its bytes before compiling it.

Compiling is the slow part of loading (a 99 MB interpreter takes over a minute and leaves hundreds of
MB of native code behind), so everything that can be told without it is told first: a file that is
not WebAssembly at all, a component instead of a core module, a Spin component, and imports the
linker does not provide. Only the sections needed are parsed (import, export); the others are
skipped by their sizes. Anything this reader does not understand is left to wasmtime, whose own
message then says what is wrong.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable, Optional, Sequence, Tuple

import wasmtime

from ..binary import CORE_VERSION, MAGIC, Malformed, read_imports, read_name, read_u32
from ..errors import ModuleLoadError, ModuleNotLinkable

KINDS = {0x00: "function", 0x01: "table", 0x02: "memory", 0x03: "global", 0x04: "tag"}
#: Host modules wagi-nb may define, each with one of its functions to ask the linker about.
HOST_MODULES = (("wasi_snapshot_preview1", "fd_write", "WASI preview 1 (`wasi_snapshot_preview1`)"),
                ("wasi_experimental_http", "req", "Wagi's outbound HTTP (`wasi_experimental_http`)"))
#: Exports of a Spin HTTP component built as a core module (Spin 1's SDKs).
SPIN_EXPORTS = ("handle-http-request", "fermyon:spin/inbound-http")
SPIN_IMPORTS = ("spin-", "fermyon:spin", "wasi-outbound-http", "outbound-redis", "outbound-pg",
                "outbound-mysql", "key-value")
LFS_POINTER = b"version https://git-lfs.github.com/spec/"
SHOWN = 8

#: (module, name) → the kind the host provides under that name ("function", ...), or None.
Provides = Callable[[str, str], Optional[str]]


@dataclass(frozen=True)
class Import:
    module: str
    name: str
    kind: str

    def __str__(self) -> str:
        return f"`{self.module}.{self.name}`"


@dataclass(frozen=True)
class ModuleInterface:
    """A core module's imports and export names."""

    imports: Tuple[Import, ...]
    exports: frozenset


# -- what the file holds ---------------------------------------------------------------------------------
def wasm_binary(data: bytes, name: str = "The module") -> bytes:
    """``data`` as a core module's binary (WebAssembly text is converted); anything else is a
    :class:`ModuleLoadError` that says what the file holds instead."""
    if data[:4] == MAGIC:
        if data[4:8] == CORE_VERSION:
            return data
        if data[6:8] == b"\x01\x00":
            raise ModuleLoadError(_component_message(data, name))
        raise ModuleLoadError(f"{name} is a WebAssembly binary of version {int.from_bytes(data[4:8], 'little')}, "
                              "which wasmtime does not read (core modules are version 1). Rebuild it "
                              "with a current toolchain for wasm32-wasi (wasm32-wasip1).")
    if data[:1] != b"\0":  # wasmtime reads WebAssembly text too, so a .wasm holding text may be WAT
        try:
            return bytes(wasmtime.wat2wasm(data))
        except wasmtime.WasmtimeError as error:
            if _looks_like_wat(data):
                raise ModuleLoadError(f"{name} holds WebAssembly text that wat2wasm cannot read: {_wat_error(error)}. "
                                      "Fix the text (it must be one `(module ...)`), or give the .wasm "
                                      "a build wrote.") from None
    if data.startswith(LFS_POINTER):
        raise ModuleLoadError(f"{name} is a Git LFS pointer ({len(data):,} bytes of text), not the module it "
                              "points to. Fetch the module with `git lfs pull` (Git LFS installed), then "
                              "start again.")
    raise ModuleLoadError(f"{name} {_holds(data)}, not a WebAssembly module (which starts with \\0asm) "
                          "or WebAssembly text (which starts with `(module`). Put the module there (build "
                          "or download it), or point at the .wasm file itself.")


def _wat_error(error: wasmtime.WasmtimeError) -> str:
    """wat2wasm's message on one line: ``expected `)` (line 1, column 33)``."""
    text = str(error).strip()
    where = re.search(r"--> [^\n]*?:(\d+):(\d+)", text)
    first = text.splitlines()[0] if text else "a syntax error"
    return f"{first} (line {where[1]}, column {where[2]})" if where else first


def _looks_like_wat(data: bytes) -> bool:
    text = data[:4096].decode("utf-8", "replace")
    while True:
        text = text.lstrip()
        if text.startswith(";;"):
            text = text.partition("\n")[2]
        elif text.startswith("(;"):
            text = text.partition(";)")[2]
        else:
            return text.startswith("(")


def _holds(data: bytes) -> str:
    size = f"{len(data):,} byte{'s' * (len(data) != 1)}"
    if not data:
        return "is empty (0 bytes)"
    head = data[:64]
    text: Optional[str]
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError as error:  # text, if only the cut split a character
        cut = len(data) > len(head) and error.start >= len(head) - 3
        text = head[:error.start].decode("utf-8") if cut else None
    if text is not None and all(c.isprintable() or c in "\t\r\n" for c in text):
        shown = repr(text) + ("…" if len(data) > len(head) else "")
        if text.lstrip().lower().startswith(("<!doctype html", "<html")):
            return f"holds {size} of HTML (an error page saved by a download?): {shown}"
        return f"holds {size} of text: {shown}"
    for magic, what in ((b"\x7fELF", "a native program or library (ELF)"), (b"\x1f\x8b", "gzip data"),
                        (b"PK\x03\x04", "a zip archive"), (b"MZ", "a Windows program")):
        if data.startswith(magic):
            return f"holds {size} of {what}"
    return f"holds {size} starting with the bytes {head[:8].hex(' ')}"


def _component_message(data: bytes, name: str) -> str:
    if b"fermyon:spin" in data:
        return (f"{name} is a Spin component (a WebAssembly component for Spin's HTTP trigger), not a "
                "Wagi module. Run it with Spin: `spin up` with a spin.toml whose component has this file "
                "as its `source` and no `executor` (the wagi executor is for Wagi modules). wagi-nb "
                "serves Wagi modules: WASI preview 1 commands that print a CGI response.")
    if b"wasi:http/incoming-handler" in data:
        return (f"{name} is a WebAssembly component that serves wasi:http (incoming-handler), not a Wagi "
                "module. Run it with `wasmtime serve` or with Spin (`spin up`). wagi-nb serves Wagi "
                "modules: WASI preview 1 commands that print a CGI response.")
    return (f"{name} is a WebAssembly component (the component model's binary format), not a core "
            "module. wagi-nb, like Wagi, runs WASI preview 1 modules: build it for wasm32-wasip1 "
            "(wasm32-wasi) instead of wasm32-wasip2, or run the component with `wasmtime run`.")


# -- imports and exports -----------------------------------------------------------------------------------
def read_interface(binary: bytes) -> Optional[ModuleInterface]:
    """The imports and exports of a core module's binary, or None if it cannot be read here."""
    try:
        return _read(memoryview(binary))
    except (Malformed, IndexError, UnicodeDecodeError):
        return None


def _read(data: memoryview) -> ModuleInterface:
    imports: Tuple[Import, ...] = ()
    exports: frozenset = frozenset()
    position = 8
    while position < len(data):
        section = data[position]
        size, position = read_u32(data, position + 1)
        end = position + size
        if end > len(data):
            raise Malformed("a section runs past the end")
        if section == 2:
            imports = _imports(data[position:end])
        elif section == 7:
            exports = _exports(data[position:end])
            break  # the sections after the exports (code, data) are not needed
        position = end
    return ModuleInterface(imports=imports, exports=exports)


def _imports(data: memoryview) -> Tuple[Import, ...]:
    return tuple(Import(module=entry.module, name=entry.name, kind=KINDS[entry.kind])
                 for entry in read_imports(data))


def _exports(data: memoryview) -> frozenset:
    count, position = read_u32(data, 0)
    names = set()
    for _ in range(count):
        name, position = read_name(data, position)
        _, position = read_u32(data, position + 1)
        names.add(name)
    return frozenset(names)


# -- linking -----------------------------------------------------------------------------------------------
def check_linkable(binary: bytes, provides: Provides, name: str = "The module") -> None:
    """Raise :class:`ModuleLoadError` when the module is a Spin component or imports what the host
    does not provide, naming those imports. A module this reader cannot parse passes."""
    interface = read_interface(binary)
    if interface is None:
        return
    spin = sorted(export for export in interface.exports if export.startswith(SPIN_EXPORTS))
    if spin and "_start" not in interface.exports:
        raise ModuleNotLinkable(
            f"{name} is a Spin HTTP component (it exports `{spin[0]}` and no `_start`), not a Wagi "
            "module. Run it with Spin: `spin up` with a spin.toml whose component has this file as its "
            "`source` and no `executor` (the wagi executor is for Wagi modules). wagi-nb serves Wagi "
            "modules: WASI preview 1 commands that print a CGI response.")
    missing = [item for item in interface.imports if provides(item.module, item.name) != item.kind]
    if not missing:
        return
    shown = ", ".join(_describe(item, provides) for item in missing[:SHOWN])
    more = f" and {len(missing) - SHOWN} more" if len(missing) > SHOWN else ""
    offered = " and ".join(text for module, probe, text in HOST_MODULES if provides(module, probe))
    raise ModuleNotLinkable(
        f"{name} cannot be linked: wagi-nb does not provide {len(missing)} of its imports: {shown}{more}. "
        f"wagi-nb provides {offered or 'no host functions'}, and "
        f"nothing else. {_hints(missing)}Nothing was compiled.")


def _describe(item: Import, provides: Provides) -> str:
    offered = provides(item.module, item.name)
    if offered is not None:
        return f"{item} (imported as a {item.kind}; wagi-nb provides a {offered} of that name)"
    return f"{item} (a {item.kind})"


def _hints(missing: Sequence[Import]) -> str:
    modules = {item.module for item in missing}
    hints = []
    if any(module.startswith(SPIN_IMPORTS) for module in modules):
        hints.append("Imports such as these are Spin's host interfaces: run the module with Spin "
                     "(`spin up`).")
    if any(module.startswith("wasi:") for module in modules):
        hints.append("`wasi:` interfaces are WASI preview 2, which only components use: build for "
                     "wasm32-wasip1 (wasm32-wasi).")
    if "wasi_unstable" in modules:
        hints.append("`wasi_unstable` is WASI's old snapshot 0: rebuild with a current toolchain for "
                     "wasm32-wasi (wasm32-wasip1).")
    if "wasi_snapshot_preview1" in modules:
        hints.append("What wagi-nb lacks of `wasi_snapshot_preview1` is not in WASI preview 1 as wasmtime "
                     "defines it (another runtime's extension, such as WasmEdge's sockets).")
    if "env" in modules:
        hints.append("Imports from `env` are usually functions the program declares but never defines "
                     "(or its memory, with --import-memory): define them or link the library that does.")
    return " ".join(hints) + (" " if hints else "")


def linker_provides(linker: wasmtime.Linker, engine: wasmtime.Engine) -> Provides:
    """``provides`` for :func:`check_linkable`, answered by ``linker`` itself (so every host module
    defined on it counts, and nothing else)."""
    store = wasmtime.Store(engine)
    kinds = {wasmtime.Func: "function", wasmtime.Table: "table", wasmtime.Memory: "memory",
             wasmtime.Global: "global"}

    def provides(module: str, name: str) -> Optional[str]:
        try:
            item = linker.get(store, module, name)
        except wasmtime.WasmtimeError:
            return None
        return kinds.get(type(item), "tag")
    return provides
