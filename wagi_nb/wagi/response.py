"""A module's CGI output turned into an HTTP response (spec section 4)."""
from __future__ import annotations

import codecs
import json
import re
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Optional, Sequence

from tornado.httputil import HTTPHeaders

# RFC 9110 token characters for a header name; a value holds visible ASCII, space, tab and obs-text
# (0x80-0xFF), no other control characters. Checked on the bytes the module printed.
_NAME = re.compile(rb"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")
_BAD_VALUE = re.compile(rb"[\x00-\x08\x0a-\x1f\x7f]")
_STATUS = re.compile(rb"^([0-9]{3})(?:[ \t]|$)")
#: A media type's parameter (RFC 9110, 5.6.6): a token name, then a token or a quoted-string value.
_PARAMETER = re.compile(r""";[ \t]*([!#$%&'*+\-.^_`|~0-9A-Za-z]+)[ \t]*=[ \t]*("(?:[^"\\]|\\.)*"|[^;]*)""")

HOW = ("A Wagi module must print a `Content-Type` (or `Location`) header, then a blank line, then the "
       "body, e.g.\n    println!(\"Content-Type: text/plain\");\n    println!();\n"
       "    println!(\"Hello, world!\");\n")
#: Headers a response has once: of a module's repeats, the last is kept, as Wagi 0.8.1 and Spin keep it.
SINGLETONS = (b"content-type", b"location", b"status")


def not_a_response(has_header: bool, has_blank_line: bool) -> str:
    """Why a module's output is not a CGI response (Wagi and Spin answer 500 too), naming what is missing."""
    missing = [what for what, present in (("a `Content-Type`, `Location` or `Status` header", has_header),
                                          ("a blank line after the headers", has_blank_line)) if not present]
    return f"The module's output is not a CGI response: it lacks {' and '.join(missing)}. " + HOW


def charset(content_type: str) -> Optional[str]:
    """The text encoding a Content-Type declares, by Python's name for it (``text/plain;
    charset="ISO-8859-1"`` → ``iso8859-1``); None when it declares none, or one Python cannot decode
    text with. The one reading of it: ``Response.text`` and the notebook's response view both use it."""
    for name, value in _PARAMETER.findall(content_type):
        if name.lower() != "charset":
            continue
        value = value.strip(" \t")
        if len(value) > 1 and value[0] == value[-1] == '"':  # a quoted-string: its quotes and backslash escapes removed
            value = re.sub(r"\\(.)", r"\1", value[1:-1])
        try:
            encoding = codecs.lookup(value).name
            b"a".decode(encoding, "replace")  # base64, rot13 …: codecs, but not text encodings
        except (LookupError, ValueError):
            return None
        return encoding
    return None


def reason_phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""


@dataclass(kw_only=True)
class Response:
    """What a request got back.

    ``raw`` is the module's stdout exactly as printed and ``stderr`` what it
    wrote there; ``warnings`` lists header lines that were dropped and other
    things the module should fix; ``error`` explains a response wagi_nb made
    itself (500, 502, 504, 404...).
    """

    status: int = 200
    headers: HTTPHeaders = field(default_factory=HTTPHeaders)
    body: bytes = b""
    raw: bytes = b""
    stderr: bytes = b""
    warnings: list = field(default_factory=list)
    error: str = ""
    #: The route that answered (as configured), or None.
    route: Optional[str] = None
    duration: float = 0.0
    #: The request, for display.
    request: object = None
    #: For a module that trapped: the wasm backtrace, innermost frame first (also in the body).
    backtrace: list = field(default_factory=list)

    @property
    def reason(self) -> str:
        return reason_phrase(self.status)

    @property
    def content_type(self) -> str:
        return self.headers.get("Content-Type", "")

    @property
    def text(self) -> str:
        try:
            return self.body.decode(charset(self.content_type) or "utf-8", "replace")
        except ValueError:  # (a codec that fails even with "replace", as punycode does)
            return self.body.decode("utf-8", "replace")

    def json(self):
        return json.loads(self.body)

    @property
    def stderr_text(self) -> str:
        return self.stderr.decode("utf-8", "replace")

    def __repr__(self) -> str:
        kind = self.content_type or "no content-type"
        return f"<Response {self.status} {self.reason} {kind}, {len(self.body)} bytes>"


def error_response(status: int, message: str, backtrace: Sequence[str] = (), **fields) -> Response:
    """A response wagi_nb makes itself; the message, then any wasm backtrace, is the plain-text body."""
    headers = HTTPHeaders({"Content-Type": "text/plain; charset=utf-8"})
    return Response(status=status, headers=headers, body=error_text(message, backtrace).encode(),
                    error=message, backtrace=list(backtrace), **fields)


def error_text(message: str, backtrace: Sequence[str] = ()) -> str:
    """The plain-text body of a response wagi_nb makes: the message, then one indented line per frame."""
    return message + "".join(f"\n    {frame}" for frame in backtrace)


def parse_cgi_output(stdout: bytes, **fields) -> Response:
    """Read the header block and body a module printed; never raises.

    Carriage returns are ignored while reading headers and the first empty
    line ends them; the body is kept byte for byte. Header values keep their
    bytes exactly: they are held as Latin-1 text, one character per byte, as
    Python's HTTP libraries hold them.
    """
    headers, warnings = HTTPHeaders(), []
    singles: dict = {}
    body = b""
    position = 0
    ended = False
    while position < len(stdout):
        newline = stdout.find(b"\n", position)
        end = len(stdout) if newline < 0 else newline
        line = stdout[position:end].replace(b"\r", b"")
        position = end + 1
        if not line:
            ended = True
            break
        name, colon, value = line.partition(b":")
        value = value.strip(b" \t")
        if not colon or not _NAME.match(name):
            warnings.append(f"dropped a header line that is not `Name: value`: {_shown(line)}")
            continue
        if _BAD_VALUE.search(value):
            warnings.append(f"dropped a header line whose value has a control character: {_shown(line)}")
            continue
        lower = name.lower()
        if lower in SINGLETONS:
            if lower in singles:
                warnings.append(f"dropped a repeated {name.decode('ascii')} header (a response has one; the "
                                f"last is kept, as Wagi and Spin keep it): {_shown(singles[lower][0])}")
            singles[lower] = (line, value)
            if lower != b"status":  # (in its first place among the headers; a repeat replaces it there)
                headers[name.decode("ascii")] = value.decode("latin-1")
            continue
        headers.add(name.decode("ascii"), value.decode("latin-1"))
    status, has_status = 200, b"status" in singles
    if has_status:
        value = singles[b"status"][1]
        code = _STATUS.match(value)
        if not (code and 100 <= int(code.group(1)) <= 599):
            return error_response(502, f"The module printed `Status: {_shown(value, quote=False)}`, "
                                       "which does not start with an HTTP status code from 100 to "
                                       "599 (e.g. `Status: 404 Not Found`).", raw=stdout,
                                  warnings=warnings, **fields)
        status = int(code.group(1))
    if b"location" in singles and not has_status:
        status = 302
    if ended:
        body = stdout[position:]
    has_header = has_status or "Content-Type" in headers or "Location" in headers
    if not (has_header and ended):
        return error_response(500, not_a_response(has_header, ended), raw=stdout, warnings=warnings,
                              **fields)
    return Response(status=status, headers=headers, body=body, raw=stdout, warnings=warnings, **fields)


def _shown(data: bytes, quote: bool = True) -> str:
    """Module bytes for a message: as UTF-8 text where they are, cut to 200 characters."""
    text = data.decode("utf-8", "backslashreplace")[:200]
    return repr(text) if quote else text


def header_text(value: str) -> str:
    """A header value (Latin-1 code points, one per byte) as the text it spells, for display."""
    if value.isascii():
        return value
    try:
        return value.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return value
