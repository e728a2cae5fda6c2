"""A live kernel for tests that run notebook cells one at a time (nbclient + ipykernel)."""
from __future__ import annotations

import contextlib

import pytest
from nbclient import NotebookClient
from nbformat.v4 import new_code_cell, new_notebook


@contextlib.contextmanager
def live_kernel(kernelspec_dir, env: dict, cwd):
    """A NotebookClient with a started kernel that runs in ``cwd`` with ``env``."""
    mp = pytest.MonkeyPatch()
    mp.setenv("JUPYTER_PATH", str(kernelspec_dir))  # where the client looks up "python3"
    client = NotebookClient(new_notebook(), kernel_name="python3", timeout=120, startup_timeout=60,
                            resources={"metadata": {"path": str(cwd)}})
    try:
        with client.setup_kernel(env=env):
            yield client
    finally:
        mp.undo()


def run_cell(client, source: str, raises: bool = False):
    """Append a cell to the client's notebook and run it on the live kernel; returns the cell."""
    cell = new_code_cell(source)
    if raises:
        cell.metadata["tags"] = ["raises-exception"]
    client.nb.cells.append(cell)
    client.execute_cell(cell, len(client.nb.cells) - 1)
    return cell


def text_of(cell) -> str:
    """Every output of a cell as text: streams, text/plain results, and errors with their traceback."""
    parts = []
    for output in cell.outputs:
        if output.output_type == "stream":
            parts.append(output.text)
        elif output.output_type in ("execute_result", "display_data"):
            parts.append(output.data.get("text/plain", ""))
        elif output.output_type == "error":
            parts.append(f"{output.ename}: {output.evalue}\n" + "\n".join(output.traceback))
    return "\n".join(parts)
