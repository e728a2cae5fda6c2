"""An HTTP request as a Wagi module receives it."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Iterable, Mapping, Optional, Union

from tornado.httputil import HTTPHeaders

from ..errors import WagiNbError

#: A method is any token (RFC 9110): Wagi hands every one to the module (PROPFIND, PURGE ...).
METHOD = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")


def split_header(line: str) -> Optional[tuple]:
    """``"Name: value"`` → (name, value), stripped; None when the line is not a header."""
    name, colon, value = line.partition(":")
    if not colon or not name.strip():
        return None
    return name.strip(), value.strip()


_ABSOLUTE_FORM = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://[^/?#]*")
_NON_ASCII = re.compile(rb"[\x80-\xff]")


def wire_text(text: str) -> str:
    """A request-line part as tornado hands it over (Latin-1: one character per byte) → its text.

    Raw UTF-8 bytes (a client that sent ``/é`` without percent-encoding it) become the
    characters they spell, so the module sees ``/é``, not ``/Ã©``; bytes that are not
    UTF-8 cannot reach a module's environment as they are and become ``%XX``.
    """
    if text.isascii():
        return text
    raw = text.encode("latin-1", "replace")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return _NON_ASCII.sub(lambda m: b"%%%02X" % m.group()[0], raw).decode("ascii")


def split_target(target: str) -> tuple:
    """A request target from the wire → (raw path, raw query).

    The absolute form (``http://host/path?q``, which RFC 9112 has servers accept) is
    routed on its path.
    """
    match = _ABSOLUTE_FORM.match(target)
    if match:
        target = target[match.end():] or "/"
    path, _, query = target.partition("?")
    return wire_text(path), wire_text(query)


class BadRequest(WagiNbError):
    """A request written by hand (``%wagi_request``, ``--request``) could not be read."""


@dataclass(kw_only=True)
class Request:
    method: str = "GET"
    #: The raw path, still percent-encoded, without the query.
    path: str = "/"
    #: The raw query, without ``?``.
    query: str = ""
    headers: HTTPHeaders = field(default_factory=HTTPHeaders)
    body: bytes = b""
    remote_addr: str = "127.0.0.1"
    scheme: str = "http"
    protocol: str = "HTTP/1.1"

    @property
    def target(self) -> str:
        """Path and query as in the request line."""
        return f"{self.path}?{self.query}" if self.query else self.path

    @classmethod
    def make(cls, method: str = "GET", target: str = "/", headers: Union[Mapping, Iterable, None] = None,
             body: Union[bytes, str] = b"", **fields) -> "Request":
        """Build a request from a method, a ``/path?query`` target, headers (a mapping or pairs) and a body."""
        method = method.upper()
        if not target.startswith("/"):
            raise BadRequest(f"The request path {target!r} does not start with '/'. "
                             "Write it as the part of the URL after the host, e.g. /hello?name=wasm.")
        path, _, query = target.partition("?")
        parsed = HTTPHeaders()
        items = headers.items() if isinstance(headers, Mapping) else (headers or ())
        for name, value in items:
            parsed.add(name, str(value))
        if isinstance(body, str):
            body = body.encode()
        return cls(method=method, path=path, query=query, headers=parsed, body=bytes(body), **fields)

    @classmethod
    def parse_line(cls, line: str, **fields) -> "Request":
        """``"POST /x?y=1"`` or just ``"/x"`` (a GET)."""
        words = line.split()
        if len(words) == 1 and words[0].startswith("/"):
            words = ["GET", words[0]]
        if len(words) not in (2, 3) or not METHOD.match(words[0]):
            raise BadRequest(f"Cannot read the request {line!r}. Write a method and a path, "
                             "e.g. \"GET /\" or \"POST /submit?x=1\".")
        protocol = words[2] if len(words) == 3 else "HTTP/1.1"
        return cls.make(words[0], words[1], protocol=protocol, **fields)

    @classmethod
    def parse_http(cls, text: Union[str, bytes], **fields) -> "Request":
        """A raw request in the ``.http`` file form: request line, headers, blank line, body."""
        data = text.encode() if isinstance(text, str) else bytes(text)
        data = data.lstrip(b"\r\n")
        head, sep, body = data.partition(b"\n\n") if b"\r\n\r\n" not in data.split(b"\n\n")[0] else \
            data.partition(b"\r\n\r\n")
        # A cell ends with a newline even without a body: trailing newlines end the headers.
        lines = head.decode("utf-8", "replace").replace("\r", "").rstrip("\n").split("\n")
        request = cls.parse_line(lines[0], **fields)
        for number, line in enumerate(lines[1:], start=2):
            header = split_header(line)
            # A name with space around it (or a folded continuation line) is not a header either.
            if header is None or line.partition(":")[0] != header[0]:
                raise BadRequest(f"Line {number} of the request, {line!r}, is not a header "
                                 "(Name: value). Put a blank line between the headers and the body.")
            request.headers.add(*header)
        request.body = body
        if body and "Content-Length" not in request.headers:
            request.headers["Content-Length"] = str(len(body))
        return request
