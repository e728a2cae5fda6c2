"""Limits that hold, through the Python API: a module asleep in a host call still times out and
can be cancelled; memory covers every memory and table; output is capped while the module runs;
the scratch files are emptied; stderr kept in memory is bounded. Real modules, real wasmtime."""
from __future__ import annotations

import threading
import time

import pytest

import wagi_nb
from wagi_nb.runtime import get_runtime
from wagi_nb.runtime.deadlines import cancel_all
from wagi_nb.runtime.limits import RunLimits
from wagi_nb.wagi import WagiApp
from wagi_nb.wagi.stderr_log import KEEP_PER_ROUTE, KEEP_PER_RUN

from helpers import attackers

MiB = 1024 * 1024


@pytest.fixture(scope="module")
def attacker(need_toolchain):
    need_toolchain("c")
    return wagi_nb.build(attackers.ATTACKER_C, language="c", name="attacker")


# -- time ---------------------------------------------------------------------------------------------
def test_a_sleeping_module_times_out_on_time(attacker, fails_if_hung):
    with fails_if_hung(20):
        start = time.monotonic()
        result = attacker.run(["sleep=1000000"], timeout=2)
        took = time.monotonic() - start
    assert result.outcome == "timeout", result
    assert result.trap == "timed out after 2 s"
    assert 2 <= took < 3.5, took


def test_raw_poll_oneoff_on_a_clock_of_2_63_ns_times_out(need_toolchain, fails_if_hung):
    module = wagi_nb.build(attackers.POLL_FOREVER_WAT, language="wat")
    with fails_if_hung(20):
        start = time.monotonic()
        result = module.run(timeout=1)
    assert result.outcome == "timeout"
    assert time.monotonic() - start < 2


def test_short_sleeps_still_sleep_as_long_as_asked(attacker):
    result = attacker.run(["nap=300"], timeout=5)
    assert result.ok, result
    slept = float(result.text.split("napped ")[1].split()[0])
    assert 0.29 <= slept < 0.6, result.text


def test_a_descriptor_subscription_is_ready_at_once(attacker):
    start = time.monotonic()
    result = attacker.run(["pollstdin"], stdin=b"input", timeout=30)
    assert result.ok, result
    assert "poll 1 revents 1" in result.text  # POLLIN, well before its 60 s poll timeout
    assert time.monotonic() - start < 5


def test_cancelling_stops_a_sleeping_module_within_a_second(attacker):
    box = {}
    thread = threading.Thread(target=lambda: box.setdefault("result", get_runtime().run(
        attacker.load(), ["sleep=1000000"], limits=RunLimits(timeout=None))))
    thread.start()
    time.sleep(0.5)
    cancelled = time.monotonic()
    assert cancel_all() == 1  # (what a stopping server does)
    thread.join(5)
    assert not thread.is_alive(), "the sleeping module was not stopped"
    assert time.monotonic() - cancelled < 1
    assert box["result"].outcome == "interrupted"


# -- memory -------------------------------------------------------------------------------------------
def test_table_growth_is_bounded_by_the_memory_limit(need_toolchain):
    module = wagi_nb.build(attackers.TABLE_GROW_WAT, language="wat")
    result = module.run(memory_limit_mib=64)
    assert result.ok, result
    assert result.text.endswith("\n\n-1"), result.text  # table.grow failed: no 512 MiB table
    modest = wagi_nb.build(attackers.table_grow_wat(100_000), language="wat")
    assert modest.run(memory_limit_mib=64).text.endswith("\n\n1")  # a modest table still grows


def test_memory_growth_past_the_limit_fails_inside_the_module(need_toolchain):
    module = wagi_nb.build(attackers.MEMORY_GROW_WAT, language="wat")
    assert module.run(memory_limit_mib=64).text.endswith("\n\n-1")
    assert module.run(memory_limit_mib=256).text.endswith("\n\n1")  # the old size: 1 page


def test_extra_memories_are_refused_with_a_one_line_reason(need_toolchain):
    module = wagi_nb.build(attackers.EIGHT_MEMORIES_WAT, language="wat")
    result = module.run(memory_limit_mib=64)
    assert result.outcome == "trap"
    assert "\n" not in result.trap
    assert "one linear memory of up to 64 MiB" in result.trap
    assert "memory count" in result.trap


# -- output -------------------------------------------------------------------------------------------
def test_endless_output_is_stopped_at_the_cap(attacker, fails_if_hung):
    with fails_if_hung(30):
        result = attacker.run(["print"], max_output_mib=2, timeout=20)
    assert result.outcome == "output", result
    assert result.status == "stopped: printed more than the 2 MiB output cap"
    assert len(result.stdout) == 2 * MiB
    assert result.stdout.startswith(b"Content-Type: text/plain\n\nxxxx")


def test_the_cap_covers_stderr_too(attacker):
    result = attacker.run(["stderr=3"], max_output_mib=1)
    assert result.outcome == "output"
    assert len(result.stderr) == MiB


def test_nothing_of_a_run_reaches_the_next_and_a_capture_stops_at_the_cap(attacker):
    loud = attacker.run(["print"], max_output_mib=1)  # endless stdout, stopped at the cap
    assert loud.outcome == "output" and len(loud.stdout) == MiB
    from wagi_nb.runtime.stdio import Capture
    capture = Capture(limit=10)
    for _ in range(5):
        capture.write(b"0123456789")
    assert capture.value() == b"0123456789" and capture.size == 50 and capture.over
    quiet = attacker.run(["stderr=2"], stdin=b"x" * 100_000)
    assert quiet.stdout == b"Content-Type: text/plain\n\nwrote 2 MiB to stderr\n"
    assert quiet.stderr == (b"e" * 1023 + b"\n") * 2048


# -- stderr kept in memory ------------------------------------------------------------------------------
def test_stderr_history_is_bounded_per_run_and_per_route(attacker, tmp_path):
    app = WagiApp(log_dir=tmp_path / "logs", max_output_mib=16)
    app.add_route("/a", attacker)
    for _ in range(12):
        assert app.request("GET", "/a?stderr=8").status == 200
    entries = app.stderr_log["/a"]
    assert all(len(data) <= KEEP_PER_RUN + 100 for _, data in entries)
    assert app.stderr_log.bytes_kept() <= KEEP_PER_ROUTE
    assert b"more bytes in the --log-dir file" in entries[-1][1]
    # The files hold the rest, each capped, the previous one kept beside it.
    files = list((tmp_path / "logs").rglob("module.stderr*"))
    assert {f.name for f in files} == {"module.stderr", "module.stderr.1"}
    assert all(f.stat().st_size <= 16 * MiB for f in files)
