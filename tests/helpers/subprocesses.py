"""Child processes that see this checkout and the test cache: their environment, ``python -m
wagi_nb ARGS`` run to the end, and ``wagi-nb serve`` kept running for a block."""
from __future__ import annotations

import contextlib
import os
import re
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest

from . import REPO


def child_env(**extra) -> dict:
    """The environment for a child process (a Python, a kernel, ``wagi-nb``): this one's (with
    conftest's ``WAGI_NB_CACHE_DIR``), the checkout first on ``PYTHONPATH``, this interpreter's
    folder first on ``PATH``, no ``PYTHONWARNINGS``; then ``extra``, as strings. The ``python_env``
    fixture returns this function."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    # `python3` in the WAT build command must be the one with wasmtime: this interpreter's.
    env["PATH"] = os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", "")
    env.pop("PYTHONWARNINGS", None)
    env.update({key: str(value) for key, value in extra.items()})
    return env


def wagi_nb_cli(*args, input=None, cwd=None, env=None, timeout: float = 120,
                text: bool = True) -> subprocess.CompletedProcess:
    """``python -m wagi_nb ARGS`` as a user would run it, to the end; its output as text, or as
    bytes with ``text=False`` (the ``wagi_nb_cli`` fixture's)."""
    return subprocess.run([sys.executable, "-m", "wagi_nb", *map(str, args)], input=input, cwd=cwd,
                          env=env or child_env(), capture_output=True, text=text, timeout=timeout)


@contextlib.contextmanager
def serving(*args, cwd, log: Path, env=None):
    """``python -m wagi_nb serve ARGS -l 127.0.0.1:0`` until the block ends; yields the port."""
    with open(log, "w") as stderr:
        process = subprocess.Popen([sys.executable, "-m", "wagi_nb", "serve", *map(str, args),
                                    "-l", "127.0.0.1:0"], cwd=cwd, env=env or child_env(),
                                   stdout=subprocess.PIPE, stderr=stderr, text=True)
    try:
        deadline, line = time.monotonic() + 60, ""
        while not line and time.monotonic() < deadline and process.poll() is None:
            if select.select([process.stdout], [], [], 0.5)[0]:
                line = process.stdout.readline()
        match = re.search(r"Ready: serving on http://([0-9.]+):(\d+)", line)
        if not match:
            process.kill()
            pytest.fail(f"the server did not start: stdout {line!r}, exit {process.poll()}, "
                        f"stderr:\n{log.read_text()}")
        assert match.group(1) == "127.0.0.1"
        yield int(match.group(2))
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:  # pragma: no cover
            process.kill()
            process.wait()
        process.stdout.close()


