"""Run a tutorial notebook headless and print what a reader would see, step by step.

    .venv/bin/python examples/walkthrough.py [notebooks/01-hello-wasm.ipynb]

Each step prints the markdown (as text), the code, and the text form of every output. The notebook
runs in a temporary folder on a real kernel (nbclient), so nothing it writes lands in the repository.
Exit status 1 if a cell fails.
"""
import os
import shutil
import socket
import sys
import tempfile
import textwrap
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

ROOT = Path(__file__).resolve().parents[1]
WIDTH = 100


def free_port(preferred: int = 3000) -> int:
    """3000 as in the article, unless something already listens there."""
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", preferred))
            return preferred
        except OSError:
            probe.bind(("127.0.0.1", 0))
            return probe.getsockname()[1]


def output_text(output) -> str:
    if output.output_type == "stream":
        return output.text
    if output.output_type == "error":
        return "\n".join(output.traceback) if output.traceback else f"{output.ename}: {output.evalue}"
    data = output.get("data", {})
    if "application/vnd.jupyter.widget-view+json" in data:
        return "[interactive widget: open the notebook in JupyterLab to use it]"
    return data.get("text/plain", "")


def show(notebook) -> None:
    step = 0
    for cell in notebook.cells:
        if cell.cell_type == "markdown":
            print()
            for line in cell.source.splitlines():
                print(textwrap.fill(line.lstrip("#").strip(), WIDTH) if line.strip() else "")
            continue
        if cell.cell_type != "code":
            continue
        step += 1
        print(f"\n--- step {step} " + "-" * (WIDTH - 10))
        print(textwrap.indent(cell.source, "  >>> " if "\n" not in cell.source else "  | "))
        outputs = [output_text(o) for o in cell.get("outputs", [])]
        text = "\n".join(t.rstrip("\n") for t in outputs if t.strip())
        if text:
            print(textwrap.indent(text, "  "))


def main(argv) -> int:
    source = Path(argv[1]) if len(argv) > 1 else ROOT / "notebooks" / "01-hello-wasm.ipynb"
    notebook = nbformat.read(source, as_version=4)
    with tempfile.TemporaryDirectory(prefix="wagi-nb-walkthrough-") as folder:
        for extra in source.parent.iterdir():  # files the notebook reads (e.g. public/)
            if extra.is_dir() and not extra.name.startswith("."):
                shutil.copytree(extra, Path(folder) / extra.name)
        os.environ.setdefault("WAGI_NB_PORT", str(free_port()))
        client = NotebookClient(notebook, timeout=300, kernel_name="python3",
                                resources={"metadata": {"path": folder}})
        print(f"Running {source.relative_to(ROOT) if source.is_relative_to(ROOT) else source} "
              f"on a fresh kernel (server port {os.environ['WAGI_NB_PORT']}) ...")
        failed = None
        try:
            client.execute()
        except CellExecutionError as error:
            failed = error
        show(notebook)
        if failed:
            print(f"\nA cell failed:\n{failed}", file=sys.stderr)
            return 1
    print(f"\nDone: every cell of {source.name} ran. Open the notebooks in JupyterLab with `make lab`.")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
