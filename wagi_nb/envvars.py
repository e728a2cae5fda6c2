"""``KEY=VALUE`` pairs as the command line, the magics and ``--env-file`` give them."""
from __future__ import annotations

from typing import Iterable

from .errors import WagiNbError


def parse_env_pair(pair: str, where: str = "--env") -> tuple:
    """``KEY=VALUE`` → (KEY, VALUE); a value wrapped in matching ``"`` or ``'`` is unwrapped."""
    key, sep, value = pair.partition("=")
    key = key.strip()
    if not sep or not key:
        raise WagiNbError(f"{where} expects KEY=VALUE, got {pair!r}. Write it as e.g. NAME=world "
                          "(quote the value if it has spaces).")
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        value = value[1:-1]
    return key, value


def parse_env_pairs(pairs: Iterable[str], where: str = "--env") -> dict:
    return dict(parse_env_pair(pair, where) for pair in pairs)


def parse_env_file(path) -> dict:
    """``KEY=VALUE`` lines; blank lines and ``#`` comments are skipped."""
    from pathlib import Path
    try:
        lines = Path(path).read_text().splitlines()
    except OSError as error:
        raise WagiNbError(f"Cannot read the env file '{path}': {error.strerror or error}. "
                          "Give a file of KEY=VALUE lines.") from None
    values = {}
    for number, line in enumerate(lines, start=1):
        if line.strip() and not line.lstrip().startswith("#"):
            key, value = parse_env_pair(line.strip(), where=f"{path}, line {number},")
            values[key] = value
    return values
