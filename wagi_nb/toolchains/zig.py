"""Zig: ``zig build-exe`` from the ``ziglang`` PyPI package or a ``zig`` on PATH."""
from __future__ import annotations

import os
import shlex
from typing import Optional

from .base import Toolchain, ToolchainInfo, capture, executables, resolve_override
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

    def command(self, info, job):
        # -rdynamic keeps `export fn` functions (build-exe drops them otherwise), for .exports.
        return [info.path, "build-exe", "-target", "wasm32-wasi", "-rdynamic", "-O",
                "ReleaseSmall" if job.release else "Debug", "--color", "off", *job.flags,
                job.source, f"-femit-bin={job.output}"]


TOOLCHAIN = Zig()
