"""The small interface every language's toolchain implements.

A toolchain finds its compiler (:meth:`Toolchain.discover`), says who it is
(:class:`ToolchainInfo`, part of the build cache key) and turns one source
file into one ``.wasm`` file (:meth:`Toolchain.compile`). It knows nothing of
caching, running or IPython.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Optional, Sequence

from ..errors import CompileError

#: Called about ten times a second while a compiler runs, with the seconds elapsed.
Progress = Callable[[float], None]


@dataclass(frozen=True, kw_only=True)
class ToolchainInfo:
    """What discovery found for one language: the compiler chosen, or how to install one."""

    language: str
    found: bool
    name: str = ""
    path: str = ""
    version: str = ""
    target: str = ""
    #: Extra arguments discovery decided on (a sysroot, a subcommand).
    extra_args: tuple = ()
    #: Why this compiler was chosen, or why candidates were passed over.
    note: str = ""
    #: The exact command that installs a missing toolchain.
    install: str = ""

    @property
    def label(self) -> str:
        """``rustc 1.63.0``, ``zig 0.17.1``: the compiler's name and version, once."""
        if self.version.lower().startswith(self.name.split()[0].lower()) or self.name in self.version:
            return self.version
        return f"{self.name} {self.version}".strip()

    @property
    def identity(self) -> dict:
        """What a build's cache key needs to know about the compiler."""
        return {"name": self.name, "path": self.path, "version": self.version,
                "target": self.target, "extra_args": list(self.extra_args)}


class Toolchain:
    """One language: everything the rest of wagi_nb needs to know about it.

    A language is one file in this package that defines ``TOOLCHAIN``, an instance
    of a subclass; the registry (``toolchains/__init__.py``) finds it, and the
    magics (``%%wasm_<language>``), ``%wasm_toolchains``, the headless notebook
    reader, the build cache and the export all read these attributes.
    """

    #: Short language name: ``build(language=...)`` and the magic ``%%wasm_<language>``.
    language: str = ""
    #: Human name (``Rust``, ``C++``).
    title: str = ""
    #: Other names ``build(language=...)`` accepts.
    aliases: tuple = ()
    #: Source file extension, without the dot.
    extension: str = ""
    #: Place in ``%wasm_toolchains`` and the docs.
    order: int = 100
    #: Whether ``--release``/``--debug`` mean something for this language.
    has_profiles: bool = True
    #: The ``WasmMagics`` setting that names the compiler to use (``%config WasmMagics.rustc``).
    setting: Optional[str] = None
    #: What the magic does, one sentence, and a cell body to show in its help.
    summary: str = ""
    example: str = ""

    @property
    def magic(self) -> str:
        """The cell magic's name: ``wasm_rust``."""
        return f"wasm_{self.language}"

    def discover(self, override: Optional[str] = None) -> ToolchainInfo:
        raise NotImplementedError

    def found(self, *, name: str, path: str, version: str, target: str, extra_args: tuple = (),
              note: str = "") -> ToolchainInfo:
        """What :meth:`discover` returns for a compiler it chose."""
        return ToolchainInfo(language=self.language, found=True, name=name, path=path, version=version,
                             target=target, extra_args=tuple(extra_args), note=note)

    def missing(self, *, name: str, note: str, install: str, path: str = "") -> ToolchainInfo:
        """What :meth:`discover` returns when there is no usable compiler: why, and how to get one."""
        return ToolchainInfo(language=self.language, found=False, name=name, path=path, note=note,
                             install=install)

    def command(self, info: ToolchainInfo, source: str, output: str, release: bool) -> list:
        """The compiler's argv, run in the source's folder with relative file names."""
        raise NotImplementedError

    def key_inputs(self, info: ToolchainInfo, release: bool) -> dict:
        """What a build's cache key needs to know about the compiler: its identity and its whole
        command line, so a change of flags (or of compiler) never reuses an old build."""
        # (argv[0], the compiler's path, is in the identity already.)
        return {**info.identity, "command": self.command(info, "cell", "cell.wasm", release)[1:]}

    def export_command(self, info: ToolchainInfo, source: str, output: str, release: bool) -> list:
        """The command an exported app's build step runs to rebuild the module from ``source``."""
        return self.command(info, source, output, release)

    def compile(self, info: ToolchainInfo, workdir: Path, source: str, output: str,
                release: bool, progress: Optional[Progress] = None) -> str:
        """Compile ``workdir/source`` into ``workdir/output``; return the compiler's warnings.

        Raises :class:`CompileError` with the compiler's diagnostics on failure.
        """
        argv = self.command(info, source, output, release)
        code, text = run_compiler(argv, workdir, progress)
        text = self.diagnostics(text, workdir)
        if code != 0 or not (workdir / output).exists():
            raise CompileError(self.title, text.strip() or f"{argv[0]} exited with status {code}",
                               toolchain=info.label)
        return text.strip()

    def diagnostics(self, text: str, workdir: Path) -> str:
        """The compiler's output as the user should read it: file names relative to the cell."""
        return text.replace(str(workdir) + os.sep, "")

    def help(self) -> str:
        """The magic's docstring (what ``%%wasm_rust?`` shows above the options)."""
        text = self.summary
        if self.example:
            body = "\n".join(f"        {line}" if line else "" for line in self.example.splitlines())
            text += f"\n\n    Example::\n\n        %%{self.magic}\n{body}\n"
        return text


def missing_message(info: ToolchainInfo, title: str) -> str:
    text = f"No {title} compiler for wasm32-wasi was found."
    if info.note:
        text += f" {info.note.rstrip('.')}."
    text += f" Install one with: {info.install}"
    text += " — or point wagi_nb at a compiler you have (see `%wasm_toolchains`)."
    return text


def run_compiler(argv: Sequence[str], cwd: Path, progress: Optional[Progress] = None,
                 env: Optional[dict] = None) -> tuple:
    """Run a compiler, reporting progress; Ctrl-C kills it. Returns (exit code, output)."""
    start = time.monotonic()
    proc = subprocess.Popen(list(argv), cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL, env=env)
    try:
        if progress is None:
            out, _ = proc.communicate()
        else:
            while True:
                try:
                    out, _ = proc.communicate(timeout=0.1)
                    break
                except subprocess.TimeoutExpired:
                    progress(time.monotonic() - start)
    except BaseException:
        proc.kill()
        proc.wait()
        raise
    return proc.returncode, out.decode("utf-8", errors="replace")


def capture(argv: Sequence[str], timeout: float = 30) -> Optional[str]:
    """stdout of a quick probe command, or None if it could not run or failed."""
    try:
        done = subprocess.run(list(argv), capture_output=True, timeout=timeout,
                              stdin=subprocess.DEVNULL)
    except (OSError, subprocess.SubprocessError):
        return None
    if done.returncode != 0:
        return None
    return done.stdout.decode("utf-8", errors="replace").strip()


def executables(name: str, extra: Iterable[str] = ()) -> list:
    """Every executable called ``name`` on PATH, then ``extra`` paths, deduplicated by real path."""
    found, seen = [], set()
    for folder in os.environ.get("PATH", "").split(os.pathsep):
        found.append(os.path.join(folder, name))
    found.extend(extra)
    result = []
    for path in found:
        if not path or not os.path.isfile(path) or not os.access(path, os.X_OK):
            continue
        real = os.path.realpath(path)
        if real in seen:
            continue
        seen.add(real)
        result.append(path)
    return result


def resolve_override(override: str) -> Optional[str]:
    """A user-given compiler: a path, or a name looked up on PATH."""
    if os.sep in override:
        return override if os.path.isfile(override) and os.access(override, os.X_OK) else None
    return shutil.which(override)
