"""The build cache: an unchanged cell never starts the compiler again (also in a new process),
--force and changed sources/flags rebuild, concurrent builders don't corrupt it, native code is cached.

The compiler is a real rustc behind a small wrapper that logs each compile it is asked to do, so
"did not start the compiler" is observed, not inferred.
"""
from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import wasmtime

import wagi_nb
from wagi_nb.cache import BuildCache, cache_root
from wagi_nb.runtime.engine import WASMTIME_VERSION

#: Build (and run) a Rust cell in a fresh interpreter, as a restarted kernel would.
BUILD_IN_NEW_PROCESS = r"""
import json, os, sys
import wagi_nb
if os.environ.get("TEST_RUSTC"):
    wagi_nb.set_compiler("rust", os.environ["TEST_RUSTC"])
artifact = wagi_nb.build(os.environ["TEST_SOURCE"], language="rust",
                         force=os.environ.get("TEST_FORCE") == "1")
result = artifact.run()
print(json.dumps({"cached": artifact.cached, "key": artifact.key,
                  "wasm_path": str(artifact.wasm_path), "stdout": result.text,
                  "outcome": result.outcome}))
"""


def unique_rust(greeting: str = "Hello, world!") -> str:
    """A Rust cell no other test has built (so the first build is a real compile)."""
    return f'// {uuid.uuid4()}\nfn main() {{\n    println!("{greeting}");\n}}\n'


@pytest.fixture
def rustc_log(logging_rustc, compiles):
    """Point rust at the logging wrapper; return a function giving the compiles logged since."""
    wrapper, log = logging_rustc
    wagi_nb.set_compiler("rust", str(wrapper))
    start = len(compiles(log))
    return lambda: compiles(log)[start:]


def test_unchanged_rebuild_is_cached_and_starts_no_compiler(rustc_log):
    source = unique_rust()
    first = wagi_nb.build(source, language="rust")
    assert not first.cached
    assert len(rustc_log()) == 1
    again = wagi_nb.build(source, language="rust")
    assert again.cached
    assert again.key == first.key and again.wasm_path == first.wasm_path
    assert len(rustc_log()) == 1, "an unchanged rebuild must not start rustc"
    assert again.run().text == "Hello, world!\n"


def test_unchanged_rebuild_in_a_new_process_starts_no_compiler(rustc_log, logging_rustc, run_python,
                                                               python_env):
    wrapper, _ = logging_rustc
    env = python_env(TEST_SOURCE=unique_rust(), TEST_RUSTC=wrapper)
    reports = []
    for _ in range(2):
        done = run_python(BUILD_IN_NEW_PROCESS, env=env)
        assert done.returncode == 0, done.stderr.decode()
        reports.append(json.loads(done.stdout))
    first, second = reports
    assert first["cached"] is False
    assert second["cached"] is True
    assert second["key"] == first["key"]
    assert second["stdout"] == first["stdout"] == "Hello, world!\n"
    assert len(rustc_log()) == 1, "the second process must not have started rustc"


def test_force_rebuilds(rustc_log):
    source = unique_rust()
    wagi_nb.build(source, language="rust")
    forced = wagi_nb.build(source, language="rust", force=True)
    assert not forced.cached
    assert len(rustc_log()) == 2
    assert forced.run().text == "Hello, world!\n"
    assert wagi_nb.build(source, language="rust").cached


def test_changed_source_is_a_new_build(rustc_log):
    source = unique_rust("Hello, world!")
    first = wagi_nb.build(source, language="rust")
    second = wagi_nb.build(source.replace("world", "World"), language="rust")
    assert second.key != first.key
    assert not second.cached
    assert len(rustc_log()) == 2
    assert first.run().text == "Hello, world!\n"
    assert second.run().text == "Hello, World!\n"


def test_release_and_debug_are_different_builds(rustc_log):
    source = unique_rust()
    release = wagi_nb.build(source, language="rust")
    debug = wagi_nb.build(source, language="rust", release=False)
    assert release.key != debug.key
    assert not debug.cached
    assert release.flags == {"release": True} and debug.flags == {"release": False}
    logged = rustc_log()
    assert len(logged) == 2
    assert "opt-level=3" in logged[0] and "opt-level=0" in logged[1]
    assert debug.wasm != release.wasm
    assert wagi_nb.build(source, language="rust", release=False).cached
    assert debug.run().text == release.run().text == "Hello, world!\n"


def test_another_compiler_is_another_key(rustc_log, need_toolchain):
    source = unique_rust()
    via_wrapper = wagi_nb.build(source, language="rust")
    wagi_nb.set_compiler("rust", need_toolchain("rust").path)
    direct = wagi_nb.build(source, language="rust")
    assert direct.key != via_wrapper.key
    assert not direct.cached


def test_cache_is_under_the_configured_folder_with_its_build_record(wagi_cache_dir, need_toolchain):
    info = need_toolchain("rust")
    artifact = wagi_nb.build(unique_rust(), language="rust")
    wasm = Path(artifact.wasm_path)
    assert wasm.is_relative_to(Path(wagi_cache_dir) / "builds")
    record = json.loads(wasm.with_suffix(".json").read_text())
    assert record["key"] == artifact.key
    assert record["language"] == "rust"
    assert record["flags"] == {"release": True}
    assert record["toolchain"]["path"] == info.path
    assert record["toolchain"]["version"] == info.version


def test_default_cache_is_ipythons_cache_folder(monkeypatch):
    from IPython.paths import get_ipython_cache_dir
    monkeypatch.delenv("WAGI_NB_CACHE_DIR")
    assert cache_root() == Path(get_ipython_cache_dir()) / "wagi_nb"


def test_two_processes_building_the_same_cell_at_once(rustc_log, logging_rustc, python_env,
                                                      run_python, wagi_cache_dir):
    wrapper, _ = logging_rustc
    # Each compile takes >= 1 s, so both processes are compiling at the same time.
    env = python_env(TEST_SOURCE=unique_rust(), TEST_RUSTC=wrapper, WRAP_DELAY=1)
    procs = [subprocess.Popen([sys.executable, "-c", BUILD_IN_NEW_PROCESS], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE) for _ in range(2)]
    outputs = [proc.communicate(timeout=120) for proc in procs]
    for proc, (_, err) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, err.decode()
    reports = [json.loads(out) for out, _ in outputs]
    assert all(r["stdout"] == "Hello, world!\n" and r["outcome"] == "ok" for r in reports)
    assert reports[0]["key"] == reports[1]["key"]
    logged = rustc_log()
    assert len(logged) == 2 and logged[0].split()[0] != logged[1].split()[0], \
        "both processes should have missed the cache and compiled concurrently"

    key = reports[0]["key"]
    folder = Path(wagi_cache_dir) / "builds" / key[:2]
    names = sorted(p.name for p in folder.iterdir() if key in p.name)
    assert names == [f"{key}.json", f"{key}.wasm"], f"torn or leftover files: {names}"
    hit = BuildCache().get(key)
    assert hit is not None
    wasmtime.Module.validate(wasmtime.Engine(), Path(hit[0]).read_bytes())
    # A third process finds a valid, complete entry.
    done = run_python(BUILD_IN_NEW_PROCESS, env=python_env(TEST_SOURCE=env["TEST_SOURCE"],
                                                           TEST_RUSTC=wrapper))
    assert done.returncode == 0, done.stderr.decode()
    third = json.loads(done.stdout)
    assert third["cached"] is True and third["stdout"] == "Hello, world!\n"
    assert len(rustc_log()) == 2


RUN_FILE = "import sys, wagi_nb; r = wagi_nb.run(sys.argv[1]); sys.stdout.buffer.write(r.stdout)"


def test_native_code_is_cached_and_reused_by_a_new_process(tmp_path, wat, wagi_cache_dir,
                                                           run_python):
    marker = str(uuid.uuid4()).encode()
    artifact = wagi_nb.build(wat.program((1, marker)), language="wat")
    assert artifact.run().stdout == marker
    sha = hashlib.sha256(artifact.wasm).hexdigest()
    native = Path(wagi_cache_dir) / "native" / sha[:2] / f"{sha}-wasmtime{WASMTIME_VERSION}.cwasm"
    assert native.is_file(), "running a module should cache its native code"
    wasmtime.Module.deserialize_file(wagi_nb.get_runtime().engine, str(native))
    before = native.stat().st_mtime_ns

    done = run_python(RUN_FILE, artifact.wasm_path)
    assert done.returncode == 0, done.stderr.decode()
    assert done.stdout == marker
    assert native.stat().st_mtime_ns == before, "a new process should reuse, not rewrite, the .cwasm"


def test_a_broken_native_cache_entry_is_compiled_again(wat, wagi_cache_dir, run_python):
    marker = str(uuid.uuid4()).encode()
    artifact = wagi_nb.build(wat.program((1, marker)), language="wat")
    assert artifact.run().stdout == marker
    sha = hashlib.sha256(artifact.wasm).hexdigest()
    native = Path(wagi_cache_dir) / "native" / sha[:2] / f"{sha}-wasmtime{WASMTIME_VERSION}.cwasm"
    native.write_bytes(b"this is not native code")
    done = run_python(RUN_FILE, artifact.wasm_path)
    assert done.returncode == 0, done.stderr.decode()
    assert done.stdout == marker
    assert native.read_bytes() != b"this is not native code", "the bad entry should be replaced"
