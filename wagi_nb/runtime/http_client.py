"""The HTTP client behind a module's outbound requests: bounded by the run's deadline and a size cap.

It behaves as Wagi's client (reqwest's defaults) where a module could tell: redirects are followed,
up to 10, turning 301/302/303 into a GET without a body and keeping the method and body for
307/308, dropping credentials when the origin (scheme, host or port) changes, as curl and requests do
(reqwest compares host and port, the scheme's default port included); a ``Location`` read as UTF-8
when it is; ``accept: */*`` unless the module says otherwise; no decompression; the
``http_proxy``/``https_proxy``/``no_proxy`` variables respected. TLS trusts the system's
certificates, or those of ``SSL_CERT_FILE``/``SSL_CERT_DIR`` when set (OpenSSL's variables).
Unlike Wagi, every hop of a redirect must be an allowed host too, and the whole exchange (connecting,
sending, every byte of the answer) ends when the run's deadline does or the run is cancelled: the
socket is closed under it, so a slow or silent server cannot hold a module past its timeout.
"""
from __future__ import annotations

import http.client
import re
import socket
import ssl
import threading
import time
import urllib.request
from dataclasses import dataclass
from typing import Callable, List, Optional, Tuple
from urllib.parse import SplitResult, urljoin, urlsplit

from .deadlines import Deadline

MAX_REDIRECTS = 10
#: Headers a redirect to another origin must not carry (reqwest drops the same).
CREDENTIALS = ("authorization", "cookie", "proxy-authorization", "www-authenticate")
#: Headers wagi_nb writes itself from the URL and the body.
FRAMING = ("host", "content-length", "transfer-encoding", "connection")
CHUNK = 64 * 1024
DEFAULT_PORTS = {"http": 80, "https": 443}
#: What http.client refuses in a host name (it would raise before connecting).
_UNSAFE_HOST = re.compile(r"[\x00-\x20\x7f]")


class FetchError(Exception):
    """The request could not be made or answered; ``reason`` is a line for the module's stderr."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class BadURL(FetchError):
    """A URL that names nothing to request: the module's mistake, or a redirecting server's."""

    def __init__(self, url: str, why: str):
        super().__init__(f"{url!r} is not a URL ({why})")
        self.url, self.why = url, why


@dataclass(frozen=True)
class Fetched:
    status: int
    #: ``(lower-case name, value bytes)`` in the order received.
    headers: Tuple[Tuple[str, bytes], ...]
    body: bytes


def fetch(url: str, method: str, headers: List[Tuple[str, str]], body: bytes, *, deadline: Deadline,
          max_body: int, allowed: Callable[[str], bool]) -> Fetched:
    """Send one request (following redirects) and read the whole answer; raises :class:`FetchError`."""
    for _ in range(MAX_REDIRECTS + 1):
        answer = _exchange(url, method, headers, body, deadline, max_body)
        location = dict(answer.headers).get("location")
        if answer.status not in (301, 302, 303, 307, 308) or location is None:
            return answer
        try:
            target = _redirect_target(url, location)
        except BadURL as bad:
            raise FetchError(f"{url} redirected to {bad.url!r}, which is not a URL ({bad.why})") from None
        if target is None:
            return answer
        if not allowed(target):
            raise FetchError(f"{url} redirected to {target}, which is not an allowed host")
        if answer.status in (301, 302, 303) and method not in ("GET", "HEAD"):
            method, body = "GET", b""
            headers = [(k, v) for k, v in headers if k.lower() not in ("content-type", "content-encoding")]
        if origin(split_url(target)) != origin(split_url(url)):
            headers = [(k, v) for k, v in headers if k.lower() not in CREDENTIALS]
        url = target
    raise FetchError(f"more than {MAX_REDIRECTS} redirects, the last to {url}")


def split_url(url: str) -> SplitResult:
    """``url`` split, if it names a scheme, a host and a valid port; raises :class:`BadURL` otherwise.

    urllib raises ValueError for a port out of range or not a number, an unclosed ``[``, or a host
    that NFKC normalization would turn into another URL: a bad URL, not a failure of ours.
    """
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises for a port that is not a number from 0 to 65535
    except ValueError as error:
        raise BadURL(url, str(error)) from None
    if not parts.scheme:
        raise BadURL(url, "it does not start with a scheme such as https://")
    if not parts.hostname:
        raise BadURL(url, "it names no host")
    if _UNSAFE_HOST.search(parts.hostname):
        raise BadURL(url, "its host contains spaces or control characters")
    return parts


def origin(parts: SplitResult) -> Tuple[str, str, Optional[int]]:
    """Scheme, host and port (the scheme's default when the URL gives none): what credentials are for."""
    port = parts.port
    return parts.scheme, parts.hostname or "", DEFAULT_PORTS.get(parts.scheme) if port is None else port


def _redirect_target(url: str, location: bytes) -> Optional[str]:
    """The URL a redirect from ``url`` leads to, or None when it leads to no http(s) host (the answer
    is then the module's); raises :class:`BadURL` for a ``Location`` that is not a URL."""
    try:
        text = location.decode("utf-8")  # what servers mean when they send UTF-8 (reqwest reads it so)
    except UnicodeDecodeError:
        text = location.decode("latin-1")
    try:
        target = urljoin(url, text)
        parts = urlsplit(target)
    except ValueError as error:
        raise BadURL(text, str(error)) from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    split_url(target)
    return target


def _exchange(url: str, method: str, headers, body: bytes, deadline: Deadline, max_body: int) -> Fetched:
    parts = split_url(url)
    if parts.scheme not in ("http", "https"):
        raise FetchError(f"{url}: only http and https URLs can be requested")
    _, host, port = origin(parts)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    proxy = _proxy_for(parts.scheme, host)
    left = _time_left(deadline)
    if parts.scheme == "https":
        connection: http.client.HTTPConnection = http.client.HTTPSConnection(
            *(proxy or (host, port)), timeout=left, context=ssl.create_default_context())
        if proxy:
            connection.set_tunnel(host, port)
    else:
        connection = http.client.HTTPConnection(*(proxy or (host, port)), timeout=left)
        if proxy:
            path = url
    sent = [(k, v) for k, v in headers if k.lower() not in FRAMING]
    with _closed_at_deadline(connection, deadline):
        try:
            connection.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
            connection.putheader("Host", host if parts.port is None else f"{host}:{parts.port}")
            if not any(k.lower() == "accept" for k, _ in sent):
                connection.putheader("Accept", "*/*")
            for name, value in sent:
                connection.putheader(name, value)
            if body or method not in ("GET", "HEAD", "DELETE", "OPTIONS", "TRACE"):
                connection.putheader("Content-Length", str(len(body)))
            connection.endheaders(body or None)
            reply = connection.getresponse()
            received = tuple((name.lower(), value.encode("latin-1")) for name, value in reply.getheaders())
            chunks, size = [], 0
            while True:
                chunk = reply.read1(CHUNK) if method != "HEAD" else b""
                if not chunk:
                    break
                size += len(chunk)
                if size > max_body:
                    raise FetchError(f"the answer from {url} is larger than the {max(0, max_body) / 2**20:.3g} "
                                     "MiB this run may still hold from outbound requests (--max-outbound)")
                chunks.append(chunk)
            return Fetched(status=reply.status, headers=received, body=b"".join(chunks))
        except FetchError:
            raise
        except (OSError, http.client.HTTPException, ValueError) as error:
            why = deadline.check()
            if why:
                deadline.reason = why
                raise FetchError(f"{method} {url} was cut short: the run {_stopped(why)}") from None
            raise FetchError(f"{method} {url} failed: {_describe(error)}") from None
        finally:
            connection.close()


class _closed_at_deadline:
    """Close the connection's socket when the run's deadline passes or the run is cancelled, so
    that every blocking step of the exchange fails at once."""

    def __init__(self, connection: http.client.HTTPConnection, deadline: Deadline):
        self.connection, self.deadline = connection, deadline
        self.done = threading.Event()

    def __enter__(self):
        threading.Thread(target=self._watch, name="wagi_nb-outbound", daemon=True).start()
        return self

    def _watch(self) -> None:
        while not self.done.is_set():
            if self.deadline.check():
                sock = self.connection.sock
                if sock is not None:
                    try:
                        sock.shutdown(socket.SHUT_RDWR)
                    except OSError:
                        pass
                return
            self.done.wait(0.01)

    def __exit__(self, *exc):
        self.done.set()
        return False


def _time_left(deadline: Deadline) -> Optional[float]:
    if deadline.expires is None:
        return None
    return max(0.001, deadline.expires - time.monotonic())


def _proxy_for(scheme: str, host: str) -> Optional[Tuple[str, int]]:
    proxies = urllib.request.getproxies_environment()
    proxy = proxies.get(scheme)
    if not proxy or urllib.request.proxy_bypass(host):
        return None
    parts = urlsplit(proxy if "://" in proxy else f"http://{proxy}")
    return parts.hostname or "", parts.port or 80


def _stopped(reason: str) -> str:
    return {"timeout": "ran out of time", "interrupted": "was stopped",
            "output": "printed more than its output cap"}.get(reason, reason)


def _describe(error: BaseException) -> str:
    if isinstance(error, socket.gaierror):
        return f"the host name cannot be resolved ({error.strerror})"
    if isinstance(error, ConnectionRefusedError):
        return "the connection was refused"
    if isinstance(error, (socket.timeout, TimeoutError)):
        return "no answer in time"
    if isinstance(error, ssl.SSLError):
        return f"TLS failed ({error.reason or error})"
    return str(error) or type(error).__name__
