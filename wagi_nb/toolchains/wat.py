"""WAT: wasmtime's own text-format parser, in process; nothing to install."""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import wasmtime

from ..errors import CompileError
from .base import Toolchain, ToolchainInfo


def wasmtime_version() -> str:
    from importlib.metadata import version
    return version("wasmtime")


class Wat(Toolchain):
    language = "wat"
    title = "WAT"
    extension = "wat"
    order = 50
    has_profiles = False
    takes_flags = False
    #: Nothing to probe (and its version is the installed wasmtime's, which the file would not track).
    cache_discovery = False
    summary = "Assemble the cell as WebAssembly text (a module exporting `_start`) and run it."

    def discover(self, override: Optional[str] = None) -> ToolchainInfo:
        return self.found(name="wat2wasm", path="wasmtime.wat2wasm",
                          version=f"wasmtime-py {wasmtime_version()}", target="wasm32",
                          note="built into wasmtime")

    def command(self, info, job):
        # Only for writing build instructions down (exports); cells compile in process below.
        script = ('import sys, wasmtime; open(sys.argv[2], "wb")'
                  '.write(wasmtime.wat2wasm(open(sys.argv[1]).read()))')
        return [sys.executable, "-c", script, job.source, job.output]

    def compile(self, info, workdir: Path, job, progress=None) -> str:
        text = (workdir / job.source).read_text(encoding="utf-8")
        try:
            wasm = wasmtime.wat2wasm(text)
        except wasmtime.WasmtimeError as error:
            raise CompileError(self.title, str(error).replace("<anon>", job.source),
                               toolchain=info.version) from None
        (workdir / job.output).write_bytes(wasm)
        return ""


TOOLCHAIN = Wat()
