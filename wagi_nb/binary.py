"""A WebAssembly module's sections, read and written back (no instruction is decoded).

Enough of the binary format for the rewrites wagi_nb makes of the modules it builds and exports:
LEB128 numbers and names, the section list, the import and export sections' entries, a function's
type, function names from the ``name`` section and the ``producers`` section. A rewrite changes
whole sections and keeps every other byte as it was.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple, Union

MAGIC = b"\0asm"
CORE_VERSION = b"\x01\x00\x00\x00"
CUSTOM, TYPE, IMPORT, FUNCTION, TABLE, MEMORY, GLOBAL, EXPORT, START, ELEMENT, CODE, DATA = range(12)
FUNC_KIND, TABLE_KIND, MEMORY_KIND, GLOBAL_KIND, TAG_KIND = range(5)
Bytes = Union[bytes, bytearray, memoryview]


class Malformed(ValueError):
    """The bytes are not a module this reader understands."""


# -- numbers and names ----------------------------------------------------------------------------
def read_u32(data: Bytes, position: int) -> Tuple[int, int]:
    """An unsigned LEB128 number at ``position``: (value, the position after it)."""
    value = shift = 0
    while True:
        if position >= len(data):
            raise Malformed("a number runs past the end")
        byte = data[position]
        position += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, position
        shift += 7
        if shift > 63:
            raise Malformed("a number is too long")


def u32(value: int) -> bytes:
    """``value`` as an unsigned LEB128 number."""
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def s32(value: int) -> bytes:
    """``value`` as a signed LEB128 number (``i32.const``'s immediate)."""
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        done = (value == 0 and not byte & 0x40) or (value == -1 and byte & 0x40)
        out.append(byte if done else byte | 0x80)
        if done:
            return bytes(out)


def read_name(data: Bytes, position: int) -> Tuple[str, int]:
    size, position = read_u32(data, position)
    if position + size > len(data):
        raise Malformed("a name runs past its section")
    return bytes(data[position:position + size]).decode("utf-8"), position + size


def name(text: str) -> bytes:
    raw = text.encode()
    return u32(len(raw)) + raw


# -- sections -------------------------------------------------------------------------------------
@dataclass
class Section:
    id: int
    body: bytes

    @property
    def custom_name(self) -> Optional[str]:
        return read_name(self.body, 0)[0] if self.id == CUSTOM else None


def sections(binary: Bytes) -> List[Section]:
    """The sections of a core module, in order."""
    if bytes(binary[:4]) != MAGIC or bytes(binary[4:8]) != CORE_VERSION:
        raise Malformed("not a core WebAssembly module")
    found, position = [], 8
    while position < len(binary):
        section = binary[position]
        size, start = read_u32(binary, position + 1)
        if start + size > len(binary):
            raise Malformed("a section runs past the end")
        found.append(Section(section, bytes(binary[start:start + size])))
        position = start + size
    return found


def assemble(parts: Sequence[Section]) -> bytes:
    """A module made of ``parts``, in that order."""
    return MAGIC + CORE_VERSION + b"".join(bytes([s.id]) + u32(len(s.body)) + s.body for s in parts)


def vector(items: Sequence[bytes]) -> bytes:
    """A section body (or part of one) that is a vector of already-encoded ``items``."""
    return u32(len(items)) + b"".join(items)


def first(parts: Sequence[Section], section: int, custom: Optional[str] = None) -> Optional[Section]:
    return next((s for s in parts if s.id == section and (custom is None or s.custom_name == custom)), None)


# -- imports --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ImportEntry:
    module: str
    name: str
    kind: int
    #: The entry's bytes after its two names (the kind and its type), as they are in the section.
    description: bytes

    def encode(self) -> bytes:
        return name(self.module) + name(self.name) + self.description


def imports(parts: Sequence[Section]) -> List[ImportEntry]:
    section = first(parts, IMPORT)
    return [] if section is None else read_imports(section.body)


def read_imports(data: Bytes) -> List[ImportEntry]:
    """The entries of an import section's body."""
    count, position = read_u32(data, 0)
    found = []
    for _ in range(count):
        module, position = read_name(data, position)
        field, position = read_name(data, position)
        start = position
        kind = data[position]
        position = _skip_description(data, position + 1, kind)
        found.append(ImportEntry(module, field, kind, bytes(data[start:position])))
    return found


def _skip_description(data: Bytes, position: int, kind: int) -> int:
    if kind == FUNC_KIND:
        return read_u32(data, position)[1]
    if kind == TABLE_KIND:
        return skip_limits(data, skip_value_type(data, position))
    if kind == MEMORY_KIND:
        return skip_limits(data, position)
    if kind == GLOBAL_KIND:
        return skip_value_type(data, position) + 1
    if kind == TAG_KIND:
        return read_u32(data, position + 1)[1]
    raise Malformed(f"import kind {kind:#x}")


def skip_value_type(data: Bytes, position: int) -> int:
    """The position after a value or reference type."""
    byte = data[position]
    if byte in (0x63, 0x64):  # (ref null? heaptype): a signed heap type index follows
        return read_u32(data, position + 1)[1]
    if 0x69 <= byte <= 0x7F:
        return position + 1
    raise Malformed(f"value type {byte:#x}")


def skip_limits(data: Bytes, position: int) -> int:
    flags = data[position]
    if flags & ~0x0F:
        raise Malformed(f"limits flags {flags:#x}")
    position = read_u32(data, position + 1)[1]
    if flags & 0x01:
        position = read_u32(data, position)[1]
    if flags & 0x08:  # a custom page size
        position = read_u32(data, position)[1]
    return position


# -- exports --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ExportEntry:
    name: str
    kind: int
    index: int

    def encode(self) -> bytes:
        return name(self.name) + bytes([self.kind]) + u32(self.index)


def read_exports(data: Bytes) -> List[ExportEntry]:
    """The entries of an export section's body."""
    count, position = read_u32(data, 0)
    found = []
    for _ in range(count):
        field, position = read_name(data, position)
        kind = data[position]
        index, position = read_u32(data, position + 1)
        found.append(ExportEntry(field, kind, index))
    return found


# -- function types -------------------------------------------------------------------------------
FUNC_TYPE = 0x60
Signature = Tuple[bytes, bytes]


def function_signature(parts: Sequence[Section], index: int) -> Signature:
    """(parameter types, result types) of function ``index`` (imported functions first), each
    as its value types' bytes: ``(b"", b"")`` is a function that takes and returns nothing."""
    types = read_types(first(parts, TYPE))
    of_function = [read_u32(entry.description, 1)[0] for entry in imports(parts) if entry.kind == FUNC_KIND]
    section = first(parts, FUNCTION)
    if section is not None:
        count, position = read_u32(section.body, 0)
        for _ in range(count):
            type_index, position = read_u32(section.body, position)
            of_function.append(type_index)
    if index >= len(of_function) or of_function[index] >= len(types):
        raise Malformed(f"no function {index}, or no type for it")
    return types[of_function[index]]


def read_types(section: Optional[Section]) -> List[Signature]:
    """The function types of a type section (a module of the GC proposal's types is Malformed here)."""
    if section is None:
        return []
    data = section.body
    count, position = read_u32(data, 0)
    found = []
    for _ in range(count):
        if data[position] != FUNC_TYPE:
            raise Malformed(f"type form {data[position]:#x}")
        params, position = _value_types(data, position + 1)
        results, position = _value_types(data, position)
        found.append((params, results))
    return found


def _value_types(data: Bytes, position: int) -> Tuple[bytes, int]:
    count, start = read_u32(data, position)
    position = start
    for _ in range(count):
        position = skip_value_type(data, position)
    return bytes(data[start:position]), position


# -- names and producers ----------------------------------------------------------------------------
def function_names(parts: Sequence[Section]) -> Dict[int, str]:
    """Function index → name, from the ``name`` section (empty without one)."""
    section = first(parts, CUSTOM, "name")
    if section is None:
        return {}
    data = section.body
    position = read_name(data, 0)[1]
    while position < len(data):
        subsection = data[position]
        size, start = read_u32(data, position + 1)
        if subsection == 1:
            count, at = read_u32(data, start)
            names = {}
            for _ in range(count):
                index, at = read_u32(data, at)
                names[index], at = read_name(data, at)
            return names
        position = start + size
    return {}


Producers = List[Tuple[str, List[Tuple[str, str]]]]


def producers(parts: Sequence[Section]) -> Producers:
    """The ``producers`` section: [(field, [(name, version), ...])], fields in order."""
    section = first(parts, CUSTOM, "producers")
    if section is None:
        return []
    data = section.body
    count, position = read_u32(data, read_name(data, 0)[1])
    fields = []
    for _ in range(count):
        field, position = read_name(data, position)
        values, entries = [], None
        entries, position = read_u32(data, position)
        for _ in range(entries):
            tool, position = read_name(data, position)
            version, position = read_name(data, position)
            values.append((tool, version))
        fields.append((field, values))
    return fields


def with_producer(parts: Sequence[Section], field: str, tool: str, version: str) -> List[Section]:
    """``parts`` with ``tool version`` added under ``field`` of the ``producers`` section (made if
    there is none, at the end)."""
    fields = producers(parts)
    for known, values in fields:
        if known == field:
            values[:] = [value for value in values if value[0] != tool] + [(tool, version)]
            break
    else:
        fields.append((field, [(tool, version)]))
    body = name("producers") + vector([name(f) + vector([name(t) + name(v) for t, v in values])
                                       for f, values in fields])
    section = Section(CUSTOM, body)
    kept = [s for s in parts if s.custom_name != "producers"]
    return kept + [section]
