"""Toolchain discovery kept on disk (wagi_nb/toolchains/discovery_cache.py): a new process uses the
result while every compiler it found is unchanged, never once one is replaced or removed.

The compilers here are shell scripts configured as the rustc to use: they answer ``--version``
and ``--print sysroot`` themselves (a sysroot folder of this test's) and log every call, so a
test sees exactly when discovery asked, and can replace the "compiler" as an upgrade would.
"""
from __future__ import annotations

import json
import os
import stat
import textwrap
import time
from pathlib import Path

import pytest

from wagi_nb import toolchains
from wagi_nb.toolchains import discovery_cache

RUST = toolchains.get_toolchain("rust")


@pytest.fixture(autouse=True)
def trust_fresh_files(monkeypatch):
    """The scripts here were written a moment ago, which discovery would not trust (see
    test_a_compiler_written_a_moment_ago_is_not_kept): these tests keep results at once."""
    monkeypatch.setattr(discovery_cache, "RACY_SECONDS", 0.0)


def fake_rustc(folder: Path, version: str, sysroot: Path, target: str = "wasm32-wasi") -> tuple:
    """A rustc script answering the discovery probes, with a sysroot that has ``target``; returns
    (the script, its log)."""
    (sysroot / "lib" / "rustlib" / target / "lib").mkdir(parents=True, exist_ok=True)
    script, log = folder / "rustc", folder / "probes.log"
    write_script(script, version, sysroot, log)
    return script, log


def write_script(script: Path, version: str, sysroot: Path, log: Path) -> None:
    script.write_text(textwrap.dedent(f"""\
        #!/bin/sh
        echo "$*" >> "{log}"
        case "$*" in
          --version) echo "{version}";;
          "--print sysroot") echo "{sysroot}";;
          *) exit 1;;
        esac
        """))
    script.chmod(script.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)


def probes(log: Path) -> int:
    return len(log.read_text().splitlines()) if log.exists() else 0


@pytest.fixture
def rustc(tmp_path):
    script, log = fake_rustc(tmp_path, "rustc 1.0.0-first", tmp_path / "sysroot")
    return script, log


def discover(script) -> toolchains.ToolchainInfo:
    """What a new process's first discovery of this configured rustc gets (disk, else a probe)."""
    return discovery_cache.discover(RUST, str(script))


@pytest.fixture
def registry(monkeypatch):
    """The registry as a new process has it: nothing memoised, no refresh() done yet."""
    monkeypatch.setattr(toolchains, "_probe_again", False)
    toolchains._discover.cache_clear()
    yield toolchains
    toolchains._discover.cache_clear()


def test_a_found_result_is_kept_and_used_without_asking_again(rustc):
    script, log = rustc
    first = discover(script)
    assert first.found and first.version == "rustc 1.0.0-first" and first.target == "wasm32-wasi"
    asked = probes(log)
    assert asked == 2  # --version and --print sysroot
    entry = discovery_cache.entry_path("rust", str(script))
    assert entry.is_file() and entry.parent == discovery_cache.folder()
    again = discover(script)
    assert again == first
    assert probes(log) == asked, "the kept result was not used: the compiler was asked again"


def test_a_compiler_rewritten_in_place_is_asked_again(rustc, tmp_path):
    script, log = rustc
    assert discover(script).version == "rustc 1.0.0-first"
    time.sleep(0.05)  # past the file system clock's tick (what RACY_SECONDS guards against otherwise)
    # An upgrade that rewrites the file (same size, even): its mtime and ctime change.
    write_script(script, "rustc 2.0.0-secnd", tmp_path / "sysroot", log)
    info = discover(script)
    assert info.version == "rustc 2.0.0-secnd"
    assert discover(script).version == "rustc 2.0.0-secnd"  # and that is what is kept now


def test_a_compiler_replaced_by_another_file_is_asked_again(rustc, tmp_path):
    script, log = rustc
    assert discover(script).version == "rustc 1.0.0-first"
    new = tmp_path / "new"
    new.mkdir()
    replacement, _ = fake_rustc(new, "rustc 3.0.0-third", tmp_path / "sysroot")
    os.replace(replacement, script)  # as a package manager installs: a new file renamed over the old
    assert discover(script).version == "rustc 3.0.0-third"


def test_a_removed_compiler_is_not_served_from_the_file(rustc):
    script, _ = rustc
    assert discover(script).found
    script.unlink()
    info = discover(script)
    assert not info.found and "is not an executable" in info.note
    # Nothing found is never kept: the stale entry is gone, not rewritten.
    assert not discovery_cache.entry_path("rust", str(script)).exists()


def test_a_target_removed_from_the_sysroot_is_noticed(rustc, tmp_path):
    script, _ = rustc
    assert discover(script).found
    (tmp_path / "sysroot" / "lib" / "rustlib" / "wasm32-wasi" / "lib").rmdir()
    info = discover(script)
    assert not info.found and "no wasm32-wasip1/wasm32-wasi target" in info.note


def test_a_target_added_to_the_sysroot_is_noticed(rustc, tmp_path):
    script, _ = rustc
    assert discover(script).target == "wasm32-wasi"
    # As `rustup target add wasm32-wasip1` does: the newer name is preferred once it is there.
    (tmp_path / "sysroot" / "lib" / "rustlib" / "wasm32-wasip1" / "lib").mkdir(parents=True)
    assert discover(script).target == "wasm32-wasip1"


def test_the_environment_is_part_of_the_key(rustc, monkeypatch):
    script, _ = rustc
    before = discovery_cache.entry_path("rust", str(script))
    monkeypatch.setenv("PATH", os.environ["PATH"] + os.pathsep + "/nowhere")
    on_another_path = discovery_cache.entry_path("rust", str(script))
    monkeypatch.setenv("RUSTUP_TOOLCHAIN", "nightly")
    with_a_toolchain = discovery_cache.entry_path("rust", str(script))
    assert len({before, on_another_path, with_a_toolchain}) == 3
    assert discovery_cache.entry_path("rust", None) != with_a_toolchain  # the configured compiler too


@pytest.mark.parametrize("content", [
    b"", b"\x00\xff not json", b"[]", b'{"schema": 1}', b'{"schema": 1, "info": {}, "observed": []}',
    b'{"schema": 1, "info": {"language": "rust", "found": true, "path": 7}, "observed": []}',
    b'{"schema": 1, "info": {"language": "rust", "found": true}, "observed": [["file"]]}',
    b'{"schema": 1, "info": {"language": "rust", "found": true}, "observed": [["spec", "os.path", 1]]}',
    b'{"schema": 1, "info": {"language": "rust", "found": true}, "observed": [["nope", "x", 1]]}',
    b'{"schema": 99, "info": {"language": "rust", "found": true}, "observed": []}',
])
def test_a_corrupt_file_is_ignored_and_rewritten(rustc, content):
    script, log = rustc
    entry = discovery_cache.entry_path("rust", str(script))
    entry.parent.mkdir(parents=True, exist_ok=True)
    entry.write_bytes(content)
    info = discover(script)
    assert info.found and info.version == "rustc 1.0.0-first"
    assert probes(log) == 2, "the damaged file was taken for a result"
    assert json.loads(entry.read_text())["info"]["version"] == "rustc 1.0.0-first"


def test_another_languages_result_in_the_file_is_not_used(rustc):
    script, log = rustc
    discover(script)
    entry = discovery_cache.entry_path("rust", str(script))
    record = json.loads(entry.read_text())
    record["info"]["language"] = "c"
    entry.write_text(json.dumps(record))
    assert discover(script).language == "rust" and probes(log) == 4


def test_refresh_asks_again_and_rewrites_the_file(rustc, registry):
    script, log = rustc
    toolchains.set_compiler("rust", str(script))
    assert registry.discover("rust").version == "rustc 1.0.0-first"
    entry = discovery_cache.entry_path("rust", str(script))
    record = json.loads(entry.read_text())
    record["info"]["note"] = "kept by an earlier process"
    entry.write_text(json.dumps(record))
    registry._discover.cache_clear()  # a new process: it takes the kept result, observations hold
    assert registry.discover("rust").note == "kept by an earlier process"
    asked = probes(log)
    registry.refresh()  # what %wasm_toolchains does
    assert registry.discover("rust").note == "configured by the user"
    assert probes(log) == asked + 2
    assert json.loads(entry.read_text())["info"]["note"] == "configured by the user"


def test_a_compiler_written_a_moment_ago_is_not_kept(rustc, monkeypatch):
    """A file changed within the file system clock's tick could change again without its stat
    changing: such a result is used by this process only, and the next one asks again."""
    script, log = rustc
    monkeypatch.setattr(discovery_cache, "RACY_SECONDS", 2.0)
    assert discover(script).found
    assert not discovery_cache.entry_path("rust", str(script)).exists()
    assert discover(script).found and probes(log) == 4
    monkeypatch.setattr(discovery_cache, "RACY_SECONDS", 0.0)  # as if two seconds had passed
    discover(script)
    assert discovery_cache.entry_path("rust", str(script)).exists()


def test_a_cache_folder_that_cannot_be_written_still_discovers(rustc, tmp_path, monkeypatch):
    script, _ = rustc
    blocked = tmp_path / "blocked"
    blocked.write_text("a file where the cache folder would be")
    monkeypatch.setenv("WAGI_NB_CACHE_DIR", str(blocked))
    assert discover(script).found
    assert discover(script).found


def test_a_new_process_uses_what_the_last_one_kept(tmp_path, run_python):
    """The kernel restart: a second process builds and runs the cell without asking rustc again."""
    script, log = fake_rustc(tmp_path, "rustc 1.0.0-first", tmp_path / "sysroot")
    code = textwrap.dedent(f"""
        import wagi_nb
        from wagi_nb.toolchains import discovery_cache
        discovery_cache.RACY_SECONDS = 0  # (the script was written a moment ago)
        wagi_nb.set_compiler("rust", {str(script)!r})
        info = wagi_nb.discover("rust")
        print(info.version, info.target)
    """)
    outputs = []
    for _ in range(2):
        done = run_python(code)
        assert done.returncode == 0, done.stderr.decode()
        outputs.append(done.stdout.decode().strip())
    assert outputs == ["rustc 1.0.0-first wasm32-wasi"] * 2
    assert probes(log) == 2, "the second process asked the compiler again"


def test_real_rust_discovery_is_kept_and_holds(need_toolchain, registry):
    info = need_toolchain("rust")
    probed = discovery_cache.discover(RUST, None, use_kept=False)
    assert probed == info
    path = discovery_cache.entry_path("rust", None)
    observed = json.loads(path.read_text())["observed"]
    # The compiler chosen and its sysroot's target folder are among what must stay as it is.
    files = {subject for kind, subject, _ in observed if kind == "file"}
    assert info.path in files
    assert any(subject.endswith(f"rustlib/{info.target}/lib") for subject in files)
    # ... and so is the code that discovered it (a wagi_nb being edited or upgraded asks again).
    import wagi_nb.toolchains.base
    import wagi_nb.toolchains.rust
    assert {wagi_nb.toolchains.rust.__file__, wagi_nb.toolchains.base.__file__, discovery_cache.__file__} <= files
    assert discovery_cache.read(path, "rust") == info


def test_wat_is_not_kept(registry):
    assert toolchains.discover("wat").found
    assert not list(discovery_cache.folder().glob("wat-*.json"))
