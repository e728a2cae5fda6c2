"""Requests and logs as Wagi gives them, against a real ``wagi-nb serve`` over raw sockets: any method
token reaches the module, and ``--log-dir`` has a ``<sha>/module.stderr`` for every request of a
route, a ``_routes`` sub-route's under its own key."""
from __future__ import annotations

import hashlib
import shutil

import pytest

import wagi_nb
from wagi_nb.wagi import Request, WagiApp

from helpers import servers as ss
from helpers.wagi_modules import ROUTED_WAT


def sha(route: str) -> str:
    return hashlib.sha256(route.encode()).hexdigest()


@pytest.fixture(scope="module")
def site(env_module, tmp_path_factory):
    folder = tmp_path_factory.mktemp("fidelity")
    shutil.copy(env_module.wasm_path, folder / "env.wasm")
    (folder / "routed.wasm").write_bytes(wagi_nb.build(ROUTED_WAT, "wat").wasm_path.read_bytes())
    (folder / "modules.toml").write_text('[[module]]\nroute = "/env/..."\nmodule = "env.wasm"\n'
                                         '[[module]]\nroute = "/routed"\nmodule = "routed.wasm"\n')
    return folder


@pytest.fixture(scope="module")
def server(site, python_env):
    with ss.serve_process(python_env, site, "-c", "modules.toml", "-l", "127.0.0.1:0",
                          "--log-dir", site / "logs") as process:
        yield process


@pytest.mark.parametrize("method", ["PROPFIND", "TRACE", "PURGE", "MKCOL", "get"])
def test_any_method_token_reaches_the_module(server, method):
    raw = ss.raw_exchange(server.port, f"{method} /env/x HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n"
                          .encode())
    assert ss.status_of(raw) == 200, raw[:300]
    assert f"E REQUEST_METHOD={method}\n".encode() in raw


def test_a_request_line_with_any_method_reads_in_the_notebook(env_module):
    app = WagiApp()
    app.add_route("/env/...", env_module)
    assert Request.parse_line("PROPFIND /env/x").method == "PROPFIND"
    assert "E REQUEST_METHOD=PROPFIND" in app.handle(Request.parse_line("PROPFIND /env/x")).text
    with pytest.raises(wagi_nb.WagiNbError, match="Write a method and a path"):
        Request.parse_line("GE(T /env")


def test_every_request_of_a_route_has_its_log_file_and_a_sub_route_its_own(server, site):
    for target in ("/routed", "/routed/sub", "/env/quiet"):
        assert ss.status_of(ss.raw_exchange(server.port, f"GET {target} HTTP/1.1\r\nHost: h\r\n"
                                            "Connection: close\r\n\r\n".encode())) == 200
    logs = site / "logs"
    assert (logs / sha("/routed") / "module.stderr").read_bytes() == b""  # `_start` wrote nothing
    assert (logs / sha("/routed/sub") / "module.stderr").read_bytes() == b"stderr of the sub-route\n"
    assert (logs / sha("/env/...") / "module.stderr").read_bytes().startswith(b"env-module stderr\n")
