"""How `wagi-nb serve`'s cost per request grows with the module's size and with the number of routes.

1. Module size, 100 KB to 26 MB: the seed's Rust hello; the same CGI answer from a WAT module
   carrying 1, 5 and 25 MB of data (a data segment: what instantiation would copy if memory
   images were not copy-on-write); the CPython interpreter running a three-line script.
2. Routes: 1, 10, 100 and 1,000 routes in one modules.toml, each its own module.

Each is served by ``python -m wagi_nb serve`` (defaults) under ``wrk -t1 -c32`` beside in-process
figures that isolate the part that could grow.
"""
from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Optional

from .common import Context, Row, Section
from .server import (CONNECTIONS, THREADS, Launched, _env, _rss_kib, check_answer, default_workers,
                     run_wrk, site, wait_quiet, without_wrk)

PY_SCRIPT = 'print("Content-Type: text/plain")\nprint()\nprint("Hello, world!")\n'
MB = 1_000_000
PAD_SIZES = (1 * MB, 5 * MB, 25 * MB)
ROUTE_COUNTS = (1, 10, 100, 1000)


def cgi_wat(body: str, pad: int = 0) -> str:
    """A WASI command printing a CGI answer (``Content-Type: text/plain``, ``body``), with ``pad``
    bytes of data in its memory image (a data segment it never reads)."""
    answer = f"Content-Type: text/plain\n\n{body}\n"
    escaped = answer.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    pages = (65536 + pad) // 65536 + 2
    padding = f'  (data (i32.const 65536) "{"x" * pad}")\n' if pad else ""
    return (
        "(module\n"
        '  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))\n'
        f'  (memory (export "memory") {pages})\n'
        f'  (data (i32.const 64) "{escaped}")\n'
        f"{padding}"
        '  (func (export "_start")\n'
        "    (i32.store (i32.const 0) (i32.const 64))\n"
        f"    (i32.store (i32.const 4) (i32.const {len(answer.encode())}))\n"
        "    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))))\n")


def write_wasm(path: Path, wat: str) -> Path:
    import wasmtime
    path.write_bytes(wasmtime.wat2wasm(wat))
    return path


def _serve(folder: Path, config: str) -> Launched:
    argv = [sys.executable, "-m", "wagi_nb", "serve", "-c", config, "-l", "127.0.0.1:0"]
    return Launched(argv, folder, folder / f"serve-{Path(config).stem}-{time.time_ns()}.log", _env(),
                    timeout=600)


def _workers_rss_kib(server: Launched) -> int:
    from .server import _children
    pids = _children(server.pid) or [server.pid]
    return sum(_rss_kib(pid) for pid in pids)


def _instantiate_cpu_us(wasm: Path, runs: int, cow: bool = True) -> float:
    """CPU µs per fresh Store + instance of ``wasm`` (no call), bare wasmtime-py, WASI linked."""
    import wasmtime
    config = wasmtime.Config()
    config.memory_init_cow = cow
    engine = wasmtime.Engine(config)
    linker = wasmtime.Linker(engine)
    linker.define_wasi()
    pre = linker.instantiate_pre(wasmtime.Module.from_file(engine, str(wasm)))

    def once():
        store = wasmtime.Store(engine)
        store.set_wasi(wasmtime.WasiConfig())
        pre.instantiate(store)

    for _ in range(10):
        once()
    start = time.process_time()
    for _ in range(runs):
        once()
    return (time.process_time() - start) / runs * 1e6


# -- 1. module size -------------------------------------------------------------------------------
def module_sizes(ctx: Context) -> Section:
    import wagi_nb

    seconds = ctx.reps(5, 3)
    workers = default_workers()
    section = Section(
        "scale-size", "Scale: cost per request by module size (100 KB to 26 MB)",
        "Each module below is the only route of a modules.toml served by `python -m wagi_nb serve "
        f"-c modules.toml` (defaults: {workers} worker process(es)) under `wrk -t{THREADS} "
        f"-c{CONNECTIONS} -d{seconds}s --latency` after a warm-up run: req/s, p99 and CPU per "
        "request (the server's processes, from /proc). The modules: the seed's Rust hello; a WAT "
        "module giving the same answer with 1, 5 and 25 MB of data in its memory image (an active "
        "data segment it never reads: copied at every instantiation unless memory images are "
        "copy-on-write, which wasmtime's are by default: `Config.memory_init_cow`); the CPython "
        "3.12 interpreter (`wagi_nb.build(..., language=\"python\")`: the interpreter .wasm, the "
        "script in a read-only volume). Beside each, **instantiate only**: CPU per fresh `Store` "
        "+ instance, no call, bare wasmtime-py in this process, with copy-on-write memory images "
        "(the default, what wagi-nb uses) and without (`memory_init_cow = False`: the data "
        "copied each time). `wagi-nb serve` also uses wasmtime's pooling instance allocator "
        "(slots of address space kept reserved between instances; each keeps the module's image "
        "mapped).")
    if without_wrk(section):
        return section
    folder = ctx.folder("scale-size")
    modules = [("Rust hello (the seed's)", site(ctx) / "hello.wasm", {})]
    for pad in PAD_SIZES:
        wasm = write_wasm(folder / f"pad{pad // MB}mb.wasm", cgi_wat("Hello, world!", pad))
        modules.append((f"WAT hello + {pad // MB} MB of data", wasm, {}))
    python = wagi_nb.build(PY_SCRIPT, language="python")
    if python.script_dir is not None:
        modules.append(("CPython 3.12 interpreter, a 3-line script", Path(python.wasm_path),
                        {"volumes": python.script_dir, "argv": python.argv_template}))
    first: Optional[float] = None
    for label, wasm, extra in modules:
        size = wasm.stat().st_size
        name = f"{label} ({size / MB:.2f} MB)"
        config = folder / f"{wasm.stem}.toml"
        lines = ["[[module]]", 'route = "/"', f'module = "{wasm}"']
        if extra:
            lines += [f'volumes = {{ "/app" = "{extra["volumes"]}" }}', 'read_only_volumes = ["/app"]',
                      f'argv = "{extra["argv"]}"']
        config.write_text("\n".join(lines) + "\n", encoding="utf-8")
        runs = 200 if size > 10 * MB else 1000
        cow = _instantiate_cpu_us(wasm, runs, cow=True)
        copy = _instantiate_cpu_us(wasm, max(50, runs // 10), cow=False)
        with _serve(folder, str(config)) as server:
            server.settled_rss_kib(workers)
            check_answer(server)
            run_wrk(server.url, 2, server)
            wait_quiet(ctx)
            run = run_wrk(server.url, seconds, server)
            rss = _workers_rss_kib(server)
        first = first if first is not None else run.cpu_us_per_request
        section.rows += [
            Row(f"{name}: req/s", run.rps, unit="req/s", n=1),
            Row(f"{name}: p99 latency", run.latency[99], unit="ms", n=1),
            Row(f"{name}: CPU per request", run.cpu_us_per_request, unit="µs", n=1),
            Row(f"{name}: CPU per request / the Rust hello's", run.cpu_us_per_request / first,
                unit="×", n=1),
            Row(f"{name}: instantiate only, copy-on-write image (bare wasmtime-py)", cow, unit="µs",
                n=runs),
            Row(f"{name}: instantiate only, image copied (memory_init_cow off)", copy, unit="µs",
                n=max(50, runs // 10)),
        ]
        section.notes.append(f"{name}: workers' RSS after the load {rss / 1024:.1f} MiB; other "
                             f"processes used {run.other_cores:.2f} cores, wrk {run.wrk_cores:.2f}. "
                             f"Failed requests: {run.non_2xx or 'none'}.")
    section.notes.append(f"Command: `python -m wagi_nb serve -c MODULE.toml -l 127.0.0.1:0`; load "
                         f"`{run.command}`.")
    return section


# -- 2. routes --------------------------------------------------------------------------------------
RANDOM_ROUTE_LUA = """
local count = 0
function init(args) count = tonumber(args[1]) end
function request() return wrk.format("GET", "/r" .. math.random(0, count - 1)) end
"""


def _match_us(config: Path, path: str, iterations: int = 20000) -> float:
    from wagi_nb.wagi import WagiApp
    app = WagiApp.from_config(config)
    assert app.match(path) is not None
    start = time.perf_counter()
    for _ in range(iterations):
        app.match(path)
    return (time.perf_counter() - start) / iterations * 1e6


def route_counts(ctx: Context) -> Section:
    seconds = ctx.reps(5, 3)
    workers = default_workers()
    counts = ROUTE_COUNTS if not ctx.quick else (1, 100, 1000)
    section = Section(
        "scale-routes", "Scale: cost per request by the number of routes (1 to 1,000)",
        "One modules.toml of N routes `/r0` … `/rN-1`, each its own WAT module (a CGI hello "
        "printing its route's number: N distinct modules, each compiled once), served by "
        f"`python -m wagi_nb serve -c routes-N.toml` (defaults: {workers} worker process(es)). "
        f"Load: `wrk -t{THREADS} -c{CONNECTIONS} -d{seconds}s --latency -s random.lua` asking for "
        "a random route of the N each time, after a warm-up run. Start-up is the time from "
        "starting the command to its Ready line (every module read from the native-code cache, "
        "which the in-process `WagiApp.from_config` before it filled, and every worker serving); "
        "RSS is the workers' sum after the load; the match time is `WagiApp.match` of the last "
        "route, in this process.")
    if without_wrk(section):
        return section
    folder = ctx.folder("scale-routes")
    script = folder / "random.lua"
    script.write_text(RANDOM_ROUTE_LUA, encoding="utf-8")
    modules = folder / "modules"
    modules.mkdir()
    for n in range(max(counts)):
        write_wasm(modules / f"r{n}.wasm", cgi_wat(f"route {n}"))
    base: Optional[float] = None
    for count in counts:
        config = folder / f"routes-{count}.toml"
        config.write_text("".join(f'[[module]]\nroute = "/r{n}"\nmodule = "modules/r{n}.wasm"\n\n'
                                  for n in range(count)), encoding="utf-8")
        match = _match_us(config, f"/r{count - 1}")
        started = time.perf_counter()
        with _serve(folder, str(config)) as server:
            startup = time.perf_counter() - started
            server.settled_rss_kib(workers)
            url = server.url.rstrip("/")
            run_wrk(url + "/", 2, server, script=script, script_args=[str(count)])
            wait_quiet(ctx)
            run = run_wrk(url + "/", seconds, server, script=script, script_args=[str(count)])
            rss = _workers_rss_kib(server)
        if run.non_2xx:
            raise RuntimeError(f"{count} routes: {run.non_2xx} requests were not answered 200")
        base = base if base is not None else run.cpu_us_per_request
        label = f"{count:,} route{'s' if count > 1 else ''}"
        section.rows += [
            Row(f"{label}: req/s (random route)", run.rps, unit="req/s", n=1),
            Row(f"{label}: p99 latency", run.latency[99], unit="ms", n=1),
            Row(f"{label}: CPU per request", run.cpu_us_per_request, unit="µs", n=1),
            Row(f"{label}: CPU per request / 1 route's", run.cpu_us_per_request / base, unit="×", n=1),
            Row(f"{label}: start-up to Ready", startup, unit="s", n=1),
            Row(f"{label}: workers' RSS after the load", rss / 1024, unit="MiB", n=1),
            Row(f"{label}: WagiApp.match of the last route", match, unit="µs", n=20000),
        ]
        section.notes.append(f"{label}: other processes used {run.other_cores:.2f} cores during the "
                             f"load, wrk {run.wrk_cores:.2f}.")
    section.notes.append("Matching: exact routes are found by a dictionary lookup, and only the "
                         "prefix (`/...`) routes listed before the exact one are tried in order; "
                         "before this round every request tried every route in turn.")
    return section


BENCHMARKS = [module_sizes, route_counts]


if __name__ == "__main__":  # pragma: no cover
    sys.exit("run through benchmarks/run.py: python benchmarks/run.py scale")
