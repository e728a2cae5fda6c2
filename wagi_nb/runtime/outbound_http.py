"""Wagi's outbound HTTP host module, ``wasi_experimental_http``: ``req``, ``close``, ``header_get``,
``headers_get_all`` and ``body_read``, with the ABI and error codes of
deislabs/wasi-experimental-http (``witx/wasi_experimental_http.witx``).

Every function returns an error code (0 is success) and writes its results through pointers into
the module's exported ``memory``. ``req`` sends the request and reads the whole answer; the module
then reads headers and the body from a handle. A destination is allowed as Wagi allows it: its
host is one of the hosts of the route's ``allowed_hosts`` URLs (scheme and port are not compared),
or the list holds ``insecure:allow-all``; no list, or an empty one, allows nothing. As in Wagi,
``http_max_concurrency`` caps how many responses one instance holds open at once. Beyond Wagi: the
exchange obeys the run's deadline (see ``http_client.py``), the bodies a run holds are capped, and
each refusal or failure leaves a ``wagi_nb:`` line on the module's stderr saying why. A URL that
names nothing to request (a port out of range, an unclosed ``[``, a host NFKC normalization turns
into another URL) is the module's ``invalid_url``, or ``request_error`` when a redirect leads there.
"""
from __future__ import annotations

import re
import struct
import threading
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Tuple
from urllib.parse import urlsplit

import wasmtime

from .. import defaults
from .deadlines import Deadline
from .http_client import BadURL, FetchError, Fetched, fetch, split_url

MODULE = "wasi_experimental_http"
ALLOW_ALL = "insecure:allow-all"

(SUCCESS, INVALID_HANDLE, MEMORY_NOT_FOUND, MEMORY_ACCESS_ERROR, BUFFER_TOO_SMALL, HEADER_NOT_FOUND,
 UTF8_ERROR, DESTINATION_NOT_ALLOWED, INVALID_METHOD, INVALID_ENCODING, INVALID_URL, REQUEST_ERROR,
 RUNTIME_ERROR, TOO_MANY_SESSIONS) = range(14)

#: name → number of i32 parameters; each returns one i32 (the error code).
FUNCTIONS = {"req": 10, "close": 1, "header_get": 6, "headers_get_all": 4, "body_read": 4}

_TOKEN = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")
_BAD_VALUE = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")


class _Failed(Exception):
    def __init__(self, code: int, note: str = ""):
        super().__init__(note)
        self.code, self.note = code, note


@dataclass(frozen=True)
class OutboundPolicy:
    """What a route lets its module reach: ``allowed_hosts`` as in modules.toml, the cap on
    responses one instance holds open, and the bytes of response bodies a run may hold."""

    allowed_hosts: Tuple[str, ...] = ()
    max_concurrency: Optional[int] = None
    max_body: int = int(defaults.MAX_OUTBOUND_MIB * 1024 * 1024)

    def allows(self, url: str) -> bool:
        if ALLOW_ALL in self.allowed_hosts:
            return True
        host = urlsplit(url).hostname
        return host is not None and host in self.hosts

    @property
    def hosts(self) -> frozenset:
        # A bare host name (no scheme) is read as that host; Wagi would refuse every request.
        return frozenset(filter(None, (urlsplit(entry if "://" in entry else f"//{entry}").hostname
                                       for entry in self.allowed_hosts)))


NOTHING_ALLOWED = OutboundPolicy()


@dataclass
class _Response:
    status: int
    headers: Tuple[Tuple[str, bytes], ...]
    body: bytes
    position: int = 0


@dataclass
class Session:
    """One run's outbound state: its policy and deadline, the responses it holds, what to report."""

    policy: OutboundPolicy
    deadline: Optional[Deadline]
    responses: Dict[int, _Response] = field(default_factory=dict)
    next_handle: int = 0
    notes: List[str] = field(default_factory=list)

    @property
    def held(self) -> int:
        return sum(len(r.body) for r in self.responses.values())

    def stderr_lines(self) -> bytes:
        return "".join(f"wagi_nb: {note}\n" for note in self.notes).encode()


class RunSessions:
    """The session of the run on each thread (runs on different threads are independent)."""

    def __init__(self):
        self._local = threading.local()

    def start(self, policy: Optional[OutboundPolicy], deadline: Optional[Deadline]) -> Session:
        session = Session(policy or NOTHING_ALLOWED, deadline)
        self._local.session = session
        return session

    def end(self) -> None:
        """Drop the run's responses (a thread keeps no bodies between runs)."""
        self._local.session = None

    @property
    def current(self) -> Session:
        session = getattr(self._local, "session", None)
        return session if session is not None else self.start(None, None)


def define(linker: wasmtime.Linker, sessions: RunSessions) -> None:
    """Put ``wasi_experimental_http`` in ``linker``."""
    calls = {"req": _req, "close": _close, "header_get": _header_get, "headers_get_all": _headers_get_all,
             "body_read": _body_read}
    for name, arity in FUNCTIONS.items():
        # A type per linker: wasmtime ties a function type to the first engine it is used with.
        kind = wasmtime.FuncType([wasmtime.ValType.i32()] * arity, [wasmtime.ValType.i32()])
        linker.define_func(MODULE, name, kind, _guarded(calls[name], sessions), access_caller=True)


def _guarded(call, sessions: RunSessions):
    def host_function(caller, *args: int) -> int:
        # Never raise: an exception in a host function is parked in a global of wasmtime-py's
        # (not per thread), where another thread's trap could pick it up.
        session = sessions.current
        try:
            memory = caller.get("memory")
            if not isinstance(memory, wasmtime.Memory):
                raise _Failed(MEMORY_NOT_FOUND, "the module exports no memory named `memory`")
            call(session, _Memory(caller, memory), *[arg & 0xFFFFFFFF for arg in args])
            return SUCCESS
        except _Failed as failure:
            if failure.note:
                session.notes.append(failure.note)
            return failure.code
        except Exception as error:  # pragma: no cover - a bug of ours, kept from the module's thread
            session.notes.append(f"outbound HTTP failed inside wagi_nb: {error!r}")
            return RUNTIME_ERROR
    return host_function


class _Memory:
    """Bounds-checked reads and writes of the calling instance's memory."""

    def __init__(self, caller, memory: wasmtime.Memory):
        self.caller, self.memory = caller, memory

    def read(self, offset: int, length: int) -> bytes:
        if offset + length > self.memory.data_len(self.caller):
            raise _Failed(BUFFER_TOO_SMALL)
        return bytes(self.memory.read(self.caller, offset, offset + length))

    def text(self, offset: int, length: int) -> str:
        try:
            return self.read(offset, length).decode("utf-8")
        except UnicodeDecodeError:
            raise _Failed(UTF8_ERROR) from None

    def write(self, offset: int, data: bytes) -> None:
        if offset + len(data) > self.memory.data_len(self.caller):
            raise _Failed(MEMORY_ACCESS_ERROR)
        self.memory.write(self.caller, data, offset)


def _req(session: Session, memory: _Memory, url_ptr, url_len, method_ptr, method_len, headers_ptr,
         headers_len, body_ptr, body_len, status_ptr, handle_ptr) -> None:
    policy = session.policy
    if policy.max_concurrency is not None and len(session.responses) >= policy.max_concurrency:
        raise _Failed(TOO_MANY_SESSIONS, f"outbound request refused: the module holds {len(session.responses)} "
                                         f"responses open, the route's http_max_concurrency; close one first")
    url = memory.text(url_ptr, url_len)
    try:
        parts = split_url(url)
    except BadURL as bad:
        raise _Failed(INVALID_URL, f"outbound request refused: {bad.reason}") from None
    if not policy.allows(url):
        allowed = ", ".join(policy.allowed_hosts) or "none"
        raise _Failed(DESTINATION_NOT_ALLOWED, f"outbound request to {url} refused: {parts.hostname} is not "
                                               f"in the route's allowed_hosts ({allowed})")
    method = memory.text(method_ptr, method_len)
    if not _TOKEN.match(method):
        raise _Failed(INVALID_METHOD, f"outbound request refused: {method!r} is not an HTTP method")
    body = memory.read(body_ptr, body_len)
    headers = _parse_headers(memory.text(headers_ptr, headers_len))
    if session.deadline is None:
        raise _Failed(RUNTIME_ERROR, "outbound request refused: no run is in progress")
    try:
        answer: Fetched = fetch(url, method.upper() if method.lower() in _STANDARD else method, headers,
                                body, deadline=session.deadline, max_body=policy.max_body - session.held,
                                allowed=policy.allows)
    except FetchError as error:
        raise _Failed(REQUEST_ERROR, f"outbound request: {error.reason}") from None
    memory.write(status_ptr, struct.pack("<H", answer.status))
    handle = session.next_handle
    while handle in session.responses:
        handle = (handle + 1) & 0xFFFFFFFF
    memory.write(handle_ptr, struct.pack("<I", handle))
    session.responses[handle] = _Response(answer.status, answer.headers, answer.body)
    session.next_handle = (handle + 1) & 0xFFFFFFFF


_STANDARD = frozenset(("get", "head", "post", "put", "delete", "connect", "options", "trace", "patch"))


def _parse_headers(text: str) -> List[Tuple[str, str]]:
    """``name:value`` lines, as the guest libraries write a request's headers."""
    headers = []
    for line in text.split("\n"):
        line = line.rstrip("\r")
        if not line.strip():
            continue
        name, colon, value = line.partition(":")
        value = value.strip(" \t")
        if not colon or not _TOKEN.match(name) or _BAD_VALUE.search(value):
            raise _Failed(INVALID_ENCODING, f"outbound request refused: the header line {line[:200]!r} is not "
                                            "`name:value`")
        headers.append((name, value))
    return headers


def _response(session: Session, handle: int) -> _Response:
    response = session.responses.get(handle)
    if response is None:
        raise _Failed(INVALID_HANDLE)
    return response


def _close(session: Session, memory: _Memory, handle) -> None:
    session.responses.pop(handle, None)


def _header_get(session: Session, memory: _Memory, handle, name_ptr, name_len, value_ptr, value_len,
                written_ptr) -> None:
    response = _response(session, handle)
    name = memory.text(name_ptr, name_len).lower()
    value = next((v for k, v in response.headers if k == name), None)
    if value is None:
        raise _Failed(HEADER_NOT_FOUND)
    _write_whole(memory, value, value_ptr, value_len, written_ptr)


def _headers_get_all(session: Session, memory: _Memory, handle, buf_ptr, buf_len, written_ptr) -> None:
    response = _response(session, handle)
    try:
        text = "".join(f"{k}:{v.decode('utf-8')}\n" for k, v in response.headers).encode()
    except UnicodeDecodeError:
        raise _Failed(RUNTIME_ERROR, "a response header is not UTF-8, so headers_get_all cannot list it; "
                                     "read it with header_get") from None
    _write_whole(memory, text, buf_ptr, buf_len, written_ptr)


def _write_whole(memory: _Memory, data: bytes, buf_ptr, buf_len, written_ptr) -> None:
    """``data`` into the guest's buffer and its length into ``written_ptr``; all of it or nothing."""
    if len(data) > buf_len:
        raise _Failed(BUFFER_TOO_SMALL)
    memory.write(buf_ptr, data)
    memory.write(written_ptr, struct.pack("<I", len(data)))


def _body_read(session: Session, memory: _Memory, handle, buf_ptr, buf_len, read_ptr) -> None:
    response = _response(session, handle)
    chunk = response.body[response.position:response.position + buf_len]
    memory.write(buf_ptr, chunk)
    response.position += len(chunk)
    memory.write(read_ptr, struct.pack("<I", len(chunk)))
