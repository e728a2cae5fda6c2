"""wasmtime: one engine and linker per process, a fresh store per run, limits, traps as values."""
from .deadlines import Deadline, cancel_all
from .engine import (DEFAULT_MAX_OUTPUT_MIB, DEFAULT_MEMORY_MIB, DEFAULT_TIMEOUT, LoadedModule,
                     Runtime, get_runtime)
from .result import RunResult

__all__ = ["Runtime", "get_runtime", "LoadedModule", "RunResult", "Deadline", "cancel_all",
           "DEFAULT_TIMEOUT", "DEFAULT_MEMORY_MIB", "DEFAULT_MAX_OUTPUT_MIB"]
