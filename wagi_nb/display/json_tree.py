"""A JSON body as a tree whose objects and arrays fold, in plain HTML (no script, so it survives
JupyterLab's sanitiser and nbviewer)."""
from __future__ import annotations

import html
import json
from typing import Optional

from .style import JSON_KEY, JSON_KEYWORD, JSON_NUMBER, JSON_STRING, NOTE, TEXT

#: Objects and arrays this deep and deeper start folded.
OPEN_DEPTH = 2
#: Past this many values the tree stops; the rest is in the text view (``repr`` of the response).
MAX_NODES = 2000
_INDENT = "margin-left:1.2em"


def json_tree(body: bytes) -> Optional[str]:
    """The tree of ``body``, or None when it does not parse or is too large to draw."""
    try:
        value = json.loads(body)
    except (ValueError, RecursionError):
        return None
    budget = [MAX_NODES]
    try:
        inner = _node(value, 0, budget)
    except RecursionError:
        return None
    if budget[0] < 0:
        return None
    return f"<div class='wagi-nb-json' style='font-family:monospace;font-size:90%;color:{TEXT}'>{inner}</div>"


def _node(value, depth: int, budget: list) -> str:
    budget[0] -= 1
    if budget[0] < 0:
        return ""
    if isinstance(value, dict):
        items = [f"<div style='{_INDENT}'>{_key(k)}: {_node(v, depth + 1, budget)}</div>" for k, v in value.items()]
        return _fold("{", "}", f"{len(value)} key{'s' * (len(value) != 1)}", items, depth)
    if isinstance(value, list):
        items = [f"<div style='{_INDENT}'>{_node(v, depth + 1, budget)}</div>" for v in value]
        return _fold("[", "]", f"{len(value)} item{'s' * (len(value) != 1)}", items, depth)
    return _scalar(value)


def _fold(opening: str, closing: str, size: str, items: list, depth: int) -> str:
    if not items:
        return html.escape(opening + closing)
    state = " open" if depth < OPEN_DEPTH else ""
    return (f"<details{state} style='display:inline-block;vertical-align:top'><summary style='cursor:pointer'>"
            f"{html.escape(opening)} <span style='{NOTE}'>{size}</span></summary>{''.join(items)}"
            f"{html.escape(closing)}</details>")


def _key(key: str) -> str:
    return f"<span style='color:{JSON_KEY}'>{html.escape(json.dumps(key, ensure_ascii=False))}</span>"


def _scalar(value) -> str:
    text = html.escape(json.dumps(value, ensure_ascii=False))
    if isinstance(value, str):
        return f"<span style='color:{JSON_STRING}'>{text}</span>"
    if value is None or isinstance(value, bool):
        return f"<span style='color:{JSON_KEYWORD}'>{text}</span>"
    return f"<span style='color:{JSON_NUMBER}'>{text}</span>"
