"""Errors a user can act on.

Every error wagi_nb raises on purpose derives from :class:`WagiNbError`. Its
``str()`` is a complete, one-paragraph message that says what was wrong and
what to do; the magics show it without a Python traceback.
"""


class WagiNbError(Exception):
    """Base class of every user-facing wagi_nb error."""

    def _render_traceback_(self) -> list:
        # IPython's hook: show the message itself, not a Python traceback.
        return [f"{type(self).__name__}: {self}"]


class ToolchainNotFound(WagiNbError):
    """No compiler for a language was found; the message names the install command."""


class CompileError(WagiNbError):
    """The compiler rejected the source.

    ``diagnostics`` is the compiler's own output, with file names and line
    numbers that refer to the source as the user wrote it.
    """

    def __init__(self, language: str, diagnostics: str, toolchain: str = ""):
        self.language = language
        self.diagnostics = diagnostics
        self.toolchain = toolchain
        super().__init__(f"{language} compile error ({toolchain}):\n{diagnostics}".rstrip())

    def _render_traceback_(self) -> list:
        return [str(self)]


class NotACommand(WagiNbError):
    """The module cannot be run as a WASI command (no ``_start``, or a missing entrypoint)."""


class ModuleLoadError(WagiNbError):
    """wasmtime could not compile or link a ``.wasm`` file."""


class ModuleNotLinkable(ModuleLoadError):
    """A module compiles but cannot be linked as a WASI preview 1 command: it imports what wagi-nb
    does not provide (a Spin HTTP component, another runtime's functions). A server answers its route
    with a 500 saying so, as Wagi does, instead of not starting."""


class ModuleFailed(WagiNbError):
    """A cell's module failed (a trap, a non-zero exit, a timeout): raised after its output is shown,
    so that Run All and ``nbconvert --execute`` stop there, as they do for ``%%bash``."""


class ModuleInterrupted(KeyboardInterrupt):
    """Ctrl-C (the notebook's stop button) stopped a running module; the kernel carries on."""

    def __str__(self) -> str:
        return "the running module was stopped (interrupted); the kernel is still usable"

    def _render_traceback_(self) -> list:
        return [f"KeyboardInterrupt: {self}"]
