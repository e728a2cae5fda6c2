"""The component bridge's fixtures: its tools and adapters, the test modules (``modules/``, built with
the real compilers through ``wagi_nb.build``) and their components, and the two hosts.

What the bridge needs (wasm-tools, the WIT files, clang), the wasmtime CLI and Spin are real; when
one is missing the tests that need it skip saying how to get it, and fail under CI (``CI=true``).
"""
from __future__ import annotations

import http.server
import os
import re
import threading
import urllib.parse
from pathlib import Path
from typing import Dict, Sequence

import pytest

from wagi_nb import Artifact

from .hosts import App, SpinUp, WasmtimeServe, need_wasmtime

MODULES = Path(__file__).resolve().parent / "modules"
HELLO_C = '#include <stdio.h>\nint main(void) { printf("Content-Type: text/plain\\n\\nHello, world!\\n"); return 0; }\n'
#: Test module → (language, source file in modules/ or the source itself, built with zig cc).
SOURCES = {
    "cgi_c": ("c", "cgi.c", False),
    "routes_c": ("c", "routes.c", False),
    "outbound_c": ("c", "outbound.c", False),
    "hello_c": ("c", HELLO_C, False),
    "zigcc_cgi": ("c", "zig_cgi.c", True),
    "rust_cgi": ("rust", "rust_cgi.rs", False),
    "go_cgi": ("go", "go_cgi.go", False),
    "zig_hello": ("zig", "zig_hello.zig", False),
    "hello_wat": ("wat", "hello.wat", False),
    "cpp_cgi": ("cpp", "cpp_cgi.cpp", False),
    "as_cgi": ("assemblyscript", "as_cgi.ts", False),
    "py_cgi": ("python", "py_cgi.py", False),
    "js_cgi": ("js", "js_cgi.js", False),
}
#: The functions routes.c exports besides _start: entry slots 1, 2, 3.
ROUTES_ENTRYPOINTS = ("hello", "wild", "other")


@pytest.fixture(scope="session")
def wasm_tools(bridge) -> Path:
    from wagi_nb.bridge.tools import wasm_tools
    return wasm_tools()


class BridgeModules:
    """The test modules, built on first use, and their components (kept in a folder of the session)."""

    def __init__(self, need_toolchain, folder: Path):
        self.need_toolchain, self.folder = need_toolchain, folder
        self.built: Dict[str, Artifact] = {}

    def artifact(self, name: str) -> Artifact:
        if name not in self.built:
            self.built[name] = self._build(*SOURCES[name])
        return self.built[name]

    def wasm(self, name: str) -> bytes:
        return self.artifact(name).wasm

    def _build(self, language: str, source: str, zig_cc: bool) -> Artifact:
        import wagi_nb
        from wagi_nb import toolchains
        from wagi_nb.toolchains.zig import find_zig
        self.need_toolchain("zig" if zig_cc else language)
        text = (MODULES / source).read_text() if (MODULES / source).is_file() else source
        before = dict(toolchains.overrides)
        if zig_cc:
            toolchains.set_compiler("c", find_zig())
        try:
            return wagi_nb.build(text, language=language)
        finally:
            toolchains.overrides.clear()
            toolchains.overrides.update(before)

    def component(self, name: str, entrypoints: Sequence[str] = ()) -> Path:
        from wagi_nb.bridge import componentize
        path = self.folder / f"{name}{'-entries' if entrypoints else ''}.component.wasm"
        if not path.is_file():
            path.write_bytes(componentize(self.wasm(name), entrypoints=entrypoints))
        return path


@pytest.fixture(scope="session")
def test_modules(need_toolchain, bridge, tmp_path_factory) -> BridgeModules:
    return BridgeModules(need_toolchain, tmp_path_factory.mktemp("bridge-components"))


# -- what the modules reach ----------------------------------------------------------------------------
@pytest.fixture(scope="session")
def volume(tmp_path_factory) -> Path:
    """The folder mounted at /data: two files and a sub-folder."""
    folder = tmp_path_factory.mktemp("bridge-volume")
    (folder / "hello.txt").write_text("hello from a volume\n")
    (folder / "bin.dat").write_bytes(os.urandom(300_000))
    (folder / "sub").mkdir()
    (folder / "sub" / "n.txt").write_text("n\n")
    return folder


class Echo(http.server.BaseHTTPRequestHandler):
    """The outbound requests' target: answers with what it got; a path with ``/redirect`` (or
    ``/redirectNNN``) answers 302 (or NNN) with ``?to=`` as its Location."""

    def answer(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        redirect = re.search(r"/redirect(\d*)", urllib.parse.urlsplit(self.path).path)
        if redirect:
            self.send_response(int(redirect.group(1) or 302))
            self.send_header("Location", urllib.parse.urlsplit(self.path).query.removeprefix("to="))
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        text = (f"{self.command} {self.path} x-from={self.headers.get('x-from')} accept={self.headers.get('accept')} "
                f"body={body.decode()}").encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(text)))
        self.end_headers()
        self.wfile.write(text)

    do_GET = do_POST = answer

    def log_message(self, *args):
        pass


@pytest.fixture(scope="session")
def outbound_target():
    """The port of a local HTTP server that answers ``METHOD PATH x-from=... accept=... body=...``."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Echo)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


# -- the apps and the hosts ----------------------------------------------------------------------------
@pytest.fixture(scope="session")
def apps(test_modules, volume, outbound_target):
    """Every app the host checks ask, by name."""
    from wagi_nb.bridge import component_environment as environment
    target = f"http://127.0.0.1:{outbound_target}"
    routes = test_modules.component("routes_c", ROUTES_ENTRYPOINTS)
    outbound = test_modules.component("outbound_c")
    return [
        App("cgi", "/c/...", test_modules.component("cgi_c"),
            {**environment(route="/c/..."), "GREETING": "hi", "QUERY_STRING": "from-env-file"},
            volumes={"/data": volume}),
        App("argv", "/t", test_modules.component("cgi_c"),
            environment(route="/t", argv="${SCRIPT_NAME} env  ${ARGS}")),
        App("routes", "/r/...", routes, environment(route="/r/...", subroutes=[("/r/wild/...", 2), ("/r/exact", 1)])),
        App("entry", "/e", routes, environment(route="/e", entry=3)),
        App("outbound", "/o", outbound, environment(route="/o"), outbound=[target]),
        App("outbound-allowed", "/oa", outbound,
            environment(route="/oa", allowed_hosts=["https://example.com", "http://127.0.0.1:1"]),
            outbound=[target, f"http://localhost:{outbound_target}"]),
        App("outbound-none", "/on", outbound, environment(route="/on", allowed_hosts=[]), outbound=[target]),
        App("go", "/go/...", test_modules.component("go_cgi"), {**environment(route="/go/..."), "GREETING": "go"}),
        App("rust", "/rs/...", test_modules.component("rust_cgi"), {**environment(route="/rs/..."), "GREETING": "rust"},
            volumes={"/data": volume}),
        App("zig", "/zig", test_modules.component("zig_hello"), environment(route="/zig")),
        App("zigcc", "/zigcc", test_modules.component("zigcc_cgi"), environment(route="/zigcc")),
        App("wat", "/wat", test_modules.component("hello_wat"), environment(route="/wat")),
        App("cpp", "/cpp", test_modules.component("cpp_cgi"), environment(route="/cpp")),
        App("as", "/as", test_modules.component("as_cgi"), environment(route="/as")),
        *(interpreted(test_modules, name, route) for name, route in [("py_cgi", "/py"), ("js_cgi", "/js")]),
    ]


def interpreted(test_modules, name: str, route: str) -> App:
    """An interpreted language's app: the interpreter's component, its script's folder at /app, and
    the argv template that runs the script."""
    from wagi_nb.bridge import component_environment
    artifact = test_modules.artifact(name)
    return App(name.replace("_", "-"), route, test_modules.component(name),
               component_environment(route=route, argv=artifact.argv_template),
               volumes={"/app": artifact.script_dir})


@pytest.fixture(scope="session", params=["wasmtime", pytest.param("spin", marks=pytest.mark.peers)])
def deployment(request, apps):
    """Every app under one host: `wasmtime serve` (one process per app, started on first use), then
    the real Spin 3.6.3 (one app folder)."""
    if request.param == "wasmtime":
        served = WasmtimeServe(need_wasmtime(), apps)
    else:
        from peers.servers import peer_binaries
        served = SpinUp(peer_binaries()["spin"], apps)
    yield served
    served.close()
