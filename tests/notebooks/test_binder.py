"""The binder/ folder agrees with the package (the image itself cannot be built here)."""
import os
import re
import subprocess
import sys

import pytest

from helpers import REPO

BINDER = REPO / "binder"


@pytest.mark.parametrize("script", ["postBuild", "start"])
def test_scripts_are_executable_and_parse(script):
    path = BINDER / script
    assert os.access(path, os.X_OK), f"binder/{script} must be executable"
    result = subprocess.run(["bash", "-n", str(path)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_runtime_is_a_python_the_package_supports():
    runtime = (BINDER / "runtime.txt").read_text().strip()
    major, minor = map(int, re.fullmatch(r"python-(\d+)\.(\d+)", runtime).groups())
    required = re.search(r'requires-python = ">=(\d+)\.(\d+)"', (REPO / "pyproject.toml").read_text())
    assert (major, minor) >= tuple(map(int, required.groups()))


def test_requirements_pin_the_wasmtime_major_the_package_pins():
    pinned = re.search(r'"wasmtime([^"]+)"', (REPO / "pyproject.toml").read_text()).group(1)
    lines = (BINDER / "requirements.txt").read_text().splitlines()
    assert f"wasmtime{pinned}" in lines
    assert any(line.startswith("jupyter-server-proxy") for line in lines)


def test_postbuild_prebuilds_notebooks_that_exist_and_parse():
    postbuild = (BINDER / "postBuild").read_text()
    assert "wasm32-wasip1" in postbuild and 'pip install --no-cache-dir -e ".[zig]"' in postbuild
    notebooks = sorted((REPO / "notebooks").glob("*.ipynb"))
    assert "notebooks/*.ipynb" in postbuild and len(notebooks) >= 4
    from wagi_nb.notebook import language_cells, read_notebook
    for notebook in notebooks:
        assert language_cells(read_notebook(notebook)), f"{notebook.name} has no cells to pre-build"


def test_readme_badge_opens_the_first_tutorial():
    readme = (REPO / "README.md").read_text()
    badge = re.search(r"\(https://mybinder\.org/v2/gh/[^)]+\)", readme)
    assert badge and "notebooks%2F01-hello-wasm.ipynb" in badge.group(0)


@pytest.mark.network
@pytest.mark.skipif(os.environ.get("WAGI_NB_OFFLINE") == "1", reason="needs PyPI")
def test_requirements_resolve_against_the_package_index():
    result = subprocess.run([sys.executable, "-m", "pip", "install", "--dry-run", "--quiet",
                             "--ignore-installed", "-r", str(BINDER / "requirements.txt")],
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
