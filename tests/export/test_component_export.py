"""``export --component``: every route of the app as a wasi:http component in components/, named by a
spin.toml with no executor, its configuration in the component's environment, rebuilt by the build
command's ``wagi-nb component`` step byte for byte; what cannot cross is refused with one paragraph.
(Serving them under the real Spin and ``wasmtime serve`` is the peer suite's: tests/peers.)"""
from __future__ import annotations

import os
import shlex
import subprocess
import sys

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

import wagi_nb
from wagi_nb.export import ExportError, check_manifest, export_app
from wagi_nb.wagi import WagiApp

from helpers.subprocesses import wagi_nb_cli
from helpers.wagi_modules import ROUTED_WAT, hello_module

COMPONENT_HEADER = b"\0asm\x0d\x00\x01\x00"
OUTBOUND_WAT = """(module
  (import "wasi_experimental_http" "close" (func $close (param i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (memory (export "memory") 1)
  (func (export "_start") (drop (call $close (i32.const 0)))))
"""


@pytest.fixture
def app(tmp_path, bridge):
    volume = tmp_path / "static"
    volume.mkdir()
    (volume / "a.txt").write_text("static file\n")
    app = WagiApp()
    app.set_env({"GREETING": "Bonjour", "REQUEST_METHOD": "DELETE"})
    app.add_route("/", hello_module(), env={"ONLY_HERE": "1"}, argv="${SCRIPT_NAME} x ${ARGS}",
                  volumes={"/static": str(volume)})
    app.add_route("/api", wagi_nb.build(ROUTED_WAT, language="wat", name="routed"))
    app.add_route("/relay", wagi_nb.build(OUTBOUND_WAT, language="wat", name="relay"),
                  allowed_hosts=["http://127.0.0.1:3000"])
    return app


def test_every_route_is_a_component_with_no_executor(app, tmp_path):
    report = export_app(app, tmp_path / "out", component=True)
    folder = tmp_path / "out"
    manifest = tomllib.loads((folder / "spin.toml").read_text())
    assert check_manifest(manifest) == []
    triggers = {t["component"]: t for t in manifest["trigger"]["http"]}
    assert all("executor" not in trigger for trigger in triggers.values())
    # A module with `_routes` is reached on its whole base, the adapter dispatching to its sub-routes.
    assert {t["route"] for t in triggers.values()} == {"/", "/api/...", "/relay"}
    for cid, component in manifest["component"].items():
        assert component["source"] == f"components/{cid}.wasm"
        assert (folder / component["source"]).read_bytes()[:8] == COMPONENT_HEADER
    # The outbound route is in: the second adapter carries wasi_experimental_http onto wasi:http.
    relay = manifest["component"][next(cid for cid, t in triggers.items() if t["route"] == "/relay")]
    assert relay["allowed_outbound_hosts"] == ["http://127.0.0.1:3000"]
    assert relay["environment"]["WAGI_NB_ALLOWED_HOSTS"]
    assert report.spin_warnings == []  # nothing left out, no wagi executor's differences
    assert "LEFT OUT" not in (folder / "README.md").read_text()


def test_the_route_s_configuration_is_the_component_s_environment(app, tmp_path):
    export_app(app, tmp_path / "out", component=True)
    manifest = tomllib.loads((tmp_path / "out" / "spin.toml").read_text())
    by_route = {t["route"]: manifest["component"][t["component"]] for t in manifest["trigger"]["http"]}
    root = by_route["/"]["environment"]
    assert root["WAGI_NB_ROUTE"] == "/" and root["WAGI_NB_ARGV"] == "${SCRIPT_NAME} x ${ARGS}"
    assert root["GREETING"] == "Bonjour" and root["ONLY_HERE"] == "1"
    assert "REQUEST_METHOD" not in root  # a CGI variable's name: the CGI value wins, as under Wagi
    assert [mount["destination"] for mount in by_route["/"]["files"]] == ["/static"]
    api = by_route["/api/..."]["environment"]
    assert api["WAGI_NB_ROUTE"] == "/api"
    assert api["WAGI_NB_ROUTES"].split("\n") == ["/api/sub 1"]  # `sub`, entry slot 1


def test_the_build_command_makes_the_same_component(app, tmp_path):
    folder = tmp_path / "out"
    export_app(app, folder, component=True)
    manifest = tomllib.loads((folder / "spin.toml").read_text())
    api = next(c for c in manifest["component"].values() if c["environment"]["WAGI_NB_ROUTE"] == "/api")
    exported = (folder / api["source"]).read_bytes()
    # WAT cells have no build command; the step it would end with is `wagi-nb component`:
    module = folder / "modules" / (api["source"].split("/")[-1])
    done = wagi_nb_cli("component", module, "-o", tmp_path / "again.wasm", "--entrypoint", "sub")
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "again.wasm").read_bytes() == exported


def test_a_compiled_route_s_build_ends_with_the_component_step(tmp_path, bridge, need_toolchain):
    need_toolchain("c")
    app = WagiApp()
    source = '#include <stdio.h>\nint main(void) { printf("Content-Type: text/plain\\n\\nhi\\n"); }\n'
    app.add_route("/c", wagi_nb.build(source, language="c", name="cee"), source=source)
    folder = tmp_path / "out"
    export_app(app, folder, component=True)
    component = tomllib.loads((folder / "spin.toml").read_text())["component"]["cee"]
    command = component["build"]["command"]
    assert command.endswith("wagi-nb component modules/cee.wasm -o components/cee.wasm")
    (folder / "components" / "cee.wasm").unlink()
    (folder / "modules" / "cee.wasm").unlink()
    path = f"{os.path.dirname(sys.executable)}:{os.environ['PATH']}"  # (where wagi-nb is installed)
    done = subprocess.run(command, shell=True, cwd=folder, capture_output=True, text=True,
                          env={**os.environ, "PATH": path})
    assert done.returncode == 0, done.stderr
    assert (folder / "components" / "cee.wasm").read_bytes()[:8] == COMPONENT_HEADER


def many_entrypoints_wat(count: int) -> str:
    """A module whose `_routes` gives ``count`` sub-routes, each served by an export of its own."""
    listing = "".join(f"/r{n} f{n}\\0a" for n in range(count))
    exports = "".join(f'  (func (export "f{n}"))\n' for n in range(count))
    return ('(module\n'
            '  (import "wasi_snapshot_preview1" "fd_write" (func $w (param i32 i32 i32 i32) (result i32)))\n'
            '  (memory (export "memory") 1)\n'
            f'  (data (i32.const 100) "{listing}")\n'
            '  (func (export "_routes")\n'
            '    (i32.store (i32.const 0) (i32.const 100))\n'
            f'    (i32.store (i32.const 4) (i32.const {len(listing.replace(chr(92) + "0a", "x"))}))\n'
            '    (drop (call $w (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8))))\n'
            '  (func (export "_start"))\n' + exports + ')\n')


def test_a_module_that_cannot_cross_is_refused_with_one_paragraph(tmp_path, bridge):
    # The adapter calls at most 8 functions besides _start; this module's `_routes` names 9.
    app = WagiApp()
    app.add_route("/many", wagi_nb.build(many_entrypoints_wat(9), language="wat", name="many"))
    assert len(app.handlers[0].subroutes) == 9  # (it serves all nine here)
    with pytest.raises(ExportError) as caught:
        export_app(app, tmp_path / "out", component=True)
    message = str(caught.value)
    assert "/many" in message and "8" in message and "--component" in message
    assert "\n" not in message.strip()
    # the same app exports as Wagi modules
    export_app(app, tmp_path / "plain")
    assert (tmp_path / "plain" / "modules.toml").is_file()


def test_the_cli_and_the_magic_take_component(tmp_path, bridge):
    from wagi_nb.export import OPTIONS
    assert any(names == ("--component",) for names, _ in OPTIONS)
    notebook = tmp_path / "nb.ipynb"
    nbformat.write(new_notebook(cells=[new_code_cell("%load_ext wagi_nb"), new_code_cell(
        '%%wasm_wat --route /hello\n' + wagi_nb_hello_wat())]), str(notebook))
    done = wagi_nb_cli("export", "--component", notebook, tmp_path / "app")
    assert done.returncode == 0, done.stderr
    assert "wasi:http component" in done.stdout
    readme = (tmp_path / "app" / "README.md").read_text()
    command = next(line for line in readme.splitlines() if line.startswith("wasmtime serve"))
    assert shlex.split(command.rstrip(" &"))[-1] == "components/hello.wasm"


def wagi_nb_hello_wat() -> str:
    from helpers.wagi_modules import plain, wat_printer
    return wat_printer({"_start": plain("Hello, world!\n")})
