"""``wagi-nb serve`` beside the real Wagi 0.8.1 and Spin 3.6.3 (its wagi executor), on the same
modules, on the same machine, in the same run; and where wagi-nb's microseconds go.

1. ``peer_requests``: five workloads, one exported app (``export_app``: modules.toml for
   wagi-nb and Wagi, spin.toml with ``executor = { type = "wagi" }`` for Spin): the seed's hello
   (Rust); a 48 KB and a 1 MiB file from a read-only volume through a C module of our own that
   reads it in 4 KiB ``fread``s; a 1.7 MB Rust app (serde, serde_json, flate2, form_urlencoded:
   195 record types parsed from the body and printed back, gzip-compressed once); a route of the
   CPython 3.12 interpreter running a 3-line script. ``wrk -t1 -c32`` per workload and server, in
   interleaved rounds; req/s, CPU per request (all of the server's processes, from /proc) and p99,
   and wagi-nb's ratios to each peer per round (the issue's goals as targets).
2. ``request_profile``: for each workload, wagi-nb's pipeline in process
   (``benchmarks/request_profile.py``): instance, each WASI function wagi_nb defines, guest code,
   WASI set-up, CGI; the HTTP edge's share is the server's CPU per request less that; and the
   HTTP edges alone, tornado's and httptools' (``benchmarks/floors.py``), whose difference chose
   ``wagi-nb serve``'s edge.

The peers are unpacked from ``../shared/peers`` (``WAGI_NB_PEERS``); every server listens on
127.0.0.1 and is stopped by its process group. ``python benchmarks/run.py --only peers --merge``.
"""
from __future__ import annotations

import json
import statistics
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Tuple

from .common import Context, Row, Section, row_from_samples
from .components import Host, found_peers, version
from .server import (HELLO_CGI_RUST, QUIET_CORES, QUIET_WAIT, Launched, WrkRun, _env, _failures, _load_note,
                     floors_script, run_wrk, start_tornado_floor, wait_quiet, without_wrk)

FILES_C = r"""
#include <stdio.h>
#include <stdlib.h>
int main(void) {
    const char *name = getenv("PATH_INFO");
    char path[512];
    snprintf(path, sizeof path, "/static%s", name && *name ? name : "/48k.bin");
    FILE *file = fopen(path, "rb");
    if (!file) { printf("Status: 404\nContent-Type: text/plain\n\nno such file\n"); return 0; }
    setvbuf(file, NULL, _IONBF, 0);            /* every fread of 4 KiB is one read of the file */
    printf("Content-Type: application/octet-stream\n\n");
    fflush(stdout);
    static char buffer[4096];
    size_t got;
    while ((got = fread(buffer, 1, sizeof buffer, file)) > 0) fwrite(buffer, 1, got, stdout);
    fclose(file);
    return 0;
}
"""
RECORDS = 195
PYTHON_SCRIPT = 'print("Content-Type: text/plain")\nprint()\nprint("Hello, world!")\n'


def rust_app_source() -> str:
    """The 1.7 MB Rust app: a record type per route, parsed from the body (or a default) with
    serde_json and printed back pretty and as Debug, the text gzip-compressed once."""
    lines = ["use serde::{Deserialize, Serialize};", "use std::io::{Read, Write};", ""]
    for index in range(RECORDS):
        lines.append("#[derive(Serialize, Deserialize, Default, Debug)]\n#[serde(default)]\n"
                     f"struct Record{index} {{ id: u64, name: String, tags: Vec<String>, score: f64, active: bool, "
                     f"note: Option<String>, parts: Vec<u32>, extra_{index}: String }}\n")
    lines.append("fn route(kind: usize, body: &str) -> String {\n    match kind {")
    for index in range(RECORDS):
        lines.append(f"        {index} => {{ let r: Record{index} = serde_json::from_str(body).unwrap_or_default(); "
                     'serde_json::to_string_pretty(&r).unwrap() + &format!("{:?}", r) }')
    lines.append('        _ => String::from("{}"),\n    }\n}\n')
    lines.append(r'''fn main() {
    let path = std::env::var("PATH_INFO").unwrap_or_default();
    let kind: usize = path.trim_start_matches('/').parse().unwrap_or(0);
    let mut body = String::new();
    std::io::stdin().read_to_string(&mut body).ok();
    if body.is_empty() { body = String::from("{\"id\": 7, \"name\": \"seven\"}"); }
    let query = std::env::var("QUERY_STRING").unwrap_or_default();
    let pairs: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes()).into_owned().collect();
    let text = route(kind, &body);
    let mut gzip = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gzip.write_all(text.as_bytes()).unwrap();
    let packed = gzip.finish().unwrap();
    let mut out = std::io::stdout();
    write!(out, "Content-Type: application/json\nX-Gzip-Size: {}\nX-Query-Pairs: {}\n\n{}\n",
           packed.len(), pairs.len(), text).unwrap();
}
''')
    return "\n".join(lines)


RUST_APP_MANIFEST = """[package]
name = "records"
version = "0.1.0"
edition = "2021"

[dependencies]
serde = { version = "1", features = ["derive"] }
serde_json = "1"
flate2 = "1"
form_urlencoded = "1"
"""


@dataclass
class Workload:
    key: str
    label: str
    path: str
    #: The issue's goal for wagi-nb's req/s over each peer's (per round).
    goal: float
    check: bytes = b""


WORKLOADS = [
    Workload("hello", "seed hello (Rust)", "/", 1.0, b"Hello, world!\n"),
    Workload("file-48k", "48 KB file, 4 KiB reads (C)", "/static/48k.bin", 1.0),
    Workload("file-1m", "1 MiB file, 4 KiB reads (C)", "/static/1m.bin", 1.0),
    Workload("rust-app", "1.7 MB Rust app", "/app/3", 1.0, b'"extra_3"'),
    Workload("python", "Python interpreter route", "/py", 1.0, b"Hello, world!\n"),
]
#: Wagi's goal for the seed's hello is 1.2x; Spin's executor's 1.0x, as for every other workload.
GOALS = {("hello", "wagi"): 1.2}


@dataclass
class App:
    folder: Path
    sizes: Dict[str, int]
    data: Dict[str, bytes]


def app(ctx: Context) -> App:
    """The five routes, built by wagi_nb and exported as a user exports them."""
    if "peer_app" in ctx.shared:
        return ctx.shared["peer_app"]  # type: ignore[return-value]
    import wagi_nb
    from wagi_nb import WagiApp
    from wagi_nb.export import export_app

    static = ctx.folder("static")
    data = {"48k.bin": bytes((i * 7 + i // 251) % 256 for i in range(48 * 1024)),
            "1m.bin": bytes((i * 13 + i // 509) % 256 for i in range(1024 * 1024))}
    for name, content in data.items():
        (static / name).write_bytes(content)
    crate = ctx.folder("records")
    (crate / "src").mkdir(exist_ok=True)
    (crate / "Cargo.toml").write_text(RUST_APP_MANIFEST)
    (crate / "src" / "main.rs").write_text(rust_app_source())
    routes = WagiApp()
    built = {
        "hello": wagi_nb.build(HELLO_CGI_RUST, "rust"),
        "file": wagi_nb.build(FILES_C, "c", name="files"),
        "rust-app": wagi_nb.build_crate(crate),
        "python": wagi_nb.build(PYTHON_SCRIPT, "python"),
    }
    routes.add_route("/", built["hello"])
    routes.add_route("/static/...", built["file"], volumes={"/static": str(static)}, read_only=["/static"])
    routes.add_route("/app/...", built["rust-app"])
    routes.add_route("/py", built["python"])
    folder = ctx.folder("peer-app")
    export_app(routes, folder, force=True)
    made = App(folder, {key: artifact.size for key, artifact in built.items()}, data)
    ctx.shared["peer_app"] = made
    return made


def servers(ctx: Context, made: App, peers: Dict[str, Path]) -> List[Host]:
    spin_home = str(ctx.folder("spin-home-peers"))
    found = [Host("wagi-nb", "wagi-nb serve", [sys.executable, "-m", "wagi_nb", "serve", "-c", "modules.toml",
                                              "--env-file", "app.env", "-l", "127.0.0.1:{port}"],
                  made.folder, "Ready: serving on", _env())]
    if "wagi" in peers:
        found.append(Host("wagi", "Wagi 0.8.1", [str(peers["wagi"]), "-c", "modules.toml", "--env-file", "app.env",
                                                 "--listen", "127.0.0.1:{port}", "--log-dir",
                                                 str(ctx.folder("wagi-logs-peers"))], made.folder,
                          "Ready: serving on"))
    if "spin" in peers:
        found.append(Host("spin", "Spin 3.6.3 wagi executor", [str(peers["spin"]), "up", "-f", "spin.toml",
                                                                "--listen", "127.0.0.1:{port}"],
                          made.folder, "Serving http://", {"HOME": spin_home}))
    return found


def check(host: Host, workload: Workload, made: App) -> None:
    import http.client
    conn = http.client.HTTPConnection("127.0.0.1", host.port, timeout=120)
    try:
        conn.request("GET", workload.path)
        response = conn.getresponse()
        body = response.read()
    finally:
        conn.close()
    expected = made.data.get(workload.path.rsplit("/", 1)[-1])
    right = body == expected if expected is not None else workload.check in body
    if response.status != 200 or not right:
        raise RuntimeError(f"{host.label}: GET {workload.path} answered {response.status} {body[:200]!r}; "
                           f"its output: {host.output()[-2000:]}")


# -- 1. the three servers -----------------------------------------------------------------------------
def peer_requests(ctx: Context) -> Section:
    rounds, seconds = ctx.reps(3, 1), ctx.reps(5, 2)
    section = Section(
        "peers", "Ahead of the real peers? wagi-nb serve, Wagi 0.8.1 and Spin 3.6.3 on the same modules",
        "One app built by wagi_nb and exported by `export_app(app, folder)` (`modules.toml`, and a "
        "`spin.toml` with `executor = { type = \"wagi\" }`), five routes: **seed hello** (`" + HELLO_CGI_RUST +
        "`); a **48 KB** and a **1 MiB** file from a read-only volume (`/static`) through a C module of our own "
        "that reads it in unbuffered 4 KiB `fread`s and writes each to stdout; a **1.7 MB Rust app** (a crate "
        f"with serde, serde_json, flate2 and form_urlencoded: {RECORDS} record types, the one the path names "
        "parsed from the body or a default and printed back pretty and as Debug, the text gzip-compressed; "
        "`wagi_nb.build_crate`, release); the **CPython 3.12 interpreter** running a 3-line CGI script "
        "(`wagi_nb.build(..., \"python\")`). Served by **wagi-nb serve** (defaults: one worker process per "
        "usable CPU), the real **Wagi 0.8.1** and the real **Spin 3.6.3** (`spin up`, its wagi executor), "
        "each as it starts by default, all three started at once and idle while another is measured. Each "
        f"workload on each server: `wrk -t1 -c32 -d{seconds}s --latency --timeout 10s` after a warm-up run, "
        f"{rounds} round(s), the servers' order turning each round; req/s is wrk's, **CPU per request** the "
        "user + system time of the server's processes over the run (from /proc) over its requests, p99 from "
        "wrk's latency distribution. Ratios are wagi-nb's over the peer's in the same round (for CPU and "
        "p99: the peer's over wagi-nb's, so above 1 is wagi-nb ahead), median over rounds. Targets: the "
        "issue's goals (seed hello 1.2x Wagi and 1.0x Spin; every other workload 1.0x both), on req/s. "
        "wrk runs on the same two cores as the servers.")
    if without_wrk(section):
        return section
    peers = found_peers(section)
    made = app(ctx)
    hosts = servers(ctx, made, peers)
    runs: Dict[Tuple[str, str], List[WrkRun]] = {(h.key, w.key): [] for h in hosts for w in WORKLOADS}
    busy_before = ctx.shared.get("busy_starts", 0)
    try:
        for host in hosts:
            host.start()
            for workload in WORKLOADS:
                check(host, workload, made)
                run_wrk(host.url + workload.path.lstrip("/"), ctx.reps(2, 1), host)  # warm-up
        for number in range(rounds):
            for workload in WORKLOADS:
                order = hosts[number % len(hosts):] + hosts[:number % len(hosts)]
                for host in order:
                    wait_quiet(ctx)
                    runs[host.key, workload.key].append(run_wrk(host.url + workload.path.lstrip("/"), seconds, host))
        for host in hosts:
            for workload in WORKLOADS:
                check(host, workload, made)  # still right after the load
    finally:
        for host in hosts:
            host.stop()

    for workload in WORKLOADS:
        for host in hosts:
            done = runs[host.key, workload.key]
            name = f"{workload.label}: {host.label}"
            section.rows += [
                row_from_samples(f"{name}: req/s", [r.rps for r in done], "req/s"),
                row_from_samples(f"{name}: CPU per request", [r.cpu_us_per_request for r in done], "µs"),
                row_from_samples(f"{name}: p99 latency", [r.latency.get(99, 0.0) for r in done], "ms"),
            ]
        ours = runs["wagi-nb", workload.key]
        for host in hosts[1:]:
            theirs = runs[host.key, workload.key]
            goal = GOALS.get((workload.key, host.key), workload.goal)
            pairs = list(zip(ours, theirs, strict=True))
            row = row_from_samples(f"{workload.label}: ratio req/s wagi-nb / {host.label} (per round)",
                                   [a.rps / b.rps for a, b in pairs], "×", target=goal)
            row.higher_is_better = True
            section.rows += [
                row,
                row_from_samples(f"{workload.label}: ratio CPU per request {host.label} / wagi-nb",
                                 [b.cpu_us_per_request / a.cpu_us_per_request for a, b in pairs], "×"),
                row_from_samples(f"{workload.label}: ratio p99 {host.label} / wagi-nb",
                                 [b.latency.get(99, 0.0) / max(a.latency.get(99, 0.0), 1e-9) for a, b in pairs],
                                 "×"),
            ]

    versions = [f"`{version([str(peers[name])])}`" for name in ("wagi", "spin") if name in peers]
    section.notes += [
        "Every route answered right on every server before and after the load (the files byte for byte, "
        "the hello and the interpreter's `Hello, world!`, the Rust app's JSON).",
        "Commands (in the exported folder; PORT a free port): " +
        "; ".join(f"{h.label}: `{h.command}`" for h in hosts) + " (Spin with `HOME` set to an empty folder). "
        "Versions: " + ", ".join(versions) + ".",
        "Module sizes: " + ", ".join(f"{key} {size:,} bytes" for key, size in made.sizes.items()) + ".",
    ]
    for workload in WORKLOADS:
        for host in hosts:
            done = runs[host.key, workload.key]
            section.notes.append(_load_note(f"{workload.label}, {host.label}", done) +
                                 f" Failed requests: {_failures(done)}.")
    section.notes.append(
        f"Each wrk run waited (up to {QUIET_WAIT:g} s) for the machine to be quiet (processes other than the "
        f"servers under test using less than {QUIET_CORES:g} cores); runs that started busy anyway: "
        f"{ctx.shared.get('busy_starts', 0) - busy_before} of {len(hosts) * len(WORKLOADS) * rounds}.")
    ctx.shared["peer_runs"] = runs
    return section


# -- 2. where the microseconds go ---------------------------------------------------------------------
PARTS = [("instance", "instance (InstancePre → instance)"), ("guest", "guest code and wasmtime's own WASI calls"),
         ("wasi:fd_write", "fd_write (stdout)"), ("wasi:fd_read", "fd_read (stdin, volume files)"),
         ("wasi:path_open", "path_open"), ("wasi:fd_close", "fd_close"), ("wasi set-up", "WASI set-up and collect"),
         ("cgi", "CGI environment and output parsing"), ("rest", "the rest (Store, request, limits, result)")]


def floor_cpu(ctx: Context, kind: str, seconds: float) -> float:
    """CPU µs per request of a trivial HTTP answer from ``kind`` (tornado or httptools)."""
    if kind == "tornado":
        server = start_tornado_floor(ctx)
    else:
        folder = ctx.folder("floors")
        server = Launched([sys.executable, str(floors_script()), kind], folder, folder / f"{kind}.log", _env())
    try:
        run_wrk(server.url, 1, server)
        samples = []
        for _ in range(ctx.reps(3, 1)):
            wait_quiet(ctx)
            samples.append(run_wrk(server.url, seconds, server).cpu_us_per_request)
    finally:
        server.stop()
    return statistics.median(samples)


def request_profile(ctx: Context) -> Section:
    count = ctx.reps(1, 1)
    section = Section(
        "peer-profile", "Where wagi-nb's microseconds go, per workload",
        "Each workload of the section before answered in process as a `wagi-nb serve` worker answers it "
        "(`python benchmarks/request_profile.py modules.toml PATH N`: the route matched, the module run within "
        "the inline budget, else as the pool runs it; timers around wagi_nb's own functions): wall µs per "
        "request in each part. **HTTP edge** is the server's CPU per request in the section before (its "
        "workers' CPU over wrk's requests) less the pipeline's CPU in process: the event loop, httptools, the "
        "kernel's socket work, the access log. Beside them, the two HTTP edges alone, each answering a fixed "
        "`Hello, world!` under `wrk -t1 -c32` in one process (`python benchmarks/floors.py tornado`: a tornado "
        "`RequestHandler`; `python benchmarks/floors.py httptools`: an asyncio protocol feeding httptools): "
        "what chose `wagi-nb serve`'s edge.")
    made = app(ctx)
    runs = ctx.shared.get("peer_runs", {})
    script = Path(__file__).resolve().parent / "request_profile.py"
    for workload in WORKLOADS:
        requests = {"hello": 3000, "file-48k": 600, "file-1m": 60, "rust-app": 1000, "python": 20}[workload.key]
        requests = max(5, requests * count // (1 if not ctx.quick else 3))
        done = subprocess.run([sys.executable, str(script), "modules.toml", workload.path, str(requests)],
                              cwd=made.folder, capture_output=True, text=True, timeout=1200, env=_env())
        if done.returncode != 0:
            raise RuntimeError(f"request_profile.py {workload.path} failed: {done.stderr[-2000:]}")
        result = json.loads(done.stdout.strip().splitlines()[-1])
        parts = result["parts_us"]
        for key, label in PARTS:
            if parts.get(key):
                section.rows.append(Row(f"{workload.label}: {label}", parts[key], unit="µs", n=requests))
        section.rows.append(Row(f"{workload.label}: pipeline in process, CPU", result["cpu_us"], unit="µs",
                                n=requests))
        served = runs.get(("wagi-nb", workload.key))
        if served:
            server_cpu = statistics.median(r.cpu_us_per_request for r in served)
            section.rows.append(Row(f"{workload.label}: HTTP edge (server CPU per request less the pipeline's)",
                                    max(0.0, server_cpu - result["cpu_us"]), unit="µs", n=len(served)))
            for host in ("wagi", "spin"):
                theirs = runs.get((host, workload.key))
                if theirs:
                    section.rows.append(Row(f"{workload.label}: {'Wagi 0.8.1' if host == 'wagi' else 'Spin 3.6.3'}"
                                            f"'s whole CPU per request",
                                            statistics.median(r.cpu_us_per_request for r in theirs), unit="µs",
                                            n=len(theirs)))
    seconds = ctx.reps(5, 2)
    tornado, lean = floor_cpu(ctx, "tornado", seconds), floor_cpu(ctx, "httptools", seconds)
    section.rows += [Row("HTTP edge alone: tornado RequestHandler, CPU per request", tornado, unit="µs", n=3),
                     Row("HTTP edge alone: httptools on asyncio, CPU per request", lean, unit="µs", n=3),
                     Row("ratio tornado / httptools", tornado / lean, unit="×", n=1)]
    section.notes.append(
        "The HTTP edge's share is a difference of two measurements: where the pipeline's CPU in process "
        "comes out above the server's CPU per request (a route run on the pool by both workers, whose "
        "in-process figure includes the timers' own cost per WASI call), it is shown as 0.")
    section.notes.append(
        "The parts are wall time inside each wrapped function (one process, one thread: CPU and wall agree "
        "within a few per cent, except where a WASI call waits on wasmtime's own threads: path_open and "
        "wasmtime's file functions hand their work to a thread of wasmtime's runtime and wait for it).")
    return section


BENCHMARKS = [peer_requests, request_profile]
