"""Zig: ``zig build-exe`` from the ``ziglang`` PyPI package or a ``zig`` on PATH."""
from __future__ import annotations

import functools
import json
import os
import re
import shlex
import subprocess
from pathlib import Path
from typing import Optional, Sequence

from .base import Toolchain, ToolchainInfo, capture, executables, resolve_override, saying
from .discovery_cache import observe_file, spec_location

ZIG_INSTALL = "pip install 'wagi-nb[zig]'  (or: pip install ziglang)"


def fix_stuck(binary: str) -> str:
    """How to make the ziglang package's binary executable again."""
    return f"chmod +x {shlex.quote(binary)}  (or reinstall it: pip install --force-reinstall ziglang)"


def bundled_zig() -> Optional[str]:
    """Where the ziglang package keeps its zig binary (None without the package); it may not run."""
    package = spec_location("ziglang")
    return os.path.join(package, "zig") if package else None


def runnable(path: Optional[str]) -> bool:
    """Whether ``path`` is an executable file (recorded: a ``chmod +x`` changes the answer)."""
    if not path:
        return False
    observe_file(path)
    return os.path.isfile(path) and os.access(path, os.X_OK)


def find_zig(override: Optional[str] = None) -> Optional[str]:
    """The zig binary: a configured one, the ziglang package's, or the first on PATH. A package whose
    binary cannot run (unpacked without its execute bit) does not hide a working zig on PATH."""
    if override:
        return resolve_override(override)
    bundled = bundled_zig()
    if runnable(bundled):
        return bundled
    found = executables("zig")
    return found[0] if found else None


def stuck_zig() -> Optional[str]:
    """The ziglang package's binary when it is there but not executable, else None."""
    bundled = bundled_zig()
    return bundled if bundled and os.path.isfile(bundled) and not runnable(bundled) else None


# -- what a first build for wasm32-wasi builds first -----------------------------------------------
# Zig builds its compiler_rt for the target (and wasi-libc, with -lc) the first time a program needs
# them, into its global cache: seconds to a minute, during which it prints nothing to a pipe. Whether
# the cache already has them is told by its files: a wasm compiler_rt archive, wasi-libc's crt1.
_GLOBAL_CACHE = re.compile(r'global_cache_dir"?\s*[=:]\s*("(?:[^"\\]|\\.)*")')
_WASM_OBJECT = b"\x00asm\x01\x00\x00\x00"
#: Global caches seen holding wasm32-wasi's compiler_rt (and wasi-libc): they keep them.
_has_runtime: set = set()


def links_libc(flags: Sequence[str]) -> bool:
    """Whether a build's flags link libc (``-lc``, ``-l c``, ``--library c``)."""
    return "-lc" in flags or any(flag in ("-l", "--library") and value == "c"
                                 for flag, value in zip(flags, flags[1:], strict=False))


def first_build_work(zig: str, libc: bool) -> str:
    """What a build with ``zig`` will build before the cell, when its global cache lacks a wasm32
    compiler_rt (or, ``libc``, wasi-libc) — "" when it has them or cannot be found."""
    cache = global_cache_dir(zig, os.environ.get("ZIG_GLOBAL_CACHE_DIR"), os.environ.get("XDG_CACHE_HOME"),
                             os.environ.get("HOME"))
    if cache is None:
        return ""
    needs_rt = (cache, "compiler_rt") not in _has_runtime and not _holds(cache, "libcompiler_rt.a", _is_wasm)
    needs_libc = libc and (cache, "libc") not in _has_runtime and not _holds(cache, "crt1-command.o")
    parts = [name for name, needed in (("libc (wasi-libc)", needs_libc), ("compiler_rt", needs_rt)) if needed]
    return f"building Zig's {' and '.join(parts)} for wasm32-wasi (first build only)" if parts else ""


@functools.lru_cache(maxsize=8)
def global_cache_dir(zig: str, *environment: Optional[str]) -> Optional[Path]:
    """Zig's global cache folder, as ``zig env`` says (per zig and the variables it reads)."""
    try:
        done = subprocess.run([zig, "env"], capture_output=True, timeout=30, stdin=subprocess.DEVNULL)
        match = _GLOBAL_CACHE.search(done.stdout.decode("utf-8", "replace"))
        return Path(json.loads(match.group(1))) if match else None
    except (OSError, subprocess.SubprocessError, ValueError):
        return None


def _holds(cache: Path, name: str, check=lambda path: True) -> bool:
    """Whether one of the cache's artifact folders (``o/<hash>/``) holds ``name`` (that passes ``check``)."""
    try:
        folders = list(os.scandir(cache / "o"))
    except OSError:
        return False
    found = any(os.path.isfile(path) and check(path) for path in (os.path.join(f.path, name) for f in folders))
    if found:
        _has_runtime.add((cache, "compiler_rt" if name == "libcompiler_rt.a" else "libc"))
    return found


def _is_wasm(path: str) -> bool:
    """Whether an archive holds wasm objects (its first member follows the symbol table)."""
    try:
        with open(path, "rb") as file:
            return _WASM_OBJECT in file.read(1 << 20)
    except OSError:
        return False


class Zig(Toolchain):
    language = "zig"
    title = "Zig"
    extension = "zig"
    order = 40
    setting = "zig"
    summary = "Compile the cell as Zig (a `pub fn main`) to wasm32-wasi with zig build-exe, and run it."

    def discover(self, override: Optional[str] = None) -> ToolchainInfo:
        zig = find_zig(override)
        version = capture([zig, "version"]) if zig else None
        stuck = None if override else stuck_zig()
        if not version:
            return self.missing(name="zig", note=self.why_missing(override, zig, stuck),
                                install=fix_stuck(stuck) if stuck else ZIG_INSTALL)
        note = "configured by the user" if override else ""
        if stuck:
            note = (f"the ziglang package's zig ({stuck}) is not executable, so the `zig` on PATH is used "
                    f"(to use the package's: {fix_stuck(stuck)})")
        return self.found(name="zig", path=zig or "", version=version, target="wasm32-wasi", note=note)

    @staticmethod
    def why_missing(override: Optional[str], zig: Optional[str], stuck: Optional[str]) -> str:
        if override:
            return f"The configured zig {override!r} could not run"
        if stuck:
            return (f"The ziglang package's zig ({stuck}) is not executable, and " +
                    (f"the `zig` on PATH ({zig}) did not answer `zig version`" if zig else
                     "there is no `zig` on PATH"))
        if zig:
            return f"{zig} did not answer `zig version`"
        return "Neither the ziglang package nor a `zig` on PATH is installed"

    def watched(self, info, job, argv, progress):
        missing = first_build_work(info.path, links_libc(job.flags))
        return argv, saying(progress, missing) if missing else progress

    def command(self, info, job):
        # -rdynamic keeps `export fn` functions (build-exe drops them otherwise), for .exports.
        return [info.path, "build-exe", "-target", "wasm32-wasi", "-rdynamic", "-O",
                "ReleaseSmall" if job.release else "Debug", "--color", "off", *job.flags,
                job.source, f"-femit-bin={job.output}"]


TOOLCHAIN = Zig()
