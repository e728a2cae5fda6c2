"""Which ``Host`` headers the notebook's server answers: a guard against DNS rebinding.

A web page the user opens can point its own domain name at 127.0.0.1 and then
read whatever a local server answers to that name. Such a request carries the
page's domain name as its ``Host``. So the server answers only names that cannot
be rebound: IP literals, ``localhost`` and ``*.localhost``, this machine's own
names, the JupyterHub host the user reached this notebook through (from the
hub's variables), requests jupyter-server-proxy forwards to this port, and any
name the user allows (``%wagi_serve --allow-host NAME``; ``*`` allows any).
"""
from __future__ import annotations

import ipaddress
import os
import socket
from typing import Iterable, Mapping, Optional
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


class HostCheck:
    def __init__(self, port: int, allow: Iterable[str] = (), environ: Optional[Mapping[str, str]] = None):
        environ = os.environ if environ is None else environ
        self.allow_any = "*" in allow
        self.names = {"localhost"} | {host_name(name) for name in allow if name != "*"}
        for own in {socket.gethostname(), socket.getfqdn()}:
            if own:
                self.names.add(own.lower())
        self.names |= _names_from_urls(environ.get(name, "") for name in HUB_URL_VARIABLES)
        prefix = environ.get("JUPYTERHUB_SERVICE_PREFIX")
        #: The path jupyter-server-proxy forwards from (it sends it as X-Forwarded-Context).
        self.proxy_context = f"{prefix.rstrip('/')}/proxy/{port}" if prefix else None

    def allows(self, host: Optional[str], forwarded_context: Optional[str] = None) -> bool:
        if self.allow_any or not host:  # an HTTP/1.0 request without Host cannot be rebound
            return True
        name = host_name(host)
        if name in self.names or name.endswith(".localhost") or is_ip_literal(name):
            return True
        return bool(self.proxy_context and forwarded_context
                    and forwarded_context.rstrip("/") == self.proxy_context)

    @staticmethod
    def refusal(host: str) -> str:
        name = host_name(host)
        return (f"This server answers only requests addressed to this machine (localhost, an IP "
                f"address, its own name), and this one was addressed to {name!r}, as a web page "
                "that points its domain at 127.0.0.1 would do. If you reach the notebook by that "
                f"name, allow it: %wagi_serve --allow-host {name}")
