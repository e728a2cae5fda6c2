"""Turning wasmtime's trap text into a one-line reason and a readable backtrace."""
from __future__ import annotations

import re

_FRAME = re.compile(r"^\s*\d+:\s+(0x[0-9a-f]+)\s+-\s+(?:<unknown>|[^!\s]*)!(.*)$")
_RUST_HASH = re.compile(r"(::h[0-9a-f]{16})?(\.llvm\.\d+)?$")


def split_trap(message: str) -> tuple:
    """(reason, frames) from a wasmtime error message.

    ``reason`` is the "Caused by" text (``wasm trap: out of bounds memory
    access``); ``frames`` are ``"0x1234 name"`` lines, innermost first, with
    Rust's hash suffixes removed so ``cell::main`` reads as it was written.
    """
    head, _, cause = message.partition("Caused by:")
    reason = " ".join(line.strip() for line in cause.strip().splitlines() if line.strip()) \
        if cause else message.strip().splitlines()[0] if message.strip() else "trap"
    frames = []
    for line in head.splitlines():
        match = _FRAME.match(line)
        if match:
            offset, name = match.groups()
            frames.append(f"{offset} {_RUST_HASH.sub('', name.strip())}")
    return reason, frames
