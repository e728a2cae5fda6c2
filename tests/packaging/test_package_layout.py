"""The package as a user imports it: importing any submodule changes nothing a user calls.

A submodule named like a name its package exports replaces that name when it is first imported
(``import wagi_nb.server.serve`` once turned ``wagi_nb.server.serve()`` into a module, and then
``%wagi_serve`` failed with "'module' object is not callable"). Here a fresh interpreter imports
every submodule first, then uses every magic.
"""
from __future__ import annotations

import importlib
import pkgutil
import types

import wagi_nb

SCRIPT = r'''
import importlib, pkgutil, socket, types
import wagi_nb
names = [m.name for m in pkgutil.walk_packages(wagi_nb.__path__, "wagi_nb.")
         if not m.name.endswith("__main__")]
for name in names:
    importlib.import_module(name)

from IPython.testing.globalipapp import start_ipython
shell = start_ipython()
shell.run_line_magic("load_ext", "wagi_nb")
def ok(result):
    assert result.success, result.error_in_exec or result.error_before_exec
with socket.socket() as sock:
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
wat = '(module (import "wasi_snapshot_preview1" "fd_write" (func $w (param i32 i32 i32 i32) (result i32)))' \
      ' (memory (export "memory") 1) (data (i32.const 16) "Content-Type: text/plain\\0a\\0ahi")' \
      ' (func (export "_start") (i32.store (i32.const 0) (i32.const 16)) (i32.store (i32.const 4) (i32.const 28))' \
      ' (drop (call $w (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))))'
for line, cell in [("wasm_wat -n m --route /", wat), ("wasm_wat --no-run", wat), ("wagi_request", "GET /\n")]:
    ok(shell.run_cell(f"%%{line}\n{cell}"))
for line in ["wasm_run m", "wasm_toolchains", "wagi_request GET /", "wagi_routes", f"wagi_serve --port {port}",
             "wagi_log", "wagi_env A=1", "wagi_preview /", "wagi_save saved", "wagi_load saved/modules.toml",
             "wagi_export exported", "wagi_stop"]:
    ok(shell.run_cell(f"%{line}"))
print("every magic ran")
'''


def test_no_exported_name_is_shadowed_by_a_submodule():
    names = [m.name for m in pkgutil.walk_packages(wagi_nb.__path__, "wagi_nb.")
             if not m.name.endswith("__main__")]
    for name in names:
        importlib.import_module(name)
    for package in ["wagi_nb", *names]:
        module = importlib.import_module(package)
        for exported in getattr(module, "__all__", ()):
            value = getattr(module, exported)
            assert f"{package}.{exported}" not in names, \
                f"{package}.{exported} is both a submodule and an exported {type(value).__name__}"
            assert not isinstance(value, types.ModuleType), f"{package}.{exported} is {value!r}"


def test_every_magic_works_after_every_submodule_was_imported(run_python, need_toolchain, tmp_path):
    need_toolchain("wat")
    done = run_python(SCRIPT, timeout=180)
    assert done.returncode == 0, done.stderr.decode()[-3000:]
    assert b"every magic ran" in done.stdout
