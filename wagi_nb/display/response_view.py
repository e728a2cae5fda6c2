"""How a Wagi HTTP response looks in a notebook (HTML) and in a terminal or CI log (text)."""
from __future__ import annotations

import base64
import html
import json
import re
from typing import Optional, Sequence

from ..wagi.response import charset, error_text, header_text
from .json_tree import json_tree
from .style import BORDER, ERROR_BOX, NOTE, STDERR, TEXT, status_colour
from .text import (CUT, SHOW_LIMIT, compiler_warnings_html, count_warnings, decode_for_display, escape, pre,
                   pre_noted)

#: How many leading bytes of a binary body the hex preview shows.
HEX_PREVIEW = 256
#: Larger images are summarised instead of inlined, so one response cannot bloat the notebook file.
IMAGE_LIMIT = 2 * 1024 * 1024

#: The module's page keeps its own white background whatever the theme, as a browser shows it.
IFRAME_STYLE = f"width:100%;height:320px;border:1px solid {BORDER};background:#fff"
#: The frame fits its page (up to this height), when it loads and whenever the page's size or the
#: frame's changes; the parent may read the page's height because the frame is same-origin, which is
#: safe only because it may run no script.
FRAME_MAX_HEIGHT = 1200
# Shrunk first: a document is never shorter than its frame, so its height is read in a 1px frame. A
# frame not laid out yet (JupyterLab lays out cells outside the viewport late) is fitted when it is:
# measured before, it was 40 px for any page. The observer reports only sizes that differ from the
# last it reported, so a fit (1 px, then the page's height, in one task) does not call itself again.
FIT_FRAME = ("var f=this;function fit(){try{if(!f.clientWidth)return;f.style.height='1px';"
             "f.style.height=Math.min(Math.max(f.contentDocument.documentElement.scrollHeight+8,40),"
             f"{FRAME_MAX_HEIGHT})+'px'}}catch(e){{f.style.height='320px'}}}}fit();"
             "if(window.ResizeObserver){var o=new ResizeObserver(fit);o.observe(f);"
             "try{o.observe(f.contentDocument.documentElement)}catch(e){}}")
#: A URL attribute whose value starts at the root: ``href="/x"`` (not ``//host/x``).
_ROOT_RELATIVE = re.compile(r"""(\b(?:href|src|action)\s*=\s*["']?)/(?!/)""", re.IGNORECASE)
#: A link's tag up to its ``>`` (or the end), and a link attribute in it: two steps, because one
#: pattern (``<a\b[^>]*\bhref=``) backtracks over the rest of the page from every ``<a`` that has
#: no link, quadratic time (a minute for 64 KiB of ``<a ``).
_LINK_TAG = re.compile(r"<(?:a|area|form)\b[^>]*", re.IGNORECASE)
_LINK_ATTRIBUTE = re.compile(r"\b(?:href|action)\s*=", re.IGNORECASE)
#: A link tag's ``href`` and the start of its value.
_HREF = re.compile(r"""\bhref\s*=\s*["']?\s*([^"'\s>]*)""", re.IGNORECASE)
#: A URL with a scheme (``https:``, ``mailto:``): the others are relative to the page.
_ABSOLUTE_URL = re.compile(r"[a-z][a-z0-9+.-]*:", re.IGNORECASE)
TABLE_STYLE = f"font-size:85%;margin:4px 0;border-collapse:collapse;color:{TEXT}"
#: Shown where JupyterLab's sanitiser has removed the frame (an untrusted notebook); in a trusted
#: output the script after it removes it.
UNTRUSTED_NOTE = ("This notebook is not trusted, so the HTML body is not drawn (JupyterLab removes its "
                  "frame). Trust it (File ▸ Trust Notebook, or `jupyter trust NOTEBOOK.ipynb`) or re-run "
                  "the cell to see the page; its text is below.")
_DOCTYPE = re.compile(r"\A\s*<!doctype[^>]*>", re.IGNORECASE)

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
    name = charset(content_type)
    return None if name == "utf-8" else name


def decode_body(body: bytes, content_type: str) -> tuple:
    """(text, note): the body as text in its declared charset, cut to the display limit."""
    declared = _charset(content_type)
    try:
        text = body[:SHOW_LIMIT].decode(declared, errors="replace") if declared else None
    except ValueError:  # (a codec that fails even with "replace", as punycode does)
        text = None
    if text is None:
        return decode_for_display(body)
    note = (f"{CUT} {SHOW_LIMIT:,} of {len(body):,} bytes; the full body is on the "
            "result object") if len(body) > SHOW_LIMIT else ""
    return text, note


#: What ``parse_json`` answers for a body that is not JSON (None is the JSON ``null``).
NOT_JSON = object()
_PRETTY = json.JSONEncoder(indent=2, ensure_ascii=False)


def parse_json(body: bytes) -> tuple:
    """(value, why not): the parsed body, or NOT_JSON and why it is shown as text instead."""
    try:
        return json.loads(body), ""
    except RecursionError:
        return NOT_JSON, "nested too deeply to parse, shown as text"
    except ValueError:
        return NOT_JSON, "does not parse as JSON, shown as text"


def pretty_json(value, body_size: int, limit: int = SHOW_LIMIT) -> Optional[tuple]:
    """(text, note): ``value`` indented, its first ``limit`` bytes. It stops there: indenting a
    16 MiB array whole takes seconds and a string many times the body, to show 64 KiB of it."""
    chunks, size = [], 0
    try:
        for chunk in _PRETTY.iterencode(value):
            chunks.append(chunk)
            size += len(chunk)
            if size > limit:  # characters: at least as many bytes
                break
    except RecursionError:
        return None
    text = "".join(chunks)
    if size <= limit and len(text.encode()) <= limit:
        return text, ""
    shown = text.encode()[:limit].decode("utf-8", errors="ignore")
    return shown, (f"showing the first {limit:,} bytes of the indented JSON of a {body_size:,}-byte body; "
                   "the full body is on the result object (.body, .json())")


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


def split_raw(raw: bytes) -> tuple:
    """A module's stdout → (header block, body): split at the first empty line, as it is read."""
    match = re.search(rb"\r?\n\r?\n", raw)
    if match is None:
        return raw, b""
    return raw[:match.end()], raw[match.end():]


def raw_output_text(raw: bytes, media: str) -> tuple:
    """(text, note) of a module's stdout for the raw view: headers as text, a body that is not text
    as its size and a hex dump (a PNG must not become thousands of replacement characters)."""
    head, body = split_raw(raw)
    if body and body_kind(body, media) in ("image", "binary"):
        text, note = decode_for_display(head)
        return text + f"<{size_label(body, media)}>\n" + hex_preview(body), note
    return decode_for_display(raw)


def with_link_base(page: str, link_base: Optional[str]) -> str:
    """The module's page with a ``<base>`` first, so that its links open in a new tab (the frame keeps
    showing the response its heading names) and its relative links reach the notebook's routes
    (``link_base``: the running server's URL, or its proxy path), never Jupyter's own pages. Under a
    proxy path, links from the root (``/about``) get the path too, which a ``<base>`` alone cannot do.
    Without a ``link_base`` (no %wagi_serve), relative links are made inert: they lead nowhere yet."""
    if link_base:
        base = f'<base href="{html.escape(link_base, quote=True)}" target="_blank">'
    else:
        base = '<base href="about:invalid" target="_blank">'
        page = inert_relative_links(page)
    if link_base and link_base.startswith("/"):
        prefix = link_base.rstrip("/")
        page = _ROOT_RELATIVE.sub(lambda match: match[1] + prefix + "/", page)
    doctype = _DOCTYPE.match(page)
    return page[:doctype.end()] + base + page[doctype.end():] if doctype else base + page


def inert_relative_links(page: str) -> str:
    """The page with each ``<a>``/``<area>`` whose ``href`` is relative (no ``scheme:``) given it as
    ``data-href`` instead: a link without an ``href`` does nothing when clicked (one with it would open
    a blank tab). Linear in the page, as :func:`has_links`."""
    pieces, done = [], 0
    for tag in _LINK_TAG.finditer(page):
        if tag.group().lower().startswith("<form"):
            continue  # (a form cannot be submitted without allow-forms, which the frame has not then)
        href = _HREF.search(page, tag.start(), tag.end())
        if href and not _ABSOLUTE_URL.match(href.group(1)):
            pieces += [page[done:href.start()], "data-href"]
            done = href.start() + len("href")
    return "".join(pieces) + page[done:]


def frame_sandbox(link_base: Optional[str]) -> str:
    """What a page's frame may do: never run script; open links in a new tab, outside the sandbox (a
    page of the notebook's server, or another site); submit forms once they lead somewhere (else a
    form's submission would blank the frame)."""
    allowed = "allow-same-origin allow-popups allow-popups-to-escape-sandbox"
    return allowed + " allow-forms" if link_base else allowed


def has_links(page: str) -> bool:
    """Whether an ``<a>``, ``<area>`` or ``<form>`` of the page has a link (``href=``, ``action=``),
    in time linear in the page: each tag is scanned once, up to its ``>``."""
    for tag in _LINK_TAG.finditer(page):
        if _LINK_ATTRIBUTE.search(page, tag.start(), tag.end()):
            return True
    return False


def _details(summary: str, content: str, open_: bool = False) -> str:
    state = " open" if open_ else ""
    return (f"<details{state}><summary style='{NOTE};cursor:pointer'>{escape(summary)}</summary>"
            f"{content}</details>")


def _note(text: str) -> str:
    return f'<div style="{NOTE}">{escape(text)}</div>' if text else ""


class ResponseView:
    """An HTTP response from a Wagi module: status, headers, body as its type asks, and diagnostics.

    ``routes`` (the configured route strings) is listed when nothing matched
    (a 404 no route answered). ``compiler_warnings`` are the build's, shown
    folded. ``link_base`` is where the HTML body's relative links lead (the
    running ``%wagi_serve``); None disables them. Attribute access falls through
    to the :class:`~wagi_nb.wagi.response.Response` (``_.status``, ``_.json()``).
    """

    def __init__(self, response, routes: Optional[Sequence[str]] = None, title: Optional[str] = None,
                 compiler_warnings: str = "", link_base: Optional[str] = None, in_widget: bool = False):
        self.response = response
        self.routes = None if routes is None else list(routes)
        self.title = title
        self.compiler_warnings = compiler_warnings
        self.link_base = link_base
        #: Shown inside a widget, where no script runs and nothing is sanitised: no fallback.
        self.in_widget = in_widget

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

    def failure(self) -> str:
        """Why the module failed this request (wagi_nb answered 5xx for it: a trap, a non-zero exit,
        a timeout, output that is not a response), or "" when it did not."""
        response = self.response
        if response.error and response.status >= 500:
            return f"The route's module failed: wagi_nb answered {self.status_text()}."
        return ""

    def _error_is_body(self) -> bool:
        response = self.response
        return error_text(response.error, response.backtrace).strip() == response.text.strip()

    def body_text(self) -> tuple:
        """(text, note) for the text form and the textual HTML renderings."""
        response, kind = self.response, self.kind
        if kind == "json":
            value, why_not = parse_json(response.body)
            pretty = None if value is NOT_JSON else pretty_json(value, len(response.body))
            if pretty is not None:
                return pretty
            text, note = decode_body(response.body, response.content_type)
            return text, "; ".join(filter(None, [why_not or "nested too deeply to indent, shown as text", note]))
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
        elif response.error and not self._error_is_body():
            lines += ["--- error ---", response.error.rstrip("\n")]
        # When wagi_nb replaced the response, what the module printed is what needs fixing.
        if response.error and response.raw:
            lines += ["--- raw CGI output ---", raw_output_text(response.raw, self.media)[0].rstrip("\n")]
        if response.stderr:
            lines += ["--- stderr ---", decode_for_display(response.stderr)[0].rstrip("\n")]
        if response.warnings:
            lines += ["--- header warnings ---", *(f"- {warning}" for warning in response.warnings)]
        if self.compiler_warnings:
            lines += [f"--- compiler warnings ({count_warnings(self.compiler_warnings) or 1}) ---",
                      self.compiler_warnings.rstrip()]
        return "\n".join(lines)

    def _text_body(self) -> list:
        kind, body = self.kind, self.response.body
        if kind == "empty":
            return ["(empty body)"]
        if kind in ("image", "binary"):
            return [f"<{size_label(body, self.media)}>", hex_preview(body)]
        text, note = self.body_text()
        noted = [f"[body: {note}]"] if note else []
        return (noted if CUT in note else []) + [text.rstrip("\n")] + noted

    # -- HTML form -------------------------------------------------------------------------------

    def _repr_html_(self) -> str:
        response = self.response
        parts = []
        if self.title:
            parts.append(f"<div style='font-weight:bold'>{escape(self.title)}</div>")
        if response.request is not None:
            parts.append(f"<div style='font-family:monospace'>{escape(request_line(response.request))}</div>")
        parts.append(self._html_status())
        if self.route_hint():  # it says what the error says, and what routes there are
            parts.append(pre(self.route_hint(), ERROR_BOX))
        elif response.error:
            parts.append(pre(response.error, ERROR_BOX))
        parts.append(self._html_headers())
        if not (response.error and self._error_is_body()):
            parts.append(self._html_body())
        parts.append(self._html_sections())
        return "<div class='wagi-nb-response'>" + "".join(parts) + "</div>"

    def _html_status(self) -> str:
        colour = status_colour(self.response.status)
        details = self.status_details()
        extra = f" <span style='{NOTE};font-weight:normal'>{escape(details)}</span>" if details else ""
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
        if kind == "json":
            value, _ = parse_json(body)
            if value is not NOT_JSON:
                tree, note = json_tree(value)
                return tree + _note(note)
        text, note = self.body_text()
        if kind == "html":
            return self._html_frame(text) + _note(note)
        return pre_noted(text, note)

    def _html_frame(self, page: str) -> str:
        # The module's HTML only ever reaches the notebook as an escaped attribute of a sandboxed
        # frame that may run no script. Untrusted, JupyterLab's sanitiser removes the frame, and the
        # fallback after it (the note and the page as text) is what remains; trusted, the script
        # removes the fallback.
        srcdoc = html.escape(with_link_base(page, self.link_base), quote=True)
        frame = (f'<iframe sandbox="{frame_sandbox(self.link_base)}" srcdoc="{srcdoc}" style="{IFRAME_STYLE}" '
                 f'onload="{html.escape(FIT_FRAME, quote=True)}"></iframe>')
        links = "" if self.link_base or not has_links(page) else _note(
            "Links and forms in this page that lead to the notebook's own routes do nothing until "
            "%wagi_serve runs: start it and re-run this cell, and they open the route in a new tab.")
        if self.in_widget:
            return frame + links
        fallback = (f"<div class='wagi-nb-untrusted'>{pre(UNTRUSTED_NOTE, ERROR_BOX)}"
                    f"{_details('The body as text', pre(page), open_=True)}</div>")
        remove = "<script>document.currentScript.previousElementSibling.remove()</script>"
        return frame + links + fallback + remove

    def _html_sections(self) -> str:
        """The folded sections, each only when it has something in it."""
        response, parts = self.response, []
        if response.raw:
            raw, raw_note = raw_output_text(response.raw, self.media)
            # When wagi_nb replaced the response, what the module printed is what needs fixing.
            parts.append(_details("Raw CGI output", pre_noted(raw, raw_note), bool(response.error)))
        if response.stderr:
            stderr, stderr_note = decode_for_display(response.stderr)
            parts.append(_details("Module stderr", pre_noted(stderr, stderr_note, STDERR), True))
        if response.backtrace:
            parts.append(_details("wasm backtrace", pre("\n".join(response.backtrace))))
        if response.warnings:
            items = "".join(f"<li>{escape(warning)}</li>" for warning in response.warnings)
            parts.append(_details(f"Header warnings ({len(response.warnings)})",
                                  f"<ul style='margin:2px 0;color:{TEXT}'>{items}</ul>", True))
        parts.append(compiler_warnings_html(self.compiler_warnings))
        return "".join(parts)
