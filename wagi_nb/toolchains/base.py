"""The small interface every language's toolchain implements.

A toolchain finds its compiler (:meth:`Toolchain.discover`), says who it is
(:class:`ToolchainInfo`, part of the build cache key) and turns one source
file into one ``.wasm`` file (:meth:`Toolchain.compile`). It knows nothing of
caching, running or IPython.
"""
from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, Mapping, Optional, Sequence, Tuple, Union

from ..errors import CompileError
from .discovery_cache import observe_file, which

#: Called about ten times a second while a compiler runs, with the seconds elapsed and a line of
#: what it is doing, if it says ("Compiling serde v1.0.152 (3/12)"), else "".
Progress = Callable[[float, str], None]


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
    #: SHA-256 of the compiler or interpreter file, where its bytes are its identity.
    digest: str = ""
    #: The C library modules are linked against (wasi-libc, for the languages that use it).
    libc: str = ""
    #: That libc is from before wasi-libc's PR 377: each module gets ``wasi_libc.fix_heap``.
    old_libc: bool = False

    @property
    def label(self) -> str:
        """``rustc 1.63.0``, ``zig 0.17.1``: the compiler's name and version, once."""
        if self.version.lower().startswith(self.name.split()[0].lower()) or self.name in self.version:
            return self.version
        return f"{self.name} {self.version}".strip()

    @property
    def identity(self) -> dict:
        """What a build's cache key needs to know about the compiler."""
        identity: dict = {"name": self.name, "path": self.path, "version": self.version,
                    "target": self.target, "extra_args": list(self.extra_args)}
        if self.digest:
            identity["digest"] = self.digest
        if self.old_libc:  # (its modules are changed after linking)
            identity["old_libc"] = True
        return identity


@dataclass(frozen=True, kw_only=True)
class CompileJob:
    """One compile: file names relative to the build folder, the profile, the user's extra flags."""

    source: str
    output: str = "cell.wasm"
    release: bool = True
    #: ``--flags`` of the cell and the language's setting (``WasmMagics.rust_flags``).
    flags: Tuple[str, ...] = ()
    #: Packages the cell depends on, as a manifest names them (``{"serde_json": "1"}``): Rust's crates.
    dependencies: Mapping[str, Any] = field(default_factory=dict)
    #: Resolve the dependencies again instead of reusing the lock kept for them.
    update: bool = False


#: Where an interpreted language's script folder is mounted (read-only) for the interpreter.
SCRIPT_DIR = "/app"


class Toolchain:
    """One language: everything the rest of wagi_nb needs to know about it.

    A language is one file in this package that defines ``TOOLCHAIN``, an instance
    of a subclass; the registry (``toolchains/__init__.py``) finds it, and the
    magics (``%%wasm_<language>``), ``%wasm_toolchains``, the headless notebook
    reader, the build cache and the export all read these attributes.

    A compiled language turns the cell into a ``.wasm``. An *interpreted* one
    (``interpreted = True``) runs an interpreter module with the cell as its
    script, mounted read-only at :data:`SCRIPT_DIR`, as Wagi and Spin run them.
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
    #: Whether the cell may add compiler flags (``--flags``, ``WasmMagics.<language>_flags``).
    takes_flags: bool = True
    #: The ``WasmMagics`` setting that names the compiler to use (``%config WasmMagics.rustc``).
    setting: Optional[str] = None
    #: What the magic does, one sentence, and a cell body to show in its help.
    summary: str = ""
    example: str = ""
    #: The interpreter is the module and the cell its script (see the class docstring).
    interpreted: bool = False
    #: Whether cells may depend on packages (``--dep``, a manifest at the top of the cell).
    takes_dependencies: bool = False
    #: Whether a found result is kept on disk for the next process (``discovery_cache.py``):
    #: only when :meth:`discover` reads the machine through the recorded helpers (:func:`capture`,
    #: :func:`executables`, :func:`resolve_override`, ``discovery_cache.observe_*``).
    cache_discovery: bool = True

    @property
    def magic(self) -> str:
        """The cell magic's name: ``wasm_rust``."""
        return f"wasm_{self.language}"

    @property
    def source_name(self) -> str:
        """The cell's file name in the build folder (and, interpreted, in the script folder)."""
        return f"cell.{self.extension}"

    def discover(self, override: Optional[str] = None) -> ToolchainInfo:
        raise NotImplementedError

    def found(self, *, name: str, path: str, version: str, target: str, extra_args: tuple = (),
              note: str = "", digest: str = "", libc: str = "", old_libc: bool = False) -> ToolchainInfo:
        """What :meth:`discover` returns for a compiler it chose."""
        return ToolchainInfo(language=self.language, found=True, name=name, path=path, version=version,
                             target=target, extra_args=tuple(extra_args), note=note, digest=digest,
                             libc=libc, old_libc=old_libc)

    def missing(self, *, name: str, note: str, install: str, path: str = "") -> ToolchainInfo:
        """What :meth:`discover` returns when there is no usable compiler: why, and how to get one."""
        return ToolchainInfo(language=self.language, found=False, name=name, path=path, note=note,
                             install=install)

    # -- compiled languages ------------------------------------------------------------------------
    def command(self, info: ToolchainInfo, job: CompileJob) -> list:
        """The compiler's argv, run in the build folder with relative file names."""
        raise NotImplementedError

    def environment(self, info: ToolchainInfo) -> Optional[dict]:
        """The compiler's environment (None: this process's)."""
        return None

    def prepare(self, info: ToolchainInfo, workdir: Path, job: CompileJob) -> None:
        """Write what the compiler needs beside the source (a project file, say)."""

    def split_manifest(self, text: str) -> Tuple[str, dict]:
        """(the code, the dependencies it declares at its top) of a cell; the code keeps its lines."""
        return text, {}

    def key_inputs(self, info: ToolchainInfo, job: CompileJob) -> dict:
        """What a build's cache key needs to know about the compiler: its identity and its whole
        command line, so a change of flags (or of compiler) never reuses an old build."""
        if self.interpreted:
            return info.identity
        # (argv[0], the compiler's path, is in the identity already.)
        return {**info.identity, "command": self.command(info, job)[1:]}

    def compile(self, info: ToolchainInfo, workdir: Path, job: CompileJob,
                progress: Optional[Progress] = None) -> str:
        """Compile ``workdir/job.source`` into ``workdir/job.output``; return the compiler's warnings.

        Raises :class:`CompileError` with the compiler's diagnostics on failure.
        """
        self.prepare(info, workdir, job)
        argv = self.command(info, job)
        if progress is not None:
            argv, progress = self.watched(info, job, argv, progress)
        code, text = run_compiler(argv, workdir, progress, env=self.environment(info), status=self.status)
        text = self.diagnostics(text, workdir)
        if code != 0 or not (workdir / job.output).exists():
            raise CompileError(self.title, text.strip() or f"{argv[0]} exited with status {code}",
                               toolchain=info.label)
        return text.strip()

    def watched(self, info: ToolchainInfo, job: CompileJob, argv: list, progress: Progress) -> Tuple[list, Progress]:
        """The argv and progress of a build whose progress is shown (a notebook's status line): where a
        compiler can say more of what it does (Go's ``-v``), or a first build does more (Zig's runtime
        libraries), they say so. The build's result is the same; :meth:`diagnostics` drops what
        the argv added to the output."""
        return argv, progress

    def status(self, line: str) -> Optional[str]:
        """A line of the compiler's output as a status text ("Compiling serde v1.0.152"), None for the others."""
        return None

    def project_files(self, workdir: Path) -> Dict[str, str]:
        """Files of a build, besides the source, that an export needs to rebuild it the same way
        (``go.mod`` and ``go.sum``, say); kept with the build in the cache."""
        return {}

    def project_main(self, job: CompileJob) -> str:
        """Where the source is among :meth:`project_files` when they hold it (Cargo's ``src/main.rs``);
        "" when the export writes the cell's text as ``source_name`` itself."""
        return ""

    def export_command(self, info: ToolchainInfo, job: CompileJob) -> Union[list, str, None]:
        """The command an exported app's build step runs (in the folder holding ``job.source`` and
        the project files) to rebuild the module: an argv, a shell command line, or None when
        there is nothing to build."""
        return None if self.interpreted else self.command(info, job)

    def diagnostics(self, text: str, workdir: Path) -> str:
        """The compiler's output as the user should read it: file names relative to the cell."""
        return text.replace(str(workdir) + os.sep, "")

    # -- interpreted languages ---------------------------------------------------------------------
    def script_argv(self) -> Tuple[str, ...]:
        """argv that runs the script (the program's name first); a route appends ``${ARGS}``."""
        raise NotImplementedError

    #: Whether ``wagi-nb install <language>`` can fetch what this language needs.
    installable: bool = False

    def install(self, log: Callable[[str], None]) -> None:
        """Fetch and set up what this language needs (``wagi-nb install``); raises WagiNbError."""
        raise NotImplementedError

    def check_argv(self) -> Optional[Tuple[str, ...]]:
        """argv that only checks the script's syntax (non-zero exit and the error on stderr when
        it is wrong), run once when the cell is built; None to skip."""
        return None

    def help(self) -> str:
        """The magic's docstring (what ``%%wasm_rust?`` shows above the options)."""
        text = self.summary
        if self.example:
            body = "\n".join(f"        {line}" if line else "" for line in self.example.splitlines())
            text += f"\n\n    Example::\n\n        %%{self.magic}\n{body}\n"
        return text


TOOLS_ENV = "WAGI_NB_TOOLS_DIR"


def tools_dir() -> Path:
    """Where ``wagi-nb install`` puts what wagi_nb installs itself (npm packages, interpreter
    files): ``$WAGI_NB_TOOLS_DIR``, else this Python environment's ``share/wagi_nb`` when it can be
    written (a virtual environment's), else ``~/.local/share/wagi_nb``."""
    configured = os.environ.get(TOOLS_ENV)
    if configured:
        return Path(configured).expanduser()
    if sys.prefix != sys.base_prefix and os.access(sys.prefix, os.W_OK):
        return Path(sys.prefix) / "share" / "wagi_nb"
    return Path.home() / ".local" / "share" / "wagi_nb"


def file_digest(path: str) -> str:
    """SHA-256 of a file, in hex."""
    observe_file(path)
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for chunk in iter(lambda: file.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def saying(progress: Progress, detail: str) -> Progress:
    """``progress`` told ``detail`` whenever the compiler itself says nothing more."""
    return lambda elapsed, said: progress(elapsed, said or detail)


def missing_message(info: ToolchainInfo, title: str) -> str:
    text = f"No {title} compiler for wasm32-wasi was found."
    if info.note:
        text += f" {info.note.rstrip('.')}."
    text += f" Install one with: {info.install}"
    text += " — or point wagi_nb at a compiler you have (see `%wasm_toolchains`)."
    return text


def run_compiler(argv: Sequence[str], cwd: Path, progress: Optional[Progress] = None,
                 env: Optional[dict] = None, status: Optional[Callable[[str], Optional[str]]] = None) -> tuple:
    """Run a compiler, reporting progress; Ctrl-C kills it. Returns (exit code, output).

    ``status`` turns one line of the compiler's output into a status text (None for lines that
    are not one); ``progress`` sees every status text, in order, from the calling thread, and is
    told the time every tenth of a second.
    """
    start = time.monotonic()
    proc = subprocess.Popen(list(argv), cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL, env=env)
    lines: list = []
    statuses: list = [""]

    def read() -> None:
        assert proc.stdout is not None
        for raw in proc.stdout:
            line = raw.decode("utf-8", errors="replace")
            lines.append(line)
            shown = status(line) if status else None
            if shown is not None:
                statuses.append(shown)

    shown = [1]

    def report() -> None:
        if progress is None:
            return
        elapsed, newest = time.monotonic() - start, len(statuses)
        for index in range(shown[0], newest):
            progress(elapsed, statuses[index])
        if newest == shown[0]:
            progress(elapsed, statuses[-1])
        shown[0] = newest

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        while True:
            try:
                proc.wait(timeout=0.1)
                break
            except subprocess.TimeoutExpired:
                report()
    except BaseException:
        proc.kill()
        proc.wait()
        raise
    reader.join()
    if len(statuses) > shown[0]:
        report()
    return proc.returncode, "".join(lines)


def capture(argv: Sequence[str], timeout: float = 30) -> Optional[str]:
    """stdout of a quick probe command, or None if it could not run or failed.

    Recorded for the discovery cache: the answer holds while the executable is unchanged."""
    observe_file(argv[0] if os.sep in argv[0] else which(argv[0]))
    try:
        done = subprocess.run(list(argv), capture_output=True, timeout=timeout,
                              stdin=subprocess.DEVNULL)
    except (OSError, subprocess.SubprocessError):
        return None
    if done.returncode != 0:
        return None
    return done.stdout.decode("utf-8", errors="replace").strip()


def executables(name: str, extra: Iterable[str] = (), first: Iterable[str] = ()) -> list:
    """Every executable called ``name``: ``first`` paths, then PATH's, then ``extra`` paths,
    deduplicated by real path (the earliest place kept)."""
    found, seen = list(first), set()
    for folder in os.environ.get("PATH", "").split(os.pathsep):
        found.append(os.path.join(folder, name))
    found.extend(extra)
    result = []
    for path in found:
        observe_file(path)  # (one that is not there yet would change the answer by appearing)
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
        observe_file(override)
        return override if os.path.isfile(override) and os.access(override, os.X_OK) else None
    return which(override)
