"""The rewrites wagi_nb makes of built modules, on real modules: the sbrk of a wasi-libc from before
its PR 377 (so Spin's WASI adapter cannot corrupt the heap), a copy of a Go module without repeated
imports (Wagi 0.8.1 refuses them), a copy whose ``_start`` is another export (Spin 3 has no
``entrypoint``), and ``wagi-nb rewrite``, which an exported app's build commands run.

That the rewritten modules run correctly under the real Wagi and Spin is ``tests/peers``'s job; here,
that they keep running the same under wagi-nb and say what they are.
"""
from __future__ import annotations

import shutil
import subprocess

import pytest

import wagi_nb
from wagi_nb import binary, toolchains
from wagi_nb.export import export_app
from wagi_nb.export.module_copies import for_spin, for_wagi, repeated_imports
from wagi_nb.runtime import get_runtime
from wagi_nb.toolchains import wasi_libc
from wagi_nb.wagi import WagiApp

from helpers.subprocesses import wagi_nb_cli
from helpers.wat import HELLO as HELLO_WAT

#: Reports the program break before and after growing the heap by 10 MiB (sbrk(0) is what
#: wasi-libc's dlmalloc asks, and what the fix changes).
BREAK_C = r"""#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
int main(void) {
    unsigned long before = (unsigned long)sbrk(0);
    char *volatile big = malloc(10 << 20);
    big[0] = big[(10 << 20) - 1] = 1;
    unsigned long after = (unsigned long)sbrk(0);
    printf("%lu %lu %d %d\n", before, after, after > before + (10 << 20) - 65536, big[(10 << 20) - 1]);
    return 0;
}
"""

GO_HELLO = ('package main\n\nimport "fmt"\n\n'
            'func main() {\n\tfmt.Println("Content-Type: text/plain\\n\\nhi from go")\n}\n')


@pytest.fixture(scope="module")
def debian_clang(need_toolchain):
    need_toolchain("c")
    clang = shutil.which("clang")
    if clang is None or not toolchains.get_toolchain("c").discover(clang).old_libc:
        pytest.skip("no clang with a wasi-libc from before PR 377 here (Debian 12's)")
    return clang


def old_build(source: str, clang: str):
    toolchains.set_compiler("c", clang)
    try:
        return wagi_nb.build(source, "c")
    finally:
        toolchains.set_compiler("c", None)


def test_a_module_linked_against_an_old_wasi_libc_gets_its_sbrk_fixed(debian_clang):
    module = old_build(BREAK_C, debian_clang)
    wasm = module.wasm_path.read_bytes()
    assert module.toolchain["old_libc"] is True
    assert (wasi_libc.MARK, wagi_nb.__version__) in dict(binary.producers(binary.sections(wasm)))["processed-by"]
    assert wasi_libc.unfixed_old_libc(wasm) is None
    before, after, grew, _ = module.run().text.split()
    initial = wasi_libc._initial_pages(binary.sections(wasm)) * 65536
    # sbrk(0) is the end of the initial memory, then the end of what sbrk itself grew.
    assert int(before) == initial and grew == "1" and int(after) % 65536 == 0


def test_an_unfixed_old_module_is_named_by_the_export(debian_clang, tmp_path):
    # Debian's clang itself, as a modules.toml from elsewhere would hold it.
    source = tmp_path / "old.c"
    source.write_text(BREAK_C)
    subprocess.run([debian_clang, "--target=wasm32-wasi", "-O2", str(source), "-o", str(tmp_path / "old.wasm")],
                   check=True)
    assert wasi_libc.unfixed_old_libc((tmp_path / "old.wasm").read_bytes()).endswith("clang 14.0.6")
    (tmp_path / "modules.toml").write_text('[[module]]\nroute = "/old"\nmodule = "old.wasm"\n')
    app = WagiApp()
    app.load_config(tmp_path / "modules.toml")
    report = export_app(app, tmp_path / "out")
    readme = (tmp_path / "out" / "README.md").read_text()
    assert "against a wasi-libc from before its PR 377" in readme and "--fix-heap" in readme
    assert any("PR 377" in note for _, note in report.notes)
    # and `wagi-nb rewrite --fix-heap` fixes the file, which then answers as before
    done = wagi_nb_cli("rewrite", tmp_path / "old.wasm", "--fix-heap", "-o", tmp_path / "fixed.wasm")
    assert done.returncode == 0, done.stderr
    assert wasi_libc.unfixed_old_libc((tmp_path / "fixed.wasm").read_bytes()) is None
    assert wagi_nb.load(tmp_path / "fixed.wasm").run().text.split()[2] == "1"


def test_rewrite_says_what_is_wrong_in_one_line(tmp_path):
    (tmp_path / "text.wasm").write_text("not a module")
    missing = wagi_nb_cli("rewrite", tmp_path / "nope.wasm", "--fix-heap")
    assert missing.returncode == 2 and missing.stderr.startswith("wagi-nb: Cannot read ")
    bad = wagi_nb_cli("rewrite", tmp_path / "text.wasm", "--fix-heap")
    assert bad.returncode == 2 and "Cannot rewrite" in bad.stderr and "Traceback" not in bad.stderr
    hello = wagi_nb.build("(module (func (export \"_start\")))", "wat").wasm_path
    unnamed = wagi_nb_cli("rewrite", hello, "--fix-heap", "-o", tmp_path / "x.wasm")
    assert unnamed.returncode == 2 and "no function names" in unnamed.stderr
    no_such = wagi_nb_cli("rewrite", hello, "--start", "handle", "-o", tmp_path / "y.wasm")
    assert no_such.returncode == 2 and "exports no function 'handle'" in no_such.stderr


def test_a_go_module_loses_its_repeated_import_and_answers_the_same(need_toolchain):
    need_toolchain("go")
    module = wagi_nb.build(GO_HELLO, "go")
    wasm = module.wasm_path.read_bytes()
    assert repeated_imports(wasm) == ["wasi_snapshot_preview1.fd_write"]
    copy = for_wagi(wasm)
    assert copy is not None and repeated_imports(copy) == []
    assert ("wasi_unstable", "fd_write") in {(e.module, e.name) for e in binary.imports(binary.sections(copy))}
    assert run(copy).stdout == module.run().stdout == b"Content-Type: text/plain\n\nhi from go\n"
    assert for_wagi(wagi_nb.build(HELLO_WAT, "wat").wasm_path.read_bytes()) is None


def test_a_module_that_repeats_an_import_wagi_nb_cannot_rename_is_refused():
    wat = ('(module (import "wasi_snapshot_preview1" "fd_read" (func (param i32 i32 i32 i32) (result i32)))'
           ' (import "wasi_snapshot_preview1" "fd_read" (func (param i32 i32 i32 i32) (result i32)))'
           ' (func (export "_start")))')
    with pytest.raises(ValueError, match="wasi_snapshot_preview1.fd_read"):
        for_wagi(wagi_nb.build(wat, "wat").wasm_path.read_bytes())


def test_a_spin_copy_starts_at_the_entrypoint():
    wat = ('(module (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32))) (memory (export "memory") 1)'
           ' (func (export "_start") (call $exit (i32.const 3)))'
           ' (func (export "handle") (call $exit (i32.const 7))))')
    original = wagi_nb.build(wat, "wat").wasm_path.read_bytes()
    copy = for_spin(original, "handle")
    assert run(copy).exit_code == 7 and run(copy, entrypoint="handle").exit_code == 7
    assert run(original).exit_code == 3


def run(wasm: bytes, **options):
    return get_runtime().run(get_runtime().load(wasm), **options)
