"""The %%wasm_* magics through a real IPython shell: what a notebook user sees."""
from __future__ import annotations

import re

import pytest
from IPython.core.error import UsageError
from IPython.utils.capture import capture_output

import wagi_nb
from wagi_nb.display import RunView
from wagi_nb.errors import CompileError, ToolchainNotFound

MAGICS = {"rust": "wasm_rust", "c": "wasm_c", "cpp": "wasm_cpp", "zig": "wasm_zig", "wat": "wasm_wat"}

PROBE_C = r"""
#include <stdio.h>
extern char **environ;
int main(int argc, char **argv) {
    for (int i = 1; i < argc; i++) printf("arg=%s\n", argv[i]);
    for (char **e = environ; *e; e++) printf("env=%s\n", *e);
    char buf[256];
    size_t n = fread(buf, 1, sizeof buf, stdin);
    printf("stdin=");
    fwrite(buf, 1, n, stdout);
    printf("\n");
    FILE *f = fopen("/out/ran.txt", "w");
    if (f) { fputs("the module ran", f); fclose(f); }
    return 0;
}
"""

COMPILE_ERRORS = {
    # language: (cell body, the location the notebook shows: line 1 is the %%magic line)
    "rust": ('fn main() {\n    let x: i32 = "nope";\n}\n', "cell.rs:3:18"),
    "c": ("int main(void) {\n    return undefined_thing;\n}\n", "cell.c:3:12"),
    "cpp": ("int main() {\n    return undefined_thing;\n}\n", "cell.cpp:3:12"),
    "wat": ('(module\n  (func (export "_start")\n    (i32.bogus)))\n', "cell.wat:4:6"),
}


@pytest.fixture(scope="module")
def ip(ipython_shell):
    return ipython_shell


def run_cell(ip, text):
    """Run a cell as the notebook would; (ExecutionResult, captured output)."""
    with capture_output() as captured:
        result = ip.run_cell(text)
    return result, captured


def shown(captured) -> str:
    """Everything the cell printed or displayed, as text."""
    parts = [captured.stdout, captured.stderr]
    parts += [output.data.get("text/plain", "") for output in captured.outputs]
    return "\n".join(parts)


def magic(ip, name, line, body):
    """Run a cell magic directly; (returned value, everything shown and the value, as text)."""
    with capture_output() as captured:
        value = ip.run_cell_magic(name, line, body)
    text = shown(captured) + ("\n" + repr(value) if value is not None else "")
    return value, text


def configure(ip, setting):
    with capture_output():
        result = ip.run_cell(f"%config {setting}")
    assert result.success, setting


@pytest.mark.parametrize("language", ["rust", "c", "cpp", "wat"])
def test_hello_world_cell(ip, language, need_toolchain, hello_sources):
    need_toolchain(language)
    view, text = magic(ip, MAGICS[language], "", hello_sources[language])
    assert view is None or isinstance(view, RunView)
    assert "Hello, world!\n" in text and "exit status 0" in text
    result, captured = run_cell(ip, f"%%{MAGICS[language]}\n{hello_sources[language]}")
    assert result.success
    assert "Hello, world!" in shown(captured)
    assert "exit status 0" in shown(captured)


@pytest.mark.parametrize("language", sorted(COMPILE_ERRORS))
def test_compile_error_shows_diagnostics_at_the_cells_own_lines(ip, language, need_toolchain):
    need_toolchain(language)
    body, location = COMPILE_ERRORS[language]
    with pytest.raises(CompileError) as caught:
        ip.run_cell_magic(MAGICS[language], "", body)
    assert location in caught.value.diagnostics

    result, captured = run_cell(ip, f"%%{MAGICS[language]}\n{body}")
    assert not result.success, "a compile error must fail the cell"
    assert isinstance(result.error_in_exec, CompileError)
    output = shown(captured)
    assert location in output
    assert "Traceback" not in output and "File \"" not in output, output


def test_rust_diagnostic_quotes_the_cells_line_with_its_notebook_number(ip, need_toolchain):
    need_toolchain("rust")
    body, _ = COMPILE_ERRORS["rust"]
    _, captured = run_cell(ip, f"%%wasm_rust\n{body}")
    assert re.search(r'^3 \|     let x: i32 = "nope";$', shown(captured), re.M)


def test_unknown_flag_is_a_usage_error(ip, hello_sources):
    with pytest.raises(UsageError, match="--bogus"):
        ip.run_cell_magic("wasm_rust", "--bogus", hello_sources["rust"])
    result, captured = run_cell(ip, f"%%wasm_wat --bogus\n{hello_sources['wat']}")
    assert not result.success
    assert isinstance(result.error_in_exec, UsageError)
    assert "--bogus" in shown(captured) and "Traceback" not in shown(captured)


def test_wat_has_no_release_or_debug(ip, hello_sources):
    with pytest.raises(UsageError):
        ip.run_cell_magic("wasm_wat", "--debug", hello_sources["wat"])


def test_help_lists_the_flags(ip):
    result, captured = run_cell(ip, "%%wasm_rust?")
    assert result.success
    for flag in ("--name", "--release", "--debug", "--force", "--no-run", "--args", "--env",
                 "--stdin", "--timeout", "--dir"):
        assert flag in captured.stdout, flag


def test_name_no_run_then_wasm_run(ip, need_toolchain, tmp_path):
    need_toolchain("c")
    out = tmp_path / "out"
    out.mkdir()
    _, built = magic(ip, "wasm_c", f"--name probe_magic --no-run --dir {out}:/out", PROBE_C)
    assert "[c module, " in built and " bytes" in built
    assert not (out / "ran.txt").exists(), "--no-run must not run the module"
    assert wagi_nb.modules["probe_magic"].language == "c"

    view = ip.run_line_magic("wasm_run", f"probe_magic --dir {out}:/out --args 'x y'")
    assert view.result.ok
    assert (out / "ran.txt").read_text() == "the module ran"
    assert "arg=x\narg=y\n" in view.result.text


def test_args_env_stdin(ip, need_toolchain):
    need_toolchain("c")
    _, text = magic(
        ip, "wasm_c", """--args "one 'two three'" --env GREETING=hi --env 'QUOTED="a b"' """
                      """--stdin 'piped text'""", PROBE_C)
    assert "arg=one\narg=two three\n" in text
    assert [line for line in text.splitlines() if line.startswith("env=")] == \
        ["env=GREETING=hi", "env=QUOTED=a b"]
    assert "stdin=piped text\n" in text


def test_bad_env_pair_is_a_usage_error(ip, hello_sources):
    with pytest.raises(UsageError, match="KEY=VALUE"):
        ip.run_cell_magic("wasm_wat", "--env NOEQUALS", hello_sources["wat"])


def test_wasm_run_of_an_unknown_name_is_a_clear_error(ip):
    result, captured = run_cell(ip, "%wasm_run no_module_by_this_name")
    assert not result.success
    assert "no_module_by_this_name" in shown(captured)
    assert "Traceback" not in shown(captured)


def test_force_rebuilds_and_rerun_is_cached(ip, need_toolchain):
    need_toolchain("rust")
    source = 'fn main() {\n    println!("forced");\n}\n'
    magic(ip, "wasm_rust", "-n forced --no-run", source)
    _, again = magic(ip, "wasm_rust", "-n forced --no-run", source)
    assert wagi_nb.modules["forced"].cached
    assert "cached build" in again
    _, forced = magic(ip, "wasm_rust", "-n forced --no-run --force", source)
    assert not wagi_nb.modules["forced"].cached
    assert "built in" in forced
    assert wagi_nb.modules["forced"].run().text == "forced\n"


def test_debug_and_release_flags(ip, need_toolchain, hello_sources):
    need_toolchain("rust")
    magic(ip, "wasm_rust", "-n rel --no-run", hello_sources["rust"])
    magic(ip, "wasm_rust", "-n dbg --no-run --debug", hello_sources["rust"])
    assert wagi_nb.modules["rel"].flags == {"release": True}
    assert wagi_nb.modules["dbg"].flags == {"release": False}
    assert wagi_nb.modules["rel"].key != wagi_nb.modules["dbg"].key


def test_timeout_flag_stops_an_infinite_loop(ip, wat, hello_sources, fails_if_hung):
    with fails_if_hung(30):
        view = ip.run_cell_magic("wasm_wat", "--timeout 0.3 --no-raise-error", wat.LOOP)
    assert view.result.outcome == "timeout"
    assert "timed out after 0.3 s" in repr(view)
    assert ip.run_cell_magic("wasm_wat", "", hello_sources["wat"]).result.ok


def test_timeout_setting_is_the_default_for_cells(ip, wat, fails_if_hung):
    try:
        configure(ip, "WasmMagics.timeout = 0.4")
        with fails_if_hung(30):
            view = ip.run_cell_magic("wasm_wat", "--no-raise-error", wat.LOOP)
    finally:
        configure(ip, "WasmMagics.timeout = 10.0")
    assert view.result.outcome == "timeout"
    assert "timed out after 0.4 s" in repr(view)


def test_trap_is_shown_with_backtrace(ip, need_toolchain):
    need_toolchain("c")
    source = ('__attribute__((noinline)) void explode_here(void) { __builtin_trap(); }\n'
              'int main(void) { explode_here(); return 0; }\n')
    result, captured = run_cell(ip, f"%%wasm_c\n{source}")
    text = shown(captured)
    assert "trap: wasm trap: wasm `unreachable` instruction executed" in text
    assert "explode_here" in text


def test_non_utf8_and_huge_output_are_displayed(ip, wat):
    raw = b"\xff\xfe bad bytes\n" + b"x" * 100_000
    result, captured = run_cell(ip, "%%wasm_wat\n" + wat.program((1, raw)))
    assert result.success
    text = shown(captured)
    assert "\ufffd\ufffd bad bytes" in text
    assert "not valid UTF-8" in text
    assert f"showing the first 65,536 of {len(raw):,} bytes" in text
    # ... said before the 64 KiB too, not only at the end of them
    assert text.index("showing the first 65,536") < text.index("x" * 100)
    assert result.result.stdout == raw


def test_memory_limit_setting(ip, need_toolchain):
    need_toolchain("c")
    bomb = ('#include <stdio.h>\n#include <stdlib.h>\n#include <string.h>\n'
            'void *volatile keep;\nint main(void) {\n    size_t mib = 0;\n'
            '    for (char *p; (p = malloc(1 << 20)); mib++) { memset(p, 1, 1 << 20); keep = p; }\n'
            '    printf("%zu\\n", mib);\n    return 0;\n}\n')
    try:
        configure(ip, "WasmMagics.memory_limit = 16")
        _, text = magic(ip, "wasm_c", "", bomb)
    finally:
        configure(ip, "WasmMagics.memory_limit = 256")
    assert "exit status 0" in text
    allocated = re.search(r"^(\d+)$", text, re.M)
    assert allocated and int(allocated.group(1)) < 16, text


def test_configured_compiler_is_used_and_a_missing_one_names_the_install_command(
        ip, hello_sources, logging_rustc, compiles, tmp_path):
    wrapper, log = logging_rustc
    source = 'fn main() {\n    println!("via the configured rustc");\n}\n'
    try:
        configure(ip, f"WasmMagics.rustc = '{wrapper}'")
        before = len(compiles(log))
        _, text = magic(ip, "wasm_rust", "--force", source)
        assert "via the configured rustc\n" in text
        assert len(compiles(log)) == before + 1

        configure(ip, f"WasmMagics.rustc = '{tmp_path}/missing/rustc'")
        with pytest.raises(ToolchainNotFound):
            ip.run_cell_magic("wasm_rust", "", hello_sources["rust"])
        result, captured = run_cell(ip, f"%%wasm_rust\n{hello_sources['rust']}")
        assert not result.success
        text = shown(captured)
        assert "Install one with:" in text
        assert "rustup target add" in text or "apt-get install" in text
        assert "Traceback" not in text
    finally:
        configure(ip, "WasmMagics.rustc = ''")
    assert "Hello, world!" in magic(ip, "wasm_rust", "", hello_sources["rust"])[1]


def test_slow_build_shows_a_live_status_line_that_the_result_replaces(ip, logging_rustc,
                                                                      monkeypatch):
    wrapper, _ = logging_rustc
    monkeypatch.setenv("WRAP_DELAY", "1")   # this compile takes > 1 s
    source = 'fn main() {\n    println!("slow build done");\n}\n'
    try:
        configure(ip, f"WasmMagics.rustc = '{wrapper}'")
        result, captured = run_cell(ip, f"%%wasm_rust --force\n{source}")
    finally:
        configure(ip, "WasmMagics.rustc = ''")
    assert result.success
    outputs = captured.outputs
    assert outputs, "a slow build should display a status line"
    first = outputs[0]
    assert "Compiling with rustc" in first.data["text/plain"]
    assert not first.update
    display_id = first.transient["display_id"]
    updates = [o for o in outputs if o.update and o.transient.get("display_id") == display_id]
    assert updates, "the status line should be replaced when the build ends"
    assert "Compiling" not in updates[-1].data.get("text/plain", ""), \
        "the status line must not stay on screen once the result is there"
    assert "slow build done" in shown(captured) + repr(result.result or "")


def test_wasm_toolchains_table(ip, need_toolchain, tmp_path):
    view = ip.run_line_magic("wasm_toolchains", "")
    text, html = repr(view), view._repr_html_()
    for language in MAGICS:
        info = need_toolchain(language)
        assert re.search(rf"^{language}\s+found\s+{re.escape(info.path)}", text, re.M), text
        assert info.path in html
    assert "<table>" in html
    try:
        configure(ip, f"WasmMagics.zig = '{tmp_path}/no/zig'")
        missing = repr(ip.run_line_magic("wasm_toolchains", ""))
    finally:
        configure(ip, "WasmMagics.zig = ''")
    assert re.search(r"^zig\s+MISSING.*pip install", missing, re.M), missing
    with pytest.raises(UsageError):
        ip.run_line_magic("wasm_toolchains", "extra")
