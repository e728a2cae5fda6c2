"""Zig: ``zig build-exe`` from the ``ziglang`` PyPI package or a ``zig`` on PATH."""
from __future__ import annotations

import os
from typing import Optional

from .base import Toolchain, ToolchainInfo, capture, executables, resolve_override
from .discovery_cache import observe_file, spec_location

ZIG_INSTALL = "pip install 'wagi-nb[zig]'  (or: pip install ziglang)"


def find_zig(override: Optional[str] = None) -> Optional[str]:
    """The zig binary: a configured one, the ziglang package's, or the first on PATH."""
    if override:
        return resolve_override(override)
    package = spec_location("ziglang")
    bundled = [os.path.join(package, "zig")] if package else []
    found = executables("zig", []) if not bundled else []
    for path in [*bundled, *found]:
        observe_file(path)
        if os.path.isfile(path) and os.access(path, os.X_OK):
            return path
    return None


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
        if not version:
            where = (f"The configured zig {override!r} could not run" if override else
                     "Neither the ziglang package nor a `zig` on PATH is installed")
            return self.missing(name="zig", note=where, install=ZIG_INSTALL)
        return self.found(name="zig", path=zig or "", version=version, target="wasm32-wasi",
                          note="configured by the user" if override else "")

    def command(self, info, job):
        # -rdynamic keeps `export fn` functions (build-exe drops them otherwise), for .exports.
        return [info.path, "build-exe", "-target", "wasm32-wasi", "-rdynamic", "-O",
                "ReleaseSmall" if job.release else "Debug", "--color", "off", *job.flags,
                job.source, f"-femit-bin={job.output}"]


TOOLCHAIN = Zig()
