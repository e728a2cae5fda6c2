"""The notebook's background server in-process (``BackgroundServer``, ``wagi_nb.server.serve``/``stop``):
hot reload under concurrent load, the address it binds, a busy port, start/keep/restart/stop."""
from __future__ import annotations

import http.client
import threading
import time

import pytest

from wagi_nb import server as wagi_server
from wagi_nb.server import BackgroundServer, ListenError
from wagi_nb.wagi import WagiApp

from helpers import ports, servers as ss


@pytest.fixture(scope="module")
def versions(need_toolchain):
    return {tag: ss.build(need_toolchain, ss.version_source(tag), "c") for tag in "AB"}


@pytest.fixture
def app(versions):
    app = WagiApp(timeout=30)
    app.add_route("/", versions["A"])
    return app


@pytest.fixture
def background(app):
    server = BackgroundServer(app, port=0)
    yield server
    server.stop()


@pytest.fixture
def no_current_server():
    """serve()/stop() keep one server per process: leave none behind for other tests."""
    wagi_server.stop()
    yield
    wagi_server.stop()


def test_hot_reload_under_concurrent_load_never_fails_a_request(app, versions, background):
    bodies = {b"version A\n": "A", b"version B\n": "B"}
    stop = threading.Event()
    results, failures = [], []
    lock = threading.Lock()

    def hammer():
        conn = http.client.HTTPConnection("127.0.0.1", background.port, timeout=30)  # keep-alive
        try:
            while not stop.is_set():
                try:
                    conn.request("GET", "/")
                    response = conn.getresponse()
                    outcome = (response.status, response.read())
                except Exception as error:
                    outcome = ("error", repr(error))
                    conn.close()
                    conn = http.client.HTTPConnection("127.0.0.1", background.port, timeout=30)
                with lock:
                    (results if outcome[0] == 200 and outcome[1] in bodies else failures).append(outcome)
        finally:
            conn.close()

    threads = [threading.Thread(target=hammer) for _ in range(8)]
    for thread in threads:
        thread.start()
    try:
        for swap in range(30):
            tag = "B" if swap % 2 == 0 else "A"
            app.add_route("/", versions[tag])  # what re-running a route cell does
            # Once the swap returns, a new request gets the new module.
            assert ss.request(background.port, "GET", "/").body == f"version {tag}\n".encode()
            with lock:
                seen_so_far = len(results)
            # Let the hammers get some requests in against this version.
            time.sleep(0.02) if seen_so_far else time.sleep(0.1)
    finally:
        stop.set()
        for thread in threads:
            thread.join(60)
    assert failures == []
    assert len(results) >= 100, len(results)
    assert {bodies[body] for _, body in results} == {"A", "B"}
    # The last swap installed A (30 swaps, starting with B): every request now gets A.
    assert all(ss.request(background.port, "GET", "/").body == b"version A\n" for _ in range(20))


def test_request_in_flight_finishes_on_the_old_module(app, versions, background):
    outcome = {}
    thread = threading.Thread(target=lambda: outcome.update(reply=ss.request(background.port, "GET", "/?slow")))
    thread.start()
    deadline = time.monotonic() + 30
    while background.wagi.active < 1 and time.monotonic() < deadline:  # the request has arrived
        time.sleep(0.01)
    time.sleep(0.3)  # and its module, A, is running (for 800 ms)
    app.add_route("/", versions["B"])
    assert ss.request(background.port, "GET", "/").body == b"version B\n"
    thread.join(60)
    assert outcome["reply"].body == b"version A\n"


def test_background_server_binds_loopback_only_by_default(background):
    addresses = [sock.getsockname()[0] for sock in background.sockets]
    assert addresses == ["127.0.0.1"]
    assert background.url == f"http://127.0.0.1:{background.port}/"
    assert ports.listening_addresses(background.port) == [f"127.0.0.1:{background.port}"]
    other = ports.other_local_ipv4()
    if other is not None:
        assert ports.connect_fails(other, background.port)
    assert ss.request(background.port, "GET", "/healthz").body == b"OK"


def test_stop_frees_the_port(app):
    server = BackgroundServer(app, port=0)
    port = server.port
    assert ss.request(port, "GET", "/").status == 200
    server.stop()
    assert not server.running
    assert ports.port_is_free(port)
    assert ports.connect_fails("127.0.0.1", port)


def test_port_held_by_another_program_raises_listen_error(app, no_current_server):
    held = ports.hold_port()
    port = held.getsockname()[1]
    try:
        with pytest.raises(ListenError) as raised:
            wagi_server.serve(app, port=port)
        message = str(raised.value)
        assert "already in use" in message
        assert f"--port {port + 1}" in message
        assert wagi_server.current_server() is None
        with pytest.raises(ListenError):
            BackgroundServer(app, port=port)
    finally:
        held.close()


def test_serve_starts_keeps_restarts_and_stops(app, no_current_server):
    first_port, second_port = ports.free_port(), ports.free_port()
    server, what = wagi_server.serve(app, port=first_port)
    assert what == "started" and server.port == first_port
    again, what = wagi_server.serve(app, port=first_port)
    assert what == "running" and again is server  # no "address in use" on a re-run
    # A busy port for the new settings leaves the running server alone.
    held = ports.hold_port()
    try:
        with pytest.raises(ListenError):
            wagi_server.serve(app, port=held.getsockname()[1])
    finally:
        held.close()
    assert wagi_server.current_server() is server
    assert ss.request(first_port, "GET", "/").body == b"version A\n"
    moved, what = wagi_server.serve(app, port=second_port)
    assert what == "restarted" and moved.port == second_port
    assert ports.port_is_free(first_port)
    assert ss.request(second_port, "GET", "/").body == b"version A\n"
    assert wagi_server.stop() is moved
    assert wagi_server.current_server() is None
    assert ports.port_is_free(second_port)
    assert wagi_server.stop() is None


def test_link_is_local_and_the_hub_proxy_form_only_where_the_hub_says_so(app, monkeypatch):
    from wagi_nb.display import ServerView
    server = BackgroundServer(app, port=0)
    try:
        monkeypatch.delenv("JUPYTERHUB_SERVICE_PREFIX", raising=False)
        assert server.proxy_url() in (None, f"/proxy/{server.port}/")  # the latter with jupyter-server-proxy
        local = ServerView(server.url, server.proxy_url(), "started", app.routes())
        assert f"http://127.0.0.1:{server.port}/" in repr(local)
        assert "/user/ada/" not in repr(local)
        monkeypatch.setenv("JUPYTERHUB_SERVICE_PREFIX", "/user/ada/")
        assert server.proxy_url() == f"/user/ada/proxy/{server.port}/"
        hub = ServerView(server.url, server.proxy_url(), "started", app.routes())
        assert f"href='/user/ada/proxy/{server.port}/'" in hub._repr_html_()
        assert f"!curl -s http://127.0.0.1:{server.port}/" in repr(hub)
    finally:
        server.stop()
