"""Toolchain discovery: which compiler each language uses, and what a user is told when one is missing."""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

import wagi_nb
from wagi_nb.display import ToolchainsView
from wagi_nb.errors import ToolchainNotFound

LANGUAGES = ["rust", "c", "cpp", "zig", "wat"]


def has_wasi_std(rustc: str) -> bool:
    """Independently of wagi_nb: does this rustc have a WASI standard library?"""
    done = subprocess.run([rustc, "--print", "sysroot"], capture_output=True, text=True)
    if done.returncode != 0:
        return False
    sysroot = Path(done.stdout.strip())
    return any((sysroot / "lib" / "rustlib" / target / "lib").is_dir()
               for target in ("wasm32-wasip1", "wasm32-wasi"))


def rustc_without_wasm_target():
    """The first rustc on PATH, if it lacks the wasm target (as rustup's does on these machines)."""
    first = shutil.which("rustc")
    if first is None or has_wasi_std(first):
        pytest.skip("the first rustc on PATH has a wasm target (or there is none): "
                    "nothing for discovery to pass over here")
    return first


@pytest.mark.parametrize("language", LANGUAGES)
def test_discovery_finds_a_compiler_for_wasm32_wasi(language, need_toolchain):
    info = need_toolchain(language)
    assert info.found
    assert info.language == language
    assert info.version, "the version is part of the cache key and of the table"
    assert info.target.startswith("wasm32")
    if language != "wat":
        assert os.path.isfile(info.path) and os.access(info.path, os.X_OK), info.path
    # The public API reports the same choice.
    assert wagi_nb.discover(language).path == info.path


def test_rust_discovery_chooses_a_rustc_with_the_wasi_target(need_toolchain):
    info = need_toolchain("rust")
    assert has_wasi_std(info.path), f"{info.path} cannot build for wasm32-wasi"
    assert info.target in ("wasm32-wasip1", "wasm32-wasi")


def test_rust_discovery_says_which_rustc_it_passed_over(need_toolchain):
    first = rustc_without_wasm_target()
    info = need_toolchain("rust")
    assert os.path.realpath(info.path) != os.path.realpath(first)
    assert first in info.note, info.note
    assert "no WASI target" in info.note
    # ... and the table a user sees says so too.
    table = repr(ToolchainsView([info]))
    assert info.path in table and first in table


INSTALL_COMMANDS = {
    "rust": ("rustup target add wasm32-wasip1", "apt-get install rustc libstd-rust-dev-wasm32"),
    "c": ("apt-get install clang lld wasi-libc",),
    "cpp": ("libc++-dev-wasm32",),
    "zig": ("pip install",),
}


@pytest.mark.parametrize("language", sorted(INSTALL_COMMANDS))
def test_configured_compiler_that_does_not_exist_names_the_install_command(language, tmp_path,
                                                                           hello_sources):
    missing = str(tmp_path / "bin" / "no-such-compiler")
    wagi_nb.set_compiler(language, missing)
    info = wagi_nb.discover(language)
    assert not info.found
    with pytest.raises(ToolchainNotFound) as caught:
        wagi_nb.build(hello_sources[language], language=language)
    message = str(caught.value)
    assert "Install one with:" in message
    assert any(command in message for command in INSTALL_COMMANDS[language]), message
    assert missing in message, "the message should say which configured compiler failed"
    # The table shows it as missing, with the install command.
    table = repr(ToolchainsView([info]))
    assert "MISSING" in table
    assert any(command in table for command in INSTALL_COMMANDS[language]), table


def test_configured_rustc_without_the_wasm_target_is_refused_with_the_rustup_command(hello_sources):
    first = rustc_without_wasm_target()
    wagi_nb.set_compiler("rust", first)
    with pytest.raises(ToolchainNotFound) as caught:
        wagi_nb.build(hello_sources["rust"], language="rust")
    message = str(caught.value)
    assert "no wasm32-wasip1/wasm32-wasi target" in message
    assert "rustup target add wasm32-wasip1" in message or "apt-get install" in message


def test_set_compiler_none_goes_back_to_discovery(tmp_path, need_toolchain, hello_sources):
    info = need_toolchain("rust")
    wagi_nb.set_compiler("rust", str(tmp_path / "nope"))
    assert not wagi_nb.discover("rust").found
    wagi_nb.set_compiler("rust", None)
    assert wagi_nb.discover("rust").path == info.path
    assert wagi_nb.build(hello_sources["rust"], language="rust").run().text == "Hello, world!\n"


def test_unknown_language_lists_the_known_ones():
    with pytest.raises(wagi_nb.WagiNbError) as caught:
        wagi_nb.build("print *, 'hi'", language="fortran")
    message = str(caught.value)
    for language in LANGUAGES:
        assert language in message


def test_every_language_of_the_registry_reaches_every_consumer(ipython_shell, tmp_path):
    """A language is one file under toolchains/: its magic, setting, %wasm_toolchains row, the
    headless reader and the export all come from the registry."""
    from nbformat.v4 import new_code_cell, new_notebook
    from wagi_nb import toolchains
    from wagi_nb.magics.languages import WasmMagics
    from wagi_nb.notebook import language_cells
    magics = ipython_shell.magics_manager.magics["cell"]
    cells = []
    for language, toolchain in toolchains.TOOLCHAINS.items():
        assert toolchain.magic == f"wasm_{language}" and toolchain.magic in magics
        assert toolchain.summary and toolchain.summary in " ".join(magics[toolchain.magic].__doc__.split())
        if toolchain.setting:
            assert WasmMagics.class_traits()[toolchain.setting].metadata.get("config")
        cells.append(new_code_cell(f"%%{toolchain.magic} --no-run\nbody"))
    read = language_cells(new_notebook(cells=cells))
    assert [cell.language for cell in read] == list(toolchains.TOOLCHAINS)
    assert [info.language for info in toolchains.all_toolchains()] == list(toolchains.TOOLCHAINS)


def test_each_toolchain_says_which_libc_it_links_and_how_spin_is_kept_safe(need_toolchain):
    """Spin's WASI adapter corrupts the heap of a wasi-libc from before its PR 377 (Debian 12's): each
    C-library toolchain says which libc it links, and an old one's modules get their sbrk fixed (the
    peer suite shows them clean under the real Spin)."""
    infos = {language: need_toolchain(language) for language in ("c", "cpp", "rust")}
    shown = repr(ToolchainsView(wagi_nb.toolchains.all_toolchains()))
    for language, info in infos.items():
        assert info.libc and f"libc: {info.libc}" in shown, language
        if info.old_libc:
            assert "from before PR 377: each module's sbrk is fixed" in info.libc
            assert info.identity["old_libc"] is True  # (the fix is part of the build's cache key)
        else:
            assert "has PR 377's fix" in info.libc


# -- the order of discovery, with fake compilers ----------------------------------------------------
def test_rustup_s_rustc_comes_before_path_s_and_debian_s(tmp_path, monkeypatch):
    """rustup's proxy (the toolchain rustup's settings choose), then rustup's toolchains, then PATH,
    then /usr/bin: a rustup toolchain with the wasm target wins even when /usr/bin is first on PATH."""
    from test_discovery_cache import fake_rustc
    from wagi_nb.toolchains import rust
    monkeypatch.setenv("RUSTUP_HOME", str(tmp_path / "rustup"))
    monkeypatch.setenv("CARGO_HOME", str(tmp_path / "cargo"))
    for folder in ("usr-bin", "rustup/toolchains/stable/bin", "cargo/bin"):
        (tmp_path / folder).mkdir(parents=True)
    monkeypatch.setenv("PATH", os.pathsep.join([str(tmp_path / "usr-bin"), str(tmp_path / "cargo/bin")]))
    debian, _ = fake_rustc(tmp_path / "usr-bin", "rustc 1.63.0 (Debian)", tmp_path / "debian")
    stable, _ = fake_rustc(tmp_path / "rustup/toolchains/stable/bin", "rustc 1.80.0", tmp_path / "stable",
                           "wasm32-wasip1")
    assert rust.TOOLCHAIN.discover().path == str(stable)
    proxy, _ = fake_rustc(tmp_path / "cargo/bin", "rustc 1.81.0 (rustup's choice)", tmp_path / "chosen",
                          "wasm32-wasip1")
    assert rust.TOOLCHAIN.discover().path == str(proxy)
    # A rustc without a wasm target is passed over, wherever it is.
    for sysroot in ("stable", "chosen"):
        shutil.rmtree(tmp_path / sysroot / "lib" / "rustlib" / "wasm32-wasip1")
    info = rust.TOOLCHAIN.discover()
    assert info.path == str(debian)
    assert f"{proxy} (rustc 1.81.0 (rustup's choice), no WASI target), {stable} (" in info.note, info.note


def fake_zig(folder: Path, version: str, executable: bool = True) -> Path:
    """A zig script that answers ``zig version``."""
    folder.mkdir(parents=True, exist_ok=True)
    script = folder / "zig"
    script.write_text(f'#!/bin/sh\n[ "$1" = version ] && echo "{version}"\n')
    script.chmod(0o755 if executable else 0o644)
    return script


def test_a_ziglang_package_whose_zig_cannot_run_does_not_hide_a_zig_on_path(tmp_path, monkeypatch):
    from wagi_nb.toolchains import zig
    from wagi_nb.toolchains.base import missing_message
    package = tmp_path / "site-packages" / "ziglang"
    stuck = fake_zig(package, "0.14.0", executable=False)  # (unpacked without its execute bit)
    on_path = fake_zig(tmp_path / "bin", "0.13.0")
    monkeypatch.setattr(zig, "spec_location", lambda name: str(package) if name == "ziglang" else None)
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    info = zig.TOOLCHAIN.discover()
    assert (info.found, info.path, info.version) == (True, str(on_path), "0.13.0")
    assert f"chmod +x {stuck}" in info.note  # (%wasm_toolchains shows why the package's is not used)
    # With no zig on PATH either, the message says what is wrong with the package's, and the fix.
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    info = zig.TOOLCHAIN.discover()
    message = missing_message(info, zig.TOOLCHAIN.title)
    assert not info.found
    assert f"The ziglang package's zig ({stuck}) is not executable, and there is no `zig` on PATH" in message
    assert f"chmod +x {stuck}" in message and "pip install --force-reinstall ziglang" in message
    assert "Neither" not in message, message
