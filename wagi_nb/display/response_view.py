"""How a Wagi HTTP response looks in a notebook (HTML) and in a terminal or CI log (text)."""
from __future__ import annotations

import base64
import codecs
import html
import json
import re
from typing import Optional, Sequence

from ..wagi.response import header_text
from .run_view import STDERR_STYLE
from .text import SHOW_LIMIT, decode_for_display, escape, pre

#: How many leading bytes of a binary body the hex preview shows.
HEX_PREVIEW = 256
#: Larger images are summarised instead of inlined, so one response cannot bloat the notebook file.
IMAGE_LIMIT = 2 * 1024 * 1024

STATUS_COLOURS = {2: "#2a7a2a", 3: "#1f5fa8", 4: "#b07800", 5: "#b52a2a"}
ERROR_STYLE = "background:#fdf2f2;border-left:3px solid #d9534f;color:#a33;"
NOTE_STYLE = "font-size:85%;color:#666"
IFRAME_STYLE = "width:100%;height:320px;border:1px solid #ddd;background:#fff"
TABLE_STYLE = "font-size:85%;margin:4px 0;border-collapse:collapse"

# Application types that are text in practice; a hex dump of them would only get in the way.
TEXT_APPLICATIONS = ("application/xml", "application/javascript", "application/x-www-form-urlencoded",
                     "application/yaml", "application/toml")


def media_type(content_type: str) -> str:
    """``"Text/HTML; charset=utf-8"`` -> ``"text/html"``."""
    return content_type.split(";", 1)[0].strip().lower()


def body_kind(body: bytes, media: str) -> str:
    """How to show a body: ``empty``, ``html``, ``json``, ``image``, ``text`` or ``binary``."""
    if not body:
        return "empty"
    if media == "text/html":
        return "html"
    if media == "application/json" or media.endswith("+json"):
        return "json"
    if media.startswith("image/"):
        return "image"
    if media.startswith("text/") or media in TEXT_APPLICATIONS or media.endswith("+xml"):
        return "text"
    if not media and _is_utf8(body):
        return "text"
    return "binary"


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _charset(content_type: str) -> Optional[str]:
    """The declared charset when it is a known codec other than UTF-8 (which decode_for_display handles)."""
    match = re.search(r"charset=\"?([\w.:-]+)", content_type, re.IGNORECASE)
    if not match:
        return None
    try:
        name = codecs.lookup(match.group(1)).name
    except LookupError:
        return None
    return None if name == "utf-8" else name


def decode_body(body: bytes, content_type: str) -> tuple:
    """(text, note): the body as text in its declared charset, cut to the display limit."""
    charset = _charset(content_type)
    if charset is None:
        return decode_for_display(body)
    text = body[:SHOW_LIMIT].decode(charset, errors="replace")
    note = (f"showing the first {SHOW_LIMIT:,} of {len(body):,} bytes; the full body is on the "
            "result object") if len(body) > SHOW_LIMIT else ""
    return text, note


def pretty_json(body: bytes) -> Optional[str]:
    try:
        return json.dumps(json.loads(body), indent=2, ensure_ascii=False)
    except (ValueError, RecursionError):
        return None


def hex_preview(data: bytes, limit: int = HEX_PREVIEW) -> str:
    """A hex + ASCII dump of the first ``limit`` bytes, 16 to a line."""
    shown = data[:limit]
    lines = []
    for offset in range(0, len(shown), 16):
        chunk = shown[offset:offset + 16]
        hexes = " ".join(f"{byte:02x}" for byte in chunk)
        ascii_ = "".join(chr(byte) if 32 <= byte < 127 else "." for byte in chunk)
        lines.append(f"{offset:08x}  {hexes:<47}  |{ascii_}|")
    if len(data) > limit:
        lines.append(f"… {len(data) - limit:,} more bytes")
    return "\n".join(lines)


def size_label(body: bytes, media: str) -> str:
    return f"{len(body):,} bytes of {media}" if media else f"{len(body):,} bytes, no content-type"


def request_line(request) -> str:
    return f"{request.method} {request.target}" if request is not None else ""


def _details(summary: str, content: str, open_: bool) -> str:
    state = " open" if open_ else ""
    return (f"<details{state}><summary style='{NOTE_STYLE};cursor:pointer'>{escape(summary)}</summary>"
            f"{content}</details>")


def _note(text: str) -> str:
    return f'<div style="{NOTE_STYLE}">{escape(text)}</div>' if text else ""


class ResponseView:
    """An HTTP response from a Wagi module: status, headers, body as its type asks, and diagnostics.

    ``routes`` (the configured route strings) is listed when nothing matched
    (a 404 no route answered). Attribute access falls through to the
    :class:`~wagi_nb.wagi.response.Response` (``_.status``, ``_.json()``).
    """

    def __init__(self, response, routes: Optional[Sequence[str]] = None, title: Optional[str] = None):
        self.response = response
        self.routes = None if routes is None else list(routes)
        self.title = title

    def __getattr__(self, name):
        try:
            return getattr(self.__dict__["response"], name)
        except KeyError:
            raise AttributeError(name) from None

    @property
    def media(self) -> str:
        return media_type(self.response.content_type)

    @property
    def kind(self) -> str:
        return body_kind(self.response.body, self.media)

    def status_text(self) -> str:
        return f"{self.response.status} {self.response.reason}".rstrip()

    def status_details(self) -> str:
        """``route /hello, 0.42 ms`` (``duration`` is in seconds, as on a RunResult)."""
        details = []
        if self.response.route is not None:
            details.append(f"route {self.response.route}")
        if self.response.duration:
            details.append(f"{self.response.duration * 1000:.2f} ms")
        return ", ".join(details)

    def route_hint(self) -> str:
        """For a 404 no route answered: the routes that do exist."""
        response = self.response
        if response.status != 404 or self.routes is None or response.route is not None:
            return ""
        path = f" {response.request.path}" if response.request is not None else ""
        listed = ", ".join(self.routes) if self.routes else "(none configured)"
        return f"No route matches{path}. Routes: {listed}"

    def _error_is_body(self) -> bool:
        return self.response.error.strip() == self.response.text.strip()

    def body_text(self) -> tuple:
        """(text, note) for the text form and the textual HTML renderings."""
        response, kind = self.response, self.kind
        if kind == "json":
            pretty = pretty_json(response.body)
            if pretty is not None:
                return decode_for_display(pretty.encode())
            text, note = decode_body(response.body, response.content_type)
            return text, "; ".join(filter(None, ["does not parse as JSON, shown as text", note]))
        return decode_body(response.body, response.content_type)

    # -- text form -------------------------------------------------------------------------------

    def __repr__(self) -> str:
        response = self.response
        lines = [line for line in (self.title, request_line(response.request)) if line]
        details = self.status_details()
        lines.append(f"HTTP {self.status_text()}" + (f"  ({details})" if details else ""))
        lines.extend(f"{name.lower()}: {header_text(value)}" for name, value in response.headers.get_all())
        lines.append("")
        lines.extend(self._text_body())
        if self.route_hint():
            lines += ["", self.route_hint()]
        if response.error and not self._error_is_body():
            lines += ["--- error ---", response.error.rstrip("\n")]
        # When wagi_nb replaced the response, what the module printed is what needs fixing.
        if response.error and response.raw:
            lines += ["--- raw CGI output ---", decode_for_display(response.raw)[0].rstrip("\n")]
        if response.stderr:
            lines += ["--- stderr ---", decode_for_display(response.stderr)[0].rstrip("\n")]
        if response.warnings:
            lines += ["--- warnings ---", *(f"- {warning}" for warning in response.warnings)]
        return "\n".join(lines)

    def _text_body(self) -> list:
        kind, body = self.kind, self.response.body
        if kind == "empty":
            return ["(empty body)"]
        if kind in ("image", "binary"):
            return [f"<{size_label(body, self.media)}>", hex_preview(body)]
        text, note = self.body_text()
        return [text.rstrip("\n")] + ([f"[body: {note}]"] if note else [])

    # -- HTML form -------------------------------------------------------------------------------

    def _repr_html_(self) -> str:
        response = self.response
        parts = []
        if self.title:
            parts.append(f"<div style='font-weight:bold'>{escape(self.title)}</div>")
        if response.request is not None:
            parts.append(f"<div style='font-family:monospace'>{escape(request_line(response.request))}</div>")
        parts.append(self._html_status())
        if response.error:
            parts.append(pre(response.error, ERROR_STYLE + "font-weight:bold;"))
        if self.route_hint():
            parts.append(f"<div style='margin:2px 0'>{escape(self.route_hint())}</div>")
        parts.append(self._html_headers())
        if not (response.error and self._error_is_body()):
            parts.append(self._html_body())
        parts.append(self._html_sections())
        return "<div class='wagi-nb-response'>" + "".join(parts) + "</div>"

    def _html_status(self) -> str:
        colour = STATUS_COLOURS.get(self.response.status // 100, "#333")
        details = self.status_details()
        extra = f" <span style='{NOTE_STYLE};font-weight:normal'>{escape(details)}</span>" if details else ""
        return f"<div style='font-weight:bold;color:{colour}'>{escape(self.status_text())}{extra}</div>"

    def _html_headers(self) -> str:
        cell = "text-align:left;vertical-align:top;padding:1px 8px 1px 0;font-family:monospace"
        rows = "".join(f"<tr><td style='{cell};font-weight:bold'>{escape(name)}</td>"
                       f"<td style='{cell}'>{escape(header_text(value))}</td></tr>"
                       for name, value in self.response.headers.get_all())
        if not rows:
            return _note("(no headers)")
        return f"<table style='{TABLE_STYLE}'><tbody>{rows}</tbody></table>"

    def _html_body(self) -> str:
        kind, body = self.kind, self.response.body
        if kind == "empty":
            return _note("(empty body)")
        if kind == "image" and len(body) <= IMAGE_LIMIT:
            src = f"data:{self.media};base64,{base64.b64encode(body).decode('ascii')}"
            return (f"<img src=\"{escape(src)}\" alt=\"{escape(size_label(body, self.media))}\" "
                    "style='max-width:100%'>")
        if kind in ("image", "binary"):
            too_big = ", too large to show inline" if kind == "image" else ""
            return _note(size_label(body, self.media) + too_big) + pre(hex_preview(body))
        text, note = self.body_text()
        if kind == "html":
            # The module's HTML only ever reaches the page as an escaped attribute of a sandboxed
            # frame: no scripts, no same-origin access to the notebook.
            frame = (f'<iframe sandbox="" srcdoc="{html.escape(text, quote=True)}" '
                     f'style="{IFRAME_STYLE}"></iframe>')
            return frame + _note(note)
        return pre(text) + _note(note)

    def _html_sections(self) -> str:
        response = self.response
        raw, raw_note = decode_for_display(response.raw)
        raw_html = pre(raw) + _note(raw_note) if response.raw else _note("(the module printed nothing)")
        stderr, stderr_note = decode_for_display(response.stderr)
        stderr_html = pre(stderr, STDERR_STYLE) + _note(stderr_note) if response.stderr else _note("(empty)")
        items = "".join(f"<li>{escape(warning)}</li>" for warning in response.warnings)
        warnings_html = f"<ul style='margin:2px 0'>{items}</ul>" if items else _note("(none)")
        return "".join([
            # When wagi_nb replaced the response, what the module printed is what needs fixing.
            _details("Raw CGI output", raw_html, bool(response.error and response.raw)),
            _details("Module stderr" + ("" if response.stderr else " (empty)"), stderr_html,
                     bool(response.stderr)),
            _details(f"Warnings ({len(response.warnings)})", warnings_html, bool(response.warnings)),
        ])
