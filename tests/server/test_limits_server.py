"""Limits that hold, over real sockets: a real ``wagi-nb serve`` on 127.0.0.1 and modules that sleep,
spin, allocate and print without end; a client that half-closes, odd request targets, a process out
of file descriptors, module files changed under the server, workers killed with SIGKILL."""
from __future__ import annotations

import os
import re
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from helpers import attackers
from helpers import ports, servers as ss


TIMEOUT = 3
MEMORY_MIB = 64
MAX_OUTPUT_MIB = 4
MiB = 1024 * 1024


@pytest.fixture(scope="module")
def site(need_toolchain, tmp_path_factory):
    folder = tmp_path_factory.mktemp("limits-site")
    copy = lambda artifact, name: shutil.copyfile(artifact.wasm_path, folder / name)  # noqa: E731
    copy(ss.build(need_toolchain, attackers.ATTACKER_C, "c", name="attacker"), "attacker.wasm")
    copy(ss.build(need_toolchain, ss.HELLO_RUST, "rust"), "hello.wasm")
    copy(ss.build(need_toolchain, ss.TOOL_C, "c", name="server_tool"), "tool.wasm")
    (folder / "table.wat").write_text(attackers.TABLE_GROW_WAT)
    (folder / "memories.wat").write_text(attackers.EIGHT_MEMORIES_WAT)
    (folder / "poll.wat").write_text(attackers.POLL_FOREVER_WAT)
    for name in ("rw", "ro"):
        (folder / name).mkdir()
        (folder / name / "file.txt").write_text(f"{name} volume\n")
    (folder / "modules.toml").write_text(
        '[[module]]\nroute = "/a"\nmodule = "attacker.wasm"\n\n'
        '[[module]]\nroute = "/hello"\nmodule = "hello.wasm"\n\n'
        '[[module]]\nroute = "/m/..."\nmodule = "tool.wasm"\n\n'
        '[[module]]\nroute = "/table"\nmodule = "table.wat"\n\n'
        '[[module]]\nroute = "/memories"\nmodule = "memories.wat"\n\n'
        '[[module]]\nroute = "/poll"\nmodule = "poll.wat"\n\n'
        '[[module]]\nroute = "/ro"\nmodule = "attacker.wasm"\nvolumes = { "/data" = "ro" }\n'
        'read_only_volumes = ["/data"]\n\n'
        '[[module]]\nroute = "/rw"\nmodule = "attacker.wasm"\nvolumes = { "/data" = "rw" }\n')
    return folder


LIMIT_FLAGS = ("--timeout", TIMEOUT, "--memory-limit", MEMORY_MIB, "--max-output", MAX_OUTPUT_MIB)


@pytest.fixture(scope="module")
def server(site, python_env):
    with ss.serve_process(python_env, site, "-c", "modules.toml", "-l", "127.0.0.1:0", *LIMIT_FLAGS,
                          "--log-dir", site / "logs") as process:
        yield process
        assert process.process.poll() is None, f"the server died: {process.stderr}"
    assert "Traceback" not in process.stderr, process.stderr


def timed(func, *args, **kwargs):
    start = time.monotonic()
    result = func(*args, **kwargs)
    return result, time.monotonic() - start


# -- time ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("target", ["/a?sleep=1000000", "/poll"])
def test_a_module_asleep_in_a_host_call_gets_504_at_the_timeout(server, target):
    reply, took = timed(server.request, "GET", target)
    assert reply.status == 504, reply.text
    assert f"{TIMEOUT:g} s timeout" in reply.text
    assert TIMEOUT <= took < TIMEOUT + 2, took  # (at the timeout, give or take a busy machine)


def test_sleeping_modules_do_not_stop_other_routes(server):
    with ThreadPoolExecutor(12) as pool:
        sleepers = [pool.submit(server.request, "GET", "/a?sleep=1000000") for _ in range(12)]
        time.sleep(0.5)  # the sleepers hold their route's share of the pool now
        for _ in range(5):
            reply, took = timed(server.request, "GET", "/hello")
            assert reply.body == b"Hello, world!\n"
            # (behind the sleepers, it would wait for their timeout: 2.5 s more)
            assert took < 2, f"/hello waited {took:.2f} s behind the sleeping route"
        assert {f.result().status for f in sleepers} == {504}


def test_a_saturated_spinning_route_leaves_the_others_quick(server):
    stop = threading.Event()

    def hammer():
        while not stop.is_set():
            server.request("GET", "/a?spin=200")

    threads = [threading.Thread(target=hammer) for _ in range(16)]
    for thread in threads:
        thread.start()
    try:
        time.sleep(1)
        waits = [timed(server.request, "GET", "/hello")[1] for _ in range(10)]
    finally:
        stop.set()
        for thread in threads:
            thread.join(30)
    # Before the route-fair pool, /hello queued behind the spinners: ~700 ms a request.
    assert statistics.median(waits) < 0.25, waits


def test_sigterm_exits_soon_with_sleeping_modules_in_flight(site, python_env):
    with ss.serve_process(python_env, site, "-c", "modules.toml", "-l", "127.0.0.1:0",
                          "--timeout", TIMEOUT) as served:
        with ThreadPoolExecutor(6) as pool:
            sleepers = [pool.submit(ss.request, served.port, "GET", "/a?sleep=1000000")
                        for _ in range(6)]
            time.sleep(0.5)
            code, took = timed(served.stop, signal.SIGTERM)
            assert code == 0, served.stderr
            assert took < TIMEOUT + 2 + 1.5, took
            for future in sleepers:
                try:
                    assert future.result().status in (503, 504)
                except OSError:
                    pass  # the connection closed as the server stopped
    assert "Traceback" not in served.stderr


# -- memory -------------------------------------------------------------------------------------------
def test_table_growth_fails_inside_the_module(server):
    reply = server.request("GET", "/table")
    assert (reply.status, reply.body) == (200, b"-1")


def test_extra_memories_get_a_500_with_a_one_line_reason(server):
    reply = server.request("GET", "/memories")
    assert reply.status == 500
    assert "one linear memory of up to 64 MiB" in reply.text
    assert reply.text.count("\n") <= 1


def test_server_memory_stays_near_base_plus_concurrency_times_the_limit(server):
    base = ss.rss_bytes(server.pid)
    peak = [base]
    done = threading.Event()

    def sample():
        while not done.is_set():
            peak.append(ss.rss_bytes(server.pid))
            time.sleep(0.005)

    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        with ThreadPoolExecutor(2) as pool:  # two at once, as the attack did
            replies = list(pool.map(lambda target: server.request("GET", target),
                                    ["/table", "/memories", "/a?bomb", "/a?bomb"] * 2))
    finally:
        done.set()
        sampler.join()
    assert all(reply.status in (200, 500) for reply in replies)
    bombs = [r for r in replies if r.text.startswith("bomb")]
    assert bombs and all(int(re.search(r"after (\d+) MiB", r.text).group(1)) < MEMORY_MIB for r in bombs)
    assert max(peak) - base < 2 * (MEMORY_MIB + 8) * MiB + 64 * MiB, (base, max(peak))


# -- output -------------------------------------------------------------------------------------------
def test_endless_output_is_cut_off_with_a_500_that_says_why(server):
    base = ss.rss_bytes(server.pid)
    reply, took = timed(server.request, "GET", "/a?print")
    assert reply.status == 500
    assert f"more than the {MAX_OUTPUT_MIB:g} MiB output cap" in reply.text
    assert took < TIMEOUT, "the cap, not the timeout, stopped it"
    assert ss.rss_bytes(server.pid) - base < 3 * MAX_OUTPUT_MIB * MiB


def test_no_copy_of_a_run_stays_in_dev_shm(server):
    """What a run prints is captured in memory (at most the output cap, and dropped with the run):
    nothing of it is written to /dev/shm or anywhere else."""
    server.request("GET", "/a?print")
    server.request("POST", "/m/x", body=b"b" * 1_000_000)
    for pid in ss.serving_pids(server.pid):  # (the worker processes, by default one per CPU)
        assert not list(Path("/dev/shm").glob(f"wagi_nb-{pid}-*"))
        opened = [os.readlink(f"/proc/{pid}/fd/{fd}") for fd in os.listdir(f"/proc/{pid}/fd")]
        assert not [path for path in opened if path.startswith(("/dev/shm/", "/tmp/wagi_nb-"))], opened


def test_stderr_in_memory_and_on_disk_stays_bounded(server, site):
    def three_mib_of_stderr(times):
        for _ in range(times):
            assert server.request("GET", "/a?stderr=3").status == 200
    three_mib_of_stderr(10)  # (the threads' allocators have grown to what a run takes: measured after)
    base = ss.rss_bytes(server.pid)
    three_mib_of_stderr(30)
    grown = ss.rss_bytes(server.pid) - base
    assert grown < 30 * MiB, f"{grown / MiB:.0f} MiB more after 90 MiB of stderr"
    logs = [path.stat().st_size for path in (site / "logs").rglob("module.stderr*")]
    assert logs and max(logs) <= 16 * MiB


# -- volumes ------------------------------------------------------------------------------------------
def test_a_read_only_volume_cannot_be_written(server, site):
    reply = server.request("GET", "/ro?write=/data/new.txt")
    assert reply.status == 200 and reply.text != "written\n", reply.text
    assert not (site / "ro" / "new.txt").exists()
    assert server.request("GET", "/ro?read=/data/file.txt").text == "ro volume\n"
    assert server.request("GET", "/rw?write=/data/new.txt").text == "written\n"


# -- requests -----------------------------------------------------------------------------------------
def test_a_query_of_1500_fields_is_served_as_argv(server):
    query = "&".join(f"f{i}=v" for i in range(1500))
    reply = server.request("GET", f"/m/x?{query}")
    assert reply.status == 200, reply.text
    assert reply.text.count("\nA f") == 1500


def test_an_encoded_nul_in_the_path_is_400(server):
    reply = server.request("GET", "/m/a%00b")
    assert reply.status == 400
    assert "%00" in reply.text
    assert reply.header("Server") == "wagi-nb"


def test_raw_utf8_in_the_path_reaches_the_module_once_decoded(server):
    raw = ss.raw_exchange(server.port, "GET /m/café HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
                          .encode("utf-8"))
    assert ss.status_of(raw) == 200, raw[:200]
    body = raw.decode("utf-8")
    assert "E PATH_INFO=/café\n" in body and "Ã" not in body


def test_absolute_form_targets_are_routed_on_their_path(server):
    raw = ss.raw_exchange(server.port, b"GET http://example.test/hello HTTP/1.1\r\nHost: example.test"
                                       b"\r\nConnection: close\r\n\r\n")
    assert ss.status_of(raw) == 200 and raw.endswith(b"Hello, world!\n")


@pytest.mark.parametrize("target", ["/hello", "/a?spin=300"])
def test_a_client_that_half_closes_after_its_request_is_answered(server, target):
    raw = ss.raw_exchange(server.port, f"GET {target} HTTP/1.1\r\nHost: x\r\n\r\n".encode(),
                          close_write=True)
    assert ss.status_of(raw) == 200, raw
    assert raw.endswith(b"Hello, world!\n" if target == "/hello" else b"spun 300 ms\n")


# -- faults -------------------------------------------------------------------------------------------
def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def test_out_of_file_descriptors_the_server_backs_off_and_recovers(site, python_env):
    def low_limit():
        resource.setrlimit(resource.RLIMIT_NOFILE, (256, 256))

    # One process: running out of descriptors, and backing off, is each process's own affair.
    process = subprocess.Popen([sys.executable, "-m", "wagi_nb", "serve", "-c", "modules.toml",
                                "-l", "127.0.0.1:0", "--workers", "1"], cwd=site, env=python_env(), text=True,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, preexec_fn=low_limit)
    try:
        port = int(re.search(r":(\d+)$", process.stdout.readline().strip()).group(1))
        idle = []
        for _ in range(300):
            try:
                idle.append(socket.create_connection(("127.0.0.1", port), timeout=5))
            except OSError:
                break
        time.sleep(0.5)
        before = cpu_seconds(process.pid)
        time.sleep(3)
        used = cpu_seconds(process.pid) - before
        assert used < 0.6, f"the server burned {used:.2f} s of CPU in 3 s out of file descriptors"
        for sock in idle:
            sock.close()
        deadline = time.monotonic() + 10
        while True:
            try:
                reply = ss.request(port, "GET", "/hello", timeout=5)
                break
            except OSError:
                assert time.monotonic() < deadline, "the server did not recover"
                time.sleep(0.2)
        assert reply.body == b"Hello, world!\n"
    finally:
        process.terminate()
        _, stderr = process.communicate(timeout=30)
    lines = [line for line in stderr.splitlines() if "cannot accept" in line]
    assert 1 <= len(lines) <= 6, stderr[-2000:]
    assert "Too many open files" in lines[0]
    assert "accepting connections again" in stderr


def test_a_module_file_changed_under_the_server_keeps_its_route_answering(site, python_env, need_toolchain,
                                                                          tmp_path):
    shutil.copyfile(site / "hello.wasm", tmp_path / "live.wasm")
    (tmp_path / "modules.toml").write_text('[[module]]\nroute = "/"\nmodule = "live.wasm"\n')
    version_b = ss.build(need_toolchain, ss.version_source("B"), "c").wasm_path
    with ss.serve_process(python_env, tmp_path, "-c", "modules.toml", "-l", "127.0.0.1:0") as served:
        hello = served.request("GET", "/").body
        assert hello == b"Hello, world!\n"
        data = (tmp_path / "live.wasm").read_bytes()
        (tmp_path / "live.wasm").write_bytes(data[:len(data) // 2])          # half-written
        assert served.request("GET", "/").body == hello
        served.wait_for_stderr(r"live\.wasm changed but cannot be used")
        (tmp_path / "live.wasm").write_text("not a module\n")                # replaced by text
        assert served.request("GET", "/").body == hello
        (tmp_path / "live.wasm").unlink()                                     # deleted
        assert served.request("GET", "/").body == hello
        served.wait_for_stderr(r"live\.wasm is gone")
        shutil.copyfile(version_b, tmp_path / "live.wasm")                    # a real replacement
        assert served.request("GET", "/").body == b"version B\n"
        served.wait_for_stderr(r"live\.wasm changed: serving the new module")
    assert "Traceback" not in served.stderr and "TornadoServer" not in served.stderr


def test_a_module_file_changed_under_the_server_brings_its_own_routes(python_env, tmp_path):
    from helpers import wagi_modules as wm
    def routes_module(printed):
        return wm.wat_module({"_start": wm.plain("parent"), "_routes": printed,
                              "one": wm.plain("one"), "two": wm.plain("two")}).wasm_path
    shutil.copyfile(routes_module("/one one\n"), tmp_path / "live.wasm")
    (tmp_path / "modules.toml").write_text('[[module]]\nroute = "/..."\nmodule = "live.wasm"\n')
    with ss.serve_process(python_env, tmp_path, "-c", "modules.toml", "-l", "127.0.0.1:0") as served:
        assert served.request("GET", "/one").body == b"one"
        shutil.copyfile(routes_module("/two two\n"), tmp_path / "live.wasm")
        assert served.request("GET", "/two").body == b"two"
        assert served.request("GET", "/one").body == b"parent"
        served.wait_for_stderr(r"live\.wasm changed: serving the new module")


def test_a_killed_worker_is_restarted_and_workers_end_with_their_parent(site, python_env):
    with ss.serve_process(python_env, site, "-c", "modules.toml", "-l", "127.0.0.1:0",
                          "--workers", "2") as served:
        first = ss.children_of(served.pid)
        assert len(first) == 2
        os.kill(first[0], signal.SIGKILL)
        line = served.wait_for_stderr(r"worker \d \(pid %d\) killed by SIGKILL" % first[0])
        assert "restarting" in line
        deadline = time.monotonic() + 20
        while len(ss.children_of(served.pid)) < 2 or first[0] in ss.children_of(served.pid):
            assert time.monotonic() < deadline, "the worker was not restarted"
            time.sleep(0.1)
        for _ in range(4):
            assert served.request("GET", "/hello").body == b"Hello, world!\n"
        workers = ss.children_of(served.pid)
        served.process.kill()  # SIGKILL: the parent cannot pass anything on
        served.process.wait(10)
        deadline = time.monotonic() + 10
        while any(Path(f"/proc/{pid}").exists() and "Z" not in _state(pid) for pid in workers):
            assert time.monotonic() < deadline, "workers outlived their parent"
            time.sleep(0.1)
        assert ports.connect_fails("127.0.0.1", served.port)


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except OSError:
        return "Z"
