"""Where the bridge finds wasm-tools and the WIT files, what it says when they are missing, and
``wagi-nb install component``."""
from __future__ import annotations

import os
import stat

import pytest

from wagi_nb.bridge import BridgeUnavailable
from wagi_nb.bridge import tools


def script(folder, name: str, body: str):
    path = folder / name
    path.write_text(f"#!/bin/sh\n{body}\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


@pytest.fixture
def empty_tools_dir(tmp_path, monkeypatch):
    """A tools folder with nothing installed in it."""
    monkeypatch.setenv("WAGI_NB_TOOLS_DIR", str(tmp_path / "tools"))
    monkeypatch.delenv(tools.WASM_TOOLS_ENV, raising=False)
    return tmp_path / "tools"


def test_the_variable_comes_first_then_the_install_then_path(wasm_tools, tmp_path, monkeypatch, empty_tools_dir):
    wrapper = script(tmp_path, "wasm-tools", f'exec "{wasm_tools}" "$@"')
    monkeypatch.setenv(tools.WASM_TOOLS_ENV, str(wrapper))
    assert tools.wasm_tools() == wrapper
    monkeypatch.setenv(tools.WASM_TOOLS_ENV, str(tmp_path / "nowhere"))
    with pytest.raises(BridgeUnavailable, match=f"{tools.WASM_TOOLS_ENV} is .*nowhere.*does not run"):
        tools.wasm_tools()
    monkeypatch.delenv(tools.WASM_TOOLS_ENV)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    assert tools.wasm_tools() == wrapper  # 1.262.0 on PATH
    folder = empty_tools_dir / f"wasm-tools-{tools.WASM_TOOLS_VERSION}" / "bin"
    folder.mkdir(parents=True)
    installed = script(folder, "wasm-tools", f'exec "{wasm_tools}" "$@"')
    assert tools.wasm_tools() == installed  # the install before PATH


def test_another_version_on_path_is_not_used(tmp_path, monkeypatch, empty_tools_dir):
    script(tmp_path, "wasm-tools", 'echo "wasm-tools 1.0.0 (abc 2024-01-01)"')
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    with pytest.raises(BridgeUnavailable) as raised:
        tools.wasm_tools()
    message = str(raised.value)
    assert "`wagi-nb install component`" in message and "the wasm-tools on PATH is 1.0.0" in message
    assert "\n" not in message


def test_missing_wit_files_say_how_to_get_them(empty_tools_dir):
    with pytest.raises(BridgeUnavailable, match="WASI 0.2.0 WIT files.*`wagi-nb install component`"):
        tools.wit_deps()


def test_no_clang_says_what_to_install(bridge, tmp_path, monkeypatch):
    from wagi_nb.bridge.adapters import adapters
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(BridgeUnavailable, match="clang and wasm-ld are not on PATH.*apt-get install clang lld"):
        adapters()


def test_an_old_cargo_is_not_used_to_build_wasm_tools(tmp_path, monkeypatch, empty_tools_dir):
    script(tmp_path, "cargo", 'echo "cargo 1.63.0"')
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(BridgeUnavailable, match="needs cargo 1.88 or later, and the cargo on PATH is 1.63.*rustup"):
        tools.install_wasm_tools(print)


@pytest.mark.network
def test_the_wit_files_come_from_the_pinned_crate(bridge, empty_tools_dir):
    said = []
    tools.install_wit(said.append)
    fetched = tools.wit_deps()
    assert sorted(path.name for path in fetched.iterdir()) == sorted(tools.WIT_PACKAGES)
    assert (fetched / "http" / "proxy.wit").read_text().startswith("package wasi:http@0.2.0;")
    tools.install_wit(said.append)
    assert "already" in said[-1]


def test_install_component_is_quick_when_done(bridge, wagi_nb_cli):
    done = wagi_nb_cli("install", "component")
    out = done.stdout.decode()
    assert done.returncode == 0, done.stderr.decode()
    assert "WIT files are already in" in out and f"wasm-tools {tools.WASM_TOOLS_VERSION} is already in" in out
    assert "adapters ready in" in out
