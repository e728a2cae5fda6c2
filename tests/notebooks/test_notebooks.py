"""The tutorial notebooks, executed top to bottom on a real kernel (``run_notebook``, see
``helpers/tutorials.py``), with their key outputs checked, and their stored texts."""
from __future__ import annotations

import html
import re
import socket

import nbformat

from wagi_nb.display import ResponseView
from wagi_nb.wagi.response import parse_cgi_output

from helpers.tutorials import NEEDS, NOTEBOOKS


def table_rows(html_text: str) -> list:
    """The cells of each row of an HTML table, tags stripped and entities decoded."""
    rows = []
    for row in re.findall(r"<tr>(.*?)</tr>", html_text, re.S):
        cells = re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", row, re.S)
        rows.append([html.unescape(re.sub(r"<[^>]+>", "", cell)) for cell in cells])
    return rows


# -- the stored notebooks ----------------------------------------------------------------------
def cell_contents(nb) -> list:
    """What a writer writes, cell by cell: the kind of cell, its text and its tags."""
    return [(cell.cell_type, cell.source, cell.metadata.get("tags", [])) for cell in nb.cells]


def test_each_tutorial_text_and_its_notebook_are_in_sync():
    """The tutorials are written as MyST Markdown (``0N-*.md``) paired with jupytext; the ``.ipynb``
    beside each must hold the same cells (``jupytext --sync notebooks/*.md`` after an edit)."""
    import jupytext
    texts = sorted(NOTEBOOKS.glob("0*.md"))
    assert sorted(path.with_suffix(".ipynb").name for path in texts) == sorted(NEEDS)
    for text in texts:
        stored = NOTEBOOKS / text.with_suffix(".ipynb").name
        nb = nbformat.read(str(stored), as_version=4)
        assert cell_contents(jupytext.read(text)) == cell_contents(nb), \
            f"{stored.name} and {text.name} differ; run: jupytext --sync notebooks/{text.name}"
        assert nb.metadata.jupytext.formats == "ipynb,md:myst"
        nbformat.validate(nb)
        assert nb.metadata.kernelspec.name == "python3"
        tags = []
        for cell in nb.cells:
            if cell.cell_type == "code":
                assert cell.outputs == [] and cell.execution_count is None, (stored.name, cell.source)
                tags += cell.metadata.get("tags", [])
        assert len(tags) == len(set(tags)), f"{stored.name}: a tag is used twice: {tags}"


def test_the_tutorials_say_what_their_outputs_show():
    """Prose about an output uses the output's own words and scale."""
    # 01: the response view (the HTML JupyterLab shows) names the header as the module printed it.
    page = ResponseView(parse_cgi_output(b"Content-Type: text/plain\n\nHello, world!\n"))._repr_html_()
    assert ">Content-Type<" in page and ">content-type<" not in page
    hello = (NOTEBOOKS / "01-hello-wasm.md").read_text()
    assert "Status `200 OK`, a real `Content-Type: text/plain` header" in hello
    # 03: CPython starts a whole interpreter per request; its row of the table reads 100 ms or so
    # (test_03_any_language checks the table), not "tens of milliseconds".
    languages = (NOTEBOOKS / "03-any-language.md").read_text()
    assert "so each of its requests takes on the order of a hundred milliseconds" in languages
    assert "tens of milliseconds" not in languages


def test_files_the_notebooks_write_are_git_ignored():
    ignored = (NOTEBOOKS / ".gitignore").read_text().split()
    for pattern in ("/modules.toml", "/hello.wasm", "/public/", "/deploy/", "/component-app/"):
        assert pattern in ignored


# -- 01: the seed's walk-through ------------------------------------------------------------------
def test_01_hello_wasm(run_notebook):
    cells, work, port = run_notebook("01-hello-wasm.ipynb")

    hello = cells.text("hello-run")
    assert "Hello, world!" in hello and "exit status 0" in hello
    assert "wasm32-wasi code" in cells.text("hello-file")

    # Run on its own, the CGI header is just text on stdout...
    assert "Content-Type: text/plain\n\nHello, world!" in cells.text("wagi-raw")
    # ...and Wagi turns it into a response.
    preview = cells.text("route-preview")
    assert "200 OK" in preview and "content-type: text/plain" in preview and "Hello, world!" in preview

    # modules.toml and the module were written to the notebook's working folder and loaded from there.
    toml = (work / "modules.toml").read_text()
    assert 'route = "/"' in toml and 'module = "hello.wasm"' in toml
    assert (work / "hello.wasm").read_bytes()[:4] == b"\0asm"
    loaded = cells.text("wagi-load")
    assert "hello.wasm" in loaded and "modules.toml" in loaded
    response = cells.text("request")
    assert "HTTP 200 OK" in response and "content-type: text/plain" in response
    assert response.rstrip().endswith("Hello, world!")

    # The real server, on the port the test chose, answered curl.
    assert f"http://127.0.0.1:{port}/" in cells.text("serve")
    curl = cells.text("curl")
    assert "Hello, world!" in curl and "content-type" not in curl.lower()
    verbose = cells.text("curl-v").lower()
    assert "< http/1.1 200 ok" in verbose
    assert "< content-type: text/plain" in verbose
    assert "< content-length: 14" in verbose
    assert "hello, world!" in verbose
    assert cells.text("log").count('"GET / HTTP/1.1" 200') == 2


# -- 02: the Wagi contract ----------------------------------------------------------------------------
def test_02_wagi_routes(run_notebook):
    cells, work, _ = run_notebook("02-wagi-routes.ipynb")

    argv = cells.text("argv")
    assert '["/args", "name=wasm", "lang=rust"]' in argv and "QUERY_STRING: name=wasm&lang=rust" in argv
    assert '"city=S%C3%A3o%20Paulo"' in cells.text("argv-raw")

    assert "0 bytes on stdin" in cells.text("shout")
    assert "bytes on stdin: HELLO FROM THE REQUEST BODY" in cells.text("post")
    assert "15 bytes on stdin: SHORT AND SWEET" in cells.text("post-line")

    env = dict(row for row in table_rows(cells.html("env-table")) if len(row) == 2)
    assert env["REQUEST_METHOD"] == "GET"
    assert env["QUERY_STRING"] == "lang=rust&answer=42"
    assert env["HTTP_ACCEPT_LANGUAGE"] == "fr"
    assert env["SCRIPT_NAME"] == "/env" and env["SERVER_SOFTWARE"] == "WAGI/1"
    assert "HOME" not in env and "PATH" not in env  # nothing of the kernel's environment leaks in

    location = cells.text("location")
    assert "302 Found" in location and "location: /new-page" in location
    assert "418" in cells.text("status") and "Short and stout" in cells.text("status")
    forgot = cells.text("no-header")
    assert "500 Internal Server Error" in forgot and "Content-Type" in forgot

    path_info = cells.text("path-info")
    assert "SCRIPT_NAME=/files\n" in path_info
    assert "PATH_INFO=/docs/read me.txt" in path_info and "X_RAW_PATH_INFO=/docs/read%20me.txt" in path_info
    wildcard = {line.split()[0]: line.split()[1] for line in cells.text("wildcard").splitlines() if line}
    assert wildcard == {"/files": "200", "/files/": "200", "/files/a/b": "200",
                        "/files/docs/read%20me.txt": "200", "/filesystem": "404"}

    routes = cells.text("routes")
    assert "/api/hello" in routes and "/api/goodbye/..." in routes and "_routes of /api/..." in routes
    assert "Hello from the `hello` export" in cells.text("entry-hello")
    assert "Goodbye, moon" in cells.text("entry-goodbye")
    assert "PATH_INFO=/anything/else" in cells.text("entry-main")

    assert (work / "public" / "index.html").is_file()
    static = cells.text("static")
    assert "200 OK" in static and "content-type: text/html" in static and "Hello from a volume" in static
    assert "<iframe sandbox" in cells.html("static")
    assert "Plain text, read from disk" in cells.text("static-text")
    sandbox = cells.text("sandbox")
    assert "404 Not Found" in sandbox and "root:" not in sandbox

    assert "GREETING=Bonjour" in cells.text("wagi-env")
    env = dict(row for row in table_rows(cells.html("env-global")) if len(row) == 2)
    assert env["GREETING"] == "Bonjour"
    assert env["REQUEST_METHOD"] == "GET"  # the CGI variables beat the global env

    created = cells.text("json-api")
    assert "201 Created" in created and "content-type: application/json" in created
    assert '"title": "learn Wagi"' in created and '"done": false' in created
    bad = cells.text("json-api-bad")
    assert "400 Bad Request" in bad and "expected ident at line 1 column 2" in bad
    version = cells.text("json-version")
    assert '"route": "/version"' in version and '"server": "WAGI/1"' in version


# -- 03: one handler, five languages -------------------------------------------------------------
LANGUAGES = {"rust": "Rust", "c": "C", "cpp": "C++", "zig": "Zig", "go": "Go",
             "assemblyscript": "AssemblyScript", "wat": "WAT", "python": "Python", "js": "JavaScript"}


def test_03_any_language(run_notebook):
    cells, _, _ = run_notebook("03-any-language.ipynb")

    for lang in LANGUAGES:
        response = cells.text(f"greet-{lang}")
        assert "HTTP 200 OK" in response and "content-type: application/json" in response, lang
        assert '"greeting": "Hello, wasm!"' in response and f'"language": "{lang}"' in response, lang

    side = cells.text("side-by-side")
    for lang in LANGUAGES:
        assert f"/{lang:14} 200  {{'greeting': 'Hello, notebook!', 'language': '{lang}'}}" in side

    header, *rows = table_rows(cells.html("sizes"))
    assert header == ["language", "module size (bytes)", "median request (ms)"]
    assert [row[0] for row in rows] == list(LANGUAGES.values())
    sizes = {row[0]: int(row[1].replace(",", "")) for row in rows}
    assert all(size > 0 for size in sizes.values())
    assert sizes["WAT"] == min(sizes.values())  # the hand-written module is the smallest
    assert all(float(row[2]) > 0 for row in rows)
    # As the text under the table says: CPython's requests take on the order of a hundred
    # milliseconds, far longer than any compiled module's.
    medians = {row[0]: float(row[2]) for row in rows}
    compiled = [medians[label] for label in ("Rust", "C", "C++", "Zig", "Go", "AssemblyScript", "WAT")]
    assert medians["Python"] >= 30 and medians["Python"] >= 10 * max(compiled), medians


# -- 04: serve, watch, share ----------------------------------------------------------------------------
WIDGET = "application/vnd.jupyter.widget-view+json"


def test_04_serve_and_share(run_notebook):
    cells, work, port = run_notebook("04-serve-and-share.ipynb")

    assert f"http://127.0.0.1:{port}/" in cells.text("serve")

    # Hot reload: the live preview re-sent its request when the route's cell ran again.
    assert WIDGET in cells.mimetypes("live-v1")
    assert WIDGET in cells.mimetypes("preview-magic")
    assert "version 1" in cells.text("curl-v1")
    assert "Route /live now served by" in cells.text("live-v2")
    status = cells.text("live-status")
    assert "200 OK" in status and "send #2" in status and "version 2" in status
    assert "version 2" in cells.text("curl-v2")

    # Limits: a runaway loop is cut off (504), a trap is a 500, the server keeps serving.
    spin = cells.text("spin")
    assert "504 Gateway Timeout" in spin and "1 s timeout" in spin
    sleep = cells.text("sleep")
    assert "504 Gateway Timeout" in sleep and "1 s timeout" in sleep  # asleep in a host call
    spin_curl = cells.text("spin-curl")
    assert "/spin answered 504" in spin_curl and "version 2" in spin_curl
    assert "/sleep answered 504" in spin_curl
    trap = cells.text("trap")
    assert "500 Internal Server Error" in trap and "trapped" in trap
    # The panic's message, at the cell's line, comes before the trap it ended in.
    panic = "The module panicked at cell line 7: index out of bounds: the len is 3 but the index is 6."
    assert panic in trap and trap.index(panic) < trap.index("It trapped: wasm trap")

    # Outbound HTTP: a route calls another over the notebook's server, only when allowed.
    relay = cells.text("relay")
    assert f"http://127.0.0.1:{port}/live answered 200:" in relay and "version 2" in relay
    denied = cells.text("relay-denied")
    assert "req returned 7" in denied and "is not in the route's allowed_hosts (none)" in denied

    log = cells.text("log")
    assert '"GET /spin HTTP/1.1" 504' in log and '"GET /live HTTP/1.1" 200' in log
    assert "stderr of /oops" in log and "index out of bounds" in log

    saved = cells.text("save")
    assert "Wrote deploy/modules.toml" in saved and 'route = "/live"' in saved
    assert (work / "deploy" / "modules.toml").is_file() and (work / "deploy" / "modules" / "live.wasm").is_file()

    # Past Wagi: the seed's hello exported as a wasi:http component, served by `wasmtime serve`.
    assert "Hello, world!" in cells.text("component-hello")
    exported = cells.text("component-export")
    assert "/hello                   -> modules/hello.wasm" in exported and "with no wagi executor" in exported
    spin_toml = (work / "component-app" / "spin.toml").read_text()
    assert "executor" not in spin_toml and 'source = "components/hello.wasm"' in spin_toml
    manifest = cells.text("component-manifest")
    assert '{ route = "/hello", component = "hello" },' in manifest and "[component.hello]" in manifest
    assert 'WAGI_NB_ROUTE = "/hello"' in manifest and "[component.hello.build]" not in manifest
    assert "an executor anywhere in spin.toml: False" in manifest
    module = (work / "component-app" / "modules" / "hello.wasm").stat().st_size
    component = (work / "component-app" / "components" / "hello.wasm").stat().st_size
    assert f"{module:>8,} bytes" in cells.text("component-sizes")
    assert f"{component:>8,} bytes  (+{component - module:,}: the adapter)" in cells.text("component-sizes")
    assert 20_000 < component - module < 45_000  # the adapter (docs/component-bridge.md: 33-43 KB written)
    served = re.fullmatch(r"Serving HTTP on http://127\.0\.0\.1:(\d+)/", cells.text("component-serve").strip())
    assert served, cells.text("component-serve")
    component_port = int(served.group(1))
    assert component_port != port
    # (curl -i over a terminal: header names in bold, lines ending in CR CR LF)
    curl = re.sub(r"\x1b\[[0-9;]*m", "", cells.text("component-curl")).replace("\r", "")
    answered, notebook = curl.split("--- the notebook's server:")
    assert answered.startswith("HTTP/1.1 200 OK\n") and "content-type: text/plain\n" in answered
    assert answered.rstrip().endswith("\n\nHello, world!")
    assert notebook.strip() == "Hello, world!"
    assert cells.text("component-stop") == f"Stopped wasmtime serve on http://127.0.0.1:{component_port}/\n"
    with socket.socket() as sock:  # wasmtime serve is gone
        sock.bind(("127.0.0.1", component_port))

    assert f"Stopped the server on http://127.0.0.1:{port}/" in cells.text("stop")
    with socket.socket() as sock:  # the port is free again
        sock.bind(("127.0.0.1", port))
