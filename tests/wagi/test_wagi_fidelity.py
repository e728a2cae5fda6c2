"""Requests and logs as Wagi gives them, against a real ``wagi-nb serve`` over raw sockets: any method
token reaches the module, and ``--log-dir`` has a ``<sha>/module.stderr`` for every request of a
route, a ``_routes`` sub-route's under its own key."""
from __future__ import annotations

import hashlib
import shutil

import pytest

import test_server_support as ss
import wagi_nb
from wagi_nb.wagi import Request, WagiApp

#: `_routes` names a sub-route served by the `sub` export, which writes to stderr; `_start` does not.
ROUTED_WAT = r"""(module
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 100) "/sub sub\n")
  (data (i32.const 200) "Content-Type: text/plain\n\nmain\n")
  (data (i32.const 300) "Content-Type: text/plain\n\nsub\n")
  (data (i32.const 400) "stderr of the sub-route\n")
  (func $write (param $fd i32) (param $at i32) (param $len i32)
    (i32.store (i32.const 0) (local.get $at))
    (i32.store (i32.const 4) (local.get $len))
    (drop (call $fd_write (local.get $fd) (i32.const 0) (i32.const 1) (i32.const 8))))
  (func (export "_routes") (call $write (i32.const 1) (i32.const 100) (i32.const 9)))
  (func (export "_start") (call $write (i32.const 1) (i32.const 200) (i32.const 31)))
  (func (export "sub")
    (call $write (i32.const 1) (i32.const 300) (i32.const 30))
    (call $write (i32.const 2) (i32.const 400) (i32.const 24))))
"""


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
