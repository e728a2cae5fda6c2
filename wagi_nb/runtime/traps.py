"""How a run that trapped reads: a one-line reason and a backtrace, from wasmtime's ``Trap``."""
from __future__ import annotations

import re
from typing import Union

import wasmtime

#: Legacy Rust symbol escapes (what rustc 1.63 emits; the ``_R`` v0 scheme is opt-in there).
_RUST_ESCAPES = {"$SP$": "@", "$BP$": "*", "$RF$": "&", "$LT$": "<", "$GT$": ">", "$LP$": "(",
                 "$RP$": ")", "$C$": ","}
_RUST_ESCAPE = re.compile(r"\$(SP|BP|RF|LT|GT|LP|RP|C|u[0-9a-f]{2})\$")
_RUST_HASH = re.compile(r"^h[0-9a-f]{16}$")
_LLVM_SUFFIX = re.compile(r"\.llvm\.\d+$")


def describe_trap(error: Union[wasmtime.Trap, wasmtime.WasmtimeError]) -> tuple:
    """(reason, frames): ``reason`` is wasmtime's own one-line cause (``wasm trap: out of bounds
    memory access``); ``frames`` are ``"0x1234 name"`` strings, innermost first, Rust names
    demangled without their hash so ``cell::main`` reads as it was written."""
    if isinstance(error, wasmtime.Trap):
        frames = [f"0x{frame.module_offset:x} {demangle(frame.func_name or '<unknown>')}"
                  for frame in error.frames]
        return _cause(error.message), frames
    return _cause(str(error)), []


def demangle(name: str) -> str:
    """``_ZN4cell11the_culprit17h0123456789abcdefE`` → ``cell::the_culprit``; other names as given."""
    name = _LLVM_SUFFIX.sub("", name)
    if not (name.startswith("_ZN") and name.endswith("E")):
        return name
    parts, position, body = [], 3, name[:-1]
    while position < len(body):
        digits = position
        while digits < len(body) and body[digits].isdigit():
            digits += 1
        if digits == position:
            return name  # not a legacy Rust name after all (a C++ one, say)
        length = int(body[position:digits])
        parts.append(body[digits:digits + length])
        position = digits + length
    if parts and _RUST_HASH.match(parts[-1]):
        parts.pop()
    return "::".join(_unescape(part) for part in parts)


def _unescape(part: str) -> str:
    part = part.replace("..", "::")
    if part.startswith("_$"):
        part = part[1:]
    return _RUST_ESCAPE.sub(lambda m: _RUST_ESCAPES.get(m.group(), None)
                            or chr(int(m.group(1)[1:], 16)), part)


def _cause(message: str) -> str:
    """wasmtime writes the cause last, after a backtrace and ``Caused by:``; join it into one line."""
    _, marker, cause = message.partition("Caused by:")
    lines = [line.strip() for line in (cause if marker else message).strip().splitlines() if line.strip()]
    if not lines:
        return "trap"
    return " ".join(lines) if marker else lines[0]
