"""``%wagi_serve`` through a real kernel (nbclient + ipykernel): a route cell, the background server,
``!curl`` from a later cell of the same notebook, re-running ``%wagi_serve``, a busy port, ``%wagi_log``
and ``%wagi_stop`` freeing the port."""
from __future__ import annotations

import socket

import pytest

from helpers import ports, servers as ss
from helpers.kernels import live_kernel, run_cell, text_of


HELLO_CELL = "%%wasm_rust --route /\n" + ss.HELLO_RUST


@pytest.fixture(scope="module")
def kernel(kernelspec_dir, python_env, need_toolchain, tmp_path_factory):
    need_toolchain("rust")
    with live_kernel(kernelspec_dir, python_env(JUPYTER_PATH=kernelspec_dir),
                     tmp_path_factory.mktemp("server-notebook-cwd")) as client:
        yield client


def errors_of(cell) -> list:
    return [output for output in cell.outputs if output.output_type == "error"]


def test_wagi_serve_then_curl_from_a_later_cell(kernel):
    port = ports.free_port()
    run_cell(kernel, "%load_ext wagi_nb")
    route = run_cell(kernel, HELLO_CELL)
    assert not errors_of(route), text_of(route)

    served = run_cell(kernel, f"%wagi_serve --port {port}")
    assert not errors_of(served), text_of(served)
    assert f"http://127.0.0.1:{port}/" in text_of(served)

    curl = run_cell(kernel, f"!curl -s http://127.0.0.1:{port}/")
    assert "Hello, world!" in text_of(curl)
    # The test process reaches it too, with the seed's header.
    reply = ss.request(port, "GET", "/")
    assert (reply.status, reply.header("Content-Type"), reply.body) == (200, "text/plain", b"Hello, world!\n")
    assert ports.listening_addresses(port) == [f"127.0.0.1:{port}"]

    again = run_cell(kernel, f"%wagi_serve --port {port}")
    assert not errors_of(again), text_of(again)
    assert "Already serving" in text_of(again)
    assert ss.request(port, "GET", "/").body == b"Hello, world!\n"

    log = run_cell(kernel, "%wagi_log")
    assert '"GET / HTTP/1.1" 200' in text_of(log)

    # Hot reload from a cell: re-running the route cell with new code swaps the live module.
    reloaded = run_cell(kernel, HELLO_CELL.replace("Hello, world!", "Hello again!"))
    assert not errors_of(reloaded), text_of(reloaded)
    assert "Hello again!" in text_of(run_cell(kernel, f"!curl -s http://127.0.0.1:{port}/"))

    stopped = run_cell(kernel, "%wagi_stop")
    assert f"Stopped the server on http://127.0.0.1:{port}/" in text_of(stopped)
    assert ports.listening_addresses(port) == []
    with socket.socket() as sock:  # the port is free again: binding it succeeds (as a server would)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", port))
        sock.listen()
    assert "No server is running" in text_of(run_cell(kernel, "%wagi_stop"))


def test_wagi_serve_on_a_port_held_by_another_process(kernel):
    run_cell(kernel, "%load_ext wagi_nb")
    held = ports.hold_port()  # this test process is "another program" for the kernel
    port = held.getsockname()[1]
    try:
        cell = run_cell(kernel, f"%wagi_serve --port {port}", raises=True)
    finally:
        held.close()
    [error] = errors_of(cell)
    assert error.ename == "ListenError"
    assert "already in use" in error.evalue
    assert f"--port {port + 1}" in error.evalue
    assert "Traceback" not in "\n".join(error.traceback)  # the message, not a Python traceback
    # The kernel is fine and has no server.
    assert "No server is running" in text_of(run_cell(kernel, "%wagi_stop"))
