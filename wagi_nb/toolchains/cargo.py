"""Cargo for Rust cells with dependencies, and for existing crates (``%wasm_cargo``).

* **Pairing.** The ``cargo`` beside the chosen ``rustc`` (Debian's ``/usr/bin/cargo`` with
  ``/usr/bin/rustc``, a rustup toolchain's with its own), always told ``RUSTC`` — never rustup's
  newest cargo driving Debian's older rustc.
* **Where crates come from.** The user's own Cargo configuration (crates.io, their mirrors,
  ``config.toml``), except that Debian's rustc is given Debian's vendored crates
  (``/usr/share/cargo/registry``, the ``librust-*-dev`` packages, built for that rustc) as its
  crates.io: they build offline, where crates.io's newest releases may need a newer compiler.
  ``WAGI_NB_CARGO_SOURCE`` chooses: ``auto`` (that), ``crates-io`` (the user's configuration as
  it is) or the path of a directory source.
* **One dependency set, one build of the dependencies.** Cells with the same dependencies and
  compiler share a folder under the build cache with the resolved ``Cargo.lock`` and a target
  folder, so only the first compiles the dependencies; each later cell compiles its own crate.
"""
from __future__ import annotations

import fcntl
import functools
import hashlib
import json
import os
import re
import shlex
import sys
import tempfile
from pathlib import Path
from typing import List, NamedTuple, Optional, Tuple

import tomli_w

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

from ..cache import atomic_write, cache_root
from ..defaults import usable_cpus
from ..errors import CompileError, WagiNbError
from . import crate_sources
from .base import Progress, capture, run_compiler

SOURCE_ENV = "WAGI_NB_CARGO_SOURCE"
DEBIAN_REGISTRY = "/usr/share/cargo/registry"
PACKAGE = "cell"
#: Release builds as the single-file rustc call makes them: optimised, no debug info.
PROFILES = {"release": {"opt-level": 3, "strip": "debuginfo"}}
#: ``%wasm_cargo --new NAME``'s src/main.rs: a working Wagi handler, as a cell's hello world.
HANDLER = """\
// A Wagi handler: Wagi runs this program once per request, as CGI. It prints the response's
// headers, an empty line, then the body. The request comes in environment variables (PATH_INFO,
// QUERY_STRING, REQUEST_METHOD, ...) and its body on standard input.
fn main() {
    println!("Content-Type: text/plain");
    println!();
    println!("Hello, world!");
}
"""
#: Added to its Cargo.toml: release builds as a cell's (PROFILES), so a plain `cargo build --release`
#: (an export's) makes the module %wasm_cargo made. (%wasm_cargo builds any crate so: crate_sources.py.)
RELEASE_PROFILE = """
# Release builds as wagi_nb builds a cell: optimised, without the standard library's debug info
# (about 100 KB for this hello world instead of about 6 MB).
[profile.release]
strip = "debuginfo"
"""
_FRONTMATTER_OPEN = re.compile(r"^---[A-Za-z0-9_-]*\s*$")
_COMPILING = re.compile(r"^\s*Compiling (\S+) v?(\S+)")


# -- what a cell asks for -------------------------------------------------------------------------------
def split_frontmatter(text: str) -> Tuple[str, dict]:
    """(the Rust code, its ``[dependencies]``) of a cell that may open with a cargo-script manifest
    (``---`` … ``---``). The manifest's lines become blank lines, so line numbers stay the cell's."""
    lines = text.split("\n")
    first = next((i for i, line in enumerate(lines) if line.strip()), None)
    if first is None or not _FRONTMATTER_OPEN.match(lines[first]):
        return text, {}
    close = next((i for i in range(first + 1, len(lines)) if lines[i].strip() == "---"), None)
    if close is None:
        raise WagiNbError(f"The cell opens a Cargo manifest with `{lines[first].strip()}` on line "
                          f"{first + 1} but never closes it: end it with a line `---`.")
    manifest = "\n".join(lines[first + 1:close])
    try:
        data = tomllib.loads(manifest)
    except tomllib.TOMLDecodeError as error:
        raise WagiNbError(f"The Cargo manifest at the top of the cell is not valid TOML: {error}.") from None
    except RecursionError:
        raise WagiNbError("The Cargo manifest at the top of the cell nests arrays or tables thousands deep; "
                          "a dependency is `name = \"version\"` or `name = { version = \"1\", ... }`.") from None
    extra = sorted(set(data) - {"dependencies"})
    if extra:
        raise WagiNbError(f"The manifest at the top of the cell has {', '.join(f'[{k}]' for k in extra)}; "
                          "wagi_nb reads only [dependencies] from it.")
    dependencies = data.get("dependencies", {})
    if not isinstance(dependencies, dict):
        raise WagiNbError("[dependencies] in the cell's manifest must be a table of `name = spec` lines.")
    for name, value in dependencies.items():
        check_spec(name, value, "in the cell's manifest")
    code = "\n".join([*lines[:first], *[""] * (close - first + 1), *lines[close + 1:]])
    return code, dependencies


DEP_EXAMPLE = "e.g. --dep 'serde_json = \"1\"' or --dep 'serde = { version = \"1\", features = [\"derive\"] }'"


def parse_dependency(spec: str) -> Tuple[str, object]:
    """``--dep 'serde = { version = "1", features = ["derive"] }'`` → ("serde", {...})."""
    try:
        data = tomllib.loads(spec)
    except (tomllib.TOMLDecodeError, RecursionError):  # (TOML nested thousands deep: the parser's own limit)
        data = None
    if not data or len(data) != 1:
        raise WagiNbError(f"--dep expects one `name = spec` line of a Cargo manifest, got {_shown(spec)}; "
                          f"{DEP_EXAMPLE}.")
    name, value = next(iter(data.items()))
    check_spec(name, value, "in --dep")
    return name, value


def check_spec(name: str, value: object, where: str) -> None:
    """A dependency's spec as Cargo reads one: a version string, or a table of strings, booleans and
    arrays of strings (``version``, ``features``, ``default-features``, ``git``, ``path``...)."""
    def plain(item) -> bool:
        return isinstance(item, (str, bool)) or (isinstance(item, list) and all(isinstance(i, str) for i in item))
    if isinstance(value, str) or (isinstance(value, dict) and all(plain(v) for v in value.values())):
        return
    raise WagiNbError(f"The dependency {name!r} {where} is not a version or a table of Cargo's keys (it is "
                      f"{_kind(value)}); {DEP_EXAMPLE}.")


def _kind(value: object) -> str:
    if isinstance(value, dict):
        return "a table holding " + next(_kind(v) for v in value.values() if not isinstance(v, (str, bool)))
    if isinstance(value, list):
        return "an array that is not all strings"
    return {"date": "a TOML date", "datetime": "a TOML date and time", "time": "a TOML time", "int": "a number",
            "float": "a number", "bool": "true or false"}.get(type(value).__name__, type(value).__name__)


def _shown(spec: str) -> str:
    return repr(spec if len(spec) <= 80 else spec[:80] + "…")


def manifest(dependencies: dict, package: str = PACKAGE) -> str:
    """A Cargo.toml for one binary crate with these dependencies."""
    return tomli_w.dumps({"package": {"name": package, "version": "0.1.0", "edition": "2021"},
                          "dependencies": dependencies, "profile": PROFILES})


# -- the cargo to use ------------------------------------------------------------------------------------
def paired_cargo(rustc: str) -> Optional[str]:
    """The cargo that comes with this rustc (the one in the same folder), if there is one."""
    for folder in dict.fromkeys([os.path.dirname(rustc), os.path.dirname(os.path.realpath(rustc))]):
        cargo = os.path.join(folder, "cargo")
        if os.path.isfile(cargo) and os.access(cargo, os.X_OK):
            return cargo
    return None


def source_flags(rustc: str) -> list:
    """``--config`` arguments that pick where crates come from (see the module's docstring)."""
    choice = os.environ.get(SOURCE_ENV, "auto")
    if choice == "crates-io":
        return []
    if choice == "auto":
        debian = os.path.realpath(rustc).startswith("/usr/bin/") and os.path.isdir(DEBIAN_REGISTRY)
        if not debian:
            return []
        choice = DEBIAN_REGISTRY
    if not os.path.isdir(choice):
        raise WagiNbError(f"{SOURCE_ENV}={choice!r} is not a folder of crates. Give auto, crates-io or "
                          "the path of a Cargo directory source.")
    return ["--config", 'source.crates-io.replace-with="wagi-nb-vendored"',
            "--config", f"source.wagi-nb-vendored.directory={json.dumps(choice)}"]


def cargo_version(cargo: str) -> str:
    """``cargo --version``, asked once per cargo executable (an unchanged re-run starts no Cargo)."""
    status = os.stat(cargo)
    return _cargo_version(os.path.realpath(cargo), status.st_mtime_ns, status.st_size)


@functools.lru_cache(maxsize=None)
def _cargo_version(cargo: str, mtime_ns: int, size: int) -> str:
    return capture([cargo, "--version"]) or "cargo"


class Cargo:
    """The cargo paired with a rustc, how it is run, and where its crates come from."""

    def __init__(self, rustc: str, target: str):
        cargo = paired_cargo(rustc)
        if cargo is None:
            hint = "rustup component add cargo" if ".rustup" in os.path.realpath(rustc) else "apt-get install cargo"
            raise WagiNbError(f"Rust cells with dependencies are built with Cargo, and there is no cargo beside "
                              f"{rustc}. Install it: {hint}")
        self.path, self.rustc, self.target = cargo, rustc, target
        self.version = cargo_version(cargo)
        self.config = source_flags(rustc)
        self.offline = bool(self.config)

    @property
    def identity(self) -> dict:
        return {"cargo": self.path, "cargo_version": self.version, "sources": self.config}

    def config_file(self) -> str:
        """``.cargo/config.toml`` for a crate that builds as this cell did: this rustc, these crates."""
        config: dict = {"build": {"rustc": self.rustc}}
        if self.config:
            directory = json.loads(self.config[-1].partition("=")[2])
            config["source"] = {"crates-io": {"replace-with": "wagi-nb-vendored"},
                                "wagi-nb-vendored": {"directory": directory}}
            config["net"] = {"offline": True}
        return tomli_w.dumps(config)

    def export_command(self, release: bool, binary: str, output: str, configured: bool = True,
                       profile: Optional[dict] = None) -> str:
        """The shell command that rebuilds a crate and copies its module to ``output``, run in the
        crate's folder. ``configured``: the crate's ``.cargo/config.toml`` is :meth:`config_file`'s,
        so a plain ``cargo build`` picks this rustc and these crates; otherwise the command says so.
        ``profile``: the variables the notebook's build set (the release profile's strip)."""
        build = [self.path, "build", *(["--release"] if release else []), "--target", self.target]
        if not configured:
            build = [f"RUSTC={self.rustc}", *self.argv("build", *build[2:])]
        if profile or not configured:
            build = ["env", *(f"{name}={value}" for name, value in (profile or {}).items()), *build]
        built = f"target/{self.target}/{'release' if release else 'debug'}/{binary}.wasm"
        return shlex.join(build) + f" && mkdir -p {shlex.quote(os.path.dirname(output) or '.')} && " \
            f"cp {shlex.quote(built)} {shlex.quote(output)}"

    def environment(self, **extra: str) -> dict:
        env = dict(os.environ)
        env.update(RUSTC=self.rustc, CARGO_TERM_COLOR="never", CARGO_TERM_PROGRESS_WHEN="never", **extra)
        return env

    def argv(self, command: str, *extra: str) -> list:
        return [self.path, command, *self.config, *(["--offline"] if self.offline else []), *extra]

    def run(self, command: str, cwd: Path, *extra: str, progress: Optional[Progress] = None,
            status=None, env: Optional[dict] = None) -> tuple:
        return run_compiler(self.argv(command, *extra), cwd, progress, env=self.environment(**(env or {})),
                            status=status)

    # -- a dependency set: its lock and its target folder ------------------------------------------------
    def dependency_folder(self, dependencies: dict, rustc_identity: dict) -> Path:
        record = json.dumps({"dependencies": dependencies, "rustc": rustc_identity, **self.identity},
                            sort_keys=True)
        return cache_root() / "cargo" / hashlib.sha256(record.encode()).hexdigest()[:24]

    def new_crate(self, path: Path) -> str:
        """``cargo new --bin --vcs none PATH`` (the seed's ``cargo new hello-rust``), its src/main.rs a
        Wagi handler and its release profile a cell's; returns cargo's words. Refuses a path that exists."""
        if path.exists() or path.is_symlink():
            crate = (path / "Cargo.toml").is_file()
            what = "a Cargo crate" if crate else "a folder" if path.is_dir() else "a file"
            then = f"build it with %wasm_cargo {path}, or give" if crate else "give"
            raise WagiNbError(f"{path} is already {what}, so --new made nothing and changed nothing there: "
                              f"{then} --new a name that is not taken.")
        code, text = self.run("new", path.parent if path.parent != Path("") else Path.cwd(), "--bin",
                              "--vcs", "none", path.name)
        if code != 0:
            raise WagiNbError(f"cargo new {path} failed: {text.strip()}")
        (path / "src" / "main.rs").write_text(HANDLER)
        with open(path / "Cargo.toml", "a") as manifest:
            manifest.write(RELEASE_PROFILE)
        return text.strip()

    def build_crate(self, crate: Path, release: bool, binary: Optional[str] = None,
                    progress: Optional[Progress] = None) -> "BuiltCrate":
        """Build an existing crate for wasm (a release build without debug info unless the crate says
        otherwise: crate_sources.release_environment)."""
        profile = ["--release"] if release else []
        choose = ["--bin", binary] if binary else []
        code, text = self.run("build", crate, *profile, *choose, "--target", self.target,
                              "--message-format=json-render-diagnostics", progress=progress,
                              status=lambda line: _compiling_status(line),
                              env=crate_sources.release_environment(crate) if release else None)
        messages, other = [], []
        for line in text.splitlines():
            if line.startswith("{"):
                try:
                    messages.append(json.loads(line))
                    continue
                except ValueError:
                    pass
            other.append(line)
        diagnostics = cargo_diagnostics("\n".join(other), "src/main.rs")
        if code != 0:
            raise CompileError("Rust", diagnostics or f"cargo build exited with status {code}",
                               toolchain=self.version)
        binaries = [m for m in messages if m.get("reason") == "compiler-artifact" and m.get("executable")
                    and os.path.realpath(m.get("manifest_path", "")) ==
                    os.path.realpath(crate / "Cargo.toml")]
        if not binaries:
            raise WagiNbError(f"cargo built {crate} but no binary came out: give the crate a `fn main` "
                              "(src/main.rs), as `cargo new` makes it.")
        if len(binaries) > 1:
            names = ", ".join(m["target"]["name"] for m in binaries)
            raise WagiNbError(f"{crate} has several binaries ({names}): pick one with --bin NAME.")
        built, executable = binaries[0], Path(binaries[0]["executable"])
        return BuiltCrate(built["target"]["name"], executable.read_bytes(), diagnostics,
                          crate_sources.dep_info(executable, crate))

    def lock(self, folder: Path, dependencies: dict, update: bool = False) -> str:
        """The dependency set's resolved Cargo.lock, resolving it first if needed (or ``update``)."""
        lock = folder / "Cargo.lock"
        if lock.is_file() and not update:
            return lock.read_text()
        with tempfile.TemporaryDirectory(prefix="wagi_nb-resolve-") as scratch:
            crate = Path(scratch)
            (crate / "Cargo.toml").write_text(manifest(dependencies))
            (crate / "src").mkdir()
            (crate / "src" / "main.rs").write_text("fn main() {}\n")
            code, text = self.run("generate-lockfile", crate)
            if code != 0:
                text = text.replace(str(crate), "this cell")
                raise CompileError("Rust", missing_crate_help(text, dependencies, self), toolchain=self.version)
            resolved = (crate / "Cargo.lock").read_text()
        atomic_write(lock, resolved.encode())
        return resolved

    def build(self, crate: Path, folder: Path, release: bool, flags: tuple,
              progress: Optional[Progress] = None) -> Tuple[int, str, bytes]:
        """Build the crate (its Cargo.toml, Cargo.lock, src/main.rs) into the dependency set's target
        folder; returns (exit code, cargo's output, the module's bytes or b"")."""
        folder.mkdir(parents=True, exist_ok=True)
        total = max(1, (crate / "Cargo.lock").read_text().count("[[package]]"))
        done = [0]

        def status(line: str) -> Optional[str]:
            shown = _compiling_status(line)
            if shown is None:
                return None
            done[0] += 1
            return f"{shown} ({done[0]}/{total})"

        profile = ["--release"] if release else []
        # Cargo's 16 code-generation units make a 2-CPU machine wait on their thin LTO; one per CPU
        # compiles a serde_json cell in two thirds of the time (benchmarks/cargo.py). A --flags value wins.
        flags = ("-C", f"codegen-units={min(16, usable_cpus())}", *flags) if release else flags
        with open(folder / "wagi_nb.lock", "w") as held:
            # Cells of one dependency set take turns: each copies its module out before the next build.
            fcntl.flock(held, fcntl.LOCK_EX)
            code, text = self.run("rustc", crate, *profile, "--locked", "--target", self.target,
                                  "--target-dir", str(folder / "target"), "--bin", PACKAGE,
                                  *(["--", *flags] if flags else []), progress=progress, status=status)
            built = folder / "target" / self.target / ("release" if release else "debug") / f"{PACKAGE}.wasm"
            wasm = built.read_bytes() if code == 0 and built.is_file() else b""
        return code, text, wasm


class BuiltCrate(NamedTuple):
    """What :meth:`Cargo.build_crate` made: the binary's name, the module, Cargo's warnings, and the
    files its dep-info says the build read (None without one)."""
    binary: str
    wasm: bytes
    warnings: str
    sources: Optional[List[str]]


def paired_with(info) -> Cargo:
    """The :class:`Cargo` for a discovered rustc (its ToolchainInfo), made once per rustc and crate
    source: a cache hit of a dependency cell starts no Cargo and asks nothing twice."""
    return _paired(info.path, info.target, os.environ.get(SOURCE_ENV, "auto"))


@functools.lru_cache(maxsize=16)
def _paired(rustc: str, target: str, source: str) -> Cargo:
    return Cargo(rustc, target)


def _compiling_status(line: str) -> Optional[str]:
    match = _COMPILING.match(line)
    return f"Compiling {match.group(1)} {match.group(2)}" if match else None


def compiled_crates(output: str) -> list:
    """The crates Cargo's output says it compiled, in order (``["serde", "cell"]``)."""
    return [match.group(1) for match in map(_COMPILING.match, output.splitlines()) if match]


def cargo_diagnostics(output: str, source: str = "cell.rs") -> str:
    """Cargo's output as the cell's diagnostics: its progress lines out, src/main.rs as the cell."""
    keep = [line for line in output.splitlines()
            if not re.match(r"^\s*(Compiling|Finished|Blocking|Updating|Locking|Downloaded?|Fresh)\b", line)]
    return "\n".join(keep).replace("src/main.rs", source).strip()


def stale_lock(output: str) -> bool:
    """Cargo refused the kept lock: it names versions the registry no longer has."""
    return bool(re.search(r"\(locked to \S+\)|lock file .* needs to be updated", output))


def missing_crate_help(output: str, dependencies: dict, cargo: Cargo) -> str:
    text = cargo_diagnostics(output)
    names = ", ".join(sorted(dependencies))
    if re.search(r"network failure|failed to fetch|Unable to update registry", output):
        where = ("Cargo could not reach its registry: check the network, or point Cargo at a mirror "
                 "(source replacement in ~/.cargo/config.toml), or at a folder of crates with "
                 f"{SOURCE_ENV}=PATH (a Cargo directory source, as `cargo vendor` makes)")
    elif cargo.config and DEBIAN_REGISTRY in " ".join(cargo.config):
        where = (f"Debian's rustc takes its crates from Debian's packages ({DEBIAN_REGISTRY}): install the "
                 "crate's librust-<name>-dev package (apt-get install librust-serde-json-dev, say), or set "
                 f"{SOURCE_ENV}=crates-io to use crates.io with a newer rustc")
    else:
        where = "check each name and version on crates.io (or in your Cargo registry)"
    return (f"{text}\n\nCargo could not resolve this cell's dependencies ({names}): {where}.").strip()
