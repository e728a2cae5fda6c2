"""What the interpreted languages share: an interpreter module pinned by SHA-256, or the user's own.

An interpreted language runs an interpreter built for WASI with the cell as its
script (``python /app/cell.py ${ARGS}``), the way Wagi and Spin run them. The
interpreter file is chosen by the language's setting or environment variable
(a user's own build, taken as it is), else the pinned file wagi_nb knows, whose
SHA-256 must match: a file that changed is refused, not run.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Optional, Tuple

from .base import Toolchain, ToolchainInfo, file_digest
from .discovery_cache import observe_file


@dataclass(frozen=True, kw_only=True)
class PinnedInterpreter:
    """One interpreter build: what it is, who built it from what, and its bytes' SHA-256."""

    name: str
    version: str
    provenance: str
    sha256: str


class Interpreted(Toolchain):
    """Base of the interpreted languages: discovery of the interpreter file; no compiler flags."""

    interpreted = True
    has_profiles = False
    takes_flags = False
    #: The environment variable that names the user's own interpreter file.
    env_var = ""
    pinned: PinnedInterpreter
    install_hint = ""

    def pinned_path(self) -> Optional[str]:
        """Where the pinned interpreter is on this machine, if it is installed."""
        raise NotImplementedError

    def discover(self, override: Optional[str] = None) -> ToolchainInfo:
        own = override or os.environ.get(self.env_var)
        if own:
            path = os.path.expanduser(own)
            observe_file(path)
            if not os.path.isfile(path):
                given = "the setting" if override else self.env_var
                return self.missing(name=self.pinned.name, path=own, install=self.install_hint,
                                    note=f"the interpreter {own!r} (from {given}) is not a file")
            return self.found(name=self.pinned.name, path=path, version=os.path.basename(path),
                              target="wasm32-wasi", digest=file_digest(path),
                              note="the user's own interpreter")
        pinned = self.pinned_path()
        observe_file(pinned)
        if not pinned or not os.path.isfile(pinned):
            return self.missing(name=self.pinned.name, install=self.install_hint,
                                note=f"{self.pinned.version} is not installed")
        digest = file_digest(pinned)
        if digest != self.pinned.sha256:
            return self.missing(name=self.pinned.name, path=pinned, install=self.install_hint,
                                note=f"{pinned} is not the pinned {self.pinned.version} (its SHA-256 is "
                                     f"{digest[:16]}…, expected {self.pinned.sha256[:16]}…)")
        return self.found(name=self.pinned.name, path=pinned, version=self.pinned.version,
                          target="wasm32-wasi", digest=digest, note=self.pinned.provenance)

    def script_argv(self) -> Tuple[str, ...]:
        raise NotImplementedError
