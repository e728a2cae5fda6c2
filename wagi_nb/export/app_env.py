"""The export's ``app.env``: the global variables in the one form Wagi 0.8.1 reads (env-file-reader
0.2, which :mod:`wagi_nb.envvars` reads as it does), and what to do with those that form cannot hold.

A line is ``NAME=VALUE``: NAME of ASCII letters, digits, ``_`` and ``-``, VALUE with no ``"`` and no
newline, since nothing is unescaped. A value ending in ``\\r`` is written in quotes (the reader would
take an unquoted one for half of a CRLF line end). The reader strips one ``"`` at each end of a value
and reads no ``"`` inside one, so a value with a ``"`` anywhere, like one that spans lines or a name
with another character (``MY.VAR``), cannot be in the file: wagi-nb serve and Wagi then need it as
``-e NAME=VALUE``, which holds all of them but a value that starts and ends with a quote (``-e`` strips
those). Each line is checked by reading it back with the project's reader.
"""
from __future__ import annotations

import shlex
from dataclasses import dataclass
from typing import List, Tuple

from ..envvars import NAME, parse_env_pair, parse_env_text
from ..errors import WagiNbError


@dataclass(frozen=True)
class LeftOut:
    """A global variable app.env cannot hold: why, and the ``-e`` argument that passes it to wagi-nb
    serve and Wagi instead ("" when ``-e`` cannot either: ``why_not_flag`` says why)."""

    name: str
    why: str
    flag: str
    why_not_flag: str = ""

    def advice(self, in_spin: bool) -> str:
        """One sentence for the report and the README: what is left out, why, and what to do."""
        spin = " spin.toml has it." if in_spin else ""
        if self.flag:
            return (f"`{self.name}` is NOT in app.env: {self.why}.{spin} Pass it with -e NAME=VALUE, as the "
                    "run command here does.")
        return (f"`{self.name}` is NOT in app.env: {self.why}, and -e cannot pass it either "
                f"({self.why_not_flag}), so wagi-nb serve and Wagi cannot be given it as it is."
                + (" Only Spin has it (spin.toml)." if in_spin else ""))


def app_env(env: dict) -> Tuple[str, List[LeftOut]]:
    """(app.env's text, the variables it leaves out): a line for each variable the reader reads
    back exactly, in order."""
    lines, left_out = [], []
    for name, value in ((str(name), str(value)) for name, value in env.items()):
        line = f'{name}="{value}"\n' if value.endswith("\r") else f"{name}={value}\n"
        if parse_env_text(line) == ({name: value}, []):
            lines.append(line)
        else:
            flag, why_not = _flag(name, value)
            left_out.append(LeftOut(name=name, why=_why(name, value), flag=flag, why_not_flag=why_not))
    return "".join(lines), left_out


def _why(name: str, value: str) -> str:
    reasons = []
    if not NAME.fullmatch(name):
        reasons.append("its name has a character an env file's name cannot (only ASCII letters, digits, "
                       "`_` and `-`)")
    if '"' in value:
        reasons.append('its value holds a `"`, which an env file reads only as a quote around a value '
                       "(and strips)")
    if "\n" in value:
        reasons.append("its value spans lines, and an env file has one line per variable (nothing is "
                       "unescaped)")
    if "\x00" in name + value:
        reasons.append("it holds a NUL character")
    return "; ".join(reasons) or "an env file cannot hold it as it is"


def _flag(name: str, value: str) -> Tuple[str, str]:
    """(the ``-e`` argument, shell-quoted, that ``wagi-nb serve`` and Wagi read back as this
    variable, or ""; why there is none)."""
    try:
        exact = parse_env_pair(f"{name}={value}") == (name, value)
    except WagiNbError:
        exact = False
    if exact:
        pair = shlex.quote(f"{name}={value}")
        # (argparse would take an argument starting with `-` for a flag; attached, it is the value.)
        return (f"--env={pair}" if pair.startswith("-") else f"-e {pair}"), ""
    if "\x00" in name + value:
        return "", "an environment variable cannot hold a NUL"
    if not name or "=" in name:
        return "", "-e takes the name up to the first `=`"
    return "", "-e strips the quotes at both ends of a value"
