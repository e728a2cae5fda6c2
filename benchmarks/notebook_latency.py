"""What a notebook user waits for between cells, beyond compiling:

1. the first unchanged cell after a kernel restart (a new process: ``%load_ext wagi_nb``, then a
   ``%%wasm_rust`` hello cell whose build is cached), with toolchain discovery kept on disk (warm)
   and without it (cold), and what importing wagi_nb costs;
2. ``%wagi_request`` against the notebook's routes (in process, no socket), and the live preview's
   re-render after the route's cell is re-run.

Each benchmark is a function ``(Context) -> Section``; ``BENCHMARKS`` lists them in order.
"""
from __future__ import annotations

import json
import os
import re
import resource
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Dict, List, Optional

from .common import HELLO_RUST, Context, Row, Section, ipython_shell, row_from_samples, time_once

#: The first cell of a new process, as a kernel runs it: an IPython shell, ``%load_ext wagi_nb``,
#: then the cell (its output captured, formatted as a notebook displays it).
FIRST_CELL = textwrap.dedent("""
    import json, sys, time
    start = time.perf_counter()
    from IPython.core.interactiveshell import InteractiveShell
    from IPython.utils.capture import capture_output
    from traitlets.config import Config
    config = Config()
    config.HistoryManager.enabled = False
    shell = InteractiveShell.instance(config=config)
    started = time.perf_counter()
    shell.run_line_magic("load_ext", "wagi_nb")
    loaded = time.perf_counter()
    with capture_output() as captured:
        outcome = shell.run_cell("%%wasm_rust\\n" + sys.argv[1])
    ran = time.perf_counter()
    artifact = getattr(outcome.result, "artifact", None)
    print(json.dumps({"shell": started - start, "load_ext": loaded - started, "cell": ran - loaded,
                      "ok": outcome.success and "Hello, world!" in captured.stdout,
                      "cached": bool(getattr(artifact, "cached", False))}))
""")

#: A Wagi hello world whose greeting can change (a re-run cell that changes the response).
HELLO_WAGI = ('fn main() {{\n    println!("Content-Type: text/plain");\n    println!();\n'
              '    println!("Hello, {}!");\n}}\n')


# -- the machine's load while measuring ------------------------------------------------------------------
def _machine_ticks() -> tuple:
    """(busy, total) clock ticks of all CPUs from /proc/stat."""
    fields = [int(f) for f in Path("/proc/stat").read_text().splitlines()[0].split()[1:9]]
    return sum(fields) - fields[3] - fields[4], sum(fields)


def _own_cpu() -> float:
    """CPU seconds this process and its waited-for children used so far."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


class Load:
    """How busy the machine was with other work during a ``with`` block: cores used by other
    processes (all CPU time from /proc/stat minus this process's and its children's), and the
    1-minute load average at both ends."""

    def __enter__(self) -> "Load":
        self.avg_start = os.getloadavg()[0]
        self.ticks, self.cpu, self.wall = _machine_ticks(), _own_cpu(), time.monotonic()
        return self

    def __exit__(self, *exc) -> None:
        busy0, total0 = self.ticks
        busy1, total1 = _machine_ticks()
        wall = max(1e-9, time.monotonic() - self.wall)
        machine = (os.cpu_count() or 1) * (busy1 - busy0) / max(1, total1 - total0)
        self.others = max(0.0, machine - (_own_cpu() - self.cpu) / wall)
        self.avg_end = os.getloadavg()[0]

    @property
    def short(self) -> str:
        return f"other processes {self.others:.2f} cores"

    def note(self, what: str) -> str:
        return (f"Machine load during {what}: other processes used {self.others:.2f} cores on average "
                f"(of {os.cpu_count()}); 1-minute load average {self.avg_start:.2f} at the start, "
                f"{self.avg_end:.2f} at the end.")


def wait_quiet(ctx: Context, cores: float = 0.3) -> float:
    """Wait (up to 20 s; 5 s with --quick) until other processes use under ``cores``; returns the
    load seen last."""
    deadline = time.monotonic() + (5.0 if ctx.quick else 20.0)
    while True:
        with Load() as load:
            time.sleep(0.5)
        if load.others < cores or time.monotonic() > deadline:
            return load.others


# -- 1. the first cell after a restart ---------------------------------------------------------------
def _child_env(ctx: Context) -> dict:
    """A child Python as an installed package runs: bytecode written and reused (in a folder of this
    run, not the repository), the run's private wagi_nb cache and IPython folder."""
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = str(ctx.scratch / "pycache")
    return env


def _first_cell(ctx: Context, cwd: Path, built: bool = True) -> dict:
    done = subprocess.run([sys.executable, "-c", FIRST_CELL, HELLO_RUST], capture_output=True, text=True,
                          env=_child_env(ctx), cwd=cwd, timeout=180)
    if done.returncode != 0:
        raise RuntimeError(f"the first-cell process failed: {done.stderr[-2000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    if not result["ok"] or (built and not result["cached"]):
        raise RuntimeError(f"the first cell did not print hello from a cached build: {result}")
    return result


def _import_times(ctx: Context, cwd: Path) -> Dict[str, int]:
    """``python -X importtime``: cumulative µs per module imported by ``%load_ext wagi_nb`` beyond
    IPython's own shell."""
    code = ("from IPython.core.interactiveshell import InteractiveShell\n"
            "import wagi_nb\nimport wagi_nb.magics\n")
    done = subprocess.run([sys.executable, "-X", "importtime", "-c", code], capture_output=True,
                          text=True, env=_child_env(ctx), cwd=cwd, timeout=120)
    if done.returncode != 0:
        raise RuntimeError(f"python -X importtime failed: {done.stderr[-2000:]}")
    times: Dict[str, int] = {}
    seen_ipython = False
    for line in done.stderr.splitlines():
        match = re.match(r"import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)", line)
        if not match:
            continue
        name = match.group(4)
        seen_ipython = seen_ipython or name == "IPython"
        if seen_ipython:  # (modules IPython imported itself are before it, and its own)
            times[name] = max(times.get(name, 0), int(match.group(2)))
    return times


def _kernel_first_cell(ctx: Context, cwd: Path) -> Optional[dict]:
    """A real kernel (ipykernel, over ZeroMQ): start it, ``%load_ext wagi_nb``, the hello cell; each
    timed from the request sent to the kernel idle again with every output received."""
    try:
        from ipykernel.kernelspec import install
        from jupyter_client import KernelManager
        from jupyter_client.kernelspec import KernelSpecManager
    except ImportError:
        return None
    prefix = ctx.scratch / "jupyter"
    if not (prefix / "share" / "jupyter" / "kernels" / "python3").is_dir():
        install(kernel_name="python3", prefix=str(prefix))
    specs = KernelSpecManager(kernel_dirs=[str(prefix / "share" / "jupyter" / "kernels")])
    manager = KernelManager(kernel_name="python3", kernel_spec_manager=specs)
    start = time.perf_counter()
    manager.start_kernel(env=_child_env(ctx), cwd=str(cwd), stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
    client = manager.client()
    try:
        client.start_channels()
        client.wait_for_ready(timeout=60)
        ready = time.perf_counter()
        outputs: List[str] = []

        def collect(message) -> None:
            content = message.get("content", {})
            outputs.append(content.get("text", "") + json.dumps(content.get("data", {})))

        def timed(code: str) -> float:
            begin = time.perf_counter()
            reply = client.execute_interactive(code, timeout=120, output_hook=collect)
            if reply["content"]["status"] != "ok":
                raise RuntimeError(f"the kernel failed to run {code!r}: {reply['content']}")
            return time.perf_counter() - begin

        load_ext = timed("%load_ext wagi_nb")
        cell = timed("%%wasm_rust\n" + HELLO_RUST)
        if not any("Hello, world!" in text for text in outputs):
            raise RuntimeError(f"the kernel's hello cell printed {outputs!r}")
        return {"start": ready - start, "load_ext": load_ext, "cell": cell}
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)


def first_cell_after_restart(ctx: Context) -> Section:
    from wagi_nb.cache import cache_root
    from wagi_nb.toolchains import discovery_cache, get_toolchain

    reps = ctx.reps(11, 3)
    cwd = ctx.folder("notebook")  # the notebook's folder (part of the discovery cache's key)
    kept = cache_root() / discovery_cache.FOLDER
    section = Section(
        "first-cell", "First unchanged cell after a kernel restart",
        "A new Python process for each sample, as a kernel restart makes one: an IPython "
        "`InteractiveShell` (history off), `%load_ext wagi_nb`, then `run_cell(\"%%wasm_rust\\n\" + "
        f"hello)` in `capture_output()` — the seed's hello world (`{HELLO_RUST}`), whose build is "
        "in the (disk) build cache; the figure is that `run_cell`, timed inside the process, as a user "
        "waits for it after the extension is loaded. **Warm**: toolchain discovery's results kept "
        "on disk by an earlier process (`<cache>/toolchains/`), still valid; **cold**: that folder "
        "deleted before the process starts, so discovery asks every `rustc` candidate for "
        "`--version` and `--print sysroot` again, as every first cell did before. Warm and cold "
        f"alternate, {reps} each, after one unmeasured process that builds the cell and writes the "
        "bytecode (children write and reuse `.pyc` files in a folder of this run, as an installed "
        "package has them). `%load_ext wagi_nb` (the import) is reported on its own, and broken "
        "down with `python -X importtime`; the real-kernel rows start ipykernel through "
        "jupyter_client and time each execute request until the kernel is idle with every output "
        "received.")
    _first_cell(ctx, cwd, built=False)  # build the cell, write the bytecode, keep discovery
    wait_quiet(ctx)
    warm, cold = [], []
    with Load() as load:
        for _ in range(reps):
            if not kept.is_dir() or not any(kept.glob("rust-*.json")):
                raise RuntimeError(f"discovery kept nothing in {kept}")
            warm.append(_first_cell(ctx, cwd))
            shutil.rmtree(kept)
            cold.append(_first_cell(ctx, cwd))
    section.rows += [
        row_from_samples("first cell, discovery kept on disk (warm)", [r["cell"] * 1e3 for r in warm], "ms",
                         target=30, note=load.short),
        row_from_samples("first cell, discovery not kept (cold: probes every rustc)",
                         [r["cell"] * 1e3 for r in cold], "ms"),
        row_from_samples("%load_ext wagi_nb before it (import and registering the magics) (informative)",
                         [r["load_ext"] * 1e3 for r in warm + cold], "ms"),
    ]
    section.notes.append(load.note("the warm and cold processes"))

    # Discovery alone, in this process: the kept result checked, against probing again.
    rust = get_toolchain("rust")
    probed = [time_once(lambda: discovery_cache.discover(rust, None, use_kept=False)) * 1e3
              for _ in range(ctx.reps(5, 3))]
    checked = [time_once(lambda: discovery_cache.discover(rust, None)) * 1e3 for _ in range(ctx.reps(200, 50))]
    observed = len(json.loads(discovery_cache.entry_path("rust", None).read_text())["observed"])
    section.rows += [
        row_from_samples("breakdown: Rust discovery, kept result read and checked (informative)", checked, "ms",
                         spread="p5–p95", note=f"{observed} observations"),
        row_from_samples("breakdown: Rust discovery, probing (informative)", probed, "ms"),
    ]

    imports = [_import_times(ctx, cwd) for _ in range(ctx.reps(5, 2))]
    def median_ms(name: str) -> float:
        values = sorted(times.get(name, 0) for times in imports)
        return values[len(values) // 2] / 1e3
    total = median_ms("wagi_nb") + median_ms("wagi_nb.magics")
    section.rows.append(Row("python -X importtime: wagi_nb + wagi_nb.magics, cumulative (informative)",
                            total, None, None, "ms", len(imports)))
    parts = ["wasmtime", "tornado.httputil", "wagi_nb.runtime", "wagi_nb.toolchains", "wagi_nb.wagi",
             "wagi_nb.magics.languages", "wagi_nb.magics.serve", "wagi_nb.server", "wagi_nb.magics.wagi",
             "wagi_nb.export", "wagi_nb.display"]
    section.notes.append(
        f"Import, median of {len(imports)} (`python -X importtime`, cumulative, with IPython's shell "
        "imported first; modules overlap, a module is counted where it is first imported): "
        + ", ".join(f"`{name}` {median_ms(name):.1f} ms" for name in parts if median_ms(name)) + ".")

    kernels = []
    for _ in range(ctx.reps(3, 1)):
        result = _kernel_first_cell(ctx, cwd)
        if result is None:
            break
        kernels.append(result)
    if kernels:
        section.rows += [
            row_from_samples("real kernel: the hello cell, first after start (warm) (informative)",
                             [k["cell"] * 1e3 for k in kernels], "ms"),
            row_from_samples("real kernel: %load_ext wagi_nb (informative)",
                             [k["load_ext"] * 1e3 for k in kernels], "ms"),
            row_from_samples("real kernel: start until ready (informative)",
                             [k["start"] * 1e3 for k in kernels], "ms"),
        ]
    else:
        section.rows.append(Row("real kernel rows", skipped="ipykernel or jupyter_client not installed"))
    mid = sorted(warm, key=lambda r: r["cell"])[len(warm) // 2]
    section.notes.append(
        f"The median warm process: IPython shell {mid['shell'] * 1e3:.0f} ms, `%load_ext wagi_nb` "
        f"{mid['load_ext'] * 1e3:.0f} ms, the cell {mid['cell'] * 1e3:.1f} ms. What the cold rows add "
        "is discovery's probes; the kept results are checked with a few dozen `stat` calls (each "
        "executable discovery ran or looked for, the sysroot folders that decided the target).")
    return section


# -- 2. %wagi_request and the live preview ---------------------------------------------------------------
def wagi_request_and_preview(ctx: Context) -> Section:
    import wagi_nb
    from IPython.utils.capture import capture_output
    from wagi_nb.wagi import app

    n = ctx.reps(300, 60)
    reruns = ctx.reps(200, 40)
    route = "/"
    cells = [HELLO_WAGI.format(word) for word in ("world", "wasm")]
    section = Section(
        "wagi-request", "%wagi_request and the live preview, in process",
        "The Wagi hello world (`Content-Type: text/plain`, a blank line, `Hello, world!`) as a route "
        f"cell, `%%wasm_rust --route {route}`, in an IPython `InteractiveShell`; its build is cached. "
        f"**%wagi_request**: `run_line_magic(\"wagi_request\", \"GET {route}\")` in `capture_output()` "
        f"(parse, route, a fresh instance, the CGI response, the view), and `run_cell(\"%wagi_request "
        f"GET {route}\")`, which also formats the view as a notebook displays it; {n} samples each, "
        "timed one by one, spread p5–p95. **Live preview**: `%%wasm_rust --route / --preview` makes "
        "the widget; then the route's cell is re-run, alternating between two greetings so every "
        "re-run changes the response, and the figure is the time from the new handler being "
        "registered (the first route listener) to the widget's `_show` having set its output "
        f"(a callback after it); {reruns} re-runs. The widget has no front end here: in a notebook "
        "the new value then goes to the browser as one comm message.")
    for text in cells:
        wagi_nb.build(text, language="rust", line_offset=1)  # the magic's cell has its line offset
    shell = ipython_shell()
    try:
        with capture_output():
            view = shell.run_cell_magic("wasm_rust", f"--route {route}", cells[0])
        if "Hello, world!" not in view.response.text:
            raise RuntimeError(f"the route answered {view.response.text!r}")

        def magic():
            with capture_output():
                return shell.run_line_magic("wagi_request", f"GET {route}")

        def cell():
            with capture_output() as captured:
                outcome = shell.run_cell(f"%wagi_request GET {route}")
            return outcome, captured

        for _ in range(5):
            magic(), cell()
        wait_quiet(ctx)
        samples: Dict[str, list] = {"magic": [], "cell": [], "app": [], "module": []}
        with Load() as load:
            for _ in range(n):
                start = time.perf_counter()
                view = magic()
                samples["magic"].append((time.perf_counter() - start) * 1e3)
                if view.response.status != 200 or view.response.text != "Hello, world!\n":
                    raise RuntimeError(f"%wagi_request answered {view.response.status} {view.response.text!r}")
                samples["module"].append(view.response.duration * 1e3)
                start = time.perf_counter()
                outcome, captured = cell()
                samples["cell"].append((time.perf_counter() - start) * 1e3)
                if not outcome.success:
                    raise RuntimeError(f"run_cell('%wagi_request') failed: {outcome.error_in_exec}")
                start = time.perf_counter()
                app.request("GET", route)
                samples["app"].append((time.perf_counter() - start) * 1e3)
        shown = shell.display_formatter.format(outcome.result)[0]
        section.rows += [
            row_from_samples("%wagi_request GET / (run_line_magic)", samples["magic"], "ms", spread="p5–p95",
                             target=2, note=load.short),
            row_from_samples("run_cell('%wagi_request GET /') incl. display formatting", samples["cell"], "ms",
                             spread="p5–p95", target=2, note=load.short),
            row_from_samples("breakdown: app.request('GET', '/') alone (informative)", samples["app"], "ms",
                             spread="p5–p95"),
            row_from_samples("breakdown: the module's run, response.duration (informative)", samples["module"],
                             "ms", spread="p5–p95"),
        ]
        section.notes += [
            load.note("the %wagi_request samples"),
            f"Sanity check: every response was `200` with body `Hello, world!`; the cell's result is "
            f"shown as {', '.join(sorted(shown))}.",
        ]

        with capture_output():
            widget = shell.run_cell_magic("wasm_rust", f"--route {route} --preview", cells[0])
        if not hasattr(widget, "preview"):
            raise RuntimeError(f"--preview returned {widget!r}, not the widget")
        marks: Dict[str, float] = {}

        def registered(handler) -> None:
            marks["registered"] = time.perf_counter()

        def shown_(preview) -> None:
            marks["shown"] = time.perf_counter()

        app.route_listeners.insert(0, registered)
        widget.preview.on_response.append(shown_)  # after the widget's own _show
        rerender, whole = [], []
        try:
            wait_quiet(ctx)
            with Load() as preview_load:
                for i in range(reruns):
                    marks.clear()
                    text = cells[(i + 1) % 2]
                    start = time.perf_counter()
                    with capture_output():
                        shell.run_cell_magic("wasm_rust", f"--route {route}", text)
                    whole.append((time.perf_counter() - start) * 1e3)
                    rerender.append((marks["shown"] - marks["registered"]) * 1e3)
                    greeting = "Hello, wasm!" if i % 2 == 0 else "Hello, world!"
                    if greeting not in widget.output.value:
                        raise RuntimeError(f"the preview did not show {greeting!r} after re-run {i + 1}")
        finally:
            app.route_listeners.remove(registered)
            widget.preview.on_response.remove(shown_)
            widget.close()
        section.rows += [
            row_from_samples("live preview: re-render after the route cell's re-run (handler registered → "
                             "widget output set)", rerender, "ms", spread="p5–p95", target=10,
                             note=preview_load.short),
            row_from_samples("the route cell's whole re-run, cached build, incl. that re-render and its own "
                             "response (informative)", whole, "ms", spread="p5–p95"),
        ]
        section.notes += [
            preview_load.note("the preview re-runs"),
            f"Sanity check: after each re-run the widget showed the new greeting (status "
            f"`{widget.status.value}`).",
        ]
    finally:
        app.remove(route)
    return section


BENCHMARKS = [first_cell_after_restart, wagi_request_and_preview]
