"""A request as a module sees it (spec section 3): the CGI environment and argv."""
from __future__ import annotations

from typing import Mapping, Optional
from urllib.parse import unquote

from .. import defaults
from .request import Request
from .routes import Route

#: Request headers a module never sees.
HIDDEN_HEADERS = ("authorization", "connection")
#: The variables every request sets (and which no global variable can override).
CGI_VARIABLES = frozenset({
    "REQUEST_METHOD", "QUERY_STRING", "SCRIPT_NAME", "X_MATCHED_ROUTE", "X_RAW_PATH_INFO", "PATH_INFO",
    "PATH_TRANSLATED", "X_FULL_URL", "SERVER_NAME", "SERVER_PORT", "SERVER_PROTOCOL", "SERVER_SOFTWARE",
    "GATEWAY_INTERFACE", "REMOTE_ADDR", "REMOTE_HOST", "AUTH_TYPE", "REMOTE_USER", "CONTENT_LENGTH",
    "CONTENT_TYPE"})


def split_host(host: str, default_port: str) -> tuple:
    """``name[:port]`` → (name, port); IPv6 literals keep their brackets."""
    if host.startswith("["):
        name, _, rest = host.partition("]")
        port = rest[1:] if rest.startswith(":") else ""
        return name + "]", port or default_port
    name, colon, port = host.rpartition(":")
    if not colon:
        return host, default_port
    return name, port or default_port


def server_name_port(request: Request, hostname: str) -> tuple:
    default_name, default_port = split_host(hostname, "3000" if hostname == defaults.HOSTNAME else "80")
    host = request.headers.get("Host")
    if not host:
        return default_name, default_port
    return split_host(host, default_port)


def cgi_environment(request: Request, route: Route, *, hostname: str = defaults.HOSTNAME,
                    global_env: Optional[Mapping] = None, base: Optional[dict] = None) -> dict:
    """The module's whole environment: global variables, then the CGI ones (which always win).
    ``base`` is the global variables already as a dict of text (it is copied, not changed)."""
    env = dict(base) if base is not None else {str(k): str(v) for k, v in (global_env or {}).items()}
    name, port = server_name_port(request, hostname)
    raw_path_info = route.path_info(request.path)
    path_info = unquote(raw_path_info, errors="replace") if "%" in raw_path_info else raw_path_info
    http: dict = {}
    for header, value in request.headers.get_all():  # a repeated header: its values, joined
        if header.lower() not in HIDDEN_HEADERS:
            key = "HTTP_" + header.upper().replace("-", "_")
            http[key] = f"{http[key]}, {value}" if key in http else value
    env.update(http)
    full_url = f"{request.scheme}://{name}:{port}{request.path}"
    if request.query:
        full_url += "?" + request.query
    env.update({
        "REQUEST_METHOD": request.method,
        "QUERY_STRING": request.query,
        "SCRIPT_NAME": route.script_name,
        "X_MATCHED_ROUTE": route.text,
        "X_RAW_PATH_INFO": raw_path_info,
        "PATH_INFO": path_info,
        "PATH_TRANSLATED": path_info,
        "X_FULL_URL": full_url,
        "SERVER_NAME": name,
        "SERVER_PORT": port,
        "SERVER_PROTOCOL": request.protocol,
        "SERVER_SOFTWARE": "WAGI/1",
        "GATEWAY_INTERFACE": "CGI/1.1",
        "REMOTE_ADDR": request.remote_addr,
        "REMOTE_HOST": request.remote_addr,
        "AUTH_TYPE": "",
        "REMOTE_USER": "",
        "CONTENT_LENGTH": str(len(request.body)),
        "CONTENT_TYPE": request.headers.get("Content-Type", ""),
    })
    return env


def cgi_argv(request: Request, template: Optional[str] = None) -> list:
    """argv for the module: ``[raw path, *query.split("&")]``, or the route's ``argv`` template."""
    if template is None:
        return [request.path, *(request.query.split("&") if request.query else [])]
    text = template.replace("${SCRIPT_NAME}", request.path)
    text = text.replace("${ARGS}", request.query.replace("&", " "))
    return text.split()
