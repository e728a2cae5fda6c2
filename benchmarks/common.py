"""What every benchmark module shares: result rows, statistics, timers, the machine.

A benchmark is a function ``bench(ctx: Context) -> Section``. A module of
benchmarks lists them in ``BENCHMARKS``; ``run.py`` lists the modules. A
:class:`Section` is one numbered part of ``docs/benchmarks.md``: a title, what
was measured and how, and :class:`Row` figures (some with a target).
"""
from __future__ import annotations

import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence

#: The seed's hello world: the cell every benchmark compiles and runs.
HELLO_RUST = 'fn main() { println!("Hello, world!"); }'

REPO = Path(__file__).resolve().parent.parent


# -- results ------------------------------------------------------------------------------------
@dataclass
class Row:
    """One figure: the median of ``n`` repetitions and their spread, in ``unit``.

    ``target`` is an upper bound (``median <= target`` passes), or a lower
    bound when ``higher_is_better`` (throughput); rows without one are
    informative. ``skipped`` says why a row has no figure.
    """

    name: str
    median: Optional[float] = None
    lo: Optional[float] = None
    hi: Optional[float] = None
    unit: str = "ms"
    n: int = 0
    #: How lo/hi were taken: "min–max" or "p5–p95".
    spread_kind: str = "min–max"
    target: Optional[float] = None
    note: str = ""
    skipped: str = ""
    #: The target is a lower bound (``median >= target`` passes), e.g. requests per second.
    higher_is_better: bool = False

    @property
    def status(self) -> str:
        if self.skipped:
            return "skipped"
        if self.target is None or self.median is None:
            return "—"
        if self.higher_is_better:
            return "pass" if self.median >= self.target else "MISS"
        return "pass" if self.median <= self.target else "MISS"

    @property
    def target_text(self) -> str:
        if self.target is None:
            return "—"
        return f"{'≥' if self.higher_is_better else '≤'} {fmt(self.target, self.unit)}"

    @property
    def figure_text(self) -> str:
        return "—" if self.median is None else fmt(self.median, self.unit)

    @property
    def spread_text(self) -> str:
        if self.lo is None or self.hi is None:
            return "—"
        return f"{fmt(self.lo, self.unit, suffix=False)}–{fmt(self.hi, self.unit)} ({self.spread_kind})"


@dataclass
class Section:
    """One benchmark's part of the report."""

    key: str
    title: str
    #: What was measured and how (Markdown).
    method: str
    rows: List[Row] = field(default_factory=list)
    #: Extra observations (Markdown bullets), e.g. a sanity check or why a target was missed.
    notes: List[str] = field(default_factory=list)
    error: str = ""
    seconds: float = 0.0


def fmt(value: float, unit: str, *, suffix: bool = True) -> str:
    """``12.3 ms``, ``1.07×``: two decimals below 10, one below 100, none above."""
    if unit == "×":
        text = f"{value:.2f}"
    elif abs(value) >= 100:
        text = f"{value:,.0f}"
    elif abs(value) >= 10:
        text = f"{value:.1f}"
    else:
        text = f"{value:.2f}"
    if not suffix:
        return text
    return f"{text}×" if unit == "×" else f"{text} {unit}"


def row_from_samples(name: str, samples: Sequence[float], unit: str, *, spread: str = "min–max",
                     target: Optional[float] = None, note: str = "") -> Row:
    """A row whose figure is the median of ``samples`` (already in ``unit``)."""
    samples = sorted(samples)
    if spread == "p5–p95" and len(samples) >= 20:
        lo, hi = quantile(samples, 0.05), quantile(samples, 0.95)
    else:
        spread, lo, hi = "min–max", samples[0], samples[-1]
    return Row(name, statistics.median(samples), lo, hi, unit, len(samples), spread, target, note)


def quantile(sorted_samples: Sequence[float], q: float) -> float:
    """Linear-interpolated quantile of already sorted samples."""
    if len(sorted_samples) == 1:
        return sorted_samples[0]
    pos = q * (len(sorted_samples) - 1)
    low = int(pos)
    high = min(low + 1, len(sorted_samples) - 1)
    return sorted_samples[low] + (sorted_samples[high] - sorted_samples[low]) * (pos - low)


# -- timing --------------------------------------------------------------------------------------
def ipython_shell():
    """An IPython shell with wagi_nb loaded and no history database."""
    from IPython.core.interactiveshell import InteractiveShell
    from traitlets.config import Config

    config = Config()
    config.HistoryManager.enabled = False
    shell = InteractiveShell.instance(config=config)
    shell.run_line_magic("load_ext", "wagi_nb")
    return shell


def time_once(func: Callable[[], object]) -> float:
    """Seconds one call of ``func`` took."""
    start = time.perf_counter()
    func()
    return time.perf_counter() - start


def time_loop(func: Callable[[], object], iterations: int) -> float:
    """Mean seconds per call over ``iterations`` back-to-back calls."""
    start = time.perf_counter()
    for _ in range(iterations):
        func()
    return (time.perf_counter() - start) / iterations


# -- the run's context -------------------------------------------------------------------------
@dataclass
class Context:
    """Passed to every benchmark: how hard to try, and where to put files."""

    quick: bool
    #: A private folder for this run (removed afterwards); the wagi_nb cache lives under it.
    scratch: Path
    #: Anything benchmarks want to share (built artifacts, the CLI path).
    shared: Dict[str, object] = field(default_factory=dict)

    def reps(self, full: int, quick: int) -> int:
        return quick if self.quick else full

    #: Folders made outside ``scratch`` (e.g. in /dev/shm), removed with it.
    elsewhere: List[Path] = field(default_factory=list)

    def folder(self, name: str, within: Optional[str] = None) -> Path:
        """A new empty folder under ``scratch``, or under ``within`` (removed at the end too)."""
        path = Path(tempfile.mkdtemp(prefix=f"{name}-", dir=within or self.scratch))
        if within:
            self.elsewhere.append(path)
        return path


def fast_tmp() -> str:
    """The folder kind wagi_nb keeps per-run stdout in: memory-backed /dev/shm when writable."""
    shm = "/dev/shm"
    return shm if os.path.isdir(shm) and os.access(shm, os.W_OK) else tempfile.gettempdir()


def fs_type(path: str) -> str:
    """The file system type ``path`` lives on (``tmpfs``, ``ext4``), from /proc/mounts."""
    real, best, kind = os.path.realpath(path), "", "unknown file system"
    try:
        for line in Path("/proc/mounts").read_text().splitlines():
            fields = line.split()
            if len(fields) >= 3 and (real == fields[1] or real.startswith(fields[1].rstrip("/") + "/")) \
                    and len(fields[1]) >= len(best):
                best, kind = fields[1], fields[2]
    except OSError:
        pass
    return kind


# -- the machine ----------------------------------------------------------------------------------
def _first(path: str, prefix: str) -> str:
    try:
        for line in Path(path).read_text().splitlines():
            if line.startswith(prefix):
                return line.split(":", 1)[1].strip() if ":" in line else line.split("=", 1)[1]
    except OSError:
        pass
    return ""


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "not installed"


def _git(*args: str) -> str:
    try:
        done = subprocess.run(["git", "-C", str(REPO), *args], capture_output=True, text=True,
                              timeout=10)
    except (OSError, subprocess.SubprocessError):
        return ""
    return done.stdout.strip() if done.returncode == 0 else ""


def machine_info() -> List[tuple]:
    """(label, value) pairs describing where the figures were taken."""
    cpu = _first("/proc/cpuinfo", "model name") or platform.processor() or platform.machine()
    logical = os.cpu_count() or 0
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else logical
    mem_kib = _first("/proc/meminfo", "MemTotal").split()
    ram = f"{int(mem_kib[0]) / 1024 / 1024:.1f} GiB" if mem_kib else "unknown"
    os_name = _first("/etc/os-release", "PRETTY_NAME=").strip('"') or platform.system()
    items = [
        ("CPU", cpu),
        ("Cores", f"{logical} logical CPUs ({usable} usable by this process)"),
        ("RAM", ram),
        ("Load average at start", " / ".join(f"{x:.2f}" for x in os.getloadavg())
         + " (1 / 5 / 15 min; other work on the machine skews the figures)"),
        ("OS", f"{os_name}, Linux {platform.release()} ({platform.machine()})"),
        ("Python", f"{platform.python_implementation()} {platform.python_version()} ({sys.executable})"),
        ("wasmtime-py", _version("wasmtime")),
        ("IPython", _version("ipython")),
    ]
    try:
        from wagi_nb import __version__, toolchains
        info = toolchains.discover("rust")
        rustc = f"{info.version} at {info.path}, target {info.target}" if info.found else \
            f"not found ({info.note})"
        items.append(("rustc (as wagi_nb discovers it)", rustc))
        commit = _git("rev-parse", "--short", "HEAD")
        dirty = " + uncommitted changes" if _git("status", "--porcelain") else ""
        items.append(("wagi_nb", f"{__version__} (git {commit or 'unknown'}{dirty})"))
    except Exception as error:  # the report should still say where it ran
        items.append(("wagi_nb", f"import failed: {error}"))
    return items
