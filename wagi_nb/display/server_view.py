"""What ``%wagi_serve`` and ``%wagi_log`` show."""
from __future__ import annotations

import html
import json
import time

from .style import BORDER, NOTE
from .text import escape, pre

#: The Copy button's click: the command to the clipboard, then "Copied" on the button for a moment.
#: Where the page is no secure context (plain http to another host) there is no navigator.clipboard:
#: the browser's older copy command is tried instead. ``%(text)s``: the command as a JavaScript string.
COPY_ON_CLICK = (
    "var b=this,t=%(text)s;function said(w){b.textContent=w;setTimeout(function(){b.textContent='Copy'},1500)}"
    "function old(){var a=document.createElement('textarea');a.value=t;a.style.position='fixed';"
    "a.style.opacity='0';document.body.appendChild(a);a.select();var ok=false;"
    "try{ok=document.execCommand('copy')}catch(e){}a.remove();said(ok?'Copied':'Copy failed')}"
    "if(navigator.clipboard&&window.isSecureContext){navigator.clipboard.writeText(t)"
    ".then(function(){said('Copied')},old)}else{old()}")
COPY_STYLE = (f"margin-left:6px;padding:0 6px;font-size:inherit;cursor:pointer;border:1px solid {BORDER};"
              "border-radius:2px;background:var(--jp-layout-color2, #eee);color:var(--jp-ui-font-color1, inherit)")
#: Shows the button just before it. Untrusted (a notebook from elsewhere) JupyterLab removes this script
#: and the button's click, and keeps ``hidden``: no button that does nothing.
_SHOW_BUTTON = "<script>document.currentScript.previousElementSibling.hidden=false</script>"


def copy_button(text: str) -> str:
    """A small Copy button that puts ``text`` on the clipboard (hidden where it could not run)."""
    on_click = html.escape(COPY_ON_CLICK % {"text": json.dumps(text)}, quote=True)
    return (f'<button type="button" class="wagi-nb-copy" hidden title="Copy to the clipboard" '
            f'style="{COPY_STYLE}" onclick="{on_click}">Copy</button>{_SHOW_BUTTON}')


class ServerView:
    """The link to open, and whether the server was started, kept or restarted."""

    def __init__(self, url: str, proxy_url, what: str, routes):
        self.url, self.proxy_url, self.what, self.routes = url, proxy_url, what, list(routes)

    def _headline(self) -> str:
        verb = {"started": "Serving", "running": "Already serving", "restarted": "Restarted, serving"}
        return f"{verb.get(self.what, 'Serving')} the notebook's routes on {self.url}"

    def _curl(self) -> str:
        return f"!curl -s {self.url}"

    def __repr__(self) -> str:
        lines = [self._headline()]
        if self.proxy_url:
            lines.append(f"In any browser showing this notebook (through jupyter-server-proxy): {self.proxy_url}")
        lines.append(f"Try: {self._curl()}")
        lines.append("Routes: " + (", ".join(self.routes) or "none yet"))
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        links = [f"<a href='{escape(link)}' target='_blank'>{escape(link)}</a>"
                 for link in (self.proxy_url, self.url) if link]
        through = " (through Jupyter, from any browser showing this notebook), or " if self.proxy_url else ""
        parts = [f"<div>{escape(self._headline())} — open {through.join(links)}</div>",
                 f"<div style='{NOTE}'>From a cell: <code>{escape(self._curl())}</code>"
                 f"{copy_button(self._curl())} · routes: {escape(', '.join(self.routes) or 'none yet')}</div>"]
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
