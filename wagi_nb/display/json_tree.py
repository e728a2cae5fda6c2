"""A JSON body as a tree whose objects and arrays fold, in plain HTML (no script, so it survives
JupyterLab's sanitiser and nbviewer).

The tree is bounded as the text views are (a notebook saves every output it shows): it draws at most
``MAX_NODES`` values and ``SHOW_LIMIT`` characters of keys and scalars, cuts long strings, and
summarises containers nested past ``MAX_DEPTH``; each cut is marked where it is, and a note says so.
"""
from __future__ import annotations

import html
import json
from dataclasses import dataclass, field

from .style import JSON_KEY, JSON_KEYWORD, JSON_NUMBER, JSON_STRING, NOTE, TEXT
from .text import SHOW_LIMIT

#: Objects and arrays this deep and deeper start folded.
OPEN_DEPTH = 2
#: Past this many values the tree stops, marking how many items each cut container has left.
MAX_NODES = 2000
#: A string (or key) longer than this shows its first characters and how many more there are.
STRING_LIMIT = 1024
#: Containers this deep are summarised: browsers flatten elements nested past a few hundred deep,
#: and each level of the tree is two.
MAX_DEPTH = 100
_INDENT = "margin-left:1.2em"


@dataclass
class _Budget:
    """What is left to draw, and what has been left out (for the note)."""
    nodes: int = MAX_NODES
    chars: int = SHOW_LIMIT
    cuts: set = field(default_factory=set)

    def spent(self) -> bool:
        return self.nodes <= 0 or self.chars <= 0


def json_tree(value) -> tuple:
    """(html, note): the tree of a parsed JSON ``value``, and what it leaves out ("" when nothing)."""
    budget = _Budget()
    inner = _node(value, 0, budget)
    tree = f"<div class='wagi-nb-json' style='font-family:monospace;font-size:90%;color:{TEXT}'>{inner}</div>"
    return tree, _cut_note(budget.cuts)


def _cut_note(cuts: set) -> str:
    if not cuts:
        return ""
    left_out = [text for key, text in (
        ("values", f"the tree stops after {MAX_NODES:,} values or {SHOW_LIMIT:,} characters"),
        ("strings", f"strings are cut at {STRING_LIMIT:,} characters"),
        ("depth", f"containers nested {MAX_DEPTH} deep are summarised")) if key in cuts]
    return "; ".join(left_out) + " (marked with …); the full body is on the result object (.body, .json())"


def _node(value, depth: int, budget: _Budget) -> str:
    budget.nodes -= 1
    if isinstance(value, (dict, list)) and value and depth >= MAX_DEPTH:
        budget.cuts.add("depth")
        return _fold_summary(value)
    if isinstance(value, dict):
        items = _items(value.items(), len(value), "key", budget,
                       lambda item: f"{_key(item[0], budget)}: {_node(item[1], depth + 1, budget)}")
        return _fold("{", "}", _count(len(value), "key"), items, depth)
    if isinstance(value, list):
        items = _items(value, len(value), "item", budget, lambda item: _node(item, depth + 1, budget))
        return _fold("[", "]", _count(len(value), "item"), items, depth)
    return _scalar(value, budget)


def _items(values, size: int, noun: str, budget: _Budget, draw) -> list:
    """The drawn items of a container, until the budget runs out; then how many were not drawn."""
    items = []
    for index, value in enumerate(values):
        if budget.spent():
            budget.cuts.add("values")
            items.append(f"<div style='{_INDENT};{NOTE}'>… {_count(size - index, 'more ' + noun)}</div>")
            break
        items.append(f"<div style='{_INDENT}'>{draw(value)}</div>")
    return items


def _count(number: int, noun: str) -> str:
    return f"{number:,} {noun}{'s' * (number != 1)}"


def _fold(opening: str, closing: str, size: str, items: list, depth: int) -> str:
    if not items:
        return html.escape(opening + closing)
    state = " open" if depth < OPEN_DEPTH else ""
    return (f"<details{state} style='display:inline-block;vertical-align:top'><summary style='cursor:pointer'>"
            f"{html.escape(opening)} <span style='{NOTE}'>{size}</span></summary>{''.join(items)}"
            f"{html.escape(closing)}</details>")


def _fold_summary(value) -> str:
    """A container too deep to draw: its brackets and size."""
    opening, closing, noun = ("{", "}", "key") if isinstance(value, dict) else ("[", "]", "item")
    return f"{opening} <span style='{NOTE}'>… {_count(len(value), noun)}</span> {closing}"


def _key(key: str, budget: _Budget) -> str:
    return f"<span style='color:{JSON_KEY}'>{_string(key, budget)}</span>"


def _string(text: str, budget: _Budget) -> str:
    """A string as JSON, escaped for HTML; past STRING_LIMIT, cut and followed by how much is left out."""
    shown = json.dumps(text[:STRING_LIMIT], ensure_ascii=False)
    budget.chars -= len(shown)
    if len(text) <= STRING_LIMIT:
        return html.escape(shown)
    budget.cuts.add("strings")
    more = _count(len(text) - STRING_LIMIT, "more character")
    cut = shown[:-1] + '…"'  # the closing quote after the mark
    return f"{html.escape(cut)}<span style='{NOTE}'> ({more})</span>"


def _scalar(value, budget: _Budget) -> str:
    if isinstance(value, str):
        return f"<span style='color:{JSON_STRING}'>{_string(value, budget)}</span>"
    text = json.dumps(value)
    budget.chars -= len(text)
    colour = JSON_KEYWORD if value is None or isinstance(value, bool) else JSON_NUMBER
    return f"<span style='color:{colour}'>{html.escape(text)}</span>"
