"""Discovery results kept on disk, so a new kernel does not ask every compiler who it is again.

Discovering a toolchain starts processes (``rustc --version``, ``rustc --print sysroot``,
``clang -print-file-name=libc.a`` …): about 90 ms for Rust on a machine with rustup and
Debian's rustc, on the first cell of every kernel. While it runs, discovery *records what it
looked at* (:func:`observe_file` and friends, called by the probing helpers in ``base.py``
and the languages' files): every executable it ran or looked for, and its size, mtime, inode
and ctime (or that it was not there); the sysroot folders that decided a target; the
``find_spec`` and ``which`` answers it used; and the files of wagi_nb's discovery code itself. A result is kept in
``<cache root>/toolchains/<language>-<key>.json``, where the key is a hash of the language,
the compiler the user configured, and the environment discovery reads (``PATH``, ``HOME``,
the working folder, the Python environment's prefix, ``WAGI_NB_*``, ``RUSTUP_*``, ``CARGO_HOME``,
``GO*``, ``WASI_SDK_PATH`` …). A later process uses it only if every recorded observation is still
true (a few dozen ``stat`` calls, well under a millisecond); a compiler replaced, upgraded
or removed changes its ``stat`` and is probed again, never served from the file.

Only results that found a compiler are kept: "nothing found" is probed every time, since what
could appear is anywhere; nor is one whose files changed in the last two seconds (:func:`racy`).
:func:`wagi_nb.toolchains.refresh` (``%wasm_toolchains``) makes this process probe again and
rewrite the files; deleting the folder is always safe. A file that cannot be read or does not
hold a result is ignored.
"""
from __future__ import annotations

import dataclasses
import glob
import hashlib
import importlib.util
import json
import os
import shutil
import sys
import threading
import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple

from .._version import __version__

#: Bumped when what a file holds (or how it is checked) changes: older files are then ignored.
SCHEMA = 2
FOLDER = "toolchains"
#: A result is kept only if every file it depends on is older than this (see :func:`racy`); two
#: seconds covers the coarsest file times in use (FAT's; network file systems' are finer).
RACY_SECONDS = 2.0

#: Environment variables discovery (or a compiler asked for its version) reads; every name
#: starting with one of ENV_PREFIXES counts too.
ENV_NAMES = ("PATH", "HOME", "LD_LIBRARY_PATH", "XDG_CONFIG_HOME", "RUSTUP_HOME", "RUSTUP_TOOLCHAIN",
             "CARGO_HOME", "WASI_SDK_PATH")
ENV_PREFIXES = ("WAGI_NB_", "GO", "RUSTUP_")

_local = threading.local()


# -- what discovery looked at -------------------------------------------------------------------------
def signature(path: str) -> Optional[List[int]]:
    """What says a file (or folder) is the same one: size, mtime, inode, device, ctime; None if absent.
    Follows links, so a link pointed elsewhere, or its target replaced, changes it."""
    try:
        st = os.stat(path)
    except (OSError, ValueError):
        return None
    return [st.st_size, st.st_mtime_ns, st.st_ino, st.st_dev, st.st_ctime_ns]


def _spec(name: str) -> Optional[str]:
    if not name.isidentifier():  # a top-level package only: finding a submodule would import its parent
        return None
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return None
    if spec is None:
        return None
    locations = list(spec.submodule_search_locations or [])
    return locations[0] if locations else (spec.origin or "")


def _glob(pattern: str) -> List[str]:
    return sorted(glob.glob(pattern))


#: kind of observation → how to look again (the value recorded must equal it for the result to hold).
CHECKS: Dict[str, Callable[[str], Any]] = {
    "file": signature,
    "glob": _glob,
    "spec": _spec,
    "which": shutil.which,
}


def _record(kind: str, subject: str) -> Any:
    value = CHECKS[kind](subject)
    recording = getattr(_local, "recording", None)
    if recording is not None:
        recording.setdefault((kind, subject), value)
    return value


def observe_file(path) -> None:
    """Discovery's result depends on this file or folder being as it is now (or absent)."""
    if path:
        _record("file", os.fspath(path))


def observe_glob(pattern: str) -> List[str]:
    """``glob.glob(pattern)``, sorted, recorded: a new match (a rustup toolchain) is a change."""
    return _record("glob", pattern)


def spec_location(name: str) -> Optional[str]:
    """Where the importable package ``name`` is (its folder), recorded; None if it is not installed."""
    return _record("spec", name)


def which(name: str) -> Optional[str]:
    """``shutil.which(name)``, recorded."""
    return _record("which", name)


def observe_ancestors(*names: str) -> None:
    """Files a tool looks for in the working folder and every folder above it (``go.mod``,
    ``rust-toolchain.toml``): their appearing is a change too."""
    folder = Path.cwd()
    for parent in (folder, *folder.parents):
        for name in names:
            observe_file(parent / name)


class Recording:
    """Collects what discovery observes in this thread while the ``with`` block runs."""

    def __enter__(self) -> "Recording":
        self.outer = getattr(_local, "recording", None)
        self.observed: Dict[Tuple[str, str], Any] = {}
        _local.recording = self.observed
        return self

    def __exit__(self, *exc) -> None:
        _local.recording = self.outer
        if self.outer is not None:  # a discovery inside another one: the outer depends on it too
            for key, value in self.observed.items():
                self.outer.setdefault(key, value)


def still_true(observed: list) -> bool:
    """Whether every recorded observation still holds."""
    try:
        for kind, subject, value in observed:
            check = CHECKS.get(kind)
            if check is None or check(subject) != value:
                return False
    except Exception:  # whatever a damaged file holds, it is not a result to use
        return False
    return True


# -- the files ----------------------------------------------------------------------------------------
def environment_key(language: str, override: Optional[str]) -> str:
    """The hash naming a result's file: the language, the configured compiler, what discovery reads."""
    env = {name: value for name, value in os.environ.items()
           if name in ENV_NAMES or name.startswith(ENV_PREFIXES)}
    try:
        cwd = os.getcwd()
    except OSError:
        cwd = ""
    # (Where importable packages are is an observation, not part of the key: ``spec_location``.)
    record = {"schema": SCHEMA, "wagi_nb": __version__, "language": language, "override": override,
              "env": env, "cwd": cwd, "prefix": sys.prefix}
    return hashlib.sha256(json.dumps(record, sort_keys=True).encode()).hexdigest()[:24]


def folder() -> Path:
    from ..cache import cache_root
    return cache_root() / FOLDER


def entry_path(language: str, override: Optional[str]) -> Path:
    return folder() / f"{language}-{environment_key(language, override)}.json"


def read(path: Path, language: str):
    """The kept ToolchainInfo at ``path`` if it still holds, else None (a missing, unreadable,
    corrupt or stale file alike)."""
    from .base import ToolchainInfo
    try:
        data = json.loads(path.read_bytes())
        if not isinstance(data, dict) or data.get("schema") != SCHEMA:
            return None
        observed = [(str(kind), str(subject), value) for kind, subject, value in data["observed"]]
        fields = dict(data["info"])
        if set(fields) != {field.name for field in dataclasses.fields(ToolchainInfo)}:
            return None  # written by a wagi_nb whose ToolchainInfo differs
        fields["extra_args"] = tuple(fields["extra_args"])
        if not all(isinstance(value, bool if name in ("found", "old_libc") else str)
                   for name, value in fields.items() if name != "extra_args") \
                or not all(isinstance(arg, str) for arg in fields["extra_args"]):
            return None
        info = ToolchainInfo(**fields)
    except (OSError, ValueError, TypeError, KeyError, AttributeError):
        return None
    if info.language != language or not info.found or not still_true(observed):
        return None
    return info


def racy(observed: Dict[Tuple[str, str], Any], now_ns: int) -> bool:
    """Whether a file discovery looked at changed so recently that a change right after would not
    change its ``stat`` (file times are only as fine as the file system's clock tick): such a result
    is not kept, and the next process asks again (as git treats a "racily clean" index entry)."""
    newest = max((max(value[1], value[4]) for (kind, _), value in observed.items()
                  if kind == "file" and value), default=0)
    return newest > now_ns - int(RACY_SECONDS * 1e9)


def write(path: Path, info, observed: Dict[Tuple[str, str], Any]) -> None:
    """Keep a found result (atomically; two kernels may write the same file); forget a missing one,
    or one that cannot be trusted yet (:func:`racy`)."""
    from ..cache import atomic_write
    try:
        if not info.found or racy(observed, time.time_ns()):
            path.unlink(missing_ok=True)
            return
        record = {"schema": SCHEMA, "info": dataclasses.asdict(info),
                  "observed": [[kind, subject, value] for (kind, subject), value in observed.items()]}
        atomic_write(path, json.dumps(record, indent=1).encode())
    except OSError:
        pass  # a read-only cache folder: discovery still works, just not faster next time


def discover(toolchain, override: Optional[str], use_kept: bool = True):
    """``toolchain.discover(override)``, or the result a process kept for the same inputs if it still
    holds; a fresh result is kept for the next process."""
    if not toolchain.cache_discovery:
        return toolchain.discover(override)
    path = entry_path(toolchain.language, override)
    if use_kept:
        kept = read(path, toolchain.language)
        if kept is not None:
            return kept
    with Recording() as recording:
        for source in _sources(toolchain):  # the code that discovered it: an edit is a change too
            observe_file(source)
        info = toolchain.discover(override)
    write(path, info, recording.observed)
    return info


def _sources(toolchain) -> List[str]:
    """The files of wagi_nb's code a toolchain's discovery runs: its class's module and its bases'
    (``rust.py``, ``base.py``), and this one."""
    names = {cls.__module__ for cls in type(toolchain).__mro__ if cls.__module__.startswith("wagi_nb.")}
    names.add(__name__)
    files = (getattr(sys.modules.get(name), "__file__", None) for name in sorted(names))
    return [file for file in files if file]


def clear() -> None:
    """Delete every kept result (this cache root's)."""
    shutil.rmtree(folder(), ignore_errors=True)
