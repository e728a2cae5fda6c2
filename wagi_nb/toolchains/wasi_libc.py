"""wasi-libc before its PR 377 (early 2023), and the WASI adapter of Spin and other component hosts.

A component host runs a WASI preview 1 module through an adapter that takes pages of the module's
memory for itself with ``memory.grow``, before the module's ``_start``. The allocator of wasi-libc
before PR 377 (dlmalloc) makes its first heap of everything from ``__heap_base`` to ``sbrk(0)``,
the memory's size at its first ``malloc``: the adapter's pages included, which it then hands out.
Measured under Spin 3.6.3: a C route that mallocs and reallocs 4,000 blocks finds a corrupted one;
C++ and Rust routes that allocate a few hundred KB fail the adapter's own assertions. PR 377 ends
the first heap at ``__heap_end``, the end of the initial memory, which wasm-ld defines from LLVM
15.0.7 on. Debian 12's wasi-libc (0.0~git20220510) and the one inside Debian's Rust 1.63 are older,
and their LLVM 14 has no ``__heap_end``; Spin's own check for such modules (spinframework/spin#2552)
reads the producers section's ``clang`` and misses ``Debian clang``.

So a module linked against such a libc gets its ``sbrk`` replaced (:func:`fix_heap`): ``sbrk(0)``
answers the program break — the end of the initial memory, until ``sbrk`` itself grows memory —
where it answered the memory's size. Growing is unchanged. dlmalloc's first heap then ends where
PR 377's does, and everything it takes later it took with ``memory.grow`` itself. A producers
entry (:data:`MARK`) says the module was fixed.
"""
from __future__ import annotations

import os
import re
from typing import Optional, Sequence, Tuple

from .. import binary
from .._version import __version__
from ..binary import Section, s32, u32

#: The producers entry (``processed-by``) of a module whose sbrk was fixed.
MARK = "wagi-nb sbrk"
#: The first LLVM whose wasm-ld defines ``__heap_end`` (Spin's cut-off, from wasi-sdk 19).
FIXED_CLANG = (15, 0, 7)
PAGE = 65536
I32 = 0x7F


def has_heap_end(libc_a: str) -> bool:
    """Whether a wasi-libc ``libc.a`` is PR 377's or later: its dlmalloc needs ``__heap_end``."""
    try:
        with open(libc_a, "rb") as file:
            return b"__heap_end" in file.read()
    except OSError:
        return False


def describe(libc_a: str, fixed: bool) -> str:
    """What ``%wasm_toolchains`` says of a toolchain's libc."""
    where = os.path.dirname(libc_a)
    if fixed:
        return f"wasi-libc at {where} (has PR 377's fix: safe under Spin)"
    return (f"wasi-libc at {where}, from before PR 377: each module's sbrk is fixed so that Spin's WASI "
            f"adapter cannot corrupt its heap")


# -- the fix ------------------------------------------------------------------------------------------
#: What a build says when it cannot fix a module that needs it.
UNFIXABLE = ("wagi_nb: this module links a wasi-libc from before its PR 377, and has no function names (they "
             "were stripped: -s, --strip-all), so its sbrk cannot be fixed: under Spin, whose WASI adapter "
             "shares its memory, its heap can be corrupted. Build it without stripping its names.")


def linked(info, wasm: bytes) -> Tuple[bytes, str]:
    """A module just linked by the toolchain ``info`` describes, as wagi_nb keeps it (with its heap
    fixed when that toolchain's wasi-libc needs it), and a warning for the build when it needs the
    fix and cannot have it. A module without ``sbrk`` does not use wasi-libc's allocator: nothing to fix."""
    if not info.old_libc:
        return wasm, ""
    fixed = fix_heap(wasm)
    if fixed is not None or binary.function_names(binary.sections(wasm)):
        return fixed or wasm, ""
    return wasm, UNFIXABLE


def fix_heap(wasm: bytes) -> Optional[bytes]:
    """``wasm`` with its wasi-libc ``sbrk`` replaced as the module docstring says, or None when it
    cannot be: no ``sbrk`` in the name section (a stripped module), or no memory of its own."""
    parts = binary.sections(wasm)
    names = binary.function_names(parts)
    sbrk = next((index for index, name in names.items() if name == "sbrk"), None)
    initial = _initial_pages(parts)
    imported = binary.imports(parts)
    functions = sum(entry.kind == binary.FUNC_KIND for entry in imported)
    if sbrk is None or initial is None or sbrk < functions:
        return None
    globals_ = sum(entry.kind == binary.GLOBAL_KIND for entry in imported)
    parts, brk = _add_global(parts, globals_, initial * PAGE)
    parts = _replace_body(parts, sbrk - functions, _sbrk_body(brk))
    parts = binary.with_producer(parts, "processed-by", MARK, __version__)
    return binary.assemble(parts)


def _initial_pages(parts: Sequence[Section]) -> Optional[int]:
    memory = binary.first(parts, binary.MEMORY)
    if memory is None:
        return None
    count, position = binary.read_u32(memory.body, 0)
    flags = memory.body[position]
    if not count or flags & 0x04:  # no memory, or a 64-bit one
        return None
    return binary.read_u32(memory.body, position + 1)[0]


def _add_global(parts: Sequence[Section], imported: int, value: int) -> tuple:
    """``parts`` with a mutable i32 global holding ``value`` appended; (parts, its index)."""
    entry = bytes([I32, 0x01, 0x41]) + s32(value) + b"\x0b"
    section = binary.first(parts, binary.GLOBAL)
    if section is None:
        order = [binary.EXPORT, binary.START, binary.ELEMENT, 12, binary.CODE, binary.DATA]
        at = next((i for i, s in enumerate(parts) if s.id in order), len(parts))
        return [*parts[:at], Section(binary.GLOBAL, u32(1) + entry), *parts[at:]], imported
    count, position = binary.read_u32(section.body, 0)
    replaced = Section(binary.GLOBAL, u32(count + 1) + section.body[position:] + entry)
    return [replaced if s is section else s for s in parts], imported + count


def _replace_body(parts: Sequence[Section], defined: int, body: bytes) -> list:
    code = binary.first(parts, binary.CODE)
    assert code is not None, "a module with a named function has code"
    count, position = binary.read_u32(code.body, 0)
    bodies = []
    for index in range(count):
        size, start = binary.read_u32(code.body, position)
        bodies.append(u32(len(body)) + body if index == defined else code.body[position:start + size])
        position = start + size
    replaced = Section(binary.CODE, binary.vector(bodies))
    return [replaced if s is code else s for s in parts]


def _sbrk_body(brk: int) -> bytes:
    """``void *sbrk(intptr_t increment)``, with the program break kept in global ``brk``::

        if (increment == 0) return brk;
        if (increment % 65536 || increment < 0) abort();        /* as wasi-libc's */
        old = memory.grow(increment / 65536);
        if (old == -1) return (void *)-1;
        brk = old * 65536 + increment;
        return old * 65536;
    """
    get, tee, set_global, get_global = 0x20, 0x22, 0x24, 0x23
    return bytes([
        0x01, 0x01, I32,                                            # one local: old
        get, 0, 0x45, 0x04, 0x40, get_global]) + u32(brk) + bytes([0x0F, 0x0B,
        get, 0, 0x41]) + s32(0xFFFF) + bytes([0x71, 0x04, 0x40, 0x00, 0x0B,
        get, 0, 0x41, 0x00, 0x48, 0x04, 0x40, 0x00, 0x0B,
        get, 0, 0x41, 0x10, 0x76, 0x40, 0x00, tee, 1,
        0x41, 0x7F, 0x46, 0x04, 0x40, 0x41, 0x7F, 0x0F, 0x0B,
        get, 1, 0x41, 0x10, 0x74, get, 0, 0x6A, set_global]) + u32(brk) + bytes([
        get, 1, 0x41, 0x10, 0x74, 0x0B])


# -- telling an old module ------------------------------------------------------------------------------
def unfixed_old_libc(wasm: bytes) -> Optional[str]:
    """The compiler (``Debian clang 14.0.6``) of a module that links a wasi-libc from before PR 377
    and was not fixed, else None: a ``processed-by`` clang (any vendor's) older than 15.0.7, as
    Spin's own check reads it, for a module that imports WASI."""
    try:
        parts = binary.sections(wasm)
        fields = dict(binary.producers(parts))
        wasi = any(entry.module == "wasi_snapshot_preview1" for entry in binary.imports(parts))
    except (binary.Malformed, IndexError, UnicodeDecodeError):
        return None
    tools = fields.get("processed-by", [])
    if not wasi or any(tool == MARK for tool, _ in tools):
        return None
    for tool, version in tools:
        found = re.match(r"(\d+)\.(\d+)\.(\d+)", version)
        if (tool == "clang" or tool.endswith(" clang")) and found \
                and tuple(int(part) for part in found.groups()) < FIXED_CLANG:
            return f"{tool} {version}"
    return None
