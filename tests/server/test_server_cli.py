"""``wagi-nb serve`` as a process: the Ready line, graceful stops on SIGINT/SIGTERM with a request
in flight, one-line start-up errors, and ``--workers 2``."""
from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from helpers import ports, servers as ss
from helpers.subprocesses import wagi_nb_cli
from helpers.waiting import wait_until


@pytest.fixture(scope="module")
def site(need_toolchain, tmp_path_factory):
    folder = tmp_path_factory.mktemp("cli-site")
    shutil.copyfile(ss.build(need_toolchain, ss.TOOL_C, "c", name="server_tool").wasm_path,
                    folder / "tool.wasm")
    (folder / "modules.toml").write_text('[[module]]\nroute = "/m"\nmodule = "tool.wasm"\n')
    return folder


def established(port: int) -> int:
    """Connections established to the server's port (client side excluded)."""
    out = subprocess.run(["ss", "-tnH", "state", "established", f"( sport = :{port} )"],
                         capture_output=True, text=True, timeout=10).stdout
    return len([line for line in out.splitlines() if line.strip()])


def test_ready_line_names_the_bound_address(site, python_env):
    with ss.serve_process(python_env, site, "-c", "modules.toml", "-l", "127.0.0.1:0") as served:
        assert re.fullmatch(r"Ready: serving on http://127\.0\.0\.1:\d+", served.ready_line)
        assert served.port != 0
        assert served.stdout == served.ready_line  # stdout has the Ready line and nothing else
        assert served.request("GET", "/m?id=ready").body == b"id=ready\n"
        assert served.stop() == 0


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_signal_stops_gracefully_after_the_request_in_flight(site, python_env, sig):
    with ss.serve_process(python_env, site, "-c", "modules.toml", "-l", "127.0.0.1:0",
                          "--timeout", 30) as served:
        result = {}

        def slow():
            result["reply"] = served.request("GET", "/m?spin=1500")

        thread = threading.Thread(target=slow)
        thread.start()
        wait_until(lambda: established(served.port) >= 1, what="the slow request's connection")
        time.sleep(0.3)  # let the module start running (it runs for 1.5 s)
        served.process.send_signal(sig)
        thread.join(60)
        assert served.process.wait(60) == 0
        reply = result["reply"]
        assert (reply.status, reply.body) == (200, b"spun 1500 ms\n")
        assert "Traceback" not in served.stderr, served.stderr
        assert re.search(r'"GET /m\?spin=1500 HTTP/1\.1" 200 ', served.stderr)
        assert ports.port_is_free(served.port)


def test_a_stop_finishes_every_request_waiting_for_a_slot_within_the_timeout(site, python_env):
    """As nginx's graceful stop: 20 requests accepted before SIGTERM, most of them waiting for one of
    two module slots, all get their answer (the timeout leaves them time), then the server exits."""
    with ss.serve_process(python_env, site, "-c", "modules.toml", "-l", "127.0.0.1:0", "--timeout", 30,
                          "--workers", "1", "--max-concurrency", "2") as served:
        replies: list = []

        def one(n):
            replies.append(served.request("GET", f"/m?spin=150&n={n}"))

        threads = [threading.Thread(target=one, args=(n,)) for n in range(20)]
        for thread in threads:
            thread.start()
        wait_until(lambda: established(served.port) >= 20, what="the 20 connections")
        time.sleep(0.5)  # every request is in: two run, the others wait for a slot
        served.process.send_signal(signal.SIGTERM)
        for thread in threads:
            thread.join(60)
        assert served.process.wait(60) == 0
        assert sorted(reply.status for reply in replies) == [200] * 20, \
            [(reply.status, reply.body[:80]) for reply in replies]


def test_stop_does_not_wait_for_clients_that_went_away(site, python_env):
    """A client that vanished mid-body (or mid-module) does not hold a graceful stop until its
    deadline (--timeout 30 + grace): the stop ends once the requests still wanted are done."""
    with ss.serve_process(python_env, site, "-c", "modules.toml", "-l", "127.0.0.1:0",
                          "--timeout", 30) as served:
        cut = b"POST /m HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nshort"
        assert ss.raw_exchange(served.port, cut) == b""
        assert served.request("GET", "/m?id=after").body == b"id=after\n"
        started = time.monotonic()
        assert served.stop(signal.SIGTERM) == 0
        assert time.monotonic() - started < 20  # (the deadline it used to wait out: 35 s)


# -- start-up errors ------------------------------------------------------------------------------
SEED_TWO_LINES = 'module = "tool.wasm"\nroute = "/"\n'  # the article's file without [[module]]

STARTUP_ERRORS = {
    "bad TOML": ({"bad.toml": "this is [ not toml"}, ["-c", "bad.toml"], "not valid TOML"),
    "module without route": ({"two.toml": 'module = "x.wasm"\n'}, ["-c", "two.toml"],
                             "has no `route` beside it"),
    "[module] header": ({"one.toml": "[module]\n" + SEED_TWO_LINES}, ["-c", "one.toml"],
                        "[[module]] (two brackets)"),
    "route missing": ({"noroute.toml": '[[module]]\nmodule = "tool.wasm"\n'}, ["-c", "noroute.toml"],
                      "route"),
    "missing module file": ({"missing.toml": '[[module]]\nroute = "/"\nmodule = "nowhere.wasm"\n'},
                            ["-c", "missing.toml"], "nowhere.wasm"),
    "module not wasm": ({"junk.toml": '[[module]]\nroute = "/"\nmodule = "junk.wasm"\n',
                         "junk.wasm": "not a module"}, ["-c", "junk.toml"], "junk.wasm"),
    "missing config": ({}, ["-c", "absent.toml"], "absent.toml"),
    "no config at all": ({}, [], "-c"),
    "unknown flag": ({}, ["-c", "modules.toml", "--bogus"], "--bogus"),
    "bad flag value": ({}, ["-c", "modules.toml", "--timeout", "soon"], "--timeout"),
    "env without =": ({}, ["-c", "modules.toml", "-e", "NOEQUALS"], "NOEQUALS"),
    "missing env file": ({}, ["-c", "modules.toml", "--env-file", "absent.env"], "absent.env"),
    "bad listen": ({}, ["-c", "modules.toml", "-l", "nonsense"], "--listen"),
    "foreign address": ({}, ["-c", "modules.toml", "-l", "203.0.113.9:0"], "203.0.113.9"),
}


def run_serve(python_env, cwd, args, tmpdir, timeout=60):
    return wagi_nb_cli("serve", *args, cwd=cwd, env=python_env(TMPDIR=tmpdir), timeout=timeout)


def assert_one_line_error(done, needle):
    assert done.returncode != 0
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, done.stderr
    assert "Traceback" not in done.stderr
    assert lines[0].startswith("wagi-nb"), lines[0]
    assert needle in lines[0], lines[0]
    assert "Ready" not in done.stdout


@pytest.mark.parametrize("files, args, needle", list(STARTUP_ERRORS.values()), ids=list(STARTUP_ERRORS))
def test_startup_error_is_one_line_and_nonzero_exit(site, python_env, tmp_path, files, args, needle):
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    shutil.copyfile(site / "tool.wasm", tmp_path / "tool.wasm")
    shutil.copyfile(site / "modules.toml", tmp_path / "modules.toml")
    private_tmp = tmp_path / "tmp"
    private_tmp.mkdir()
    done = run_serve(python_env, tmp_path, args, private_tmp)
    assert_one_line_error(done, needle)
    assert list(private_tmp.iterdir()) == []  # no temporary log folder left behind


@pytest.mark.parametrize("workers", [1, 2])
def test_port_in_use_is_one_line_suggesting_another_port(site, python_env, tmp_path, workers):
    held = ports.hold_port()
    try:
        port = held.getsockname()[1]
        done = run_serve(python_env, site, ["-c", "modules.toml", "-l", f"127.0.0.1:{port}",
                                            "--workers", workers], tmp_path)
    finally:
        held.close()
    assert_one_line_error(done, f"Port {port}")
    assert "already in use" in done.stderr
    assert f"--listen 127.0.0.1:{port + 1}" in done.stderr


# -- --workers ---------------------------------------------------------------------------------------
def test_two_workers_share_the_port_and_both_serve(site, python_env):
    with ss.serve_process(python_env, site, "-c", "modules.toml", "-l", "127.0.0.1:0",
                          "--workers", "2") as served:
        workers = ss.children_of(served.pid)
        assert len(workers) == 2, workers
        ids = [f"w{n}" for n in range(32)]
        with ThreadPoolExecutor(16) as pool:
            replies = list(pool.map(lambda i: served.request("GET", f"/m?id={i}"), ids))
        assert [r.body for r in replies] == [f"id={i}\n".encode() for i in ids]
        # Each worker alone answers: freeze one (it cannot accept), ask, then the other way round.
        for frozen, other in (workers, workers[::-1]):
            os.kill(frozen, signal.SIGSTOP)
            try:
                for n in range(5):
                    assert served.request("GET", f"/m?id=only-{other}-{n}", timeout=30).status == 200
            finally:
                os.kill(frozen, signal.SIGCONT)
        assert served.stop(signal.SIGTERM) == 0
        for pid in workers:
            wait_until(lambda pid=pid: not Path(f"/proc/{pid}").exists()
                       or "Z" in Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0],
                       what=f"worker {pid} to exit")
        assert ports.port_is_free(served.port)
        assert "Traceback" not in served.stderr, served.stderr
