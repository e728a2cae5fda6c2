"""A real notebook on a real kernel (nbclient + ipykernel): hello world, a failing cell that leaves
the kernel usable, and the stop button (kernel interrupt) on a module that never ends."""
from __future__ import annotations

import asyncio
import sys
import threading
import time

import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError
from nbformat.v4 import new_code_cell, new_notebook

from helpers.kernels import live_kernel, run_cell, text_of


RUST_HELLO = '%%wasm_rust\nfn main() {\n    println!("Hello, world!");\n}\n'
RUST_ERROR = '%%wasm_rust\nfn main() {\n    let x: i32 = "nope";\n}\n'


@pytest.fixture(scope="module")
def notebook_client(kernelspec_dir, python_env, need_toolchain, tmp_path_factory):
    need_toolchain("rust")
    with live_kernel(kernelspec_dir, python_env(JUPYTER_PATH=kernelspec_dir),
                     tmp_path_factory.mktemp("notebook-cwd")) as client:
        yield client


def test_kernel_runs_this_python(notebook_client):
    cell = run_cell(notebook_client, "import sys\nprint(sys.prefix)")
    assert text_of(cell).strip() == sys.prefix


def test_notebook_hello_world(notebook_client):
    run_cell(notebook_client, "%load_ext wagi_nb")
    cell = run_cell(notebook_client, RUST_HELLO)
    streams = [o for o in cell.outputs if o.output_type == "stream" and o.name == "stdout"]
    assert "".join(o.text for o in streams) == "Hello, world!\n"  # streamed, as %%bash streams
    html = [o for o in cell.outputs if o.output_type == "execute_result"][0].data["text/html"]
    assert "exit status 0" in html and "Hello, world!" not in html  # not shown twice


SLOW_PRINTER = (
    "%%wasm_c\n#include <stdio.h>\n#include <unistd.h>\nint main(void) {\n"
    "    for (int i = 1; i <= 5; i++) { printf(\"line %d\\n\", i); fflush(stdout); usleep(400000); }\n"
    "    return 0;\n}\n")


def test_a_plain_cell_s_stdout_arrives_as_the_module_writes_it(notebook_client, need_toolchain):
    need_toolchain("c")
    run_cell(notebook_client, "%load_ext wagi_nb")
    run_cell(notebook_client, SLOW_PRINTER.replace("%%wasm_c", "%%wasm_c --no-run", 1))  # build first
    from jupyter_core.utils import run_sync
    client = notebook_client.kc
    msg_id = client.execute(SLOW_PRINTER)
    arrivals = []
    while True:
        message = run_sync(client.get_iopub_msg)(timeout=30)
        if message["parent_header"].get("msg_id") != msg_id:
            continue
        if message["msg_type"] == "stream" and message["content"]["name"] == "stdout":
            arrivals.append((time.monotonic(), message["content"]["text"]))
        if message["msg_type"] == "status" and message["content"]["execution_state"] == "idle":
            break
    assert "".join(text for _, text in arrivals) == "".join(f"line {i}\n" for i in range(1, 6))
    first = next(when for when, text in arrivals if "line 1" in text)
    last = next(when for when, text in arrivals if "line 5" in text)
    assert last - first > 1.0, arrivals  # the lines came over 1.6 s, not all at the end


def test_notebook_compile_error_fails_the_cell_and_the_kernel_stays_usable(notebook_client):
    run_cell(notebook_client, "%load_ext wagi_nb")
    with pytest.raises(CellExecutionError) as caught:
        run_cell(notebook_client, RUST_ERROR)
    assert "cell.rs:3:18" in str(caught.value)
    error = [o for o in notebook_client.nb.cells[-1].outputs if o.output_type == "error"][0]
    assert error.ename == "CompileError"
    rendered = "\n".join(error.traceback)
    assert "cell.rs:3:18" in rendered
    assert "mismatched types" in rendered
    assert "Traceback" not in rendered and "File " not in rendered
    after = run_cell(notebook_client, "print(6 * 7)")
    assert text_of(after).strip() == "42"


def test_notebook_interrupt_stops_a_running_module(notebook_client, wat):
    run_cell(notebook_client, "%load_ext wagi_nb")
    interrupted_at = []

    def press_stop():
        interrupted_at.append(time.monotonic())
        asyncio.run(notebook_client.km.interrupt_kernel())

    timer = threading.Timer(1.0, press_stop)
    timer.start()
    started = time.monotonic()
    try:
        with pytest.raises(CellExecutionError) as caught:
            run_cell(notebook_client, f"%%wasm_wat --timeout 60\n{wat.LOOP}")
    finally:
        timer.cancel()
    finished = time.monotonic()
    assert interrupted_at, "the cell ended before it was interrupted"
    assert "KeyboardInterrupt" in str(caught.value)
    assert finished - interrupted_at[0] < 5, "the module should stop soon after the interrupt"
    assert finished - started < 30

    # The kernel is alive and wasm still runs.
    hello = run_cell(notebook_client, RUST_HELLO)
    assert "Hello, world!" in text_of(hello)
    assert "cached build" in text_of(hello)
    after = run_cell(notebook_client, "print('still here')")
    assert text_of(after).strip() == "still here"


def test_notebook_file_runs_end_to_end(kernelspec_dir, python_env, need_toolchain, tmp_path,
                                       monkeypatch):
    """The whole notebook as CI would run it: a saved .ipynb executed top to bottom."""
    need_toolchain("rust")
    need_toolchain("c")
    monkeypatch.setenv("JUPYTER_PATH", str(kernelspec_dir))
    nb = new_notebook(cells=[
        new_code_cell("%load_ext wagi_nb"),
        new_code_cell(RUST_HELLO),
        new_code_cell('%%wasm_c --args "a b"\n#include <stdio.h>\n'
                      'int main(int argc, char **argv) { printf("%d args\\n", argc - 1); return 0; }'),
        new_code_cell(RUST_ERROR),
        new_code_cell("print('never reached')"),
    ])
    path = tmp_path / "wasm.ipynb"
    nbformat.write(nb, path)
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, kernel_name="python3", timeout=120, startup_timeout=60,
                            resources={"metadata": {"path": str(tmp_path)}})
    with pytest.raises(CellExecutionError, match="cell.rs:3:18"):
        client.execute(env=python_env(JUPYTER_PATH=kernelspec_dir))
    assert "Hello, world!" in text_of(nb.cells[1])
    assert "2 args" in text_of(nb.cells[2])
    assert nb.cells[4].outputs == [], "execution stops at the failing cell"
