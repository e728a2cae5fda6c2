"""wasmtime: one engine and linker per process, a fresh store per run, limits, traps as values."""
from .deadlines import Deadline, cancel_all
from .engine import LoadedModule, Runtime, get_runtime
from .result import RunResult

__all__ = ["Runtime", "get_runtime", "LoadedModule", "RunResult", "Deadline", "cancel_all"]
