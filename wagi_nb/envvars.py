"""Environment variables as Wagi 0.8.1 reads them: ``-e KEY=VALUE`` and ``--env-file`` lines.

``-e`` (and the magics' ``KEY=VALUE``) is Wagi's ``parse_env_var``: the key is everything before the
first ``=`` and must not be empty; a value that starts and ends with ``"`` loses every ``"`` at both
ends, else one that starts and ends with ``'`` loses every ``'`` there; nothing else is unquoted.

An env file is read as Wagi reads it, with the ``env-file-reader`` crate (0.2): each line (split at
``\\n``, a ``\\r`` before it dropped) that is ``[export ]NAME=["]VALUE["]`` in full, NAME of ASCII
letters, digits, ``_`` and ``-`` and VALUE without ``"``, sets NAME; a later line wins. Nothing is
trimmed or unescaped and ``'`` is part of the value. Every other line is skipped: blank lines and
``#`` comments silently, anything else with a warning naming the file, the line and why.
"""
from __future__ import annotations

import re
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterable, List, Tuple, Union

from .errors import WagiNbError

#: A line env-file-reader 0.2 reads (its regex, matched against the whole line).
ENV_LINE = re.compile(r'(?:export )?([0-9A-Za-z_\-]+)="?([^"]*)"?')
NAME = re.compile(r"[0-9A-Za-z_\-]+")


class EnvFileWarning(UserWarning):
    """A line of an env file that Wagi would skip, and so wagi-nb skips too."""


@dataclass(frozen=True)
class SkippedLine:
    """A line of an env file that sets nothing: its number (from 1), its text and why."""

    number: int
    text: str
    reason: str


def parse_env_pair(pair: str, where: str = "--env") -> Tuple[str, str]:
    """``KEY=VALUE`` → (KEY, VALUE), quotes removed as Wagi's ``-e`` removes them."""
    key, sep, value = pair.partition("=")
    if not sep or not key:
        raise WagiNbError(f"{where} expects KEY=VALUE, got {pair!r}. Write it as e.g. NAME=world "
                          "(quote the value if it has spaces).")
    if "\x00" in pair:
        raise WagiNbError(f"{where}: {pair!r} holds a NUL character, which an environment variable cannot. "
                          "Remove it.")
    if value.startswith('"') and value.endswith('"'):
        value = value.strip('"')
    elif value.startswith("'") and value.endswith("'"):
        value = value.strip("'")
    return key, value


def parse_env_pairs(pairs: Iterable[str], where: str = "--env") -> dict:
    return dict(parse_env_pair(pair, where) for pair in pairs)


def parse_env_text(text: str) -> Tuple[Dict[str, str], List[SkippedLine]]:
    """The variables an env file's text sets, and the lines that set nothing (but blank lines and
    comments). Never raises."""
    values: Dict[str, str] = {}
    skipped: List[SkippedLine] = []
    for number, line in enumerate(_lines(text), start=1):
        match = ENV_LINE.fullmatch(line)
        if match and "\x00" not in line:
            values[match[1]] = match[2]
        elif line.strip() and not line.lstrip().startswith("#"):
            skipped.append(SkippedLine(number=number, text=line, reason=_why(line, number)))
    return values, skipped


def parse_env_file(path: Union[str, Path]) -> dict:
    """The variables an env file sets, as Wagi reads it; each line it skips (but blank lines and
    comments) is an :class:`EnvFileWarning` attributed to that line of the file."""
    try:
        data = Path(path).read_bytes()
    except OSError as error:
        raise WagiNbError(f"Cannot read the env file '{path}': {error.strerror or error}. "
                          "Give a file of KEY=VALUE lines.") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise WagiNbError(f"The env file '{path}' is not UTF-8 text (byte {data[error.start]:#04x} at offset "
                          f"{error.start}), so Wagi cannot read it either. Save it as UTF-8.") from None
    values, skipped = parse_env_text(text)
    for line in skipped:
        warnings.warn_explicit(f"{path}, line {line.number}: {line.reason}; the line is skipped, as Wagi "
                               "skips it.", EnvFileWarning, filename=str(path), lineno=line.number,
                               module=__name__)
    return values


def _lines(text: str) -> List[str]:
    """Lines as Rust's ``str::lines`` gives them: split at ``\\n``, a ``\\r`` before it dropped."""
    lines = text.split("\n")
    last = lines.pop()
    lines = [line[:-1] if line.endswith("\r") else line for line in lines]
    return lines + [last] if last else lines


def _why(line: str, number: int) -> str:
    shown = repr(line) if len(line) <= 60 else repr(line[:60]) + "…"
    if number == 1 and line.startswith("\ufeff"):
        return (f"{shown} starts with a byte-order mark, which Wagi reads as part of the name: save the "
                "file without one")
    if line[:1].isspace():
        return f"{shown} starts with whitespace: start the line with the name"
    if "\x00" in line:
        return f"{shown} holds a NUL character, which an environment variable cannot"
    body = line[len("export "):] if line.startswith("export ") else line
    if body[:1].isspace():
        return f"{shown} has more than one space after `export`, which Wagi does not read"
    name, equals, _ = body.partition("=")
    if not equals:
        return f"{shown} has no `=`: write NAME=VALUE"
    if name[-1:].isspace():
        return f"{shown} has a space before `=`, which Wagi does not read: write NAME=VALUE"
    if not NAME.fullmatch(name):
        return f"{shown}: the name {name!r} is not one Wagi reads (ASCII letters, digits, `_` and `-`)"
    return f"{shown} has a `\"` inside its value: Wagi reads `\"` only at its start and end"
