"""The build cache: compiled ``.wasm`` by content key, and wasmtime's native code by wasm hash."""
from .builds import BuildCache, CachedBuild, build_key
from .root import CACHE_ENV, atomic_write, cache_root

__all__ = ["BuildCache", "CachedBuild", "build_key", "cache_root", "atomic_write", "CACHE_ENV"]
