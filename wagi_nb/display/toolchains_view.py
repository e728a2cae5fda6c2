"""The ``%wasm_toolchains`` / ``wagi-nb toolchains`` table."""
from __future__ import annotations

from .text import html_table

COLUMNS = ("language", "status", "compiler", "version", "target", "libc", "notes")


def rows(infos) -> list:
    table = []
    for info in infos:
        if info.found:
            table.append((info.language, "found", info.path, info.version, info.target, info.libc, info.note))
        else:
            table.append((info.language, "MISSING", "", "", "", "",
                          f"{info.note}. Install: {info.install}" if info.note else info.install))
    return table


class ToolchainsView:
    def __init__(self, infos):
        self.infos = list(infos)

    def __repr__(self) -> str:
        lines = []
        width = max((len(info.language) for info in self.infos), default=5)
        for language, status, path, version, target, libc, note in rows(self.infos):
            head = f"{language:{width}} {status:7}"
            lines.append(f"{head} {path}  [{version}; target {target}]" if status == "found"
                         else f"{head} {note}")
            if status == "found" and note:
                lines.append(f"{'':{width + 9}} ({note})")
            if libc:
                lines.append(f"{'':{width + 9}} libc: {libc}")
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        return html_table(COLUMNS, rows(self.infos))
