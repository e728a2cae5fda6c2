"""wagi_nb: server-side WebAssembly in Jupyter.

Compile a cell (Rust, C, C++, Zig, WAT) to ``wasm32-wasi``, run it under
wasmtime, and serve it as a Wagi handler (``WagiApp``, ``wagi_nb.app``).

Python API (no Jupyter needed)::

    import wagi_nb
    hello = wagi_nb.build('fn main() { println!("Hello, world!"); }', language="rust")
    result = hello.run()
    print(result.text, result.outcome, result.exit_code)

In IPython/Jupyter: ``%load_ext wagi_nb``, then ``%%wasm_rust`` and friends.
"""
from ._version import __version__
from .artifacts import Artifact, build, build_crate, load, modules
from .errors import (CompileError, ModuleLoadError, NotACommand, ToolchainNotFound,
                     WagiNbError)
from .runtime import RunResult, get_runtime
from .runtime.exports import ArgumentError, CallError, ExportError, Exports, Instance, NoSuchExport
from .toolchains import all_toolchains, discover, set_compiler
from .wagi import Request, Response, WagiApp, app


def run(module, args=(), **options) -> RunResult:
    """Run a ``.wasm``/``.wat`` path, or an :class:`Artifact`, once. Options as :meth:`Artifact.run`."""
    artifact = module if isinstance(module, Artifact) else load(module)
    return artifact.run(args, **options)


def load_ipython_extension(ipython):
    """``%load_ext wagi_nb``: register the magics."""
    from .magics import register
    register(ipython)


__all__ = ["__version__", "build", "build_crate", "load", "run", "modules", "Artifact", "RunResult",
           "discover", "all_toolchains", "set_compiler", "get_runtime", "WagiNbError",
           "CompileError", "ToolchainNotFound", "NotACommand", "ModuleLoadError",
           "WagiApp", "Request", "Response", "app", "Exports", "Instance", "ExportError", "ArgumentError",
           "CallError", "NoSuchExport"]
