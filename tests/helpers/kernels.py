"""A live kernel for tests that run notebook cells one at a time (nbclient + ipykernel)."""
from __future__ import annotations

import contextlib
import queue
import time
from typing import Optional

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


def iopub_of(client, source: str, after_idle: float = 0.0, metadata: Optional[dict] = None) -> list:
    """Run ``source`` on the client's kernel as a front end does (an ``execute_request``, with
    JupyterLab's ``metadata`` if given: ``{"cellId": ...}``) and return the iopub messages it
    caused, in order, up to the kernel's idle; then, for ``after_idle`` seconds more, any that still
    come for it (nothing should)."""
    from jupyter_core.utils import run_sync  # the event loop nbclient runs the kernel client on
    kc = client.kc
    request = kc.session.msg("execute_request", {"code": source, "silent": False, "store_history": True,
                                                 "user_expressions": {}, "allow_stdin": False,
                                                 "stop_on_error": True}, metadata=metadata or {})
    kc.shell_channel.send(request)
    msg_id = request["header"]["msg_id"]
    messages, idle_at = [], None
    while True:
        wait = 120 if idle_at is None else idle_at + after_idle - time.monotonic()
        if idle_at is not None and wait <= 0:
            break
        try:
            message = run_sync(kc.get_iopub_msg)(timeout=wait)
        except queue.Empty:
            if idle_at is None:
                raise
            break
        if message["parent_header"].get("msg_id") != msg_id:
            continue
        messages.append(message)
        if message["msg_type"] == "status" and message["content"]["execution_state"] == "idle":
            idle_at = time.monotonic()
    run_sync(kc.get_shell_msg)(timeout=60)  # the execute_reply
    return messages
