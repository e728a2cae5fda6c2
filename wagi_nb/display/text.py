"""Small pieces shared by the HTML and text renderings."""
from __future__ import annotations

import html

from .ansi import ansi_to_html, has_ansi
from .style import NOTE, PRE

#: How much of a stream a view shows; the full bytes stay on the result object.
SHOW_LIMIT = 64 * 1024
#: How every note on text cut to SHOW_LIMIT begins.
CUT = "showing the first"


def decode_for_display(data: bytes, limit: int = SHOW_LIMIT) -> tuple:
    """(text, note): the first ``limit`` bytes as text, and a note on what was cut or replaced."""
    notes = []
    shown = data[:limit]
    text = shown.decode("utf-8", errors="replace")
    try:
        shown.decode("utf-8")
    except UnicodeDecodeError as error:
        if not (len(data) > limit and error.start >= len(shown) - 3):
            notes.append("not valid UTF-8: undecodable bytes are shown as \ufffd")
    if len(data) > limit:
        notes.append(f"{CUT} {limit:,} of {len(data):,} bytes; the full output is on "
                     "the result object")
    return text, "; ".join(notes)


def pre(text: str, style: str = "") -> str:
    """``text`` preformatted, its ANSI colour codes (a module's coloured output) drawn as colours."""
    body = ansi_to_html(text) if has_ansi(text) else html.escape(text)
    return f'<pre style="{PRE}{style}">{body}</pre>'


def pre_noted(text: str, note: str, style: str = "") -> str:
    """``text`` preformatted with ``note`` below it; a note that the text was cut short is also put
    above, where a reader sees it before scrolling through 64 KiB."""
    below = f'<div style="{NOTE}">{html.escape(note)}</div>' if note else ""
    above = below if CUT in note else ""
    return above + pre(text, style) + below


def count_warnings(text: str) -> int:
    """How many warnings a compiler's output holds (its ``N warnings emitted`` summary not counted)."""
    return sum(1 for line in text.splitlines()
               if "warning:" in line and not line.rstrip().endswith(("emitted", "generated.", "generated")))


def compiler_warnings_html(text: str) -> str:
    """A build's compiler warnings, folded, for the views of a run and of a route."""
    from .style import NOTE, WARNINGS
    if not text.strip():
        return ""
    count = count_warnings(text) or 1
    summary = f"Compiler warnings ({count})"
    return (f"<details><summary style='{NOTE};cursor:pointer'>{escape(summary)}</summary>"
            f"{pre(text.rstrip(), WARNINGS)}</details>")


def escape(text: str) -> str:
    return html.escape(str(text))


def html_table(columns, rows) -> str:
    head = "".join(f"<th style='text-align:left'>{escape(c)}</th>" for c in columns)
    body = "".join("<tr>" + "".join(f"<td style='text-align:left'>{escape(v)}</td>" for v in row)
                   + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def text_table(columns, rows) -> str:
    """Columns padded to their widest cell, for terminals and logs."""
    table = [tuple(map(str, columns))] + [tuple(map(str, row)) for row in rows]
    widths = [max(len(row[i]) for row in table) for i in range(len(columns))]
    return "\n".join("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
                     for row in table)
