"""AssemblyScript: ``asc`` with ``@assemblyscript/wasi-shim``, on the machine's Node (18 or later).

The shim only works through a project ``asconfig.json`` that ``extends`` the shim's
config with ``node_modules`` beside it (an absolute ``--config`` path into
``node_modules`` does not resolve), so each build folder gets both, the
``node_modules`` a link to where the packages are. ``wagi-nb install assemblyscript``
puts pinned versions in wagi_nb's own tools folder (not a global install);
discovery also takes a folder of the user's whose ``node_modules`` has both.

Cells are built with AssemblyScript's ``stub`` runtime and 4 MiB of initial memory. A component
host (Spin) runs a module through a WASI adapter whose stack and state are pages at the end of
memory, taken before ``_start``; the default (``incremental``) runtime's allocator claims all of
memory when it starts and writes its end marker there, over the adapter's state (measured: every
request fails under Spin 3.6.3). ``stub`` hands out memory from ``__heap_base`` upwards and frees
nothing until the instance ends, which for a module that answers one request and ends is also the
fastest; under Spin a module should allocate less than its initial memory per request. A cell can
ask for another runtime with ``--flags "--runtime incremental"``.
"""
from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Dict, Optional

from ..errors import WagiNbError
from .base import CompileJob, Toolchain, ToolchainInfo, capture, tools_dir
from .discovery_cache import observe_file, which

#: The versions `wagi-nb install assemblyscript` installs (checked together).
PACKAGES = {"assemblyscript": "0.28.20", "@assemblyscript/wasi-shim": "0.1.0"}
MIN_NODE = 18
#: Initial memory, in 64 KiB pages: what an AssemblyScript module may allocate in one request under Spin.
INITIAL_PAGES = 64
ASCONFIG = json.dumps({"extends": "./node_modules/@assemblyscript/wasi-shim/asconfig.json",
                       "options": {"runtime": "stub", "initialMemory": INITIAL_PAGES}}) + "\n"
INSTALL = "wagi-nb install assemblyscript  (npm packages assemblyscript and @assemblyscript/wasi-shim)"


def npm_folder() -> Path:
    """The folder whose ``node_modules`` ``wagi-nb install assemblyscript`` fills."""
    return tools_dir() / "npm"


def package_version(folder: Path, package: str) -> Optional[str]:
    observe_file(folder / "node_modules" / package / "package.json")
    try:
        return json.loads((folder / "node_modules" / package / "package.json").read_text())["version"]
    except (OSError, ValueError, KeyError, TypeError):
        return None


def node_major(node: str) -> Optional[int]:
    match = re.match(r"v(\d+)\.", capture([node, "--version"]) or "")
    return int(match.group(1)) if match else None


class AssemblyScript(Toolchain):
    language = "assemblyscript"
    title = "AssemblyScript"
    aliases = ("as", "ts")
    extension = "ts"
    order = 47
    setting = "assemblyscript"
    installable = True
    summary = ("Compile the cell as AssemblyScript (TypeScript-like; top-level statements run) to "
               "wasm32-wasi with asc and the WASI shim, and run it.")
    example = 'console.log("Hello, world!");'

    def discover(self, override: Optional[str] = None) -> ToolchainInfo:
        node = which("node")
        major = node_major(node) if node else None
        if not node or not major or major < MIN_NODE:
            why = f"Node {major} is too old (need {MIN_NODE} or later)" if major else "no node on PATH"
            return self.missing(name="asc", note=why, install=f"install Node.js {MIN_NODE}+, then {INSTALL}")
        folders = [Path(override).expanduser()] if override else [npm_folder(), Path.cwd()]
        passed = []
        for folder in folders:
            asc, shim = (package_version(folder, name) for name in PACKAGES)
            if asc and shim:
                note = "configured by the user" if override else \
                    ("wagi_nb's own" if folder == npm_folder() else "node_modules of this folder")
                return self.found(name="asc", path=str(folder), version=f"asc {asc} + wasi-shim {shim}",
                                  target=f"wasm32-wasi (node {major})", extra_args=(node,), note=note)
            passed.append(f"{folder} has no node_modules with assemblyscript and @assemblyscript/wasi-shim")
        return self.missing(name="asc", note="; ".join(passed), install=INSTALL)

    def key_inputs(self, info, job):
        return {**super().key_inputs(info, job), "asconfig": ASCONFIG}

    def prepare(self, info, workdir: Path, job: CompileJob) -> None:
        (workdir / "asconfig.json").write_text(ASCONFIG)
        (workdir / "node_modules").symlink_to(Path(info.path) / "node_modules", target_is_directory=True)

    def command(self, info, job):
        node, asc = info.extra_args[0], str(Path(info.path) / "node_modules/assemblyscript/bin/asc.js")
        profile = ["--optimize"] if job.release else ["--debug"]
        return [node, asc, job.source, "--config", "asconfig.json", "-o", job.output, "--noColors",
                *profile, *job.flags]

    def project_files(self, workdir: Path) -> Dict[str, str]:
        package = {"private": True, "devDependencies": dict(PACKAGES)}
        return {"asconfig.json": ASCONFIG, "package.json": json.dumps(package, indent=2) + "\n"}

    def export_command(self, info, job):
        profile = "--optimize" if job.release else "--debug"
        return (f"npm install --no-audit --no-fund --silent && npx asc {job.source} --config asconfig.json "
                f"-o {job.output} --noColors {profile} {' '.join(job.flags)}").rstrip()

    def install(self, log) -> None:
        npm = shutil.which("npm")
        if not npm:
            raise WagiNbError("npm is not on PATH: install Node.js 18 or later (with npm), then run "
                              "wagi-nb install assemblyscript again.")
        folder = npm_folder()
        folder.mkdir(parents=True, exist_ok=True)
        if all(package_version(folder, name) == version for name, version in PACKAGES.items()):
            log(f"assemblyscript: {', '.join(f'{n}@{v}' for n, v in PACKAGES.items())} already in {folder}")
            return
        log(f"assemblyscript: npm install into {folder}")
        done = subprocess.run([npm, "install", "--prefix", str(folder), "--no-audit", "--no-fund",
                               "--save-exact", *(f"{n}@{v}" for n, v in PACKAGES.items())],
                              capture_output=True, text=True)
        if done.returncode != 0:
            raise WagiNbError(f"npm could not install AssemblyScript into {folder}: "
                              f"{(done.stderr or done.stdout).strip()[-800:]}")


TOOLCHAIN = AssemblyScript()
