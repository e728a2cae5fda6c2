"""Ports and addresses on this machine: a free port, one held by "another program", whether a port
can be bound or connected to, and who listens on one."""
from __future__ import annotations

import re
import socket
import subprocess
from typing import Optional


def free_port() -> int:
    """A port of 127.0.0.1 that nothing listens on now (the kernel's pick; it may be taken later)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def hold_port() -> socket.socket:
    """A listening socket on 127.0.0.1 (the caller closes it): a port "held by another program"."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    return sock


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    """Whether a server could bind ``port`` now (as servers do, with SO_REUSEADDR: connections the
    old server closed may linger in TIME_WAIT; a socket still listening makes the bind fail)."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
        return True


def other_local_ipv4() -> Optional[str]:
    """A non-loopback IPv4 address of this machine, if it has one."""
    try:
        words = subprocess.run(["hostname", "-I"], capture_output=True, text=True, timeout=10).stdout.split()
    except (OSError, subprocess.SubprocessError):
        words = []
    for word in words:
        if re.fullmatch(r"\d+\.\d+\.\d+\.\d+", word) and not word.startswith("127."):
            return word
    return None


def connect_fails(host: str, port: int) -> bool:
    try:
        socket.create_connection((host, port), timeout=5).close()
    except OSError:
        return True
    return False


def listening_addresses(port: int) -> list:
    """``IP:PORT`` of every TCP socket listening on ``port`` (from ``ss``)."""
    out = subprocess.run(["ss", "-ltnH", f"sport = :{port}"], capture_output=True, text=True,
                         timeout=10).stdout
    return [line.split()[3] for line in out.splitlines() if line.strip()]
