"""The prebuilt JupyterLab extension that highlights ``%%wasm_<language>`` cells in their language.

Its source is ``labextension/``; its build, committed, is ``wagi_nb/labextension/``. Installing the
package puts the build where JupyterLab looks for extensions (``share/jupyter/labextensions/``): a
wheel as data files, the editable install of ``scripts/setup.sh`` as a link. What the extension
does in the browser is checked by ``tests/browser/``.
"""
from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import zipfile
from importlib.metadata import version
from pathlib import Path

from jupyter_core.paths import jupyter_path

from wagi_nb import toolchains
from wagi_nb._version import __version__

from helpers import REPO
from helpers.unavailable import need_module

SOURCE = REPO / "labextension"
BUILD = REPO / "wagi_nb" / "labextension"
NAME = "wagi-nb-labextension"
ANSI = re.compile(r"\x1b\[[0-9;]*m")




def built_files() -> list[str]:
    return sorted(str(path.relative_to(BUILD)) for path in BUILD.rglob("*") if path.is_file())


def test_the_build_is_in_the_package_with_its_remote_entry():
    package = json.loads((BUILD / "package.json").read_text())
    assert package["name"] == NAME == json.loads((SOURCE / "package.json").read_text())["name"]
    entry = BUILD / package["jupyterlab"]["_build"]["load"]
    assert entry.is_file() and entry.name.startswith("remoteEntry."), entry
    install = json.loads((BUILD / "install.json").read_text())
    assert install["packageManager"] == "python" and install["packageName"] == "wagi-nb"


def test_every_language_magic_has_a_language_in_the_source_and_the_build():
    source = (SOURCE / "src" / "index.ts").read_text()
    languages_block = re.search(r"MAGIC_LANGUAGES[^{]*\{(.*?)\}", source, re.S)
    assert languages_block, "no MAGIC_LANGUAGES in labextension/src/index.ts"
    in_source = set(re.findall(r"^\s*(\w+):", languages_block.group(1), re.M))
    assert in_source == set(toolchains.TOOLCHAINS), "labextension/src/index.ts and the toolchains disagree"
    bundle = "".join(path.read_text() for path in (BUILD / "static").glob("*.js"))
    stale = [lang for lang in toolchains.TOOLCHAINS if not re.search(rf"""\b["']?{lang}["']?:\s*["']""", bundle)]
    assert not stale, f"the build lacks {stale}: rebuild it (cd labextension && npm run build)"


def test_jupyterlab_finds_this_build_enabled_and_ok():
    need_module("jupyterlab")
    jupyter = Path(sys.executable).with_name("jupyter")
    listed = subprocess.run([str(jupyter), "labextension", "list"], capture_output=True, text=True, timeout=60)
    lines = [ANSI.sub("", line) for line in (listed.stdout + listed.stderr).splitlines()]
    ours = [line for line in lines if line.split()[:1] == [NAME]]
    assert ours, "\n".join(lines)
    assert re.search(r"\benabled\b.*\bOK\b", ours[0]) and f"v{__version__}" in ours[0], ours[0]

    found = next(Path(folder) / NAME for folder in jupyter_path("labextensions")
                 if (Path(folder) / NAME / "package.json").is_file())
    assert json.loads((found / "package.json").read_text()) == json.loads((BUILD / "package.json").read_text()), \
        f"JupyterLab loads {found}, not this checkout's build"


def test_a_wheel_carries_the_build_in_share_jupyter_labextensions(tmp_path):
    tree = tmp_path / "tree"
    tree.mkdir()
    for name in ["pyproject.toml", "README.md"]:
        shutil.copy(REPO / name, tree / name)
    shutil.copytree(REPO / "wagi_nb", tree / "wagi_nb", ignore=shutil.ignore_patterns("__pycache__"))
    # Without build isolation (setuptools >= 77 here, as the test extra asks) the wheel builds in
    # seconds and offline; with it, pip fetches setuptools first.
    isolation = ["--no-build-isolation"] if int(version("setuptools").split(".")[0]) >= 77 else []
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", *isolation,
                            "-w", str(tmp_path / "wheels"), str(tree)], capture_output=True, text=True, timeout=300)
    assert built.returncode == 0, built.stderr[-3000:]
    (wheel,) = (tmp_path / "wheels").glob("wagi_nb-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    data = f"wagi_nb-{__version__}.data/data/share/jupyter/labextensions/{NAME}"
    for relative in built_files():
        assert f"{data}/{relative}" in names, f"{relative} is not in the wheel's {data}"
        assert f"wagi_nb/labextension/{relative}" in names, f"{relative} is not in the wheel's package"
