"""Shared fixtures: a private build cache, toolchain gating, real programs, real subprocesses.

Policy: real parts only. Every module is compiled with the real toolchains and
run under the real wasmtime; nothing is mocked.

* ``WAGI_NB_CACHE_DIR`` points at a temporary folder for the whole session, so
  the tests never read or write the user's cache (and start cold).
* ``need_toolchain(language)`` skips a test when this machine has no compiler
  for ``language`` — but fails it when ``CI=true``: in CI a missing toolchain is
  a broken environment, not a reason to pass.
* Markers (``pyproject.toml`` registers them): every test under ``browser/`` is marked ``browser``,
  under ``peers/`` ``peers``, and every test that asks for ``need_toolchain`` ``toolchain``
  (:func:`pytest_collection_modifyitems`).

What is not a fixture (real modules, servers, kernels, subprocesses) is in ``helpers/``.
"""
from __future__ import annotations

import functools
import os
import signal
import stat
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path

import pytest

from helpers import language_samples, wat as wat_sources
from helpers.subprocesses import child_env, wagi_nb_cli as run_wagi_nb_cli
from helpers.unavailable import unavailable
from wagi_nb.cache import CACHE_ENV

# -- sources ------------------------------------------------------------------------------------
#: Hello world in the compiled languages (language_samples.py's) and in byte-exact WAT.
HELLO = {**{language: language_samples.HELLO[language] for language in ("rust", "c", "cpp", "zig")},
         "wat": wat_sources.HELLO}


# -- markers ----------------------------------------------------------------------------------------
TESTS = Path(__file__).resolve().parent
#: Test folders whose every test gets the marker of the same name.
FOLDER_MARKERS = ("browser", "peers")


def pytest_collection_modifyitems(config, items):
    """Mark what a test needs (pyproject.toml registers the markers): ``browser`` and ``peers`` by
    folder; ``toolchain`` when it asks for ``need_toolchain``, itself or through a fixture. By hand, on
    the tests: ``network``, and ``toolchain`` for the few that compile without that fixture."""
    for item in items:
        try:
            folder = Path(item.path).resolve().relative_to(TESTS).parts[0]
        except ValueError:  # a test outside tests/
            folder = ""
        if folder in FOLDER_MARKERS:
            item.add_marker(folder)
        if "need_toolchain" in getattr(item, "fixturenames", ()):
            item.add_marker("toolchain")


# -- the session's cache ------------------------------------------------------------------------
@pytest.fixture(scope="session", autouse=True)
def wagi_cache_dir(tmp_path_factory):
    """Every test (and every subprocess or kernel it starts) uses this private cache."""
    path = tmp_path_factory.mktemp("wagi-nb-cache")
    previous = os.environ.get(CACHE_ENV)
    os.environ[CACHE_ENV] = str(path)
    yield path
    if previous is None:
        os.environ.pop(CACHE_ENV, None)
    else:
        os.environ[CACHE_ENV] = previous


# -- toolchains ---------------------------------------------------------------------------------
_discovered: dict = {}


def _need_toolchain(language: str):
    from wagi_nb import toolchains
    if language not in _discovered:  # discovery without any user override, once per session
        _discovered[language] = toolchains.get_toolchain(language).discover()
    info = _discovered[language]
    if not info.found:
        message = (f"no {language} toolchain for wasm32-wasi on this machine ({info.note}); "
                   f"install: {info.install}")
        unavailable(message)
    return info


@pytest.fixture(scope="session")
def need_toolchain():
    """``need_toolchain("rust")`` → the discovered ToolchainInfo; skip (CI: fail) when missing."""
    return _need_toolchain


@pytest.fixture(autouse=True)
def _no_compiler_overrides_leak():
    """A test that points a language at a specific compiler must not change the next test."""
    from wagi_nb import toolchains
    before = dict(toolchains.overrides)
    yield
    toolchains.overrides.clear()
    toolchains.overrides.update(before)


# -- a guard for code that must stop ---------------------------------------------------------------
class _Hung(KeyboardInterrupt):
    """Raised by the alarm: like Ctrl-C, so wagi_nb cancels the running module, then we fail."""


@contextmanager
def _fails_if_hung(seconds: float):
    def on_alarm(signum, frame):
        raise _Hung()
    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    except _Hung:
        pytest.fail(f"still running after {seconds} s: the module was not stopped", pytrace=False)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@pytest.fixture(scope="session")
def fails_if_hung():
    """``with fails_if_hung(30): ...`` — a broken timeout fails the test instead of hanging the run."""
    return _fails_if_hung


# -- subprocesses -------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def python_env():
    """Environment for a child Python: this session's cache, the repo importable
    (:func:`helpers.subprocesses.child_env`)."""
    return child_env


@pytest.fixture(scope="session")
def run_python(tmp_path_factory):
    """Run ``code`` in a fresh interpreter (a "kernel restart"); returns CompletedProcess (bytes)."""
    cwd = tmp_path_factory.mktemp("subprocess-cwd")

    def run(code: str, *args, env=None, input=None, timeout=120):
        return subprocess.run([sys.executable, "-c", code, *map(str, args)], cwd=cwd,
                              env=env or child_env(), input=input, capture_output=True,
                              timeout=timeout)
    return run


@pytest.fixture(scope="session")
def wagi_nb_cli():
    """``python -m wagi_nb ARGS`` as a user would run it; returns CompletedProcess (bytes)
    (:func:`helpers.subprocesses.wagi_nb_cli` with ``text=False``)."""
    return functools.partial(run_wagi_nb_cli, text=False, timeout=60)


@pytest.fixture(scope="session")
def logging_rustc(tmp_path_factory, need_toolchain):
    """A ``rustc`` wrapper that records every compile (not the version probes), then execs the
    real one. ``WRAP_DELAY`` (seconds) makes each compile slower, to force overlaps.

    Returns ``(wrapper_path, log_path)``; the log has one line per compile: ``PID ARGS``.
    """
    real = need_toolchain("rust").path
    folder = tmp_path_factory.mktemp("logging-rustc")
    log = folder / "compiles.log"
    wrapper = folder / "rustc"
    wrapper.write_text("#!/bin/sh\n"
                       'case "$*" in *--crate-name*)\n'
                       f'  echo "$$ $*" >> "{log}"\n'
                       '  sleep "${WRAP_DELAY:-0}";;\n'
                       "esac\n"
                       f'exec "{real}" "$@"\n')
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return wrapper, log


def compile_lines(log: Path) -> list:
    return log.read_text().splitlines() if log.exists() else []


@pytest.fixture(scope="session")
def compiles():
    """``compiles(log)`` → the compile lines a logging_rustc wrapper recorded so far."""
    return compile_lines


@pytest.fixture(scope="session")
def hello_sources():
    return dict(HELLO)


@pytest.fixture(scope="session")
def wat():
    """Helpers for WAT test modules: ``wat.program(...)`` and ``wat.LOOP`` (``helpers/wat.py``)."""
    return wat_sources


@pytest.fixture(scope="session")
def ipython_shell():
    """IPython's one test shell (shared with the other test files), with wagi_nb loaded."""
    from IPython.core.interactiveshell import InteractiveShell
    from IPython.testing.globalipapp import start_ipython
    start_ipython()
    shell = InteractiveShell.instance()
    shell.run_line_magic("load_ext", "wagi_nb")
    return shell


@pytest.fixture(scope="session")
def kernelspec_dir(tmp_path_factory):
    """A ``python3`` kernelspec that runs *this* interpreter (works from a fresh venv, and is not
    shadowed by some other python3 kernelspec the user has installed)."""
    from ipykernel.kernelspec import install
    prefix = tmp_path_factory.mktemp("jupyter-prefix")
    install(kernel_name="python3", prefix=str(prefix))
    return prefix / "share" / "jupyter"


# -- the Wagi test modules (helpers/wagi_modules.py), built once per session ------------------------
@pytest.fixture(scope="session")
def hello_module():
    from helpers import wagi_modules
    return wagi_modules.hello_module()


@pytest.fixture(scope="session")
def env_module(need_toolchain):
    from helpers import wagi_modules
    need_toolchain("c")
    return wagi_modules.env_module()


@pytest.fixture(scope="session")
def tool_module(need_toolchain):
    from helpers import wagi_modules
    need_toolchain("c")
    return wagi_modules.tool_module()


# -- the tutorials, run once ------------------------------------------------------------------------
@pytest.fixture(scope="session")
def run_notebook(tmp_path_factory, need_toolchain):
    """run_notebook(name) → (its cells by tag, its working folder, its port); each runs once, and
    ends with ``%wagi_export app`` (the app folder in the working folder)."""
    from helpers import tutorials
    need_toolchain("rust")  # every tutorial compiles Rust; the runner checks each one's other languages
    return tutorials.notebook_runner(tmp_path_factory, tutorials.kernel_dirs(tmp_path_factory))


@pytest.fixture(scope="session")
def bridge():
    """The component bridge's built adapters (``wagi_nb.bridge.adapters.Adapters``); skip (CI: fail)
    when its tools are missing, with the message that says ``wagi-nb install component``."""
    from wagi_nb.bridge import BridgeUnavailable
    from wagi_nb.bridge.adapters import adapters
    try:
        return adapters()
    except BridgeUnavailable as error:
        unavailable(str(error))


@pytest.fixture(scope="module")
def target():
    """An upstream HTTP server on 127.0.0.1 for outbound requests (``helpers/outbound.py``)."""
    from helpers import outbound
    server = outbound.Target()
    yield server
    server.close()
