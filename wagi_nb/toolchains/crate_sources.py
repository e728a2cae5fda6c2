"""What a build of an existing crate (``%wasm_cargo``) depends on, so an unchanged crate is a
build-cache hit that starts no Cargo; and the release profile wagi_nb gives it.

* **The key's files.** Each local package's ``Cargo.toml`` and every file under its ``src/`` (the crate
  and, transitively, its ``path =`` dependencies, a workspace root's included); ``Cargo.lock``,
  ``.cargo/config[.toml]``, ``Cargo.toml`` and ``rust-toolchain[.toml]`` in the crate's folder and every
  folder above it; ``$CARGO_HOME/config[.toml]``; and every file Cargo's dep-info for the last build
  named (a file ``include_str!`` reads, a ``#[path]`` module, a ``[[bin]] path`` outside ``src/``: what
  Cargo itself tracks). Each by its SHA-256, a missing one as missing. Registry crates are pinned by
  the lock and never change under a version.
* **Not for build scripts.** A ``build.rs`` (the crate's or a path dependency's) may read any file or
  variable, and only Cargo knows what it asked to be re-run on: such a crate is always built by Cargo
  (which then decides what to rebuild), as before.
* **The release profile.** Cargo's default release profile keeps the standard library's debug info:
  5.8 MB for ``hello world`` where a cell's release build is 95 KB. A crate whose own settings
  (``[profile.release]`` ``strip`` or ``debug`` in its or its workspace's ``Cargo.toml``, a Cargo
  configuration file, ``CARGO_PROFILE_RELEASE_*``) do not say otherwise is built as a cell is:
  ``CARGO_PROFILE_RELEASE_STRIP=debuginfo`` (Cargo 1.59+).
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import sys
from pathlib import Path
from typing import Dict, Iterable, List, Optional

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

from ..cache import atomic_write

#: Files beside the crate and above it that change what Cargo builds.
FOLDER_FILES = ("Cargo.toml", "Cargo.lock", ".cargo/config", ".cargo/config.toml",
                "rust-toolchain", "rust-toolchain.toml")
#: The release profile a crate gets unless it says otherwise, as a cell's (cargo.PROFILES).
RELEASE_STRIP = {"CARGO_PROFILE_RELEASE_STRIP": "debuginfo"}
#: Variables that change a Cargo build besides the files (a cell's rustc is its identity).
_ENVIRONMENT = re.compile(r"^(CARGO_.*|RUSTFLAGS|RUSTC_WRAPPER|RUSTC_WORKSPACE_WRAPPER|RUSTUP_TOOLCHAIN)$")


def _toml(path: Path) -> dict:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError, RecursionError):
        return {}


def _cargo_home() -> Path:
    return Path(os.environ.get("CARGO_HOME") or Path.home() / ".cargo")


def _config_files(crate: Path) -> List[Path]:
    """The files above and beside the crate, and Cargo's home configuration."""
    home = _cargo_home()
    return [*(folder / name for folder in (crate, *crate.parents) for name in FOLDER_FILES),
            home / "config", home / "config.toml"]


def release_environment(crate: Path) -> dict:
    """``CARGO_PROFILE_RELEASE_STRIP=debuginfo`` unless the crate's own settings choose (see above)."""
    if os.environ.keys() & {"CARGO_PROFILE_RELEASE_STRIP", "CARGO_PROFILE_RELEASE_DEBUG"}:
        return {}
    # The crate's manifest, its workspace root's (the one whose profiles Cargo uses), Cargo's configuration.
    manifests = [_toml(folder / "Cargo.toml") for folder in (crate, *crate.parents)]
    settings = [manifests[0], *(manifest for manifest in manifests[1:] if "workspace" in manifest)]
    settings += [_toml(path) for path in _config_files(crate) if path.name in ("config", "config.toml")]
    for setting in settings:
        release = (setting.get("profile") or {}).get("release")
        if isinstance(release, dict) and ("strip" in release or "debug" in release):
            return {}
    return dict(RELEASE_STRIP)


def _path_dependencies(manifest: dict, folder: Path) -> List[Path]:
    """The folders of a manifest's ``path =`` dependencies (of every kind, per target, patched,
    replaced, or a workspace's)."""
    tables: list = []

    def kinds(table) -> None:
        if isinstance(table, dict):
            tables.extend(table.get(kind) for kind in ("dependencies", "dev-dependencies", "build-dependencies"))

    kinds(manifest)
    for per_target in (manifest.get("target") or {}).values():
        kinds(per_target)
    tables.extend((manifest.get("patch") or {}).values())
    tables.append(manifest.get("replace"))
    kinds(manifest.get("workspace"))
    return [Path(os.path.normpath(folder / spec["path"])) for table in tables if isinstance(table, dict)
            for spec in table.values() if isinstance(spec, dict) and isinstance(spec.get("path"), str)]


def _has_build_script(manifest: dict, folder: Path) -> bool:
    build = (manifest.get("package") or {}).get("build")
    return bool(build) if build is not None else (folder / "build.rs").exists()


def crate_inputs(crate: Path, remembered: Iterable[str] = ()) -> Optional[Dict[str, Optional[str]]]:
    """Every file a build of ``crate`` depends on (with ``remembered``, the files the last build's
    dep-info named) → its SHA-256, None for a file that is not there; None when a build script
    makes that unknowable."""
    files = {Path(name) for name in remembered} | set(_config_files(crate))
    # The crate, its path dependencies, and a workspace root's (its [patch] and [workspace.dependencies]).
    packages = [crate, *(folder for folder in crate.parents
                         if "workspace" in _toml(folder / "Cargo.toml"))]
    seen: set = set()
    while packages:
        folder = packages.pop()
        if folder in seen:
            continue
        seen.add(folder)
        manifest = _toml(folder / "Cargo.toml")
        if not manifest or (manifest.get("package") and _has_build_script(manifest, folder)):
            return None
        files.add(folder / "Cargo.toml")
        files.update(path for path in (folder / "src").rglob("*") if path.is_file())
        # Path dependencies are part of the key, not a reason to skip it: their manifests and src/ here,
        # and through the dep-info every other file of theirs the build read.
        packages.extend(_path_dependencies(manifest, folder))
    return {str(path): _digest(path) for path in sorted(files)}


def _digest(path: Path) -> Optional[str]:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None


def environment() -> dict:
    """The variables of this process that change a Cargo build."""
    return {name: value for name, value in sorted(os.environ.items()) if _ENVIRONMENT.match(name)}


def dep_info(executable: Path, crate: Path) -> Optional[List[str]]:
    """The files Cargo's dep-info beside a built binary names (the sources of the crate and of its
    path dependencies, files ``include_str!`` read), or None when there is none."""
    try:
        text = executable.with_suffix(".d").read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    files: list = []
    for line in text.splitlines():
        _, colon, names = line.partition(": ")
        files += [os.path.normpath(crate / name.replace("\\ ", " ")) for name in re.split(r"(?<!\\) ", names)
                  if colon and name]
    return files


def after_build(crate: Path, before: Dict[str, Optional[str]],
                built_from: Optional[List[str]]) -> Optional[Dict[str, Optional[str]]]:
    """The inputs as the build left them (with the files its dep-info names), or None when they cannot
    key it: no dep-info, a file it names that is not there (a relative ``dep-info-basedir``), or a file
    that changed while Cargo ran (the next call lets Cargo look again)."""
    if built_from is None:
        return None
    after = crate_inputs(crate, built_from)
    if after is None or any(after.get(str(Path(name))) is None for name in built_from):
        return None
    # (A file Cargo made, Cargo.lock on a first build, was not there before: not a change.)
    if any(digest is not None and name in after and after[name] != digest for name, digest in before.items()):
        return None
    return after


# -- the dep-info files of the last build, per crate and profile -----------------------------------------
def _remembered_path(root: Path, crate: Path, release: bool, binary: Optional[str]) -> Path:
    record = json.dumps([str(crate), release, binary])
    return root / "crates" / f"{hashlib.sha256(record.encode()).hexdigest()[:24]}.json"


def remembered(root: Path, crate: Path, release: bool, binary: Optional[str]) -> List[str]:
    try:
        files = json.loads(_remembered_path(root, crate, release, binary).read_text())["files"]
    except (OSError, ValueError, KeyError, TypeError):
        return []
    return [name for name in files if isinstance(name, str)]


def remember(root: Path, crate: Path, release: bool, binary: Optional[str], files: List[str]) -> None:
    atomic_write(_remembered_path(root, crate, release, binary), json.dumps({"files": files}).encode())
