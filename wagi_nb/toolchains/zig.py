"""Zig: ``zig build-exe`` from the ``ziglang`` PyPI package or a ``zig`` on PATH."""
from __future__ import annotations

import importlib.util
import os
from typing import Optional

from .base import Toolchain, ToolchainInfo, capture, executables, resolve_override

ZIG_INSTALL = "pip install 'wagi-nb[zig]'  (or: pip install ziglang)"


def find_zig(override: Optional[str] = None) -> Optional[str]:
    """The zig binary: a configured one, the ziglang package's, or the first on PATH."""
    if override:
        return resolve_override(override)
    spec = importlib.util.find_spec("ziglang")
    bundled = []
    if spec and spec.submodule_search_locations:
        bundled.append(os.path.join(list(spec.submodule_search_locations)[0], "zig"))
    found = executables("zig", []) if not bundled else []
    for path in [*bundled, *found]:
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
            where = f"The configured zig {override!r} could not run" if override else "no zig found"
            return self.missing(name="zig", note=where, install=ZIG_INSTALL)
        return self.found(name="zig", path=zig or "", version=version, target="wasm32-wasi",
                          note="configured by the user" if override else "")

    def command(self, info, job):
        return [info.path, "build-exe", "-target", "wasm32-wasi", "-O",
                "ReleaseSmall" if job.release else "Debug", "--color", "off", *job.flags,
                job.source, f"-femit-bin={job.output}"]


TOOLCHAIN = Zig()
