"""The line a language's runtime prints to stderr when the program gives up — a Rust or Go panic,
a failed C ``assert``, an AssemblyScript ``abort``, a Python or JavaScript exception — read back
so a failed run can say it first, at the cell's line, instead of below a trap and its backtrace."""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Optional

#: Only the end of stderr is read: the runtime's last words come last.
TAIL = 16 * 1024

# Rust before 1.73: thread 'main' panicked at 'MESSAGE', cell.rs:7:33
_RUST_QUOTED = re.compile(r"thread '[^'\n]*' panicked at '(?P<message>.*?)', "
                          r"(?P<file>[^\s:]+):(?P<line>\d+):\d+$", re.MULTILINE | re.DOTALL)
# Rust 1.73 and later: thread 'main' panicked at cell.rs:7:33:\nMESSAGE
_RUST = re.compile(r"thread '[^'\n]*' panicked at (?P<file>[^\s:]+):(?P<line>\d+):\d+:\n(?P<message>.*)")
# Go (then a goroutine trace naming the file) and Zig: panic: MESSAGE
_PANIC = re.compile(r"^(?:thread \d+ )?panic: (?P<message>.+)$", re.MULTILINE)
_GO_FRAME = re.compile(r"^\t(?P<file>\S+\.go):(?P<line>\d+)", re.MULTILINE)
# wasi-libc's assert: Assertion failed: x == 7 (cell.c: main: 5)
_ASSERT = re.compile(r"^Assertion failed: (?P<message>.+) \((?P<file>[^:()]+): [^:()]*: (?P<line>\d+)\)$",
                     re.MULTILINE)
# AssemblyScript's abort: abort: MESSAGE in cell.ts(4:7) ("in (0:0)" when the build kept no place)
_ABORT = re.compile(r"^abort: (?P<message>.*?)(?: in (?P<file>\S*)\((?P<line>\d+):\d+\))?$", re.MULTILINE)
# Python's traceback ends with its exception; its last frame names the line.
_PYTHON_FRAME = re.compile(r'^  File "(?P<file>[^"]+)", line (?P<line>\d+)', re.MULTILINE)
_PYTHON_ERROR = re.compile(r"^(?P<message>[A-Za-z_][\w.]*(?:: .*)?)$")
# QuickJS: TypeError: MESSAGE, then "    at f (cell.js:4:1)" frames.
_JS_ERROR = re.compile(r"^(?P<message>[A-Z]\w*Error: .+)\n(?:\s+at .*?\((?P<file>[^():]+):(?P<line>\d+):\d+\))?",
                       re.MULTILINE)


@dataclass(frozen=True)
class Panic:
    """How the program said it gave up: ``verb`` ("panicked", "raised"...), its ``message`` and,
    when the runtime named it, the ``file`` and ``line``."""

    verb: str
    message: str
    file: Optional[str] = None
    line: Optional[int] = None

    @property
    def where(self) -> str:
        """" at cell line 7" for the cell's own source (its lines are the notebook cell's), " at
        lib.rs:12" for another file, "" when no line was given."""
        if self.line is None or not self.file:
            return ""
        name = self.file.replace("\\", "/").rsplit("/", 1)[-1]
        return f" at cell line {self.line}" if name.startswith("cell.") else f" at {name}:{self.line}"

    def __str__(self) -> str:
        return f"{self.verb}{self.where}: {self.message}"


def panic_in(stderr: bytes) -> Optional[Panic]:
    """The panic a program reported on ``stderr``, or None when it printed none we know."""
    text = stderr[-TAIL:].decode("utf-8", errors="replace")
    for read in (_rust, _go_or_zig, _c_assert, _assemblyscript, _python, _javascript):
        found = read(text)
        if found is not None:
            return found
    return None


def _located(verb: str, match: re.Match, message: str) -> Panic:
    file, line = match.group("file"), match.group("line")
    return Panic(verb, message.strip(), file, int(line) if line and line != "0" else None)


def _rust(text: str) -> Optional[Panic]:
    match = _RUST.search(text) or _RUST_QUOTED.search(text)
    return _located("panicked", match, match.group("message").split("\n", 1)[0]) if match else None


def _go_or_zig(text: str) -> Optional[Panic]:
    match = _PANIC.search(text)
    if match is None:
        return None
    # The innermost frame of the program's own code (the runtime's frames come first).
    frame = next((frame for frame in _GO_FRAME.finditer(text, match.end()) if "/go/src/" not in frame.group("file")
                  and not frame.group("file").startswith("runtime/")), None)
    if frame is None:
        return Panic("panicked", match.group("message").strip())
    return _located("panicked", frame, match.group("message"))


def _c_assert(text: str) -> Optional[Panic]:
    match = _ASSERT.search(text)
    return _located("failed an assertion", match, match.group("message")) if match else None


def _assemblyscript(text: str) -> Optional[Panic]:
    match = _ABORT.search(text)
    return _located("aborted", match, match.group("message") or "abort()") if match else None


def _python(text: str) -> Optional[Panic]:
    start = text.rfind("Traceback (most recent call last):")
    if start < 0:
        return None
    frames = list(_PYTHON_FRAME.finditer(text, start))
    last_line = text[start:].rstrip().rsplit("\n", 1)[-1]
    error = _PYTHON_ERROR.match(last_line)
    if not frames or error is None:
        return None
    return _located("raised", frames[-1], error.group("message"))


def _javascript(text: str) -> Optional[Panic]:
    match = _JS_ERROR.search(text)
    if match is None:
        return None
    if match.group("file") is None:
        return Panic("raised", match.group("message").strip())
    return _located("raised", match, match.group("message"))
