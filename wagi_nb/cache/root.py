"""Where wagi_nb keeps what it builds, and how it writes there safely."""
from __future__ import annotations

import functools
import os
import tempfile
from pathlib import Path

#: Set this to keep the cache elsewhere (tests, CI, a shared volume).
CACHE_ENV = "WAGI_NB_CACHE_DIR"


def cache_root() -> Path:
    """``$WAGI_NB_CACHE_DIR``, else ``<IPython cache dir>/wagi_nb`` (``~/.cache/ipython/wagi_nb``)."""
    configured = os.environ.get(CACHE_ENV)
    if configured:
        return _configured(configured)
    env = os.environ
    return _ipython_cache(env.get("HOME"), env.get("XDG_CACHE_HOME"), env.get("IPYTHONDIR"))


@functools.lru_cache(maxsize=8)
def _configured(value: str) -> Path:
    return Path(value).expanduser()


@functools.lru_cache(maxsize=8)
def _ipython_cache(*_environment) -> Path:
    """IPython's cache folder, asked once per value of what it depends on (it checks that folders
    are writable: a tenth of a millisecond per build otherwise)."""
    from IPython.paths import get_ipython_cache_dir  # a path function; no shell is started
    return Path(get_ipython_cache_dir()) / "wagi_nb"


def atomic_write(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that readers see the old file or the whole new one.

    Two kernels building the same cell write the same bytes; whichever rename
    lands last wins and neither can leave a torn file behind.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(data)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
