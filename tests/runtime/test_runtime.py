"""Running modules under wasmtime: WASI argv/env/stdin/preopens, full output capture, exit codes,
traps with readable backtraces, limits (memory, timeout, Ctrl-C), fresh instances, clean exit."""
from __future__ import annotations

import copy
import signal
import subprocess
import sys
import threading
import time

import pytest

import wagi_nb
from wagi_nb.display import RunView
from wagi_nb.errors import ModuleLoadError, NotACommand, WagiNbError

PROBE_C = r"""
#include <stdio.h>
#include <string.h>

extern char **environ;
static int runs = 0;   /* a fresh instance per run: always 1 */

int main(int argc, char **argv) {
    runs++;
    printf("runs=%d\n", runs);
    for (int i = 0; i < argc; i++) printf("arg[%d]=%s\n", i, argv[i]);
    for (char **e = environ; *e; e++) printf("env[%s]\n", *e);
    char buf[4096];
    size_t n = fread(buf, 1, sizeof buf, stdin);
    printf("stdin=%zu:", n);
    fwrite(buf, 1, n, stdout);
    printf("\n");
    for (int i = 1; i < argc; i++) {
        if (strncmp(argv[i], "cat:", 4) != 0) continue;
        FILE *f = fopen(argv[i] + 4, "r");
        if (!f) { printf("cat %s: cannot open\n", argv[i] + 4); continue; }
        char text[256] = {0};
        fread(text, 1, sizeof text - 1, f);
        fclose(f);
        printf("cat %s: %s\n", argv[i] + 4, text);
    }
    return 0;
}
"""

TRAPS_C = r"""
#include <stdio.h>
#include <string.h>

__attribute__((noinline)) void explode_here(void) { __builtin_trap(); }
__attribute__((noinline)) int read_far_away(volatile int *p) { return *p; }

int main(int argc, char **argv) {
    printf("before the trap\n");
    fflush(stdout);
    if (argc > 1 && strcmp(argv[1], "oob") == 0) return read_far_away((volatile int *)0xFFFFFFF0u);
    explode_here();
    return 0;
}
"""

PANIC_RS = r"""
#[inline(never)]
fn the_culprit(x: usize) {
    if x > 0 {
        panic!("boom at {}", x);
    }
}

fn main() {
    println!("before the panic");
    the_culprit(std::env::args().count());
}
"""

MEMORY_BOMB_C = r"""
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void *volatile keep;   /* so the allocations cannot be optimised away */

int main(void) {
    size_t mib = 0;
    for (;;) {
        char *p = malloc(1 << 20);
        if (!p) break;
        memset(p, 0xAB, 1 << 20);
        keep = p;
        mib++;
    }
    printf("allocated %zu MiB\n", mib);
    return 0;
}
"""

MEMORY_BOMB_RS = r"""
fn main() {
    let mut hoard: Vec<Vec<u8>> = Vec::new();
    loop {
        hoard.push(vec![1u8; 1 << 20]);
    }
}
"""

BIG_STDOUT_C = r"""
#include <stdio.h>
int main(void) {
    for (int i = 0; i < (1 << 20); i++) printf("%07d\n", i);   /* 8 bytes a line: 8 MiB */
    return 0;
}
"""


@pytest.fixture(scope="module")
def probe(need_toolchain):
    need_toolchain("c")
    return wagi_nb.build(PROBE_C, language="c")


@pytest.fixture(scope="module")
def traps(need_toolchain):
    need_toolchain("c")
    return wagi_nb.build(TRAPS_C, language="c")


@pytest.fixture(scope="module")
def hello_wat(hello_sources):
    return wagi_nb.build(hello_sources["wat"], language="wat")


@pytest.fixture(scope="module")
def loop(wat):
    return wagi_nb.build(wat.LOOP, language="wat")


def lines(result, prefix):
    return [line for line in result.text.splitlines() if line.startswith(prefix)]


# -- WASI: argv, env, stdin, preopened folders ----------------------------------------------------
def test_argv(probe):
    result = probe.run(["one", "two words", "ünïcode", ""])
    assert lines(result, "arg[") == ["arg[0]=main.wasm", "arg[1]=one", "arg[2]=two words",
                                     "arg[3]=ünïcode", "arg[4]="]


def test_argv0_is_the_modules_name(need_toolchain):
    need_toolchain("c")
    named = wagi_nb.build(PROBE_C, language="c", name="probe")
    assert lines(named.run(), "arg[") == ["arg[0]=probe.wasm"]


def test_env_is_only_what_was_given(probe, monkeypatch):
    monkeypatch.setenv("WAGI_NB_HOST_SECRET", "must-not-leak")
    result = probe.run(env={"GREETING": "hello world", "EMPTY": ""})
    assert lines(result, "env[") == ["env[GREETING=hello world]", "env[EMPTY=]"]
    assert "must-not-leak" not in result.text
    assert lines(probe.run(), "env[") == [], "no env given: the module sees an empty environment"


def test_each_run_sees_exactly_its_own_env_and_argv_however_many_came_before(probe):
    """Runs reuse the C copies of strings earlier runs had (and drop them past a limit): many
    runs with different, large, non-ASCII and non-text values still each see just their own."""
    big = "x" * 200_000  # a few of these pass the limit of kept copies, so it is emptied meanwhile
    for number in range(12):
        env = {"N": str(number), "SAME": "kept", "BIG": f"{big}{number}", "TEXT": f"héllo ✓ {number}",
               "INT": number, "TRUE": True, "ONE": 1.0}  # not text: as its str, as wasmtime-py does
        result = probe.run([f"arg-{number}", "ünï"], env=env)
        assert lines(result, "arg[")[1:] == [f"arg[1]=arg-{number}", "arg[2]=ünï"]
        assert lines(result, "env[") == [f"env[N={number}]", "env[SAME=kept]", f"env[BIG={big}{number}]",
                                         f"env[TEXT=héllo ✓ {number}]", f"env[INT={number}]",
                                         "env[TRUE=True]", "env[ONE=1.0]"]


def test_stdin_bytes_and_text(probe):
    data = b"binary \x00\x01\xff and text"
    result = probe.run(stdin=data)
    assert f"stdin={len(data)}:".encode() + data + b"\n" in result.stdout
    assert "stdin=5:héll\n" in probe.run(stdin="héll").text  # a str is sent as UTF-8 (5 bytes)
    assert "stdin=0:\n" in probe.run().text


def test_preopened_folder_is_readable_and_nothing_else(probe, tmp_path):
    share = tmp_path / "share"
    share.mkdir()
    (share / "a.txt").write_text("shared data")
    secret = tmp_path / "secret.txt"
    secret.write_text("the host's secret")
    result = probe.run(["cat:/data/a.txt", "cat:/data/../secret.txt", "cat:/secret.txt",
                        f"cat:{secret}", f"cat:{share}/a.txt", "cat:a.txt"],
                       dirs=[f"{share}:/data"])
    assert "cat /data/a.txt: shared data" in result.text
    assert lines(result, "cat ")[1:] == [
        "cat /data/../secret.txt: cannot open", "cat /secret.txt: cannot open",
        f"cat {secret}: cannot open", f"cat {share}/a.txt: cannot open", "cat a.txt: cannot open"]
    assert "the host's secret" not in result.text


def test_no_preopen_no_files(probe, tmp_path):
    (tmp_path / "a.txt").write_text("data")
    result = probe.run([f"cat:{tmp_path}/a.txt", "cat:/etc/hostname", "cat:a.txt"])
    assert all(line.endswith("cannot open") for line in lines(result, "cat "))
    assert len(lines(result, "cat ")) == 3


def test_preopen_forms_host_only_and_pair(probe, tmp_path):
    (tmp_path / "a.txt").write_text("same path")
    assert f"cat {tmp_path}/a.txt: same path" in probe.run([f"cat:{tmp_path}/a.txt"],
                                                           dirs=[str(tmp_path)]).text
    assert "cat /w/a.txt: same path" in probe.run(["cat:/w/a.txt"], dirs=[(str(tmp_path), "/w")]).text


def test_preopen_of_a_missing_folder_is_a_clear_error(probe, tmp_path):
    with pytest.raises(WagiNbError, match="no such folder"):
        probe.run(dirs=[f"{tmp_path}/missing:/data"])


# -- output -------------------------------------------------------------------------------------
def test_eight_mib_of_stdout_comes_back_intact(need_toolchain):
    need_toolchain("c")
    result = wagi_nb.build(BIG_STDOUT_C, language="c").run()
    expected = b"".join(b"%07d\n" % i for i in range(1 << 20))
    assert len(result.stdout) == 8 * 1024 * 1024
    assert result.stdout == expected
    assert result.ok
    # The view shows a part and says so; the full bytes stay on the result.
    shown = repr(RunView(result))
    assert "showing the first 65,536 of 8,388,608 bytes" in shown
    assert len(shown) < 100_000


def test_stdout_and_stderr_are_captured_apart(wat):
    result = wagi_nb.build(wat.program((1, b"to stdout\n"), (2, b"to stderr\n"), (1, b"more out\n")),
                           language="wat").run()
    assert result.stdout == b"to stdout\nmore out\n"
    assert result.stderr == b"to stderr\n"
    shown = repr(RunView(result))
    assert shown.index("to stdout") < shown.index("--- stderr ---") < shown.index("to stderr")


def test_non_utf8_output_is_shown_not_crashed(wat):
    raw = b"caf\xe9 \xff\xfe ok\n"
    result = wagi_nb.build(wat.program((1, raw), (2, b"\xc3(\n")), language="wat").run()
    assert result.stdout == raw and result.stderr == b"\xc3(\n"   # bytes kept exactly
    assert result.text == "caf\ufffd \ufffd\ufffd ok\n"
    view = RunView(result)
    text, html = repr(view), view._repr_html_()
    assert "caf\ufffd" in text and "ok" in text
    assert "not valid UTF-8" in text and "not valid UTF-8" in html
    assert "caf\ufffd" in html


def test_a_run_view_copies_and_the_copy_shows_the_same(wat):
    artifact = wagi_nb.build(wat.program((1, b"to stdout\n"), (2, b"to stderr\n")), language="wat")
    view = RunView(artifact.run(), artifact)
    for copied in (copy.copy(view), copy.deepcopy(view)):
        assert type(copied) is RunView
        assert (repr(copied), copied._repr_html_()) == (repr(view), view._repr_html_())
        assert copied.stdout == b"to stdout\n"  # attributes still fall through to the result


# -- how a run ends -----------------------------------------------------------------------------
def test_proc_exit_zero_is_success(wat):
    result = wagi_nb.build(wat.program((1, b"bye\n"), exit_code=0), language="wat").run()
    assert result.outcome == "ok" and result.ok
    assert result.exit_code == 0
    assert result.stdout == b"bye\n"


def test_non_zero_exit_is_reported_with_its_code(wat):
    result = wagi_nb.build(wat.program((1, b"partial\n"), exit_code=3), language="wat").run()
    assert result.outcome == "exit" and not result.ok
    assert result.exit_code == 3
    assert result.stdout == b"partial\n"
    assert "exit status 3" in result.status
    assert "exit status 3" in repr(RunView(result))


def test_return_code_from_c_main(need_toolchain):
    need_toolchain("c")
    result = wagi_nb.build("int main(void) { return 42; }\n", language="c").run()
    assert (result.outcome, result.exit_code) == ("exit", 42)


def test_unreachable_trap_has_message_and_named_backtrace(traps):
    result = traps.run()
    assert result.outcome == "trap" and not result.ok
    assert result.exit_code is None
    assert "unreachable" in result.trap
    names = [frame.split(" ", 1)[1] for frame in result.backtrace]
    assert names[0] == "explode_here"
    assert "main" in names
    assert result.stdout == b"before the trap\n", "output before a trap is kept"
    shown = repr(RunView(result))
    assert "trap:" in shown and "explode_here" in shown


def test_out_of_bounds_trap_has_message_and_named_backtrace(traps):
    result = traps.run(["oob"])
    assert result.outcome == "trap"
    assert "out of bounds memory access" in result.trap
    assert result.backtrace[0].endswith(" read_far_away")


def test_rust_panic_backtrace_shows_rust_names(need_toolchain):
    need_toolchain("rust")
    result = wagi_nb.build(PANIC_RS, language="rust").run()
    assert result.outcome == "trap"
    assert "boom at 1" in result.stderr_text
    assert result.stdout == b"before the panic\n"
    names = [frame.split(" ", 1)[1] for frame in result.backtrace]
    assert "cell::the_culprit" in names, names   # Rust's hash suffix removed
    assert "cell::main" in names


def test_memory_bomb_is_contained_by_the_limit(need_toolchain):
    need_toolchain("c")
    bomb = wagi_nb.build(MEMORY_BOMB_C, language="c")
    default = bomb.run()
    assert default.ok
    allocated = int(default.text.split()[1])
    assert 128 <= allocated < 256, "the default limit is 256 MiB of linear memory"
    small = bomb.run(memory_limit_mib=32)
    assert small.ok and int(small.text.split()[1]) < 32


def test_rust_memory_bomb_aborts_cleanly(need_toolchain, hello_wat):
    need_toolchain("rust")
    result = wagi_nb.build(MEMORY_BOMB_RS, language="rust").run(memory_limit_mib=64)
    assert result.outcome == "trap"
    assert "memory allocation of" in result.stderr_text
    assert hello_wat.run().ok, "the process is still usable after a memory bomb"


def test_infinite_loop_is_stopped_by_the_timeout_and_the_process_stays_usable(loop, hello_wat,
                                                                              fails_if_hung):
    start = time.monotonic()
    with fails_if_hung(30):
        result = loop.run(timeout=0.3)
    elapsed = time.monotonic() - start
    assert result.outcome == "timeout" and not result.ok
    assert result.exit_code is None
    assert result.trap == "timed out after 0.3 s"
    assert result.status == "stopped: timed out after 0.3 s"
    assert "timed out after 0.3 s" in repr(RunView(result))
    assert elapsed < 5
    after = hello_wat.run()
    assert after.ok and after.stdout == b"Hello, world!\n"


INTERRUPT_SCRIPT = r"""
import sys, time, wagi_nb
loop = wagi_nb.build(sys.argv[1], language="wat")
hello = wagi_nb.build(sys.argv[2], language="wat")
print("running", flush=True)
start = time.monotonic()
try:
    loop.run(timeout=60)
    print("not interrupted", flush=True)
except KeyboardInterrupt:
    print(f"KeyboardInterrupt after {time.monotonic() - start:.1f} s", flush=True)
print("next run:", hello.run().text, end="", flush=True)
"""


def test_ctrl_c_stops_a_running_module_and_the_process_stays_usable(run_python, python_env, wat,
                                                                    hello_sources):
    proc = subprocess.Popen([sys.executable, "-c", INTERRUPT_SCRIPT, wat.LOOP, hello_sources["wat"]],
                            env=python_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert proc.stdout.readline() == b"running\n"
        time.sleep(0.5)
        sent = time.monotonic()
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
        stopped = time.monotonic() - sent
    finally:
        proc.kill()
    assert b"KeyboardInterrupt after" in out, (out, err)
    assert b"next run: Hello, world!\n" in out
    assert stopped < 5
    assert err == b""


def test_fresh_instance_per_run(probe):
    for _ in range(3):
        assert lines(probe.run(), "runs=") == ["runs=1"]


def test_runs_from_several_threads_at_once(probe):
    results = {}

    def worker(n):
        results[n] = probe.run([f"worker-{n}"], stdin=f"input {n}")

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(results) == [0, 1, 2, 3]
    for n, result in results.items():
        assert f"arg[1]=worker-{n}" in result.text
        assert f"stdin=7:input {n}" in result.text


# -- modules that cannot run ---------------------------------------------------------------------
REACTOR_WAT = """(module
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 16) "greetings\\n")
  (func (export "greet")
    (i32.store (i32.const 0) (i32.const 16))
    (i32.store (i32.const 4) (i32.const 10))
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8))))
  (func (export "add") (param i32 i32) (result i32) (i32.add (local.get 0) (local.get 1))))
"""


def test_module_without_start_is_not_a_command():
    reactor = wagi_nb.build(REACTOR_WAT, language="wat")
    with pytest.raises(NotACommand) as caught:
        reactor.run()
    message = str(caught.value)
    assert "no `_start` export" in message and "not a WASI command" in message
    assert "add" in message and "greet" in message, "the message lists what the module exports"
    assert reactor.run(entrypoint="greet").stdout == b"greetings\n"
    with pytest.raises(NotACommand, match="'nope'"):
        reactor.run(entrypoint="nope")


def test_a_file_that_is_not_wasm_is_a_clear_error(tmp_path):
    bogus = tmp_path / "bogus.wasm"
    bogus.write_bytes(b"MZ this is not webassembly")
    with pytest.raises(ModuleLoadError, match=r"bogus\.wasm holds 26 bytes of text: .*, not a WebAssembly module"):
        wagi_nb.run(str(bogus))


def test_a_module_importing_more_than_wasi_is_a_clear_error():
    module = wagi_nb.build('(module (import "env" "host_thing" (func)) (func (export "_start")))',
                           language="wat")
    with pytest.raises(ModuleLoadError, match="WASI preview 1"):
        module.run()


# -- clean interpreter exit ------------------------------------------------------------------------
CLEAN_EXIT_SCRIPT = r"""
import sys, wagi_nb
hello = wagi_nb.build(sys.argv[1], language="rust")
trap = wagi_nb.build(sys.argv[2], language="c")
loop = wagi_nb.build(sys.argv[3], language="wat")
print(hello.run().text, end="")
print(trap.run().outcome)
print(loop.run(timeout=0.2).outcome)
"""


def test_nothing_is_printed_at_interpreter_exit(run_python, need_toolchain, hello_sources, wat):
    need_toolchain("rust")
    need_toolchain("c")
    done = run_python(CLEAN_EXIT_SCRIPT, hello_sources["rust"], TRAPS_C, wat.LOOP)
    assert done.returncode == 0
    assert done.stdout == b"Hello, world!\ntrap\ntimeout\n"
    assert done.stderr == b"", done.stderr.decode()


def test_two_runtimes_in_one_process_both_run_modules(need_toolchain, wat):
    """Each Runtime has its own engine; nothing of one (a host function's type) may leak into the other."""
    from wagi_nb.runtime import Runtime
    need_toolchain("wat")
    module = wagi_nb.build(wat.program((1, b"from a second engine\n")), language="wat")
    first, second = Runtime(), Runtime()
    for runtime in (first, second):
        assert runtime.run(runtime.load(module.wasm_path)).stdout == b"from a second engine\n"


# -- what a long session keeps in memory --------------------------------------------------------------
EDITS_SCRIPT = r"""
import sys, wagi_nb
def rss():
    return int(open("/proc/self/statm").read().split()[1]) * 4096 / 2**20
def edit(n):  # a cell edited n times: each version a new module of 2,000 functions (~2 MiB compiled)
    funcs = "".join(f'(func (export "f{j}") (result i32) (i32.const {n * 10000 + j}))' for j in range(2000))
    return f'(module (memory (export "memory") 1) {funcs} (func (export "_start")))'
wagi_nb.build(edit(0), language="wat").run()
start = rss()
wagi_nb.build(edit(1), language="wat").run()
one = rss() - start
for n in range(2, int(sys.argv[1])):
    assert wagi_nb.build(edit(n), language="wat").run().ok
print(one, rss() - start)
"""


def test_a_cell_edited_many_times_does_not_keep_every_module(run_python):
    done = run_python(EDITS_SCRIPT, 50, timeout=300)
    assert done.returncode == 0, done.stderr.decode()
    one, grown = map(float, done.stdout.split())
    # 49 modules of which only the last few are kept (it was all of them: ~2 MiB each, +100 MiB)
    assert grown < 40, f"{grown:.0f} MiB for 49 edits, {one:.1f} MiB for the first"
