"""Binding the listening socket, with the errors a user can act on."""
from __future__ import annotations

import errno
import socket

from tornado.netutil import bind_sockets

from ..errors import WagiNbError


class ListenError(WagiNbError):
    """The server cannot listen where it was asked to."""


def parse_listen(text: str) -> tuple:
    """``IP:PORT`` (``[::1]:3000`` for IPv6) → (ip, port)."""
    host, colon, port = text.rpartition(":")
    if not colon or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ListenError(f"--listen expects IP:PORT such as 127.0.0.1:3000, got {text!r}.")
    return host.strip("[]") or "127.0.0.1", int(port)


def listen(host: str, port: int, flag: str = "--port {port}") -> list:
    """Sockets bound to exactly ``host``:``port`` (never to all interfaces unless asked)."""
    try:
        return bind_sockets(port, host, family=socket.AF_UNSPEC)
    except OSError as error:
        if error.errno == errno.EADDRINUSE:
            other = flag.format(host=host, port=port + 1)
            raise ListenError(f"Port {port} on {host} is already in use by another program. Pick "
                              f"another port (e.g. {other}), or stop the other server.") from None
        if error.errno in (errno.EADDRNOTAVAIL, socket.EAI_NONAME) or isinstance(error, socket.gaierror):
            raise ListenError(f"Cannot listen on {host}: it is not an address of this machine. Use "
                              "127.0.0.1 (this machine only) or 0.0.0.0 (every interface).") from None
        if error.errno == errno.EACCES:
            raise ListenError(f"Not allowed to listen on port {port} (ports below 1024 need root). "
                              "Pick a port above 1024.") from None
        raise ListenError(f"Cannot listen on {host}:{port}: {error.strerror or error}.") from None


def bound_port(sockets: list) -> int:
    return sockets[0].getsockname()[1]


def http_url(host: str, port: int) -> str:
    """``http://host:port`` with an IPv6 address in brackets."""
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"
