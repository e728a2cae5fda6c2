"""The tutorial notebooks, executed top to bottom on a real kernel, once per session.

Each notebook is copied to a temporary folder (its working directory, so the files it writes land
there) and run with nbclient on a kernel started from this interpreter (a kernelspec written to a
temporary folder points at ``sys.executable``, so the kernel sees the same wagi_nb). The kernel gets
a free port in ``WAGI_NB_PORT``, a temporary build cache in ``WAGI_NB_CACHE_DIR`` and a temporary
``IPYTHONDIR``. Outputs are found by the ``tags`` of the code cells (in the MyST Markdown sources,
``notebooks/0N-*.md``, that the ``.ipynb`` files are paired with). A last cell exports the notebook's
routes as a user would, for the peer suite (``tests/peers``): ``%wagi_export app`` (Wagi modules, for
``wagi-nb serve``, Wagi and Spin's wagi executor) and ``%wagi_export app-component --component`` (every
route a wasi:http component, for Spin without the executor and ``wasmtime serve``).

A notebook whose toolchain (or ``curl``) is missing is skipped locally and fails on CI (``CI=true``).
"""
from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

import nbclient
import nbformat
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import AsyncKernelManager

from wagi_nb import toolchains
from wagi_nb.errors import ToolchainNotFound

from . import REPO
from .ports import free_port
from .unavailable import unavailable

NOTEBOOKS = REPO / "notebooks"
CELL_TIMEOUT = 120

#: notebook → (languages it compiles, commands its shell cells run)
NEEDS = {
    "01-hello-wasm.ipynb": (["rust"], ["curl"]),
    "02-wagi-routes.ipynb": (["rust"], []),
    "03-any-language.ipynb": (["rust", "c", "cpp", "zig", "go", "assemblyscript", "wat", "python", "js"], []),
    "04-serve-and-share.ipynb": (["rust"], ["curl", "wasmtime"]),  # (wasmtime serve runs its component)
}


def require(name: str) -> None:
    languages, commands = NEEDS[name]
    for language in languages:
        try:
            toolchains.require(language)
        except ToolchainNotFound as error:
            unavailable(f"{name} needs a {language} toolchain: {error}")
    for command in commands:
        if shutil.which(command) is None and not (Path(sys.executable).parent / command).is_file():
            unavailable(f"{name} runs `{command}`, which is not installed")
    # Every run also exports its routes as wasi:http components (the bridge's tools and adapters).
    from wagi_nb.bridge import BridgeUnavailable
    from wagi_nb.bridge.adapters import adapters
    try:
        adapters()
    except BridgeUnavailable as error:
        unavailable(f"{name} is exported with --component, which needs the bridge: {error}")


# -- running notebooks ---------------------------------------------------------------------------
#: Where a run's last cell exports the notebook's routes, in its working folder: as Wagi modules, and
#: as wasi:http components (``--component``; the second export builds only the components).
EXPORT = "app"
COMPONENT_EXPORT = "app-component"


def kernel_dirs(tmp_path_factory) -> str:
    """A kernelspec "python3" that runs this interpreter, whatever else is installed."""
    root = tmp_path_factory.mktemp("kernels")
    spec = root / "python3"
    spec.mkdir()
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python 3 (wagi_nb tests)",
        "language": "python",
    }))
    return str(root)


def notebook_runner(tmp_path_factory, kernel_dirs):
    """run(name) → (its cells by tag, its working folder, its port); each runs once."""
    cache = tmp_path_factory.mktemp("wagi-nb-cache")
    ipython_dir = tmp_path_factory.mktemp("ipython")
    done = {}

    def run(name: str):
        require(name)
        if name not in done:
            work = tmp_path_factory.mktemp(name.split("-")[0])
            shutil.copy(NOTEBOOKS / name, work / name)
            nb = nbformat.read(str(work / name), as_version=4)
            nb.cells.append(nbformat.v4.new_code_cell(f"%wagi_export {EXPORT} --force\n"
                                                      f"%wagi_export {COMPONENT_EXPORT} --component --force"))
            port = free_port()
            env = dict(os.environ, WAGI_NB_PORT=str(port), WAGI_NB_CACHE_DIR=str(cache),
                       IPYTHONDIR=str(ipython_dir), PYDEVD_DISABLE_FILE_VALIDATION="1")
            km = AsyncKernelManager(kernel_name="python3",
                                    kernel_spec_manager=KernelSpecManager(kernel_dirs=[kernel_dirs]))
            client = nbclient.NotebookClient(nb, km=km, timeout=CELL_TIMEOUT, kernel_name="python3",
                                             resources={"metadata": {"path": str(work)}})
            try:
                client.execute(env=env)
            finally:
                nbformat.write(nb, str(work / f"executed-{name}"))  # to look at when a test fails
            done[name] = Cells(nb), work, port
        return done[name]

    return run


class Cells:
    """The code cells of an executed notebook, by tag."""

    def __init__(self, nb):
        self.by_tag = {}
        for cell in nb.cells:
            for tag in cell.get("metadata", {}).get("tags", []):
                self.by_tag[tag] = cell

    def cell(self, tag):
        assert tag in self.by_tag, f"no cell tagged {tag!r}; tags: {sorted(self.by_tag)}"
        return self.by_tag[tag]

    def text(self, tag) -> str:
        """What a terminal would show: streams and the text/plain form of every output."""
        parts = []
        for output in self.cell(tag).outputs:
            if output.output_type == "stream":
                parts.append(output.text)
            elif output.output_type == "error":
                parts.append("\n".join(output.traceback))
            elif "data" in output:
                parts.append(output.data.get("text/plain", ""))
        return "\n".join(parts)

    def html(self, tag) -> str:
        return "\n".join(output.data.get("text/html", "") for output in self.cell(tag).outputs
                         if "data" in output)

    def mimetypes(self, tag) -> set:
        return {mime for output in self.cell(tag).outputs if "data" in output for mime in output.data}


