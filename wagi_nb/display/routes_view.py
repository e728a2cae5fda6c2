"""The ``%wagi_routes`` table: what answers where."""
from __future__ import annotations

from .text import escape, html_table, text_table

COLUMNS = ("route", "module", "language", "entrypoint", "allowed hosts", "source", "size", "build time")


def rows(handlers) -> list:
    table = []
    for handler in handlers:
        artifact = handler.artifact
        built = "cached" if artifact.cached else f"{artifact.build_seconds:.2f} s"
        module = artifact.name or ("(cell)" if artifact.key else artifact.wasm_path.name)
        hosts = ", ".join(handler.allowed_hosts) or "—"
        if handler.http_max_concurrency is not None:
            hosts += f" (at most {handler.http_max_concurrency} at once)"
        table.append((handler.route.text, module, artifact.language, handler.entrypoint, hosts,
                      handler.origin, f"{artifact.size:,} B", built))
        for route, entrypoint in reversed(handler.subroutes):
            table.append((f"  {route.text}", module, artifact.language, entrypoint, hosts,
                          f"_routes of {handler.route.text}", "", ""))
    return table


class RoutesView:
    def __init__(self, handlers, global_env=None):
        self.handlers = list(handlers)
        self.global_env = dict(global_env or {})

    def _env_line(self) -> str:
        if not self.global_env:
            return ""
        return "global env: " + ", ".join(f"{k}={v}" for k, v in self.global_env.items())

    def __repr__(self) -> str:
        if not self.handlers:
            return "No routes yet: add one with a language magic's --route, or %wagi_load modules.toml."
        return "\n".join(filter(None, [text_table(COLUMNS, rows(self.handlers)), self._env_line()]))

    def _repr_html_(self) -> str:
        if not self.handlers:
            return f"<div>{repr(self)}</div>"
        env = self._env_line()
        return html_table(COLUMNS, rows(self.handlers)) + (f"<div style='font-size:85%'>{escape(env)}</div>"
                                                           if env else "")
