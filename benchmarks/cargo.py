"""Rust cells with crates, built by Cargo.

1. cold: a serde_json cell from nothing (no lock, no compiled dependencies) against a bare
   ``cargo build`` of the same crate;
2. warm: a second cell with the same dependencies, against the single-``rustc`` build of a cell
   without any;
3. an unchanged re-run: a cache hit, no Cargo started, against a dependency-free cell's re-run.

Each benchmark is a function ``(Context) -> Section``; ``BENCHMARKS`` lists them in order.
"""
from __future__ import annotations

import os
import statistics
import subprocess
import time
from pathlib import Path

from .common import Context, Row, Section, row_from_samples, time_loop

DEPENDENCY = 'serde_json = "1"'
JSON_CELL = '''fn main() {
    let query = std::env::var("QUERY_STRING").unwrap_or_default();
    println!("Content-Type: application/json\\n");
    println!("{}", serde_json::json!({"query": query, "n": %d}));
}
'''
PLAIN_CELL = '''fn main() {
    let query = std::env::var("QUERY_STRING").unwrap_or_default();
    println!("Content-Type: application/json\\n");
    println!("{{\\"query\\": {:?}, \\"n\\": %d}}", query);
}
'''


def _fresh_cache(ctx: Context) -> None:
    os.environ["WAGI_NB_CACHE_DIR"] = str(ctx.folder("cargo-cache"))


def _bare_cargo_build(ctx: Context, cargo, source: str) -> float:
    """Seconds for ``cargo build --release --target T`` of a fresh crate: the same manifest, the
    same crates' source, no lock and no target folder yet."""
    from wagi_nb.toolchains.cargo import manifest
    crate = ctx.folder("bare-crate")
    (crate / "Cargo.toml").write_text(manifest({"serde_json": "1"}))
    (crate / "src").mkdir()
    (crate / "src" / "main.rs").write_text(source)
    start = time.perf_counter()
    done = subprocess.run(cargo.argv("build", "--release", "--target", cargo.target), cwd=crate,
                          env=cargo.environment(), capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0 or not (crate / "target" / cargo.target / "release" / "cell.wasm").is_file():
        raise RuntimeError(f"bare cargo build failed: {done.stderr[-2000:]}")
    return seconds


def _rustc_alone(ctx: Context, cargo, info, source: str) -> float:
    """Seconds for the one rustc call Cargo makes for a cell whose crates are compiled: the same
    options (the release profile, one code-generation unit per CPU), the dependency set's rlibs."""
    from wagi_nb.defaults import usable_cpus
    from wagi_nb.toolchains.cargo import PROFILES
    deps = next(Path(os.environ["WAGI_NB_CACHE_DIR"]).glob(f"cargo/*/target/{cargo.target}/release/deps"))
    rlib = next(deps.glob("libserde_json-*.rlib"))
    folder = ctx.folder("rustc-alone")
    (folder / "main.rs").write_text(source)
    argv = [info.path, "--crate-name", "cell", "--edition=2021", "main.rs", "--crate-type", "bin",
            "-C", f"opt-level={PROFILES['release']['opt-level']}", "-C", "strip=debuginfo",
            "-C", f"codegen-units={min(16, usable_cpus())}", "--target", cargo.target,
            "-L", f"dependency={deps}", "--extern", f"serde_json={rlib}", "-o", "cell.wasm"]
    start = time.perf_counter()
    done = subprocess.run(argv, cwd=folder, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"rustc alone failed: {done.stderr[-2000:]}")
    return seconds


def cargo_cells(ctx: Context) -> Section:
    import wagi_nb
    from wagi_nb import toolchains
    from wagi_nb.toolchains.cargo import Cargo

    info = toolchains.require("rust")
    cargo = Cargo(info.path, info.target)
    pairs, warm = ctx.reps(5, 2), ctx.reps(9, 3)
    section = Section(
        "cargo", "Rust cells with crates (Cargo)",
        f"A cell depending on `{DEPENDENCY}` ({cargo.version}, {info.label}; crates from "
        f"{'Debian’s vendored registry, offline' if cargo.offline else 'the user’s Cargo registry'}). "
        f"**Cold**: {pairs} pairs, alternating: `wagi_nb.build(cell, dependencies=[...])` against an "
        "empty cache (so it resolves the lock and compiles every crate), and a bare `cargo build "
        "--release --target T` of a fresh crate with the same Cargo.toml and source — the command a "
        "user would type; the ratio is per pair. **Warm**: after that, a second cell with the same "
        f"dependencies and different code, `force=True`, {warm} times, against a cell without "
        "dependencies (same shape, formatted by hand) built by the single `rustc` call, and against "
        "the floor: the one rustc call Cargo makes for the cell, run alone on the compiled crates. "
        "**Re-run**: the unchanged cell again (a cache hit), against the dependency-free cell's re-run.")

    cold, bare, ratios = [], [], []
    for n in range(pairs):
        source = JSON_CELL % n
        _fresh_cache(ctx)
        start = time.perf_counter()
        artifact = wagi_nb.build(source, "rust", dependencies=[DEPENDENCY])
        cold.append(time.perf_counter() - start)
        if '"n":%d' % n not in artifact.run(env={"QUERY_STRING": "a=1"}).text:
            raise RuntimeError("the cold serde_json cell did not answer")
        bare.append(_bare_cargo_build(ctx, cargo, source))
        ratios.append(cold[-1] / bare[-1])
    section.rows += [row_from_samples("cold serde_json cell: wagi_nb.build", cold, "s"),
                     row_from_samples("cold: bare cargo build of the same crate", bare, "s"),
                     row_from_samples("ratio cold cell / bare cargo build (per pair)", ratios, "×",
                                      target=1.15)]

    second, plain = [], []
    for n in range(warm):
        start = time.perf_counter()
        wagi_nb.build(JSON_CELL % (100 + n), "rust", dependencies=[DEPENDENCY], force=True)
        second.append(time.perf_counter() - start)
        start = time.perf_counter()
        wagi_nb.build(PLAIN_CELL % (100 + n), "rust", force=True)
        plain.append(time.perf_counter() - start)
    floor = [_rustc_alone(ctx, cargo, info, JSON_CELL % (200 + n)) for n in range(warm)]
    median = statistics.median
    section.rows += [row_from_samples("warm: a second cell, same dependencies", second, "s", target=1.5),
                     row_from_samples("floor: rustc alone on that cell, its crates compiled", floor, "s"),
                     row_from_samples("a cell without dependencies (single rustc)", plain, "s"),
                     Row("ratio warm cell / floor (medians)", median(second) / median(floor), unit="×", n=warm),
                     Row("ratio floor / dependency-free cell (medians)", median(floor) / median(plain),
                         unit="×", n=warm),
                     Row("ratio warm cell / dependency-free cell (medians)",
                         median(second) / median(plain), unit="×", n=warm, target=2.0)]

    calls = ctx.reps(2000, 200)
    source, free = JSON_CELL % 100, PLAIN_CELL % 100
    started: list = []
    hit = wagi_nb.build(source, "rust", dependencies=[DEPENDENCY], progress=lambda *a: started.append(a))
    if not hit.cached or started:
        raise RuntimeError("an unchanged dependency cell was not a cache hit, or it started Cargo")
    with_deps = time_loop(lambda: wagi_nb.build(source, "rust", dependencies=[DEPENDENCY]), calls)
    without = time_loop(lambda: wagi_nb.build(free, "rust"), calls)
    section.rows += [Row("re-run, unchanged dependency cell (cache hit, no Cargo started)", with_deps * 1000,
                         unit="ms", n=calls),
                     Row("re-run, unchanged dependency-free cell", without * 1000, unit="ms", n=calls),
                     Row("ratio re-run with / without dependencies", with_deps / without, unit="×", n=calls)]
    section.notes += [
        "The cold cell runs two Cargo commands (`generate-lockfile`, then `cargo rustc --locked` into the "
        "dependency set's shared target folder); the bare build one.",
        "The re-run is checked to be a cache hit that reported no progress, i.e. started no Cargo; "
        "what it costs over a dependency-free re-run is reading the kept Cargo.lock (part of the key).",
        "The warm cell's target of 2× a dependency-free cell is below its floor: rustc alone, on the "
        "compiled crates, spends that long generating the cell's own instances of serde_json's generic "
        "code (`json!`, `Value`'s `Display`), which no crate can share at opt-level 3 on stable Rust; "
        "Cargo and wagi_nb add the difference between the warm row and the floor."]
    return section


BENCHMARKS = [cargo_cells]
