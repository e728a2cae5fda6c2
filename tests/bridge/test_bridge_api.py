"""``wagi_nb.bridge``'s API without a host: what is refused and why, the entry slots, the environment,
the adapters (built once, as wit-component wants them) and what they add to a module."""
from __future__ import annotations

import shutil
import subprocess
import sys
import time
import zipfile

import pytest

from helpers import REPO
from wagi_nb import binary
from wagi_nb.bridge import CannotBridge, component_environment, componentize, refusal
from wagi_nb.bridge.adapters import source_files
from wagi_nb.bridge.components import provided
from wagi_nb.bridge.entry_slots import SLOTS, with_entry_slots
from wagi_nb.bridge.names import only_global_names

MEMORY_AND_START = '(memory (export "memory") 1) (func (export "_start"))'


def wat(text: str) -> bytes:
    import wasmtime
    return wasmtime.wat2wasm(f"(module {text})")


def exported(wasm: bytes) -> dict:
    section = binary.first(binary.sections(wasm), binary.EXPORT)
    return {entry.name: entry.index for entry in binary.read_exports(section.body)} if section else {}


# -- refusal ---------------------------------------------------------------------------------------
def test_a_module_the_adapters_can_carry_is_not_refused():
    module = wat('(import "wasi_snapshot_preview1" "fd_write" (func (param i32 i32 i32 i32) (result i32))) '
                 '(import "wasi_experimental_http" "req" (func (param i32 i32 i32 i32 i32 i32 i32 i32 i32 i32) '
                 f'(result i32))) {MEMORY_AND_START} (func (export "hello"))')
    assert refusal(module) is None
    assert refusal(module, ["hello", "_start"]) is None


def test_every_reason_is_named_in_one_paragraph():
    module = wat('(import "env" "now" (func)) (import "spin_http" "send" (func)) '
                 '(import "wasi_unstable" "fd_write" (func)) (import "wasi_snapshot_preview1" "sock_open" (func)) '
                 '(func (export "takes") (param i32))')
    why = refusal(module, ["takes", "missing"])
    assert why is not None and "\n" not in why
    assert why.startswith("This module cannot become a wasi:http component: ")
    for part in ["`env.now`, `spin_http.send`, `wasi_unstable.fd_write`, from outside WASI preview 1",
                 "`wasi_snapshot_preview1.sock_open`, which the adapters do not provide",
                 "no memory named `memory`", "no function `_start` (the adapter calls it for every request)",
                 "its `takes` takes or returns values", "no function `missing` (a route calls it)"]:
        assert part in why, (part, why)


def test_more_entrypoints_than_slots_are_refused():
    names = [f"f{n}" for n in range(SLOTS + 1)]
    module = wat(MEMORY_AND_START + "".join(f'(func (export "{name}"))' for name in names))
    assert refusal(module, names[:SLOTS]) is None
    why = refusal(module, names)
    assert f"it needs {SLOTS + 1} entry slots" in why and f"the adapter has {SLOTS}" in why
    with pytest.raises(CannotBridge, match="entry slots"):
        componentize(module, entrypoints=names)


def test_a_component_or_garbage_is_refused():
    assert "already a WebAssembly component" in refusal(b"\0asm\x0d\x00\x01\x00")
    assert refusal(b"not wasm").startswith("This is not a WebAssembly module the bridge can read")


def test_the_functions_refusal_knows_are_the_ones_the_built_adapters_export(bridge):
    for path, module in [(bridge.plain, "wasi_snapshot_preview1"), (bridge.http, "wasi_experimental_http")]:
        functions = {name for name in exported(path.read_bytes()) if ":" not in name and name != "cabi_import_realloc"}
        assert functions == provided()[module]
    assert len(provided()["wasi_snapshot_preview1"]) == 46  # preview 1's 45 functions, and sock_accept


# -- entry slots, names, environment -------------------------------------------------------------------
def test_entry_slots_alias_the_entrypoints_then_start():
    module = wat(MEMORY_AND_START + '(func (export "a")) (func (export "b")) (func (export "wagi-entry-5"))')
    before = exported(module)
    after = exported(with_entry_slots(module, ["b", "a"]))
    assert [after[f"wagi-entry-{k}"] for k in range(SLOTS)] == [before["b"], before["a"], *[before["_start"]] * 6]
    assert {name: index for name, index in after.items() if not name.startswith("wagi-entry-")} == \
        {name: index for name, index in before.items() if not name.startswith("wagi-entry-")}
    with pytest.raises(ValueError, match="no function 'c'"):
        with_entry_slots(module, ["c"])


def test_only_global_names_are_kept():
    module = wat('(global $__stack_pointer (mut i32) (i32.const 0)) (func $named) (memory 1)')
    names = binary.first(binary.sections(module), binary.CUSTOM, "name")
    assert names is not None and b"named" in names.body
    kept = binary.first(binary.sections(only_global_names(module)), binary.CUSTOM, "name")
    assert b"named" not in kept.body and b"__stack_pointer" in kept.body
    assert only_global_names(wat("(memory 1)")) == wat("(memory 1)")


def test_the_environment_the_adapter_reads():
    assert component_environment(route="/hello") == {"WAGI_NB_ROUTE": "/hello"}
    env = component_environment(route="/r/...", entry=1, subroutes=[("/r/wild/...", 2), ("/r/exact", 1)],
                                argv="${SCRIPT_NAME} ${ARGS}", hostname="example.com:8080",
                                allowed_hosts=["https://api.example.com", "db.local", "insecure:allow-all"])
    assert env == {"WAGI_NB_ROUTE": "/r/...", "WAGI_NB_ENTRY": "1", "WAGI_NB_ROUTES": "/r/wild/... 2\n/r/exact 1",
                   "WAGI_NB_ARGV": "${SCRIPT_NAME} ${ARGS}", "WAGI_NB_HOSTNAME": "example.com:8080",
                   "WAGI_NB_ALLOWED_HOSTS": "https://api.example.com,http://db.local,insecure:allow-all"}
    assert component_environment(route="/", allowed_hosts=[])["WAGI_NB_ALLOWED_HOSTS"] == ""  # nothing allowed
    with pytest.raises(CannotBridge, match="no white space"):
        component_environment(route="/a", subroutes=[("/a b", 1)])
    with pytest.raises(CannotBridge, match="at most 31"):
        component_environment(route="/a/...", subroutes=[(f"/a/{n}", 1) for n in range(32)])
    with pytest.raises(ValueError):
        component_environment(route="/a", entry=SLOTS + 1)


# -- the adapters and the components ---------------------------------------------------------------
def test_adapters_are_built_once_and_kept(bridge):
    from wagi_nb.bridge import adapters as adapters_module
    for path in (bridge.plain, bridge.entries, bridge.http):
        parts = binary.sections(path.read_bytes())
        assert any((part.custom_name or "").startswith("component-type") for part in parts)  # its world
        assert not [part for part in parts if part.id == binary.DATA]
    adapters_module._adapters.cache_clear()  # a new process: the files are found, nothing is built
    start, stamp = time.perf_counter(), bridge.plain.stat().st_mtime_ns
    again = adapters_module.adapters()
    assert again == bridge and bridge.plain.stat().st_mtime_ns == stamp
    assert time.perf_counter() - start < 2


def test_componentize_picks_the_adapters_and_keeps_the_component(test_modules, wasm_tools):
    plain = componentize(test_modules.wasm("cgi_c"))
    outbound = componentize(test_modules.wasm("outbound_c"))
    routes = componentize(test_modules.wasm("routes_c"), entrypoints=["hello"])
    for component in (plain, outbound, routes):
        assert component[:8] == b"\0asm\x0d\x00\x01\x00"
        assert b"wasi:http/incoming-handler@0.2.0" in component
    assert b"wasi:http/outgoing-handler@0.2.0" in outbound and b"wasi:http/outgoing-handler" not in plain
    assert b"wagi-entry-0" in routes and b"wagi-entry-0" not in plain
    start = time.perf_counter()
    assert componentize(test_modules.wasm("cgi_c")) == plain
    assert time.perf_counter() - start < 0.5  # from the cache
    for component in (plain, outbound, routes):
        done = subprocess.run([str(wasm_tools), "validate", "-"], input=component, capture_output=True, timeout=120)
        assert done.returncode == 0, done.stderr.decode()



def test_what_wit_component_refuses_is_one_paragraph_too(bridge):
    module = wat(f'(import "wasi_snapshot_preview1" "fd_write" (func (param i32))) {MEMORY_AND_START}')
    assert refusal(module) is None  # (the name is right; its type is not)
    with pytest.raises(CannotBridge) as raised:
        componentize(module)
    message = str(raised.value)
    assert message.startswith("wasm-tools could not make a wasi:http component of this module: ")
    assert "fd_write" in message and "\n" not in message

def test_the_adapter_adds_at_most_32_kb(test_modules, wasm_tools, tmp_path, capsys):
    """As ``component new`` writes it, for one adapter; measured (and printed) too with every custom
    section stripped from both, against the issue's goal of 32 KB."""
    rows = []
    for name in ["hello_wat", "hello_c", "cgi_c", "rust_cgi", "go_cgi", "zigcc_cgi", "zig_hello", "routes_c",
                 "outbound_c"]:
        entrypoints = ["hello", "wild", "other"] if name == "routes_c" else []
        module = test_modules.wasm(name)
        main = with_entry_slots(module, entrypoints) if entrypoints else module
        component = componentize(module, entrypoints=entrypoints)
        stripped = [len(strip(wasm_tools, tmp_path, data)) for data in (main, component)]
        rows.append((name, len(main), len(component), len(component) - len(main), stripped[1] - stripped[0]))
    with capsys.disabled():
        print("\nmodule        module  component  added  added-stripped")
        for row in rows:
            print("{:<12} {:>8,} {:>10,} {:>6,} {:>15,}".format(*row))
    for name, _, _, added, _ in rows:
        if name != "outbound_c":  # (two adapters)
            assert added <= 32 * 1024, (name, added)  # the goal (32 KiB), as the component is written


def strip(wasm_tools, folder, data: bytes) -> bytes:
    source, output = folder / "in.wasm", folder / "out.wasm"
    source.write_bytes(data)
    subprocess.run([str(wasm_tools), "strip", "--all", str(source), "-o", str(output)], check=True, timeout=120)
    return output.read_bytes()



def test_a_wheel_carries_the_adapter_sources(tmp_path):
    tree = tmp_path / "tree"
    tree.mkdir()
    for name in ["pyproject.toml", "README.md"]:
        shutil.copy(REPO / name, tree / name)
    shutil.copytree(REPO / "wagi_nb", tree / "wagi_nb", ignore=shutil.ignore_patterns("__pycache__"))
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
                            "-w", str(tmp_path / "wheels"), str(tree)], capture_output=True, text=True, timeout=300)
    assert built.returncode == 0, built.stderr[-3000:]
    (wheel,) = (tmp_path / "wheels").glob("wagi_nb-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert {f"wagi_nb/bridge/adapter/{path.name}" for path in source_files()} <= names
    assert len(source_files()) == 9  # (the C sources, headers, globals.s and world.wit)
