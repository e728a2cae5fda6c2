"""``%%wasm_<language>`` for every language in the registry, ``%wasm_run`` and ``%wasm_toolchains``.

A thin skin over :func:`wagi_nb.build` and :meth:`wagi_nb.Artifact.run`:
parse the magic line, build, run, show. The cell magics and the compiler
settings (``WasmMagics.rustc`` …) are made from ``wagi_nb.toolchains.TOOLCHAINS``.
"""
from __future__ import annotations

import codecs
import contextlib
import contextvars
import shlex
import sys
import threading
import time
from pathlib import Path
from typing import Optional, Tuple

from IPython.core.error import UsageError
from IPython.core.magic import Magics, cell_magic, line_magic, magics_class
from IPython.core.magic_arguments import argument, magic_arguments
from IPython.display import display
from traitlets import Bool, Float, Int, Unicode, observe

from .. import defaults, toolchains
from ..artifacts import build, build_crate, load, modules
from ..display import BuildStatus, RunView, ToolchainsView
from ..display.text import SHOW_LIMIT
from ..envvars import parse_env_pairs
from ..errors import ModuleFailed, WagiNbError
from ..cell_options import CARGO, RUN, cell_options, check_cell_options, fill_defaults, split_flags
from ..runtime import activity
from ..runtime.limits import RunLimits
from ..toolchains.cargo import paired_with
from ..wagi import app
from .routes import serve_cell

#: Builds (and a module's compile to native code) slower than this show a live status line.
STATUS_AFTER = 0.5
#: How often the status line is redrawn while nothing else redraws it (a compile inside wasmtime).
TICK = 0.25
#: The compiler's progress (reported every 0.1 s, and every new status text) redraws it at most
#: this often.
PROGRESS_EVERY = 0.08


def declare(options):
    """IPython ``@argument`` declarations for options from :mod:`wagi_nb.cell_options`."""
    def apply(func):
        for names, kwargs in reversed(options):
            func = argument(*names, **kwargs)(func)
        return func
    return apply


run_arguments = declare(RUN)


def parse(magic, line):
    """Parse a magic line with the magic's ``@argument`` declarations.

    The line is split like a POSIX shell would (``B='x y'`` is one word,
    quotes removed), which IPython's own ``parse_argstring`` does not do.
    """
    try:
        return magic.parser.parse_args(shlex.split(line))
    except ValueError as error:  # shlex: an unclosed quote
        raise UsageError(f"Cannot split the magic line: {error}. Close the quote.") from None
    except UsageError as error:
        name = magic_name(magic)
        raise UsageError(f"{error} — see `{name}?` for the flags {name} takes.") from None


def magic_name(magic) -> str:
    """``%wasm_cargo`` for a line magic, ``%%wasm_rust`` for a cell magic: as its usage line spells it
    (IPython adds one ``%`` to the parser's name, and a cell magic's parser is named with the other)."""
    return "%" + magic.parser.prog


def parse_env(pairs) -> dict:
    try:
        return parse_env_pairs(pairs)
    except WagiNbError as error:
        raise UsageError(str(error)) from None


def _language_magic(toolchain):
    """The ``%%wasm_<language>`` method for one toolchain of the registry."""
    def magic(self, line, cell):
        return self._build_and_run(toolchain.language, line, cell, getattr(self, toolchain.magic))
    magic.__name__ = magic.__qualname__ = toolchain.magic
    magic.__doc__ = toolchain.help()
    # The usage line gets one % from IPython: a cell magic's name takes the second.
    return magic_arguments(name=f"%{toolchain.magic}")(declare(cell_options(toolchain))(cell_magic(magic)))


def _compiler_setting(toolchain):
    what = "interpreter file" if toolchain.interpreted else "compiler"
    return Unicode("", config=True, help=f"The {what} to use for %%{toolchain.magic} "
                                         "(default: discovered; see %wasm_toolchains).")


def _flags_setting(toolchain):
    return Unicode("", config=True, help=f"Extra compiler arguments for every %%{toolchain.magic} cell, "
                                         "before the cell's own --flags (split like a shell would).")


@magics_class
class WasmMagics(Magics):
    """Compile cells to wasm32-wasi and run them under wasmtime."""

    timeout = Float(defaults.CELL_TIMEOUT, config=True,
                    help="Seconds a cell's module may run before it is stopped.")
    memory_limit = Int(defaults.MEMORY_MIB, config=True,
                       help="MiB a cell's module may allocate (its linear memory and tables).")
    max_output = Float(defaults.MAX_OUTPUT_MIB, config=True,
                       help="MiB a cell's module may print to stdout (and to stderr) before it is stopped.")
    raise_on_error = Bool(True, config=True,
                          help="Fail the cell when its module fails (a trap, a non-zero exit, a timeout), "
                               "after showing it, so Run All stops there; a cell's --no-raise-error "
                               "turns it off for that cell.")

    #: setting name → language, for every toolchain that has a compiler setting.
    _COMPILER_TRAITS = {tc.setting: tc.language for tc in toolchains.TOOLCHAINS.values() if tc.setting}
    # One cell magic per language and one setting per compiler, from the registry. (A class body's
    # namespace is a plain dict; @magics_class then finds the magics in it as if written out.)
    locals().update({tc.magic: _language_magic(tc) for tc in toolchains.TOOLCHAINS.values()})
    locals().update({tc.setting: _compiler_setting(tc) for tc in toolchains.TOOLCHAINS.values()
                     if tc.setting})
    locals().update({f"{tc.language}_flags": _flags_setting(tc) for tc in toolchains.TOOLCHAINS.values()
                     if tc.takes_flags})

    def __init__(self, shell=None, **kwargs):
        super().__init__(shell=shell, **kwargs)
        for trait, language in self._COMPILER_TRAITS.items():
            if getattr(self, trait):  # an empty setting leaves set_compiler() calls made before alone
                toolchains.set_compiler(language, getattr(self, trait))
        self._limits_changed()

    @observe(*_COMPILER_TRAITS)
    def _compiler_changed(self, change):
        toolchains.set_compiler(self._COMPILER_TRAITS[change["name"]], change["new"])

    @property
    def limits(self) -> RunLimits:
        """What a cell's module may take: these settings."""
        return RunLimits(self.timeout, self.memory_limit, self.max_output)

    @observe("timeout", "memory_limit", "max_output")
    def _limits_changed(self, change=None):
        # The notebook's routes (their previews, %wagi_request, the widget, %wagi_serve) run under
        # the same limits as its cells.
        app.limits = self.limits

    # -- the language magics -----------------------------------------------------------------
    def _build_and_run(self, language: str, line: str, cell: str, magic):
        args = fill_defaults(parse(magic, line))
        try:
            check_cell_options(args)
            flags = split_flags(getattr(self, f"{language}_flags", "")) + split_flags(args.flags)
        except WagiNbError as error:
            raise UsageError(str(error)) from None
        env = parse_env(args.env)
        with LiveStatus(self._toolchain_label(language)) as status:
            with status.building():
                artifact = build(cell, language, name=args.name, release=args.release, flags=flags,
                                 dependencies=args.dep, update=args.update, force=args.force, line_offset=1,
                                 progress=status.progress)
            return self._use(artifact, args, env, status, source=cell)

    def _use(self, artifact, args, env, status, source: str):
        """Route, keep or run a module the magic built."""
        if args.route:
            view = status.show(serve_cell(artifact, args, env, self._cell_origin(), source))
            failure = getattr(view, "failure", lambda: "")()
        elif args.no_run or _library(artifact):
            return status.show(BuiltView(artifact))
        else:
            view = status.show(self._run(artifact, args, env, stream=True))
            failure = "" if view.result.ok else f"The module failed ({view.result.status})."
        return self._fail_if(failure, view, args)

    def _fail_if(self, failure: str, view, args):
        """Show the view, then fail the cell when its module failed (unless told not to)."""
        if not failure or args.no_raise_error or not self.raise_on_error:
            return view
        display(view)
        raise ModuleFailed(f"{failure} Its output is above. Fix the module, or pass --no-raise-error "
                           "(or set WasmMagics.raise_on_error = False) to show a failing module "
                           "without failing the cell.")

    def _cell_origin(self) -> str:
        # The cell being run: IPython 8 adds one to execution_count after the cell, IPython 9
        # before it; the result being made holds the cell's own number in both.
        result = getattr(getattr(self.shell, "displayhook", None), "exec_result", None)
        count = getattr(result, "execution_count", None)
        return f"cell [{count}]" if count else "a cell"

    def _run(self, artifact, args, env, stream: bool = False):
        writer = StreamedStdout() if stream and _in_a_kernel() else None
        limits = self.limits.but(timeout=args.timeout, max_output_mib=args.max_output)
        result = artifact.run(shlex.split(args.args), env=env,
                              stdin=args.stdin.encode() if args.stdin is not None else b"",
                              timeout=limits.timeout, memory_limit_mib=limits.memory_limit_mib,
                              max_output_mib=limits.max_output_mib, dirs=args.dir,
                              allowed_hosts=args.allowed_host, on_stdout=writer.write if writer else None)
        if writer:
            writer.close()
        return RunView(result, artifact, streamed=writer is not None and writer.wrote)

    @staticmethod
    def _toolchain_label(language):
        return toolchains.discover(language).label

    # -- line magics -------------------------------------------------------------------------
    @magic_arguments()
    @argument("module", help="A name given with -n/--name, or the path of a .wasm/.wat file.")
    @run_arguments
    @line_magic
    def wasm_run(self, line):
        """Run a module built earlier (by name) or a .wasm/.wat file, once, on a fresh instance."""
        args = parse(self.wasm_run, line)
        artifact = modules.get(args.module) or load(args.module)
        with LiveStatus("") as status:  # (a module's first compile to native code)
            view = status.show(self._run(artifact, args, parse_env(args.env), stream=True))
            return self._fail_if("" if view.result.ok else f"The module failed ({view.result.status}).", view, args)

    @magic_arguments()
    @declare(CARGO)
    @line_magic
    def wasm_cargo(self, line):
        """Build an existing Cargo crate for wasm32-wasi (as `cargo new hello-rust` makes it), then run
        it or serve it like a cell: %wasm_cargo hello-rust --route /. Release builds are a cell's
        (without debug info), and an unchanged crate comes from the build cache without running Cargo.
        `%wasm_cargo --new NAME` makes the crate first (as `cargo new NAME`), its src/main.rs a Wagi
        handler that answers "Hello, world!"."""
        args = fill_defaults(parse(self.wasm_cargo, line))
        try:
            check_cell_options(args)
            if args.new:
                if args.path:
                    raise WagiNbError("%wasm_cargo --new NAME makes a crate; build it afterwards with "
                                      "%wasm_cargo NAME (give one of the two).")
                info = toolchains.require("rust")
                print(paired_with(info).new_crate(Path(args.new)))
                print(f"Its src/main.rs is a Wagi handler (it prints a header, an empty line, a body). "
                      f"Build and run it with: %wasm_cargo {args.new}; serve it with: "
                      f"%wasm_cargo {args.new} --route /{Path(args.new).name}")
                return None
            if not args.path:
                raise WagiNbError("%wasm_cargo needs the crate's folder (%wasm_cargo hello-rust), or "
                                  "--new NAME to make one.")
        except WagiNbError as error:
            raise UsageError(str(error)) from None
        env = parse_env(args.env)
        with LiveStatus(self._toolchain_label("rust")) as status:
            with status.building():
                artifact = build_crate(args.path, release=args.release, binary=args.bin, name=args.name,
                                       progress=status.progress)
            return self._use(artifact, args, env, status, source="")

    @line_magic
    def wasm_toolchains(self, line):
        """Show, per language, the compiler wagi_nb will use, or how to install one."""
        if line.strip():
            raise UsageError("%wasm_toolchains takes no arguments.")
        toolchains.refresh()
        return ToolchainsView(toolchains.all_toolchains())


def _library(artifact) -> bool:
    """A module with no ``_start`` (a reactor: functions to call from Python, not a program to run)."""
    return artifact.script_dir is None and not artifact.load().is_command


def _in_a_kernel() -> bool:
    """Whether stdout goes to a notebook (ipykernel's stream), where streaming shows as it comes."""
    return type(sys.stdout).__module__.startswith("ipykernel")


class StreamedStdout:
    """A module's stdout to the cell's output as it is written: UTF-8 decoded across chunk edges,
    up to the display limit (the rest stays on the result)."""

    def __init__(self, limit: int = SHOW_LIMIT):
        self.decoder = codecs.getincrementaldecoder("utf-8")("replace")
        self.left, self.wrote = limit, False

    def write(self, data: bytes) -> None:
        if self.left <= 0:
            return
        text = self.decoder.decode(data[:self.left])
        self.left -= len(data)
        if text:
            self.wrote = True
            sys.stdout.write(text)
            sys.stdout.flush()

    def close(self) -> None:
        rest = self.decoder.decode(b"", final=True)
        if rest:
            sys.stdout.write(rest)
        if self.left < 0:
            sys.stdout.write(f"\n[stdout: showing the first {SHOW_LIMIT:,} bytes; the full output is on "
                             "the result object]\n")
        sys.stdout.flush()


class _Empty:
    def __repr__(self):
        return ""

    def _repr_html_(self):
        return ""


class BuiltView:
    """What ``--no-run`` shows."""

    def __init__(self, artifact):
        self.artifact = artifact

    def __repr__(self):
        a = self.artifact
        how = "cached build" if a.cached else f"built in {a.build_seconds:.2f} s"
        lines = [f"[{a.language} module, {a.size:,} bytes, {how}]"]
        if a.script_dir is None and len(a.exports):
            call = f'wagi_nb.modules["{a.name}"].exports' if a.name else "the artifact's .exports"
            lines.append(f"Exported functions, called from Python as {call}.NAME(...):")
            lines += [f"    {a.exports[name].signature}" for name in a.exports]
        if a.warnings:
            lines += ["--- compiler warnings ---", a.warnings.rstrip()]
        return "\n".join(lines)


class LiveStatus:
    """The status line of a cell's slow steps: its build (``with status.building():``, with the
    compiler's progress through :meth:`progress`) and what the runtime says it is doing, then or after
    (a module's first compile to native code: :mod:`wagi_nb.runtime.activity`).

    Shown once a step has taken STATUS_AFTER seconds; redrawn every TICK seconds by a thread of its
    own, so that the time keeps counting while the cell's thread waits inside wasmtime; left as it
    was between steps; and removed, its thread stopped first, before the cell's result
    (:meth:`show`, or leaving the ``with`` block), so nothing is drawn after the cell ends.
    """

    def __init__(self, label: str):
        self.label = label
        self.handle = None
        self._lock = threading.Lock()
        self._build: Optional[float] = None  # when the build under way started
        self._detail = ""  # what its compiler said last
        self._activity: Optional[Tuple[float, str]] = None  # (since when, what) the runtime is doing
        self._drawn = 0.0  # when the line was last drawn
        self._done = False
        self._stop = threading.Event()
        self._ticker: Optional[threading.Thread] = None
        self._listening = contextlib.ExitStack()

    def __enter__(self):
        self._listening.enter_context(activity.listening(self._runtime_activity))
        return self

    def __exit__(self, kind, error, traceback):
        self._listening.close()
        self._remove()
        return False

    @contextlib.contextmanager
    def building(self):
        """The build: its time counts from here."""
        with self._lock:
            self._build, self._detail = time.perf_counter(), ""
        self._start_ticker()
        try:
            yield
        finally:
            with self._lock:
                self._build = None

    def progress(self, elapsed: float, detail: str = "") -> None:
        """A toolchain's progress (``toolchains.base.Progress``): what the compiler does now, drawn at
        once unless the line was drawn within the last PROGRESS_EVERY seconds (a burst of Go's
        package names is one update; the next report draws the latest)."""
        with self._lock:
            self._detail = detail
        self._draw(unless_drawn_within=PROGRESS_EVERY)

    def show(self, view):
        """Remove the status line; the view is the cell's result (``Out[n]``, ``_``) either way."""
        self._remove()
        return view

    def _runtime_activity(self, what: Optional[str]) -> None:
        with self._lock:
            self._activity = (time.perf_counter(), what) if what else None
        if what:
            self._start_ticker()

    def _start_ticker(self) -> None:
        if self._ticker is not None or self._done:
            return
        # In a copy of the cell's context: ipykernel keeps there which cell an output belongs to.
        context = contextvars.copy_context()
        self._ticker = threading.Thread(target=context.run, args=(self._tick,), daemon=True,
                                        name="wagi_nb status line")
        self._ticker.start()

    def _tick(self) -> None:
        while not self._stop.wait(TICK):
            self._draw(unless_drawn_within=TICK / 2)  # (the compiler's progress drew it just now)

    def _draw(self, unless_drawn_within: float = 0.0) -> None:
        with self._lock:
            now = time.perf_counter()
            if self._done or now - self._drawn < unless_drawn_within:
                return
            if self._activity is not None:
                started, what = self._activity
                view = BuildStatus(self.label, now - started, activity=what)
            elif self._build is not None:
                started = self._build
                view = BuildStatus(self.label, now - started, self._detail)
            else:
                return  # between steps: the line stays as it was
            if self.handle is None and now - started < STATUS_AFTER:
                return
            self._drawn = now
            if self.handle is None:
                self.handle = display(view, display_id=True)
            else:
                self.handle.update(view)

    def _remove(self) -> None:
        self._stop.set()
        if self._ticker is not None:
            self._ticker.join()
        with self._lock:
            self._done = True
            if self.handle is not None:
                self.handle.update(_Empty())
                self.handle = None
