"""The command line: `wagi-nb run FILE.wasm [-- ARGS]` and `wagi-nb toolchains`, run as a user would."""
from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import wagi_nb

ECHO_C = r"""
#include <stdio.h>
#include <stdlib.h>
extern char **environ;
/* Prints its arguments, environment and stdin; exits with the number in argv[1]. */
int main(int argc, char **argv) {
    for (int i = 2; i < argc; i++) printf("arg %s\n", argv[i]);
    for (char **e = environ; *e; e++) printf("env %s\n", *e);
    char buf[1024];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, stdin)) > 0) fwrite(buf, 1, n, stdout);
    fprintf(stderr, "to stderr\n");
    return argc > 1 ? atoi(argv[1]) : 0;
}
"""


@pytest.fixture(scope="module")
def echo_wasm(need_toolchain, tmp_path_factory):
    need_toolchain("c")
    path = tmp_path_factory.mktemp("cli") / "echo.wasm"
    shutil.copy(wagi_nb.build(ECHO_C, language="c").wasm_path, path)
    return path


@pytest.fixture(scope="module")
def loop_wat(wat, tmp_path_factory):
    # Says it has started, then spins: a test waits for the line instead of guessing a time.
    path = tmp_path_factory.mktemp("cli") / "loop.wat"
    path.write_text(wat.program((1, b"spinning\n"), then_loop=True))
    return path


def test_run_passes_args_and_keeps_the_exit_code(wagi_nb_cli, echo_wasm):
    done = wagi_nb_cli("run", echo_wasm, "--", "0", "a", "b c")
    assert done.returncode == 0, done.stderr
    assert done.stdout == b"arg a\narg b c\n"
    assert done.stderr == b"to stderr\n"
    done = wagi_nb_cli("run", echo_wasm, "--", "7", "--timeout", "x")
    assert done.returncode == 7
    assert done.stdout == b"arg --timeout\narg x\n", "arguments after -- belong to the module"


def test_run_pipes_stdin_through(wagi_nb_cli, echo_wasm):
    done = wagi_nb_cli("run", echo_wasm, input=b"piped \xff bytes\n")
    assert done.returncode == 0
    assert done.stdout == b"piped \xff bytes\n"


def test_run_env_is_only_what_was_given(wagi_nb_cli, echo_wasm, python_env):
    done = wagi_nb_cli("run", "-e", "NAME=world", echo_wasm,
                       env=python_env(WAGI_NB_HOST_SECRET="must-not-leak"))
    assert done.returncode == 0
    assert done.stdout == b"env NAME=world\n"


def test_run_timeout_exits_124(wagi_nb_cli, loop_wat):
    start = time.monotonic()
    done = wagi_nb_cli("run", "--timeout", "0.3", loop_wat)
    assert done.returncode == 124
    assert b"timed out after 0.3 s" in done.stderr
    assert time.monotonic() - start < 20


def test_run_trap_reports_the_trap_and_backtrace(wagi_nb_cli, need_toolchain, tmp_path):
    need_toolchain("c")
    source = ('__attribute__((noinline)) void explode_here(void) { __builtin_trap(); }\n'
              'int main(void) { explode_here(); return 0; }\n')
    path = tmp_path / "trap.wasm"
    shutil.copy(wagi_nb.build(source, language="c").wasm_path, path)
    done = wagi_nb_cli("run", path)
    assert done.returncode == 134
    assert b"trap: wasm trap: wasm `unreachable` instruction executed" in done.stderr
    assert b"explode_here" in done.stderr
    assert b"Traceback" not in done.stderr


def test_run_ctrl_c_exits_130(python_env, loop_wat):
    proc = subprocess.Popen([sys.executable, "-m", "wagi_nb", "run", str(loop_wat)],
                            env=python_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert proc.stdout.readline() == b"spinning\n"
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=15)
    finally:
        proc.kill()
    assert proc.returncode == 130
    assert b"Traceback" not in err


def test_run_missing_file_is_one_line_exit_2(wagi_nb_cli, tmp_path):
    done = wagi_nb_cli("run", tmp_path / "nope.wasm")
    assert done.returncode == 2
    err = done.stderr.decode()
    assert err.startswith("wagi-nb: ") and "nope.wasm" in err
    assert err.count("\n") == 1, err
    assert "Traceback" not in err
    assert done.stdout == b""


def test_run_a_file_that_is_not_wasm(wagi_nb_cli, tmp_path):
    bogus = tmp_path / "bogus.wasm"
    bogus.write_bytes(b"not wasm")
    done = wagi_nb_cli("run", bogus)
    assert done.returncode == 2
    assert b"WebAssembly" in done.stderr and b"Traceback" not in done.stderr


def test_run_a_wat_file(wagi_nb_cli, hello_sources, tmp_path):
    path = tmp_path / "hello.wat"
    path.write_text(hello_sources["wat"])
    done = wagi_nb_cli("run", path)
    assert (done.returncode, done.stdout, done.stderr) == (0, b"Hello, world!\n", b"")


def test_toolchains_prints_the_table(wagi_nb_cli, need_toolchain):
    infos = {language: need_toolchain(language) for language in ("rust", "c", "cpp", "zig", "wat")}
    done = wagi_nb_cli("toolchains")
    assert done.returncode == 0, done.stdout.decode() + done.stderr.decode()
    text = done.stdout.decode()
    for language, info in infos.items():
        line = re.search(rf"^{language}\s+found\s+(\S+)\s+\[(.*); target (\S+)\]$", text, re.M)
        assert line, f"no row for {language}:\n{text}"
        assert line.groups() == (info.path, info.version, info.target)


def test_console_script_is_installed():
    script = Path(sys.executable).parent / "wagi-nb"
    if not script.exists():
        # Running from a source checkout without `pip install` is fine on a laptop; CI installs it.
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true and the wagi-nb console script is missing beside {sys.executable}")
        pytest.skip("wagi-nb is not installed as a console script in this environment")
    done = subprocess.run([str(script), "--version"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0
    assert done.stdout.strip() == f"wagi-nb {wagi_nb.__version__}"
