"""Limits that hold in a real notebook (nbclient + ipykernel): a cell's sleeping module obeys
``--timeout`` and the stop button; the memory limit's reason shows in the cell; ``%wagi_serve``
refuses requests addressed to foreign host names; an export copies no file a module could not read."""
from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
import threading
import time

import pytest
from nbclient.exceptions import CellExecutionError

from helpers import attackers
from helpers import ports, servers as ss
from helpers.kernels import live_kernel, run_cell, text_of


@pytest.fixture(scope="module")
def client(kernelspec_dir, python_env, need_toolchain, tmp_path_factory):
    need_toolchain("c")
    cwd = tmp_path_factory.mktemp("limits-notebook")
    with live_kernel(kernelspec_dir, python_env(JUPYTER_PATH=kernelspec_dir), cwd) as client:
        run_cell(client, "%load_ext wagi_nb")
        client.cwd = cwd
        yield client


def sleeper_cell(options: str) -> str:
    return f"%%wasm_c {options} --args sleep=1000000\n{attackers.ATTACKER_C}"


def test_a_cell_s_timeout_stops_a_sleeping_module_on_time(client):
    run_cell(client, sleeper_cell("--no-run"))  # compile first: the timing is the run's alone
    start = time.monotonic()
    cell = run_cell(client, sleeper_cell("--timeout 2"), raises=True)
    took = time.monotonic() - start
    assert "stopped: timed out after 2 s" in text_of(cell)
    assert "ModuleFailed: The module failed (stopped: timed out after 2 s)" in text_of(cell)
    assert took < 3, took


def test_the_stop_button_stops_a_sleeping_module_within_a_second(client):
    run_cell(client, sleeper_cell("--no-run"))
    pressed = []

    def press_stop():
        pressed.append(time.monotonic())
        asyncio.run(client.km.interrupt_kernel())

    timer = threading.Timer(1.0, press_stop)
    timer.start()
    try:
        with pytest.raises(CellExecutionError) as caught:
            run_cell(client, sleeper_cell("--timeout 60"))
    finally:
        timer.cancel()
    assert pressed and time.monotonic() - pressed[0] < 1.5
    assert "KeyboardInterrupt" in str(caught.value)
    assert text_of(run_cell(client, "print('still here')")).strip() == "still here"


def test_the_memory_limit_s_reason_shows_in_the_cell(client):
    cell = run_cell(client, f"%%wasm_wat\n{attackers.EIGHT_MEMORIES_WAT}", raises=True)
    text = text_of(cell)
    assert "trap: the module asks for more than an instance may have" in text
    assert "one linear memory of up to 256 MiB" in text


def raw_get(port: int, host: str, extra: str = "") -> bytes:
    return ss.raw_exchange(port, f"GET / HTTP/1.1\r\nHost: {host}\r\n{extra}Connection: close\r\n\r\n"
                           .encode())


def test_wagi_serve_refuses_foreign_host_names(client):
    port = ports.free_port()
    run_cell(client, '%%wasm_c --route /\n#include <stdio.h>\nint main(void) {\n'
                     '    printf("Content-Type: text/plain\\n\\nhi from the notebook\\n");\n}\n')
    run_cell(client, f"%wagi_serve --port {port}")
    try:
        for host in (f"localhost:{port}", f"127.0.0.1:{port}", f"app.localhost:{port}",
                     socket.gethostname()):
            raw = raw_get(port, host)
            assert ss.status_of(raw) == 200 and raw.endswith(b"hi from the notebook\n"), (host, raw)
        refused = raw_get(port, f"attacker.example:{port}")
        assert ss.status_of(refused) == 403
        assert b"hi from the notebook" not in refused
        assert b"%wagi_serve --allow-host attacker.example" in refused
        run_cell(client, f"%wagi_serve --port {port} --allow-host attacker.example")
        assert ss.status_of(raw_get(port, f"attacker.example:{port}")) == 200
        assert ss.status_of(raw_get(port, "other.example")) == 403
    finally:
        run_cell(client, "%wagi_stop")


@pytest.mark.toolchain  # its kernel compiles a C cell
def test_wagi_serve_answers_what_the_hub_s_proxy_forwards(kernelspec_dir, python_env, tmp_path):
    prefix = "/user/someone/"
    env = python_env(JUPYTER_PATH=kernelspec_dir, JUPYTERHUB_SERVICE_PREFIX=prefix,
                     JUPYTERHUB_PUBLIC_URL="https://hub.example.org/")
    port = ports.free_port()
    with live_kernel(kernelspec_dir, env, tmp_path) as hub_client:
        run_cell(hub_client, "%load_ext wagi_nb")
        run_cell(hub_client, '%%wasm_c --route /\n#include <stdio.h>\nint main(void) {\n'
                             '    printf("Content-Type: text/plain\\n\\nvia the hub\\n");\n}\n')
        run_cell(hub_client, f"%wagi_serve --port {port}")
        try:
            assert ss.status_of(raw_get(port, "hub.example.org")) == 200
            # This process started the kernel, as the Jupyter server (where jupyter-server-proxy runs) does.
            forwarded = raw_get(port, "binder-host.example",
                                f"X-Forwarded-Context: {prefix}proxy/{port}\r\n")
            assert ss.status_of(forwarded) == 200 and forwarded.endswith(b"via the hub\n")
            other = raw_get(port, "binder-host.example", "X-Forwarded-Context: /user/x/proxy/1\r\n")
            assert ss.status_of(other) == 403
            # A rebinding page (any other process: here a child of this one) sends the right context:
            # refused, since only the Jupyter server's own connections may claim to be its proxy's.
            forged = subprocess.run(
                [sys.executable, "-c", "import socket, sys\n"
                 f"s = socket.create_connection(('127.0.0.1', {port}))\n"
                 f"s.sendall(b'GET / HTTP/1.1\\r\\nHost: attacker.example\\r\\n"
                 f"X-Forwarded-Context: {prefix}proxy/{port}\\r\\nConnection: close\\r\\n\\r\\n')\n"
                 "sys.stdout.buffer.write(s.recv(100))"], capture_output=True, timeout=30)
            assert forged.stdout.startswith(b"HTTP/1.1 403"), forged
        finally:
            run_cell(hub_client, "%wagi_stop")


def test_an_export_copies_no_symlink_that_leaves_its_volume(client):
    cwd = client.cwd
    (cwd / "outside").mkdir()
    (cwd / "outside" / "secret").write_text("the host's secret\n")
    (cwd / "site" / "data").mkdir(parents=True)
    (cwd / "site" / "data" / "page.txt").write_text("a page\n")
    run_cell(client, f"%%wasm_c --route /v --volume /data=site/data\n{attackers.ATTACKER_C}")
    planted = run_cell(client, "%wagi_request GET /v?plant=../../outside/secret")
    assert "symlink made" in text_of(planted)  # wasmtime lets a module make one...
    read = run_cell(client, "%wagi_request GET /v?read=/data/leak")
    assert "cannot open /data/leak" in text_of(read)  # ...but never follows it
    (cwd / "site" / "data" / "inside").symlink_to("page.txt")  # a link that stays in the volume
    exported = run_cell(client, "%wagi_export app")
    report = text_of(exported)
    assert "left out the symlink leak" in report
    copied = cwd / "app" / "files" / "v" / "data"
    assert (copied / "page.txt").read_text() == "a page\n"
    assert not (copied / "leak").exists() and not (copied / "leak").is_symlink()
    assert (copied / "inside").is_symlink() and (copied / "inside").read_text() == "a page\n"
    assert "the host's secret" not in "".join(p.read_text(errors="replace")
                                              for p in (cwd / "app").rglob("*")
                                              if p.is_file() and not p.is_symlink())
    assert "Spin's `files` are read-only" in (cwd / "app" / "README.md").read_text()
