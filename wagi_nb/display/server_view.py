"""What ``%wagi_serve`` and ``%wagi_log`` show."""
from __future__ import annotations

import time

from .style import NOTE
from .text import escape, pre


class ServerView:
    """The link to open, and whether the server was started, kept or restarted."""

    def __init__(self, url: str, proxy_url, what: str, routes):
        self.url, self.proxy_url, self.what, self.routes = url, proxy_url, what, list(routes)

    def _headline(self) -> str:
        verb = {"started": "Serving", "running": "Already serving", "restarted": "Restarted, serving"}
        return f"{verb.get(self.what, 'Serving')} the notebook's routes on {self.url}"

    def __repr__(self) -> str:
        lines = [self._headline()]
        if self.proxy_url:
            lines.append(f"In any browser showing this notebook (through jupyter-server-proxy): {self.proxy_url}")
        lines.append(f"Try: !curl -s {self.url}")
        lines.append("Routes: " + (", ".join(self.routes) or "none yet"))
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        links = [f"<a href='{escape(link)}' target='_blank'>{escape(link)}</a>"
                 for link in (self.proxy_url, self.url) if link]
        through = " (through Jupyter, from any browser showing this notebook), or " if self.proxy_url else ""
        parts = [f"<div>{escape(self._headline())} — open {through.join(links)}</div>",
                 f"<div style='{NOTE}'>From a cell: <code>!curl -s {escape(self.url)}"
                 f"</code> · routes: {escape(', '.join(self.routes) or 'none yet')}</div>"]
        return "".join(parts)


class LogView:
    """Recent access log lines and module stderr per route."""

    def __init__(self, access_lines, stderr_log):
        self.access_lines = list(access_lines)
        self.stderr = {route: list(entries) for route, entries in stderr_log.items() if entries}

    def _sections(self):
        yield "access log", "\n".join(self.access_lines) or "(no requests yet)"
        for route, entries in self.stderr.items():
            text = "".join(f"[{time.strftime('%H:%M:%S', time.localtime(when))}] "
                           f"{data.decode('utf-8', 'replace')}" for when, data in entries)
            yield f"stderr of {route}", text.rstrip("\n")

    def __repr__(self) -> str:
        return "\n".join(f"--- {title} ---\n{body}" for title, body in self._sections())

    def _repr_html_(self) -> str:
        return "".join(f"<div style='{NOTE}'>{escape(title)}</div>{pre(body)}"
                       for title, body in self._sections())
