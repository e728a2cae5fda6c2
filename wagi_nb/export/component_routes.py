"""A route exported as a ``wasi:http`` component (``export --component``): the route's unchanged Wagi
module made into a component by wagi_nb's own preview1 adapter (``wagi_nb/bridge``), and its
spin.toml entry, with no ``executor``: Spin runs it as a plain component, and so do ``wasmtime serve``
and any other ``wasi:http`` host. The route, its argv template, entrypoint, ``_routes`` sub-routes and
allowed hosts reach the adapter as ``WAGI_NB_*`` variables of the component's environment."""
from __future__ import annotations

import os
import shlex
from pathlib import Path
from typing import List, Optional

from ..bridge import component_environment, componentize, refusal
from ..runtime.outbound_http import MODULE as OUTBOUND_MODULE
from ..wagi.cgi import CGI_VARIABLES
from .errors import ExportError
from .spin import outbound_host

FOLDER = "components"
#: What a component cannot carry of the Wagi contract, one sentence each, for the export's README
#: (measured under Spin 3.6.3 and wasmtime serve 49; docs/component-bridge.md has the details).
COMPONENT_LIMITS = (
    "`REMOTE_ADDR` and `REMOTE_HOST` are the client's under Spin and empty under `wasmtime serve`, which does "
    "not tell a component who is calling, and adds `INSTANCE_ID` to the module's environment; "
    "`SERVER_PROTOCOL` is always `HTTP/1.1` (wasi:http does not say).",
    "A module that ends with `proc_exit` (every Go and Zig module, and C's `exit()`) gets its whole response "
    "to the client, then the host logs a trap for it: only a trap can leave `_start` from inside the "
    "adapter.",
    "A trap (a Rust panic, say) is answered by the host's own 500, with an empty body under Spin and an HTML "
    "page under `wasmtime serve`, not wagi-nb's explanation; the panic message is in the host's log. The "
    "adapter's own 500s (output that is no CGI response, a non-zero exit) have a one-line body of their own.",
    "The first 1 MiB of a body is held back, so a module that fails after printing it still answers 500; "
    "past 1 MiB the body is streamed, and a failure after that cuts the response short.",
    "There is no built-in `/healthz`: Spin's own is `/.well-known/spin/health`, `wasmtime serve` has none.",
    "Under Spin an outbound request must also pass the component's `allowed_outbound_hosts`, which compares "
    "the scheme and any port an `allowed_hosts` entry names (an entry without a port is written as any "
    "port); wagi-nb, Wagi and `wasmtime serve` compare the host only.",
    "Spin's `files` are read-only: a route whose volume is read-write under Wagi cannot write to it under "
    "Spin (`wasmtime serve --dir` gives write access).",
    "A module whose allocator takes all memory present at start (wasi-libc before 2023, Rust 1.63, Go) "
    "has 64 MiB of heap before it meets the adapter's pages; modules built with current toolchains have "
    "no such bound.",
)


def entrypoints(handler) -> List[str]:
    """The functions other than ``_start`` the component calls, each once: the route's entrypoint,
    then its ``_routes`` sub-routes' in the order printed. Slot k + 1 is ``entrypoints[k]``."""
    names: List[str] = []
    for name in [handler.entrypoint, *(entry for _, entry in handler.subroutes)]:
        if name != "_start" and name not in names:
            names.append(name)
    return names


def spin_route(handler) -> str:
    """The Spin route that reaches the component: the route itself, or for a module with ``_routes``
    its base as a wildcard, so every sub-route reaches the adapter, which dispatches (404 otherwise)."""
    if not handler.subroutes or handler.route.is_prefix:
        return handler.route.text
    return handler.route.base.rstrip("/") + "/..."


def write_component(folder: Path, cid: str, handler, module: str) -> str:
    """Make ``components/<cid>.wasm`` from the exported module; returns its path in the folder."""
    wasm = (folder / module).read_bytes()
    names = entrypoints(handler)
    why = refusal(wasm, names)
    if why:
        raise ExportError(
            f"The route {handler.route} cannot be exported as a wasi:http component: {why} Export the app "
            "without --component (its Wagi module then runs under wagi-nb serve, Wagi and Spin 2–3's wagi "
            "executor), or remove the route first (%wagi_routes --remove ROUTE).")
    path = f"{FOLDER}/{cid}.wasm"
    (folder / FOLDER).mkdir(exist_ok=True)
    (folder / path).write_bytes(componentize(wasm, entrypoints=names))
    return path


def makes_requests(handler) -> bool:
    """Whether the route's module imports Wagi's outbound HTTP (``wasi_experimental_http``)."""
    return not handler.problem and any(item.module == OUTBOUND_MODULE
                                       for item in handler.loaded().module.imports)


def environment(handler, global_env: dict, hostname: Optional[str], requests: bool = False) -> dict:
    """The component's environment: the module's variables (global, then the route's own; never one
    named as a CGI variable, which wins under Wagi), then what the adapter reads. ``requests``: the
    module makes outbound requests, so its allowed hosts are written even when there are none (an
    empty list allows nothing, as under Wagi; absent, `wasmtime serve` would allow every request)."""
    names = entrypoints(handler)
    slot = {"_start": 0, **{name: k + 1 for k, name in enumerate(names)}}
    module_env = {name: value for name, value in {**global_env, **handler.env}.items()
                  if name not in CGI_VARIABLES}
    return {**module_env, **component_environment(
        route=handler.route.text, entry=slot[handler.entrypoint],
        subroutes=[(route.text, slot[entry]) for route, entry in handler.candidates()][:-1],
        argv=handler.argv, hostname=hostname,
        allowed_hosts=list(handler.allowed_hosts) if handler.allowed_hosts or requests else None)}


def build_command(build: Optional[str], module: str, path: str, handler, workdir: Optional[str]) -> Optional[str]:
    """The route's build command, then the step that makes its component again."""
    if not build:
        return None
    step = ["wagi-nb", "component", from_workdir(workdir, module), "-o", from_workdir(workdir, path)]
    for name in entrypoints(handler):
        step += ["--entrypoint", name]
    return f"{build} && {shlex.join(step)}"


def from_workdir(workdir: Optional[str], path: str) -> str:
    """``path`` (relative to the app's folder) as a build command running in ``workdir`` names it."""
    return os.path.relpath(path, workdir) if workdir else path


def component_entry(folder: Path, cid: str, handler, module: str, *, build: Optional[str],
                    workdir: Optional[str], source: Optional[str], files: list, global_env: dict,
                    hostname: Optional[str]) -> dict:
    """Write the route's component; its spin.toml entry (as :func:`..spin.manifest_text` takes them)."""
    path = write_component(folder, cid, handler, module)
    return {"id": cid, "route": spin_route(handler), "source": path, "executor": None, "files": files,
            "environment": environment(handler, global_env, hostname, makes_requests(handler)),
            "hosts": [outbound_host(host) for host in handler.allowed_hosts],
            "build": build_command(build, module, path, handler, workdir), "workdir": workdir,
            "watch": [source] if source else []}


def wasmtime_command(entry: dict, port: int) -> str:
    """How ``wasmtime serve`` runs one route's component (it serves one component per address):
    ``-S cli`` for the environment and files the adapter reads, every variable as ``--env``, every
    Spin ``files`` folder as ``--dir``."""
    argv = ["wasmtime", "serve", "-S", "cli", "--addr", f"127.0.0.1:{port}"]
    for name, value in entry["environment"].items():
        argv += ["--env", f"{name}={value}"]
    for mount in entry["files"]:
        argv += ["--dir", f"{mount['source']}::{mount['destination']}"]
    return shlex.join([*argv, entry["source"]])
