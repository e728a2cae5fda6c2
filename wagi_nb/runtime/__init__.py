"""wasmtime: one engine and linker per process, a fresh store per run, limits, traps as values."""
from .deadlines import Deadline
from .engine import (DEFAULT_MEMORY_MIB, DEFAULT_TIMEOUT, LoadedModule, Runtime, get_runtime)
from .result import RunResult

__all__ = ["Runtime", "get_runtime", "LoadedModule", "RunResult", "Deadline", "DEFAULT_TIMEOUT",
           "DEFAULT_MEMORY_MIB"]
