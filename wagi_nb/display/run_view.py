"""How a run looks in a notebook (HTML) and in a terminal or CI log (text)."""
from __future__ import annotations

from typing import Optional

from .text import decode_for_display, escape, pre

STDERR_STYLE = "background:#fdf2f2;border-left:3px solid #d9534f;"


class RunView:
    """A run of a module: stdout, stderr apart, and how it ended.

    Attribute access falls through to the :class:`~wagi_nb.runtime.RunResult`
    (``_.stdout``, ``_.exit_code``) and ``.artifact`` is the module that ran.
    """

    def __init__(self, result, artifact=None):
        self.result = result
        self.artifact = artifact

    def __getattr__(self, name):
        return getattr(self.__dict__["result"], name)

    def _streams(self):
        for label, data in (("stdout", self.result.stdout), ("stderr", self.result.stderr)):
            if data:
                yield (label, *decode_for_display(data))

    def status_line(self) -> str:
        parts = [self.result.status]
        if self.artifact is not None:
            built = "cached build" if self.artifact.cached else \
                f"built in {self.artifact.build_seconds:.2f} s"
            parts.append(f"{self.artifact.language}, {self.artifact.size:,} bytes, {built}")
        return " · ".join(parts)

    def __repr__(self) -> str:
        lines = []
        for label, text, note in self._streams():
            if label == "stderr":
                lines.append("--- stderr ---")
            lines.append(text.rstrip("\n"))
            if note:
                lines.append(f"[{label}: {note}]")
        lines.append(f"[{self.status_line()}]")
        lines.extend(f"    {frame}" for frame in self.result.backtrace)
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        ok = self.result.ok
        parts = []
        for label, text, note in self._streams():
            style = STDERR_STYLE if label == "stderr" else ""
            if label == "stderr":
                parts.append('<div style="font-size:85%;color:#a33">stderr</div>')
            parts.append(pre(text, style))
            if note:
                parts.append(f'<div style="font-size:85%;color:#666">{escape(note)}</div>')
        colour = "#2a7a2a" if ok else "#b52a2a"
        parts.append(f'<div style="font-size:85%;color:{colour};margin-top:2px">'
                     f'{escape(self.status_line())}</div>')
        if self.result.backtrace:
            parts.append("<details><summary style='font-size:85%'>wasm backtrace</summary>"
                         + pre("\n".join(self.result.backtrace)) + "</details>")
        return "<div class='wagi-nb-run'>" + "".join(parts) + "</div>"


class BuildStatus:
    """The live one-line status shown while a slow build runs."""

    def __init__(self, toolchain: str, elapsed: float, detail: str = ""):
        self.text = f"Compiling with {toolchain} … {elapsed:.1f} s" + (f" · {detail}" if detail else "")

    def __repr__(self) -> str:
        return self.text

    def _repr_html_(self) -> str:
        return f"<div style='font-size:85%;color:#666'>⏳ {escape(self.text)}</div>"


def toolchain_label(info: Optional[dict]) -> str:
    if not info:
        return "compiler"
    return f"{info.get('name', '')} {info.get('version', '')}".strip()
