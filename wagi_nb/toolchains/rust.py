"""Rust: a ``rustc`` that has a WASI target, called directly on the cell's one file; with Cargo
(``cargo.py``) when the cell depends on crates (``--dep``, or a cargo-script manifest at its top)."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Dict, Optional

from ..errors import CompileError
from . import cargo
from .base import CompileJob, Toolchain, ToolchainInfo, capture, executables, resolve_override
from .discovery_cache import observe_ancestors, observe_file, observe_glob
from .wasi_libc import describe, has_heap_end

#: Newest name first: rustup calls it wasm32-wasip1 since Rust 1.78, Debian's 1.63 wasm32-wasi.
TARGETS = ("wasm32-wasip1", "wasm32-wasi")


def rustup_home() -> Path:
    return Path(os.environ.get("RUSTUP_HOME") or Path.home() / ".rustup")


def cargo_home() -> Path:
    return Path(os.environ.get("CARGO_HOME") or Path.home() / ".cargo")


def candidates() -> list:
    """Every rustc worth asking, in order of preference: rustup's proxy (``~/.cargo/bin/rustc``, which
    runs the toolchain rustup's settings or a rust-toolchain file choose), then each rustup toolchain's
    own rustc (one may have the wasm target the chosen one lacks), then PATH's, then Debian's. rustup's
    come first even when /usr/bin is earlier on PATH: whoever added the wasm target to a rustup
    toolchain means that one, not Debian's older rustc. (The first with a WASI target wins.)"""
    toolchains = observe_glob(str(rustup_home() / "toolchains" / "*" / "bin" / "rustc"))
    return executables("rustc", ["/usr/bin/rustc"], first=[str(cargo_home() / "bin" / "rustc"), *toolchains])


def wasi_target(rustc: str) -> tuple:
    """(version, target, the wasi-libc its target links) of a rustc; target "" when it has no WASI
    standard library."""
    version = capture([rustc, "--version"])
    sysroot = capture([rustc, "--print", "sysroot"])
    if rustup_proxy(rustc):
        # rustup picks the toolchain from its settings, RUSTUP_TOOLCHAIN (part of the discovery
        # cache's key) and a rust-toolchain file in or above the working folder.
        observe_file(rustup_home() / "settings.toml")
        observe_ancestors("rust-toolchain", "rust-toolchain.toml")
    if not version or not sysroot:
        return "", "", ""
    # The compiler behind a proxy or a wrapper script, and the folders that say which targets it has
    # (`rustup target add` adds one to lib/rustlib): when they change, discovery asks again.
    observe_file(Path(sysroot) / "bin" / "rustc")
    observe_file(Path(sysroot) / "lib" / "rustlib")
    for target in TARGETS:
        lib = Path(sysroot) / "lib" / "rustlib" / target / "lib"
        observe_file(lib)
        if lib.is_dir():
            libc = lib / "self-contained" / "libc.a"
            observe_file(libc)
            return version, target, str(libc)
    return version, "", ""


def rustup_proxy(rustc: str) -> bool:
    """Whether this rustc is rustup's proxy, which runs the toolchain rustup's settings choose."""
    rustup = cargo_home() / "bin" / "rustup"
    try:
        return os.path.basename(os.path.realpath(rustc)).startswith("rustup") or \
            (rustup.exists() and os.path.samefile(rustc, rustup))
    except OSError:
        return False


class Rust(Toolchain):
    language = "rust"
    title = "Rust"
    aliases = ("rs",)
    extension = "rs"
    order = 10
    setting = "rustc"
    takes_dependencies = True
    summary = ("Compile the cell as Rust (a `fn main`) to wasm32-wasi and run it; with crates (--dep, or "
               "a `---` manifest at its top), through Cargo.")
    example = 'fn main() {\n    println!("Hello, world!");\n}'

    def discover(self, override: Optional[str] = None) -> ToolchainInfo:
        if override:
            path = resolve_override(override)
            version, target, libc = wasi_target(path) if path else ("", "", "")
            if not target:
                why = "is not an executable" if not path else "has no wasm32-wasip1/wasm32-wasi target"
                return self.missing(name="rustc", path=override,
                                    note=f"The configured rustc {override!r} {why}",
                                    install=self.install_hint(path))
            return self.rustc_info(path or override, version, target, libc, "configured by the user")
        passed: list = []
        for path in candidates():
            version, target, libc = wasi_target(path)
            if target:
                note = f"first rustc with a WASI target; passed over: {', '.join(passed)}" if passed \
                    else "first rustc with a WASI target"
                return self.rustc_info(path, version, target, libc, note)
            if version:
                passed.append(f"{path} ({version}, no WASI target)")
        note = ("found " + "; ".join(passed)) if passed else "no rustc found"
        return self.missing(name="rustc", note=note, install=self.install_hint(None))

    def rustc_info(self, path: str, version: str, target: str, libc: str, note: str) -> ToolchainInfo:
        # Rust's std calls wasi-libc's malloc: a Rust older than ~1.69 (Debian's 1.63) links one
        # from before PR 377, whose modules get their sbrk fixed (wasi_libc.py).
        fixed = has_heap_end(libc) if os.path.isfile(libc) else True
        return self.found(name="rustc", path=path, version=version, target=target, note=note,
                          libc=describe(libc, fixed) if os.path.isfile(libc) else "", old_libc=not fixed)

    @staticmethod
    def install_hint(path: Optional[str]) -> str:
        observe_file(cargo_home() / "bin" / "rustup")
        if (path and ".rustup" in os.path.realpath(path)) or (cargo_home() / "bin" / "rustup").exists():
            return "rustup target add wasm32-wasip1"
        return "apt-get install rustc libstd-rust-dev-wasm32"

    # -- cells with dependencies: Cargo ------------------------------------------------------------------
    def split_manifest(self, text):
        return cargo.split_frontmatter(text)

    def _cargo(self, info: ToolchainInfo, job: CompileJob) -> tuple:
        setup = cargo.paired_with(info)
        return setup, setup.dependency_folder(dict(job.dependencies), info.identity)

    def key_inputs(self, info, job):
        if not job.dependencies:
            return super().key_inputs(info, job)
        setup, folder = self._cargo(info, job)
        lock = setup.lock(folder, dict(job.dependencies), update=job.update)
        return {**info.identity, **setup.identity, "lock": lock, "release": job.release,
                "flags": list(job.flags)}

    def compile(self, info, workdir: Path, job, progress=None) -> str:
        if not job.dependencies:
            return super().compile(info, workdir, job, progress)
        setup, folder = self._cargo(info, job)
        (workdir / "src").mkdir()
        (workdir / "src" / "main.rs").write_text((workdir / job.source).read_text(encoding="utf-8"))
        (workdir / "Cargo.toml").write_text(cargo.manifest(dict(job.dependencies)))
        (workdir / "Cargo.lock").write_text(setup.lock(folder, dict(job.dependencies)))
        # What the command-line flags say, as a file too: an export rebuilds with plain `cargo build`.
        (workdir / ".cargo").mkdir()
        (workdir / ".cargo" / "config.toml").write_text(setup.config_file())
        code, text, wasm = setup.build(workdir, folder, job.release, job.flags, progress)
        diagnostics = cargo.cargo_diagnostics(text.replace(f"{workdir}/", "").replace(str(workdir), "this cell"),
                                             job.source)
        if code != 0 or not wasm:
            report = diagnostics or f"cargo exited with status {code}"
            if cargo.stale_lock(text):
                report += ("\n\nThis dependency set was resolved earlier and its lock is kept for "
                           "reproducible re-runs, but the registry no longer has the versions it names "
                           f"(the lock: {folder / 'Cargo.lock'}). Run the cell again with --update to "
                           "resolve the dependencies afresh.")
            raise CompileError(self.title, report, toolchain=f"{info.label}, {setup.version}")
        (workdir / job.output).write_bytes(wasm)
        return diagnostics

    def project_files(self, workdir: Path) -> Dict[str, str]:
        if not (workdir / "Cargo.toml").is_file():
            return {}
        return {name: (workdir / name).read_text()
                for name in ("Cargo.toml", "Cargo.lock", "src/main.rs", ".cargo/config.toml")}

    def project_main(self, job):
        return "src/main.rs" if job.dependencies else ""

    def export_command(self, info, job):
        if not job.dependencies:
            return super().export_command(info, job)
        return cargo.paired_with(info).export_command(job.release, cargo.PACKAGE, job.output)

    def command(self, info, job):
        profile = ["-C", "opt-level=3", "-C", "strip=debuginfo"] if job.release \
            else ["-C", "opt-level=0", "-C", "debuginfo=2"]
        return [info.path, "--target", info.target, "--edition", "2021", "--crate-type", "bin",
                "--crate-name", "cell", "--color", "never", *profile, *job.flags, job.source,
                "-o", job.output]


TOOLCHAIN = Rust()
