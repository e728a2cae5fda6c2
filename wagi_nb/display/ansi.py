"""ANSI colour codes (SGR) in module output as HTML, the way a terminal would show them."""
from __future__ import annotations

import html
import re

#: An escape sequence: SGR (``\x1b[...m``) is drawn, any other CSI sequence is dropped.
_ESCAPE = re.compile(r"\x1b\[([0-9;?]*)([A-Za-z])")
_COLOURS = ("black", "red", "green", "yellow", "blue", "magenta", "cyan", "white")
# JupyterLab's own ANSI palette (the same one it uses for a Python traceback), light fallbacks.
_PALETTE = {name: f"var(--jp-ansi-{name}, {fallback})" for name, fallback in zip(
    _COLOURS, ("#3e424d", "#e75c58", "#00a250", "#ddb62b", "#208ffb", "#d160c4", "#60c6c8", "#c5c1b4"),
    strict=True)}


def has_ansi(text: str) -> bool:
    return "\x1b[" in text


def ansi_to_html(text: str) -> str:
    """``text`` escaped for HTML, its SGR colours (30–37, 90–97, 40–47, bold, reset) as spans."""
    out: list = []
    state: dict = {}
    position = 0
    for match in _ESCAPE.finditer(text):
        out.append(_span(text[position:match.start()], state))
        position = match.end()
        if match[2] == "m":
            state = _apply(state, [int(p) if p.isdigit() else 0 for p in match[1].split(";")])
    out.append(_span(text[position:], state))
    return "".join(out)


def _apply(state: dict, codes: list) -> dict:
    state = dict(state)
    for code in codes:
        if code == 0:
            state = {}
        elif code == 1:
            state["font-weight"] = "bold"
        elif code == 22:
            state.pop("font-weight", None)
        elif 30 <= code <= 37 or 90 <= code <= 97:
            state["color"] = _PALETTE[_COLOURS[code % 10]]
        elif code == 39:
            state.pop("color", None)
        elif 40 <= code <= 47:
            state["background"] = _PALETTE[_COLOURS[code % 10]]
        elif code == 49:
            state.pop("background", None)
    return state


def _span(text: str, state: dict) -> str:
    if not text:
        return ""
    if not state:
        return html.escape(text)
    style = ";".join(f"{key}:{value}" for key, value in state.items())
    return f'<span style="{style}">{html.escape(text)}</span>'
