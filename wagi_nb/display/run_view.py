"""How a run looks in a notebook (HTML) and in a terminal or CI log (text)."""
from __future__ import annotations

from typing import Optional

from .style import ERROR, NOTE, STDERR, SUCCESS
from .text import CUT, compiler_warnings_html, count_warnings, decode_for_display, escape, pre, pre_noted


class RunView:
    """A run of a module: stdout, stderr apart, and how it ended.

    Attribute access falls through to the :class:`~wagi_nb.runtime.RunResult`
    (``_.stdout``, ``_.exit_code``) and ``.artifact`` is the module that ran.
    ``streamed``: stdout was already shown as the module wrote it, so the view leaves it out.
    """

    def __init__(self, result, artifact=None, streamed: bool = False):
        self.result = result
        self.artifact = artifact
        self.streamed = streamed

    def __getattr__(self, name):
        # Python's own protocols (copy's __setstate__ and __deepcopy__, pickle's) are not the result's:
        # forwarding them made a copy of the view a copy of its result, or, while ``copy`` rebuilds
        # a view that has no ``result`` yet, a KeyError.
        if name.startswith("__") and name.endswith("__") or "result" not in self.__dict__:
            raise AttributeError(name)
        return getattr(self.__dict__["result"], name)

    def _streams(self):
        for label, data in (("stdout", self.result.stdout), ("stderr", self.result.stderr)):
            if data and not (label == "stdout" and self.streamed):
                yield (label, *decode_for_display(data))

    @property
    def compiler_warnings(self) -> str:
        return getattr(self.artifact, "warnings", "") or ""

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
            if CUT in note:
                lines.append(f"[{label}: {note}]")
            lines.append(text.rstrip("\n"))
            if note:
                lines.append(f"[{label}: {note}]")
        lines.append(f"[{self.status_line()}]")
        lines.extend(f"    {frame}" for frame in self.result.backtrace)
        if self.compiler_warnings:
            lines += [f"--- compiler warnings ({count_warnings(self.compiler_warnings) or 1}) ---",
                      self.compiler_warnings.rstrip()]
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        parts = []
        for label, text, note in self._streams():
            if label == "stderr":
                parts.append(f'<div style="font-size:85%;color:{ERROR}">stderr</div>')
            parts.append(pre_noted(text, note, STDERR if label == "stderr" else ""))
        colour = SUCCESS if self.result.ok else ERROR
        parts.append(f'<div style="font-size:85%;color:{colour};margin-top:2px">'
                     f'{escape(self.status_line())}</div>')
        if self.result.backtrace:
            parts.append(f"<details><summary style='{NOTE}'>wasm backtrace</summary>"
                         + pre("\n".join(self.result.backtrace)) + "</details>")
        parts.append(compiler_warnings_html(self.compiler_warnings))
        return "<div class='wagi-nb-run'>" + "".join(parts) + "</div>"


class BuildStatus:
    """The live one-line status shown while a slow build runs ("Compiling with zig 0.17.1 … 3.2 s · what
    the compiler does"), or while a slow step of the runtime does (``activity``: "Compiling the Python
    interpreter (26.3 MB) to native code (first use; later runs take a moment) … 3.2 s")."""

    def __init__(self, toolchain: str, elapsed: float, detail: str = "", *, activity: str = ""):
        if activity:
            self.text = f"{activity} … {elapsed:.1f} s"
        else:
            self.text = f"Compiling with {toolchain} … {elapsed:.1f} s" + (f" · {detail}" if detail else "")

    def __repr__(self) -> str:
        return self.text

    def _repr_html_(self) -> str:
        return f"<div style='{NOTE}'>⏳ {escape(self.text)}</div>"


def toolchain_label(info: Optional[dict]) -> str:
    if not info:
        return "compiler"
    return f"{info.get('name', '')} {info.get('version', '')}".strip()
