"""Binding the listening socket, with the errors a user can act on."""
from __future__ import annotations

import errno
import http.client
import os
import socket
from pathlib import Path
from typing import Optional

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
            holder = port_holder(host, port)
            if holder:
                raise ListenError(f"Port {port} on {host} is already in use by {holder}. Stop it there "
                                  f"(%wagi_stop in that notebook, Ctrl-C for a `wagi-nb serve`), or pick "
                                  f"another port (e.g. {other}; wagi_nb.server.free_port(3000) finds a "
                                  "free one).") from None
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


def port_holder(host: str, port: int) -> Optional[str]:
    """Who holds ``port`` when it is a wagi-nb server: "another wagi-nb server: the %wagi_serve of
    a notebook's kernel (pid 123)", or None for anything else."""
    address = "127.0.0.1" if host in ("0.0.0.0", "") else "::1" if host == "::" else host
    try:
        connection = http.client.HTTPConnection(address, port, timeout=1)
        connection.request("GET", "/healthz", headers={"Host": "localhost"})
        server = connection.getresponse().getheader("Server", "")
        connection.close()
    except (OSError, http.client.HTTPException):
        return None
    if server != "wagi-nb":
        return None
    pid = listening_pid(port)
    if pid is None:
        return "another wagi-nb server"
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode("utf-8", "replace")
    except OSError:
        command = ""
    if "ipykernel" in command:
        return f"another wagi-nb server: the %wagi_serve of another notebook's kernel (pid {pid})"
    if "serve" in command:
        return f"another wagi-nb server: a `wagi-nb serve` (pid {pid})"
    return f"another wagi-nb server (pid {pid})"


def listening_pid(port: int) -> Optional[int]:
    """The process with a socket listening on ``port`` (Linux's /proc; None where it cannot be told)."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            rows = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            fields = row.split()
            if len(fields) > 9 and fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:
                inodes.add(f"socket:[{fields[9]}]")
    if not inodes:
        return None
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if any(os.readlink(fd) in inodes for fd in (entry / "fd").iterdir()):
                return int(entry.name)
        except OSError:
            continue
    return None


def free_port(start: int = 3000, host: str = "127.0.0.1", tries: int = 100) -> int:
    """The first port from ``start`` on that ``host`` can listen on (the process's own %wagi_serve
    counts as free: running it again there keeps it), so that notebooks can serve side by side."""
    from .background import current_server
    current = current_server()
    for port in range(start, start + tries):
        if current is not None and current.port == port:
            return port
        try:
            for sock in bind_sockets(port, host, family=socket.AF_UNSPEC):
                sock.close()
        except OSError:
            continue
        return port
    raise ListenError(f"No free port from {start} to {start + tries - 1} on {host}: stop some servers, "
                      "or start from another port.")
