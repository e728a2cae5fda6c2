"""What the export's README says Spin's wagi executor does differently, checked against the real Spin
3.6.3 (and Wagi 0.8.1 where the README says "as under Wagi"): the route-choice model
(``spin_target``/``wagi_target``), the argv model (``spin_argv``) and each general sentence.

One environment-printing module serves every route, so the answer says which route ran
(``X_MATCHED_ROUTE``) and what the module saw. Requests go over raw sockets where a header must be
missing, repeated or unusual.
"""
from __future__ import annotations

import socket

import pytest

from wagi_nb.export.spin_differences import spin_argv, spin_target, wagi_target
from wagi_nb.wagi import Request, Route

from helpers.wagi_modules import printed_argv, printed_env

from .servers import Peers

ROUTES = ["/p/...", "/p/q", "/p/q/...", "/d", "/d/", "/u/:name", "/w/*", "/exact", "/..."]
#: Printed headers for `/headers?case`: the module prints what the query names (see HEADERS_C).
HEADERS_C = r"""#include <stdio.h>
#include <stdlib.h>
#include <string.h>
int main(void) {
    const char *q = getenv("QUERY_STRING");
    if (!strcmp(q, "utf8")) printf("Content-Type: text/plain\nX-Name: caf\xc3\xa9\n\nok\n");
    else if (!strcmp(q, "latin1")) printf("Content-Type: text/plain\nX-Name: caf\xe9\n\nok\n");
    else if (!strcmp(q, "twice")) printf("Content-Type: text/plain\nContent-Type: text/html\n\nok\n");
    else if (!strcmp(q, "control")) printf("Content-Type: text/plain\nX-Bell: a\001b\n\nok\n");
    return 0;
}
"""


@pytest.fixture(scope="module")
def peers(tmp_path_factory, env_module, peer_binaries, need_toolchain):
    import wagi_nb
    from wagi_nb.export import export_app
    from wagi_nb.wagi import WagiApp
    app = WagiApp()
    app.add_route("/argv-template", env_module, argv="x  ${ARGS}  y")  # (before the catch-all, for Wagi)
    app.add_route("/headers", wagi_nb.build(HEADERS_C, "c"))
    for route in ROUTES:
        app.add_route(route, env_module)
    folder = tmp_path_factory.mktemp("spin-differences") / "app"
    export_app(app, folder)
    with Peers(peer_binaries, folder) as running:
        yield running


def seen(answer) -> tuple:
    """(X_MATCHED_ROUTE, argv, env) of the env module's answer; (None, ...) for a 404."""
    if answer.status == 404:
        return None, [], {}
    head = answer.body.partition(b"STDIN\n")[0].decode()
    env = printed_env(head)
    return env.get("X_MATCHED_ROUTE"), printed_argv(head), env


PATHS = ["/p", "/p/", "/p/x", "/p/q", "/p/q/", "/p/q/x", "/d", "/d/", "/u/alice", "/w", "/w/a/b",
         "/exact", "/exact/", "/other", "/healthz", "/.well-known/spin/health"]


@pytest.mark.parametrize("path", PATHS)
def test_the_route_models_match_the_real_servers(peers, path):
    routes = [Route(text) for text in ["/argv-template", "/headers", *ROUTES]]
    answers = peers.ask("GET", path)
    wagi = wagi_target([(route, ()) for route in routes], path)
    for name in ("wagi", "wagi-nb"):
        matched, _, _ = seen(answers[name])
        if path == "/healthz":
            assert answers[name].body == b"OK", name
        else:
            assert matched == (wagi.route if wagi else None), name
    spin = spin_target([r for r in routes if not _pattern(r)], path)
    _, _, env = seen(answers["spin"])
    if path.startswith("/.well-known/spin/"):
        assert answers["spin"].body == b"OK"  # Spin's own health check
    elif path.startswith(("/u/", "/w")):
        # Spin's wildcards (`:name`, `*`): the model leaves them to a warning of their own.
        assert env["X_RAW_COMPONENT_ROUTE"] in ("/u/:name", "/w/*")
    else:
        assert env.get("X_RAW_COMPONENT_ROUTE") == (spin.route if spin else None), (path, answers["spin"])


def _pattern(route: Route) -> bool:
    return ":" in route.text or route.text.endswith("*")


@pytest.mark.parametrize("target", ["/exact", "/exact?a=1&b=2", "/argv-template", "/argv-template?a=1&b=2"])
def test_the_argv_model_matches_spin(peers, target):
    answers = peers.ask("GET", target)
    template = "x  ${ARGS}  y" if target.startswith("/argv-template") else "${SCRIPT_NAME} ${ARGS}"
    assert seen(answers["spin"])[1] == spin_argv(template, Request.make("GET", target))


def test_x_full_url_and_server_port_without_a_port_in_host(peers):
    raw = {name: _raw(server.port, b"GET /exact HTTP/1.1\r\nHost: example.com\r\nConnection: close\r\n\r\n")
           for name, server in peers.servers.items()}
    spin, ours = _env(raw["spin"]), _env(raw["wagi-nb"])
    assert spin["X_FULL_URL"] == "http://example.com/exact" and spin["SERVER_PORT"] == "80"
    assert ours["X_FULL_URL"] == _env(raw["wagi"])["X_FULL_URL"] == "http://example.com:3000/exact"


def test_a_request_without_host_gets_no_answer_from_spin(peers):
    raw = {name: _raw(server.port, b"GET /exact HTTP/1.0\r\n\r\n") for name, server in peers.servers.items()}
    assert raw["spin"] == b""
    assert raw["wagi"].startswith(b"HTTP/1.") and raw["wagi-nb"].startswith(b"HTTP/1.1 200")


def test_a_doubled_slash_is_the_route_under_spin_only(peers):
    answers = peers.ask("GET", "//exact")
    assert seen(answers["spin"])[0] == "/exact"
    assert seen(answers["wagi"])[0] == seen(answers["wagi-nb"])[0] == "/..."  # the catch-all, as sent


def test_header_values_spin_and_wagi_refuse(peers):
    utf8 = peers.ask("GET", "/headers?utf8")
    assert {a.status for a in utf8.values()} == {200}  # valid UTF-8 passes everywhere
    latin1 = peers.ask("GET", "/headers?latin1")       # not UTF-8: a 500 from Wagi and Spin
    assert latin1["wagi"].status == latin1["spin"].status == 500
    assert latin1["wagi-nb"].status == 200 and latin1["wagi-nb"].headers["x-name"] == ["caf\xe9"]
    twice = peers.ask("GET", "/headers?twice")          # a repeated singleton: the last, everywhere
    assert {a.header("Content-Type") for a in twice.values()} == {"text/html"}
    request = b"GET /headers?control HTTP/1.1\r\nHost: localhost:3000\r\nConnection: close\r\n\r\n"
    control = {name: _raw(server.port, request) for name, server in peers.servers.items()}
    assert control["wagi"] == control["spin"] == b""  # a control character: no answer at all
    assert control["wagi-nb"].startswith(b"HTTP/1.1 200") and b"X-Bell" not in control["wagi-nb"]


def _raw(port: int, request: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(request)
        data = b""
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                return data
            data += chunk


def _env(raw: bytes) -> dict:
    return printed_env(raw.partition(b"\r\n\r\n")[2].partition(b"STDIN\n")[0].decode())
