"""Which ``Host`` headers the notebook's server answers: a guard against DNS rebinding.

A web page the user opens can point its own domain name at 127.0.0.1 and then
read whatever a local server answers to that name. Such a request carries the
page's domain name as its ``Host``. So the server answers only names that cannot
be rebound: IP literals, ``localhost`` and ``*.localhost``, this machine's own
names, the JupyterHub host the user reached this notebook through (from the
hub's variables), requests jupyter-server-proxy forwards to this port, and any
name the user allows (``%wagi_serve --allow-host NAME``; ``*`` allows any).

jupyter-server-proxy keeps the browser's ``Host`` and says where it forwards from in
``X-Forwarded-Context``; a rebinding page can send that header too. So it counts only on a
connection made by the Jupyter server itself, the kernel's parent process: the socket's
other end is looked up in ``/proc`` (Linux; elsewhere the header never counts).
"""
from __future__ import annotations

import ipaddress
import os
import socket
from pathlib import Path
from typing import Iterable, Mapping, Optional, Tuple
from urllib.parse import urlparse

#: Variables JupyterHub and Binder set with the address a user reaches the hub by.
HUB_URL_VARIABLES = ("JUPYTERHUB_PUBLIC_URL", "JUPYTERHUB_PUBLIC_HUB_URL", "JUPYTERHUB_HOST",
                     "BINDER_LAUNCH_HOST", "BINDER_URL")


def host_name(host: str) -> str:
    """``Host`` header → lower-case name or address, without the port or IPv6 brackets."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[1:].partition("]")[0]
    return host.rpartition(":")[0] if host.count(":") == 1 else host


def is_ip_literal(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def _names_from_urls(values: Iterable[str]) -> set:
    names = set()
    for value in values:
        if not value:
            continue
        parsed = urlparse(value if "://" in value else f"//{value}")
        if parsed.hostname:
            names.add(parsed.hostname.lower())
    return names


def connected_from(pid: int, client: Tuple[str, int], server_port: int) -> bool:
    """Whether the TCP connection from ``client`` (address, port) to ``server_port`` on this machine
    is a socket of process ``pid``: its inode, from /proc/net/tcp(6), among the process's descriptors."""
    inode = _socket_inode(client[1], server_port)
    if inode is None:
        return False
    target = f"socket:[{inode}]"
    try:
        return any(os.readlink(fd) == target for fd in Path(f"/proc/{pid}/fd").iterdir())
    except OSError:
        return False


def _socket_inode(local_port: int, remote_port: int) -> Optional[str]:
    """The inode of this machine's TCP socket with that local and remote port (a connection's client end)."""
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            local, remote, inode = fields[1], fields[2], fields[9]
            if int(local.rsplit(":", 1)[1], 16) == local_port and int(remote.rsplit(":", 1)[1], 16) == remote_port:
                return inode
    return None


class HostCheck:
    def __init__(self, port: int, allow: Iterable[str] = (), environ: Optional[Mapping[str, str]] = None,
                 proxy_pid: Optional[int] = None):
        environ = os.environ if environ is None else environ
        self.allow_any = "*" in allow
        self.names = {"localhost"} | {host_name(name) for name in allow if name != "*"}
        for own in {socket.gethostname(), socket.getfqdn()}:
            if own:
                self.names.add(own.lower())
        self.names |= _names_from_urls(environ.get(name, "") for name in HUB_URL_VARIABLES)
        prefix = environ.get("JUPYTERHUB_SERVICE_PREFIX")
        self.port = port
        #: The path jupyter-server-proxy forwards from (it sends it as X-Forwarded-Context).
        self.proxy_context = f"{prefix.rstrip('/')}/proxy/{port}" if prefix else None
        #: The process jupyter-server-proxy runs in: the Jupyter server, which started this kernel.
        self.proxy_pid = os.getppid() if proxy_pid is None else proxy_pid

    def allows(self, host: Optional[str], forwarded_context: Optional[str] = None,
               client: Optional[Tuple[str, int]] = None) -> bool:
        """``client`` is the connection's other end (address, port): a forwarded context counts only
        when the Jupyter server made the connection."""
        if self.allow_any or not host:  # an HTTP/1.0 request without Host cannot be rebound
            return True
        name = host_name(host)
        if name in self.names or name.endswith(".localhost") or is_ip_literal(name):
            return True
        return bool(self.proxy_context and forwarded_context and client is not None
                    and forwarded_context.rstrip("/") == self.proxy_context
                    and connected_from(self.proxy_pid, client, self.port))

    @staticmethod
    def refusal(host: str) -> str:
        name = host_name(host)
        return (f"This server answers only requests addressed to this machine (localhost, an IP "
                f"address, its own name), and this one was addressed to {name!r}, as a web page "
                "that points its domain at 127.0.0.1 would do. If you reach the notebook by that "
                f"name, allow it: %wagi_serve --allow-host {name}")
