"""How many processes `wagi-nb serve` runs by default, and where a request's module runs.

* Default: one worker process per usable CPU (the affinity mask), each pinned to a CPU; the Ready
  line comes once every worker accepts. ``--workers 1``: one process.
* A module first runs on the event loop's thread with a CPU-time budget; one still running at the
  budget is stopped, forgotten (no stderr log, no listener) and run again on the pool, and its
  route goes to the pool for a while (:class:`InlinePolicy`).
* The route table finds the first matching route without trying every route.

No timing is asserted here: the benchmarks measure speed.
"""
from __future__ import annotations

import hashlib
import os
import random
import shutil
from concurrent.futures import ThreadPoolExecutor

import pytest

from wagi_nb import defaults
from wagi_nb.runtime.limits import RunLimits

from helpers import servers as ss


@pytest.fixture(scope="module")
def tool(need_toolchain):
    return ss.build(need_toolchain, ss.TOOL_C, "c", name="server_tool")


@pytest.fixture(scope="module")
def site(tool, tmp_path_factory):
    folder = tmp_path_factory.mktemp("workers-site")
    shutil.copyfile(tool.wasm_path, folder / "tool.wasm")
    (folder / "modules.toml").write_text('[[module]]\nroute = "/m"\nmodule = "tool.wasm"\n')
    return folder


def _affinity(pid: int) -> set:
    return set(os.sched_getaffinity(pid))


# -- how many processes ---------------------------------------------------------------------------
def test_serve_workers_default_is_the_usable_cpus():
    assert defaults.serve_workers() == defaults.usable_cpus() == len(os.sched_getaffinity(0))


def test_default_serve_starts_one_worker_per_usable_cpu(site, python_env):
    cpus = defaults.usable_cpus()
    with ss.serve_process(python_env, site, "-c", "modules.toml", "-l", "127.0.0.1:0") as served:
        workers = ss.children_of(served.pid)  # all there: Ready comes once each one accepts
        if cpus == 1:
            assert workers == [], workers
        else:
            assert len(workers) == cpus, (workers, cpus)
            assert f"serving with {cpus} worker processes (one per usable CPU" in served.stderr
            pinned = [_affinity(pid) for pid in workers]
            assert all(len(mask) == 1 for mask in pinned), pinned
            assert set().union(*pinned) == _affinity(0), pinned  # every usable CPU, one each
        with ThreadPoolExecutor(8) as pool:
            replies = list(pool.map(lambda n: served.request("GET", f"/m?id=d{n}"), range(24)))
        assert [r.body for r in replies] == [f"id=d{n}\n".encode() for n in range(24)]
        assert served.stop() == 0
    assert "Traceback" not in served.stderr, served.stderr


def test_workers_1_is_one_process(site, python_env):
    with ss.serve_process(python_env, site, "-c", "modules.toml", "-l", "127.0.0.1:0",
                          "--workers", "1") as served:
        assert ss.children_of(served.pid) == []
        assert served.request("GET", "/m?id=one").body == b"id=one\n"
        assert "worker processes" not in served.stderr
        assert served.stop() == 0


def test_default_on_one_usable_cpu_is_one_process(site, python_env):
    """The default counts the CPUs the process may use (its affinity mask, as a container's
    CPU set narrows it), not the machine's."""
    mine = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {min(mine)})  # inherited by the server started now
    try:
        served = ss.serve_process(python_env, site, "-c", "modules.toml", "-l", "127.0.0.1:0")
    finally:
        os.sched_setaffinity(0, mine)
    with served:
        assert ss.children_of(served.pid) == []
        assert served.request("GET", "/m?id=single").body == b"id=single\n"
        assert served.stop() == 0


def test_explicit_workers_are_started_and_pinned_in_turn(site, python_env):
    with ss.serve_process(python_env, site, "-c", "modules.toml", "-l", "127.0.0.1:0",
                          "--workers", "3") as served:
        workers = ss.children_of(served.pid)
        assert len(workers) == 3
        assert "serving with 3 worker processes" in served.stderr
        assert "one per usable CPU" not in served.stderr
        if len(_affinity(0)) > 1:
            assert all(len(_affinity(pid)) == 1 for pid in workers)
        assert served.request("GET", "/m?id=three").body == b"id=three\n"
        assert served.stop() == 0


# -- where the module runs ------------------------------------------------------------------------
@pytest.fixture
def app(tool, tmp_path):
    from wagi_nb.wagi import WagiApp
    app = WagiApp(timeout=20, log_dir=tmp_path / "logs")
    app.add_route("/m", tool)
    return app


def test_a_run_past_its_budget_is_forgotten_and_can_be_answered_again(app, tmp_path):
    from wagi_nb.wagi import Request
    seen = []
    app.listeners.append(lambda request, response: seen.append(response.status))
    request = Request.make("GET", "/m?stderr=cut&spin=300")
    found = app.match(request.path)
    assert app.handle_within(request, found, 0.01) is None  # stopped at the budget
    assert seen == [] and "/m" not in app.stderr_log  # nothing of that run was kept
    log = tmp_path / "logs" / hashlib.sha256(b"/m").hexdigest() / "module.stderr"
    assert not log.exists()
    response = app.handle(request, found)  # the whole run, as the pool does it
    assert (response.status, response.body) == (200, b"spun 300 ms\n")
    assert seen == [200]
    assert app.stderr_log["/m"][-1][1] == b"tool stderr: cut&spin=300\n"
    assert log.read_bytes() == b"tool stderr: cut&spin=300\n"  # once: the run that answered


def test_a_quick_run_within_its_budget_is_the_whole_answer(app):
    from wagi_nb.wagi import Request
    request = Request.make("GET", "/m?stderr=kept&id=quick")
    response = app.handle_within(request, app.match(request.path), 0.5)
    assert (response.status, response.body) == (200, b"id=quick\n")
    assert app.stderr_log["/m"][-1][1] == b"tool stderr: kept&id=quick\n"


def test_cpu_budget_stops_a_run_as_a_timeout(tool):
    from wagi_nb.runtime import get_runtime
    from wagi_nb.runtime.result import OK, TIMEOUT
    runtime = get_runtime()
    loaded = tool.load()
    spinning = runtime.run(loaded, env={"QUERY_STRING": "spin=2000"}, limits=RunLimits(timeout=20),
                           cpu_budget=0.02)
    assert spinning.outcome == TIMEOUT
    assert spinning.duration < 5  # stopped at the budget, long before the module's 2 s
    quick = runtime.run(loaded, env={"QUERY_STRING": "id=x"}, limits=RunLimits(timeout=20), cpu_budget=0.5)
    assert quick.outcome == OK and quick.stdout.endswith(b"id=x\n")


#: Sleeps as long as its query says (milliseconds), in WASI's poll_oneoff, using no CPU.
SLEEP_C = r"""#include <stdio.h>
#include <stdlib.h>
#include <time.h>
int main(void) {
    long ms = atol(getenv("QUERY_STRING"));
    struct timespec t = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&t, NULL);
    printf("Content-Type: text/plain\n\nslept %ld ms\n", ms);
    return 0;
}
"""


def test_a_module_that_would_sleep_leaves_the_event_loop_at_once(app, need_toolchain):
    """A sleep costs no CPU, so no CPU budget would stop it: the inline run is stopped as soon as
    the module asks to wait, and the pool's run answers."""
    import time

    import wagi_nb
    from wagi_nb.wagi import Request
    need_toolchain("c")
    app.add_route("/sleep", wagi_nb.build(SLEEP_C, "c"))
    request = Request.make("GET", "/sleep?2000")
    started = time.monotonic()
    assert app.handle_within(request, app.match(request.path), 0.5) is None
    assert time.monotonic() - started < 1  # (not the 2 s the module asked for)
    assert app.handle(request).body == b"slept 2000 ms\n"  # as the pool answers it


def _warmed(policy, route, cpu=0.0001):
    for _ in range(policy.WARM_UP):
        policy.finished(route, cpu=cpu)


def test_inline_policy_backs_off_from_a_route_that_runs_long():
    from types import SimpleNamespace

    from wagi_nb.server.http import InlinePolicy
    policy = InlinePolicy(0.01)
    route = ("/slow", "_start")
    _warmed(policy, route)
    assert policy.should_try(route)
    policy.cut_short(route)
    skipped = [policy.should_try(route) for _ in range(InlinePolicy.FIRST_PENALTY)]
    assert not any(skipped) and policy.should_try(route)  # tried again after the penalty
    policy.cut_short(route)
    assert sum(not policy.should_try(route) for _ in range(4 * InlinePolicy.FIRST_PENALTY)) == \
        2 * InlinePolicy.FIRST_PENALTY  # twice as long the second time
    policy.finished(route, cpu=0.0001)
    policy.cut_short(route)  # halved by the short run, then doubled again
    assert sum(not policy.should_try(route) for _ in range(4 * InlinePolicy.FIRST_PENALTY)) == \
        2 * InlinePolicy.FIRST_PENALTY
    for _ in range(20):
        policy.cut_short(route)
    assert policy._penalty[route] == InlinePolicy.MAX_PENALTY
    assert policy.should_try(("/other", "_start"))  # routes are apart
    long_run = ("/long", "_start")  # runs that end within the budget, but are not short
    _warmed(policy, long_run, cpu=policy.slow * 3)
    assert policy.should_try(long_run)  # its first runs paid for set-up: not judged
    policy.finished(long_run, cpu=policy.slow * 3)
    assert sum(not policy.should_try(long_run) for _ in range(2 * InlinePolicy.FIRST_PENALTY)) == \
        InlinePolicy.FIRST_PENALTY

    handler = SimpleNamespace(allowed_hosts=(), volumes={}, read_only=frozenset())
    assert policy.eligible(handler, 30.0) and policy.eligible(handler, None)
    assert not policy.eligible(handler, 0.1)  # a timeout near the budget: the pool keeps it
    assert not policy.eligible(SimpleNamespace(allowed_hosts=("example.com",), volumes={},
                                               read_only=frozenset()), 30.0)
    assert not policy.eligible(SimpleNamespace(allowed_hosts=(), volumes={"/data": "/tmp"},
                                               read_only=frozenset()), 30.0)
    assert policy.eligible(SimpleNamespace(allowed_hosts=(), volumes={"/data": "/tmp"},
                                           read_only=frozenset({"/data"})), 30.0)
    assert not InlinePolicy(None).eligible(handler, 30.0)


def test_a_quick_route_is_not_sent_to_the_pool_by_its_first_runs_or_one_slow_run():
    """The seed's hello takes 2.9, 1.1, 0.5, then 0.3 ms of CPU in a new process; judged on those,
    or on one run slowed by the machine, a quick route went to the pool and, under load, stayed
    there (its pooled runs slow the loop's tries in turn): 2.1x the CPU per request."""
    from wagi_nb.server.http import InlinePolicy
    policy = InlinePolicy(0.002, slow=0.0005)
    route = ("/", "_start")
    for cpu in (0.0029, 0.0011, 0.0005):  # a new process's first runs
        policy.finished(route, cpu=cpu)
    policy.cut_short(route)  # even a first run cut at the budget
    assert policy.should_try(route)
    for _ in range(10):
        policy.finished(route, cpu=0.0003)
    policy.finished(route, cpu=0.004)  # one run slowed by something else on the machine
    assert all(policy.should_try(route) for _ in range(100))
    for _ in range(5):  # but a route whose runs are long now is sent to the pool
        policy.finished(route, cpu=0.0009)
    assert not policy.should_try(route)


def test_a_route_waiting_for_the_pool_still_runs_short_requests_on_the_loop(app):
    """Requests of a route queued for the pool (sent there while it was penalised) do not keep
    its next short run off the event loop's thread; before, the loop's try needed a free pool
    slot with no request of the route waiting, and a loaded route never got one again."""
    import asyncio

    from wagi_nb.server.http import Limits, WagiServer
    from wagi_nb.wagi import Request

    async def scenario():
        server = WagiServer(app, Limits(max_concurrency=2))
        try:
            for _ in range(2):
                server.scheduler._take("/m")  # the pool is full of this route's runs ...
            waiting = asyncio.ensure_future(server.scheduler.acquire("/m"))  # ... and one waits
            await asyncio.sleep(0)
            assert server.scheduler.waiting == 1
            response = server.respond_inline(Request.make("GET", "/m?id=loop"))
            waiting.cancel()
            return response
        finally:
            server.close(wait=False)

    response = asyncio.run(scenario())
    assert response is not None and response.body == b"id=loop\n"


def test_a_run_kept_from_the_cpu_does_not_send_its_route_to_the_pool(app):
    """A run stopped at the loop's wall-clock limit having used little CPU was kept from the CPU
    (wrk on the same core, the pool's threads holding the GIL): it is run again on the pool, but
    its route is not penalised; a run stopped for its CPU, or at once (a WASI sleep), is."""
    import time as clock

    from wagi_nb.server.http import Limits, WagiServer
    from wagi_nb.wagi import Request

    server = WagiServer(app, Limits(inline_budget=0.002))
    key = ("/m", "_start")
    try:
        for _ in range(server.inline.WARM_UP):
            server.inline.finished(key, 0.0001)

        def cut(burn: float, wait: float):
            def handle_within(request, found, budget):
                end = clock.thread_time() + burn
                while clock.thread_time() < end:
                    pass
                clock.sleep(wait)
                return None
            app.handle_within = handle_within
            assert server.respond_inline(Request.make("GET", "/m")) is None
            return server.inline.should_try(key)

        assert cut(burn=0.0, wait=0.03)            # preempted: tried on the loop again next time
        assert not cut(burn=0.0015, wait=0.0)      # past half its CPU budget: the pool for a while
        server.inline._skip.clear()
        assert not cut(burn=0.0, wait=0.0)         # stopped at once (it would sleep): the pool too
    finally:
        del app.handle_within
        server.close(wait=False)


def test_the_slow_route_answers_whole_through_the_server(site, python_env):
    """The run cut short on the event loop's thread is run again on the pool: the client gets
    the one whole answer, and the access log has one line for it."""
    with ss.serve_process(python_env, site, "-c", "modules.toml", "-l", "127.0.0.1:0",
                          "--workers", "1") as served:
        for _ in range(2):
            reply = served.request("GET", "/m?spin=200")
            assert (reply.status, reply.body) == (200, b"spun 200 ms\n")
            assert served.request("GET", "/m?id=after").body == b"id=after\n"
        served.wait_for_stderr(r'"GET /m\?id=after HTTP/1\.1" 200 ')
        assert sum('"GET /m?spin=200 HTTP/1.1" 200' in line for line in served.stderr_lines()) == 2
        assert served.stop() == 0


# -- the route table -----------------------------------------------------------------------------
def test_route_table_matches_as_the_first_route_in_order():
    from wagi_nb.wagi.routes import Route, RouteTable
    texts = ["/a", "/a/...", "/...", "/b", "/b/c", "/b/...", "/a/b", "/c/...", "/c", "/"]
    paths = ["/", "/a", "/a/", "/a/b", "/a/bc", "/b", "/b/c", "/b/d", "/c", "/c/x", "/cx", "/zz"]
    rng = random.Random(16)
    for _ in range(200):
        chosen = rng.sample(texts, rng.randint(1, len(texts)))
        entries = [(Route(text), index) for index, text in enumerate(chosen)]
        table = RouteTable(entries)
        for path in paths:
            first = next((value for route, value in entries if route.matches(path)), None)
            assert table.match(path) == first, (chosen, path)


def test_a_thousand_routes_match_their_own_module(app, tool):
    for n in range(1000):
        app.add_route(f"/r{n}", tool)
    assert app.match("/r999")[0].route.text == "/r999"
    assert app.match("/r0")[0].route.text == "/r0"
    assert app.match("/r1000") is None
    assert app.request("GET", "/r777?id=777").body == b"id=777\n"


# -- the pooling allocator `wagi-nb serve` uses ------------------------------------------------------
def test_a_pooled_runtime_runs_modules_within_their_limits(tool):
    import re

    from wagi_nb.runtime.engine import Pooling, Runtime
    from wagi_nb.runtime.result import OK
    runtime = Runtime(Pooling(instances=4, memory_mib=16))
    small = RunLimits(timeout=20, memory_limit_mib=16)
    assert runtime.pooling is not None
    loaded = runtime.load(tool.wasm_path)
    for n in range(12):  # more runs than slots: each slot is used again
        result = runtime.run(loaded, env={"QUERY_STRING": f"id=p{n}"}, limits=small)
        assert result.outcome == OK and result.stdout.endswith(f"id=p{n}\n".encode())
    bomb = runtime.run(loaded, env={"QUERY_STRING": "bomb"}, limits=small)
    assert 0 < int(re.search(rb"bomb stopped after (\d+) MiB", bomb.stdout).group(1)) < 16


def test_no_pool_under_an_address_space_limit_too_small_for_it(run_python):
    """wasmtime aborts the process when it cannot reserve the pool: under `ulimit -v` the runtime
    allocates instances one by one instead."""
    done = run_python(
        "import resource, sys\n"
        "resource.setrlimit(resource.RLIMIT_AS, (8 << 30, resource.getrlimit(resource.RLIMIT_AS)[1]))\n"
        "from wagi_nb.runtime.engine import Pooling, Runtime\n"
        "runtime = Runtime(Pooling(instances=32, memory_mib=256))\n"
        "print('pooling', runtime.pooling)\n")
    assert done.returncode == 0, done.stderr.decode()
    assert b"pooling None" in done.stdout
