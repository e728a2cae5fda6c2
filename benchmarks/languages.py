"""Every language of the registry: what a build costs and what a request costs.

For each language, the handler of tests/helpers/language_samples.py (it answers the query, a header
and the request body; WAT its hello world, run as a route) is built from scratch a few times, and requested
in-process through a WagiApp on a fresh instance each time. For the interpreted languages
(Python, JavaScript) a "build" is the interpreter's syntax check, and the first one in a
process also compiles the interpreter to native code, unless wasmtime's native code for it is
in the cache already; both are reported apart.
Each benchmark is a function ``(Context) -> Section``; ``BENCHMARKS`` lists them in order.
"""
from __future__ import annotations

import statistics
import sys
import time

from .common import REPO, Context, Row, Section, row_from_samples


def samples():
    sys.path.insert(0, str(REPO / "tests"))
    try:
        from helpers import language_samples
    finally:
        sys.path.remove(str(REPO / "tests"))
    return language_samples


def every_language(ctx: Context) -> Section:
    import wagi_nb
    from wagi_nb import toolchains
    from wagi_nb.runtime import Runtime
    from wagi_nb.wagi import WagiApp

    programs = samples()
    builds, requests = ctx.reps(5, 2), ctx.reps(50, 10)
    section = Section(
        "languages", "Every language: build time and time per request",
        f"Per language, `wagi_nb.build(handler, language=..., force=True)` {builds} times (median; the "
        "whole call: toolchain, temporary folder, compiler, cache write), after one unmeasured build "
        "that warms the compiler's own caches (Go's build cache, for one). Then "
        f"{requests} requests of `POST /h?x=1&y=2` with an `X-Agent` header and a body, through "
        "`WagiApp.request` (in-process, a fresh instance per request; the figure is the median of the "
        "response's `duration`, the module's run). The handlers are tests/helpers/language_samples.py's.")
    for language, toolchain in toolchains.TOOLCHAINS.items():
        info = toolchains.discover(language)
        if not info.found:
            section.rows.append(Row(f"{toolchain.title}", skipped=f"not installed: {info.install}"))
            continue
        source = programs.HANDLER.get(language, programs.HELLO[language])
        first = time.perf_counter()
        artifact = wagi_nb.build(source, language=language, force=True)
        first = time.perf_counter() - first
        seconds = []
        for _ in range(builds):
            start = time.perf_counter()
            artifact = wagi_nb.build(source, language=language, force=True)
            seconds.append(time.perf_counter() - start)
        app = WagiApp()
        app.add_route("/h", artifact)
        durations = []
        for _ in range(requests):
            response = app.request("POST", "/h?x=1&y=2", headers={"X-Agent": "bench"}, body="payload")
            if language in programs.HANDLER and response.status != 200:
                raise RuntimeError(f"{language}: {response.status} {response.text}")
            durations.append(response.duration * 1000)
        section.rows.append(row_from_samples(f"{toolchain.title}: build", seconds, "s"))
        section.rows.append(row_from_samples(f"{toolchain.title}: request", durations, "ms"))
        if toolchain.interpreted:
            fresh = Runtime()
            start = time.perf_counter()
            fresh.load(artifact.wasm_path)
            loaded = time.perf_counter() - start
            section.rows.append(Row(f"{toolchain.title}: interpreter loaded by a fresh process's runtime "
                                    "(its native code from the cache)", loaded, unit="s", n=1))
            section.notes.append(f"{toolchain.title}: the first build in this run took {first:.1f} s, "
                                 "the interpreter's compilation to native code included; its module is "
                                 f"{artifact.size:,} bytes ({info.label}).")
        else:
            section.notes.append(f"{toolchain.title}: {artifact.size:,} bytes, built with {info.label}; the "
                                 f"first (unmeasured) build in this run took {first:.2f} s.")
    medians = {row.name: row.median for row in section.rows if row.median is not None}
    compiled = [value for name, value in medians.items() if name.endswith(": request")
                and not name.startswith(("Python", "JavaScript"))]
    if compiled:
        section.notes.append(f"Compiled languages' requests: median {statistics.median(compiled):.2f} ms.")
    return section


BENCHMARKS = [every_language]
