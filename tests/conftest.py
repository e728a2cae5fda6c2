"""Shared fixtures: a private build cache, toolchain gating, real programs, real subprocesses.

Policy: real parts only. Every module is compiled with the real toolchains and
run under the real wasmtime; nothing is mocked.

* ``WAGI_NB_CACHE_DIR`` points at a temporary folder for the whole session, so
  the tests never read or write the user's cache (and start cold).
* ``need_toolchain(language)`` skips a test when this machine has no compiler
  for ``language`` — but fails it when ``CI=true``: in CI a missing toolchain is
  a broken environment, not a reason to pass.
"""
from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path

import pytest

from unavailable import unavailable
from wagi_nb.cache import CACHE_ENV

REPO = Path(__file__).resolve().parent.parent

# -- sources ------------------------------------------------------------------------------------
HELLO = {
    "rust": 'fn main() {\n    println!("Hello, world!");\n}\n',
    "c": '#include <stdio.h>\n\nint main(void) {\n    printf("Hello, world!\\n");\n    return 0;\n}\n',
    "cpp": ('#include <iostream>\n\nint main() {\n    std::cout << "Hello, world!" << std::endl;\n'
            '    return 0;\n}\n'),
    # zig 0.17: the new std.Io API.
    "zig": ('const std = @import("std");\n'
            'pub fn main(init: std.process.Init) !void {\n'
            '    var buf: [256]u8 = undefined;\n'
            '    var out: std.Io.File.Writer = .initStreaming(.stdout(), init.io, &buf);\n'
            '    try out.interface.print("Hello, world!\\n", .{});\n'
            '    try out.interface.flush();\n'
            '}\n'),
    "wat": None,  # filled in below by wat_program
}


def _wat_bytes(data: bytes) -> str:
    return "".join(f"\\{b:02x}" for b in data)


def wat_program(*writes, exit_code=None, exports_start=True, extra="") -> str:
    """A WAT command that writes ``(fd, bytes)`` pairs, then optionally calls ``proc_exit``.

    Byte-exact: every byte is spelt as a ``\\xx`` escape, so non-UTF-8 output is easy.
    """
    data, body, offset = [], [], 64
    for fd, payload in writes:
        data.append(f'  (data (i32.const {offset}) "{_wat_bytes(payload)}")')
        body.append(f"    (i32.store (i32.const 0) (i32.const {offset}))\n"
                    f"    (i32.store (i32.const 4) (i32.const {len(payload)}))\n"
                    f"    (drop (call $fd_write (i32.const {fd}) (i32.const 0) (i32.const 1)"
                    f" (i32.const 8)))")
        offset += len(payload) + 8
    if exit_code is not None:
        body.append(f"    (call $proc_exit (i32.const {exit_code}))")
    export = '(export "_start")' if exports_start else ""
    return ("(module\n"
            '  (import "wasi_snapshot_preview1" "fd_write"\n'
            "    (func $fd_write (param i32 i32 i32 i32) (result i32)))\n"
            '  (import "wasi_snapshot_preview1" "proc_exit" (func $proc_exit (param i32)))\n'
            f'  (memory (export "memory") {offset // 65536 + 1})\n'
            + "\n".join(data) + "\n"
            f"  (func $main {export}\n" + "\n".join(body) + ")\n"
            + extra + ")\n")


HELLO["wat"] = wat_program((1, b"Hello, world!\n"))

#: A module that never ends (a tight loop: only epoch interruption can stop it).
LOOP_WAT = '(module\n  (func (export "_start")\n    (loop $forever (br $forever))))\n'


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
def _python_env(**extra) -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    env.pop("PYTHONWARNINGS", None)
    env.update({k: str(v) for k, v in extra.items()})
    return env


@pytest.fixture(scope="session")
def python_env():
    """Environment for a child Python: this session's cache, the repo importable."""
    return _python_env


@pytest.fixture(scope="session")
def run_python(tmp_path_factory):
    """Run ``code`` in a fresh interpreter (a "kernel restart"); returns CompletedProcess (bytes)."""
    cwd = tmp_path_factory.mktemp("subprocess-cwd")

    def run(code: str, *args, env=None, input=None, timeout=120):
        return subprocess.run([sys.executable, "-c", code, *map(str, args)], cwd=cwd,
                              env=env or _python_env(), input=input, capture_output=True,
                              timeout=timeout)
    return run


@pytest.fixture(scope="session")
def wagi_nb_cli(tmp_path_factory):
    """``python -m wagi_nb ARGS`` as a user would run it; returns CompletedProcess (bytes)."""
    def run(*args, input=None, timeout=60, env=None, cwd=None):
        return subprocess.run([sys.executable, "-m", "wagi_nb", *map(str, args)], input=input,
                              capture_output=True, timeout=timeout, env=env or _python_env(),
                              cwd=cwd)
    return run


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
    """Helpers for WAT test modules: ``wat.program(...)`` and ``wat.LOOP``."""
    class Wat:
        program = staticmethod(wat_program)
        LOOP = LOOP_WAT
    return Wat


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


# -- the Wagi test modules (tests/wagi_modules.py), built once per session --------------------------
@pytest.fixture(scope="session")
def hello_module():
    import wagi_modules
    return wagi_modules.hello_module()


@pytest.fixture(scope="session")
def env_module():
    import wagi_modules
    return wagi_modules.env_module()


@pytest.fixture(scope="session")
def tool_module():
    import wagi_modules
    return wagi_modules.tool_module()


# -- the tutorials, run once ------------------------------------------------------------------------
@pytest.fixture(scope="session")
def run_notebook(tmp_path_factory):
    """run_notebook(name) → (its cells by tag, its working folder, its port); each runs once, and
    ends with ``%wagi_export app`` (the app folder in the working folder)."""
    import tutorials
    return tutorials.notebook_runner(tmp_path_factory, tutorials.kernel_dirs(tmp_path_factory))
