"""Rust: a ``rustc`` that has a WASI target, called directly on the cell's one file."""
from __future__ import annotations

import glob
import os
from pathlib import Path
from typing import Optional

from .base import Toolchain, ToolchainInfo, capture, executables, resolve_override

#: Newest name first: rustup calls it wasm32-wasip1 since Rust 1.78, Debian's 1.63 wasm32-wasi.
TARGETS = ("wasm32-wasip1", "wasm32-wasi")


def rustup_home() -> Path:
    return Path(os.environ.get("RUSTUP_HOME") or Path.home() / ".rustup")


def cargo_home() -> Path:
    return Path(os.environ.get("CARGO_HOME") or Path.home() / ".cargo")


def candidates() -> list:
    """Every rustc worth asking, in order of preference."""
    toolchains = sorted(glob.glob(str(rustup_home() / "toolchains" / "*" / "bin" / "rustc")))
    return executables("rustc", [*toolchains, str(cargo_home() / "bin" / "rustc"), "/usr/bin/rustc"])


def wasi_target(rustc: str) -> tuple:
    """(version, target) of a rustc, target "" when it has no WASI standard library."""
    version = capture([rustc, "--version"])
    sysroot = capture([rustc, "--print", "sysroot"])
    if not version or not sysroot:
        return "", ""
    for target in TARGETS:
        if (Path(sysroot) / "lib" / "rustlib" / target / "lib").is_dir():
            return version, target
    return version, ""


class Rust(Toolchain):
    language = "rust"
    title = "Rust"
    aliases = ("rs",)
    extension = "rs"
    order = 10
    setting = "rustc"
    summary = "Compile the cell as Rust (a `fn main`) to wasm32-wasi and run it."
    example = 'fn main() {\n    println!("Hello, world!");\n}'

    def discover(self, override: Optional[str] = None) -> ToolchainInfo:
        if override:
            path = resolve_override(override)
            version, target = wasi_target(path) if path else ("", "")
            if not target:
                why = "is not an executable" if not path else "has no wasm32-wasip1/wasm32-wasi target"
                return self.missing(name="rustc", path=override,
                                    note=f"The configured rustc {override!r} {why}",
                                    install=self.install_hint(path))
            return self.found(name="rustc", path=path or override, version=version, target=target,
                              note="configured by the user")
        passed: list = []
        for path in candidates():
            version, target = wasi_target(path)
            if target:
                note = f"first rustc with a WASI target; passed over: {', '.join(passed)}" if passed \
                    else "first rustc with a WASI target"
                return self.found(name="rustc", path=path, version=version, target=target, note=note)
            if version:
                passed.append(f"{path} ({version}, no WASI target)")
        note = ("found " + "; ".join(passed)) if passed else "no rustc found"
        return self.missing(name="rustc", note=note, install=self.install_hint(None))

    @staticmethod
    def install_hint(path: Optional[str]) -> str:
        if (path and ".rustup" in os.path.realpath(path)) or (cargo_home() / "bin" / "rustup").exists():
            return "rustup target add wasm32-wasip1"
        return "apt-get install rustc libstd-rust-dev-wasm32"

    def command(self, info, job):
        profile = ["-C", "opt-level=3", "-C", "strip=debuginfo"] if job.release \
            else ["-C", "opt-level=0", "-C", "debuginfo=2"]
        return [info.path, "--target", info.target, "--edition", "2021", "--crate-type", "bin",
                "--crate-name", "cell", "--color", "never", *profile, *job.flags, job.source,
                "-o", job.output]


TOOLCHAIN = Rust()
