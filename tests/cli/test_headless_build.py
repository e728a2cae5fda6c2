"""Headless notebooks (issue 6 section 2): `wagi-nb build NOTEBOOK`, `wagi-nb serve --notebook`,
and `wagi_nb.notebook.load_notebook_routes`, which read the route cells with nbformat, no kernel.

The headless reader must read a notebook as the kernel would: the same cell sources (so the same
build-cache keys), the same `%wagi_env` lines, volumes relative to the notebook's folder; and it
must fail with the cell's own diagnostics (line:col as the notebook numbers them, the magic line
being line 1) so a notebook-born app can be built in CI.
"""
from __future__ import annotations

import http.client
import os
import re
import uuid
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

import wagi_nb
from wagi_nb.notebook import NotebookError, load_notebook_routes
from wagi_nb.wagi import WagiApp

from helpers.subprocesses import serving, wagi_nb_cli

# conftest.py gives every test (and the subprocesses, through os.environ) a private build cache
# (`wagi_cache_dir`) and `need_toolchain(language)`, which skips, or fails when CI=true.

RUST = r'''fn main() {
    println!("Content-Type: text/plain");
    println!();
    println!("rust {} {}", std::env::var("GREETING").unwrap_or_default(),
             std::env::var("QUERY_STRING").unwrap_or_default());
}'''

C_ENV = r'''#include <stdio.h>
#include <stdlib.h>
static const char *var(const char *name) { const char *v = getenv(name); return v ? v : "-"; }
int main(void) {
    FILE *f = fopen("/data/note.txt", "r");
    char note[64] = "no volume";
    if (f) { size_t n = fread(note, 1, sizeof note - 1, f); note[n] = 0; fclose(f); }
    printf("Content-Type: text/plain\n\n");
    printf("A=%s B=%s C=%s D=%s PER=%s note=%s\n", var("A"), var("B"), var("C"), var("D"),
           var("PER"), note);
    return 0;
}'''


def wat_text(text: str, entry: str = "_start") -> str:
    raw = text.encode()
    escaped = "".join(chr(b) if 32 <= b < 127 and chr(b) not in '"\\' else f"\\{b:02x}" for b in raw)
    return ("(module\n"
            '  (import "wasi_snapshot_preview1" "fd_write"\n'
            "    (func $fd_write (param i32 i32 i32 i32) (result i32)))\n"
            '  (memory (export "memory") 1)\n'
            f'  (data (i32.const 64) "{escaped}")\n'
            f'  (func (export "{entry}")\n'
            "    (i32.store (i32.const 0) (i32.const 64))\n"
            f"    (i32.store (i32.const 4) (i32.const {len(raw)}))\n"
            "    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))))")


def write_notebook(folder: Path, cells, name="app.ipynb") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    notebook = new_notebook(cells=[c if not isinstance(c, str) else new_code_cell(c) for c in cells])
    path = folder / name
    nbformat.write(notebook, str(path))
    return path


def fetch(port, method, target, body=b""):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request(method, target, body=body or None)
        response = connection.getresponse()
        return response.status, response.getheader("Content-Type", ""), response.read()  # ("": none, as /healthz)
    finally:
        connection.close()


# -- a notebook with three route cells and some cells that are not routes --------------------------
@pytest.fixture(scope="module")
def app_notebook(tmp_path_factory, wagi_cache_dir, need_toolchain):
    for language in ("rust", "c", "wat"):
        need_toolchain(language)
    folder = tmp_path_factory.mktemp("headless") / "nb"
    (folder / "data").mkdir(parents=True)
    (folder / "data" / "note.txt").write_text("from the notebook's data/")
    # A token in a comment: sources no other test built, so the first build here is cold.
    token = uuid.uuid4().hex
    cells = [
        new_markdown_cell("# Headless"),
        "%load_ext wagi_nb",
        "%wagi_env A=1",
        f"// {token}\n%%wasm_rust --route /not-a-magic-line\nfn main() {{}}",  # magic not on line 1
        f"%%wasm_rust --route /rust\n// {token}\n" + RUST,
        f"%%wasm_c --route /c --volume /data=./data --env PER=cell\n// {token}\n" + C_ENV,
        "%%wasm_wat --route /wat/...\n" + wat_text(f"Content-Type: text/plain\n\nwat {token}\n"),
        f"%%wasm_wat --no-run\n;; not a route {token}\n(module)",
        "%%wasm_fortran --route /fortran\nprint *, 'an unknown language magic is not a route cell'",
        "print('a Python cell')",
    ]
    return dict(path=write_notebook(folder, cells), folder=folder, token=token)


BUILT_LINE = re.compile(r"^(?P<route>\S+) +(?P<language>rust|c|wat) +(?P<size>[\d,]+) bytes  "
                        r"(?P<how>built in \d+\.\d\d s|cached)  \(cell (?P<cell>\d+)\)$")


def build_lines(stdout: str) -> dict:
    lines = stdout.splitlines()
    assert lines[-1] == "3 route cells built; 3 routes.", stdout
    found = {}
    for line in lines[:-1]:
        match = BUILT_LINE.match(line)
        assert match, f"unexpected line {line!r} in\n{stdout}"
        found[match["route"]] = match.groupdict()
    return found


def test_build_reports_each_route_size_and_time(app_notebook, tmp_path):
    # From another folder, with a relative path: the volume is still found next to the notebook.
    relative = os.path.relpath(app_notebook["path"], tmp_path)
    first = wagi_nb_cli("build", relative, cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    routes = build_lines(first.stdout)
    assert list(routes) == ["/rust", "/c", "/wat/..."]  # in notebook order
    assert {r: (v["language"], v["cell"]) for r, v in routes.items()} == \
        {"/rust": ("rust", "5"), "/c": ("c", "6"), "/wat/...": ("wat", "7")}
    assert all(v["how"].startswith("built in ") for v in routes.values()), first.stdout
    again = build_lines(wagi_nb_cli("build", app_notebook["path"]).stdout)
    assert all(v["how"] == "cached" for v in again.values())
    # The sizes are the modules' sizes.
    built = load_notebook_routes(WagiApp(), app_notebook["path"])
    for item in built:
        size = os.path.getsize(item.handler.artifact.wasm_path)
        assert int(routes[item.handler.route.text]["size"].replace(",", "")) == size
        assert item.handler.artifact.cached  # the CLI's builds, from the same cache


def test_load_notebook_routes_reads_routes_env_volumes_like_the_kernel(app_notebook, tmp_path,
                                                                         monkeypatch):
    monkeypatch.chdir(tmp_path)  # not the notebook's folder: ./data is relative to the notebook
    seen = []
    app = WagiApp()
    built = load_notebook_routes(app, app_notebook["path"], progress=seen.append)
    assert seen == built and [b.cell.number for b in built] == [5, 6, 7]
    assert all(b.seconds >= 0 and b.handler.origin == f"app.ipynb cell {b.cell.number}" for b in built)
    assert [h.route.text for h in app.handlers] == ["/rust", "/c", "/wat/..."]
    assert app.global_env == {"A": "1"}
    c = app.handlers[1]
    assert c.env == {"PER": "cell"}
    assert c.volumes == {"/data": str((app_notebook["folder"] / "data").resolve())}
    assert app.request("GET", "/c").text == "A=1 B=- C=- D=- PER=cell note=from the notebook's data/\n"
    assert app.request("GET", "/rust?x=1").text == "rust  x=1\n"
    assert app.request("GET", "/wat/deep").text == f"wat {app_notebook['token']}\n"


def test_the_kernel_finds_the_headless_builds_in_the_cache(app_notebook, ipython_shell):
    """The headless reader hands the compiler what IPython hands the magic, byte for byte."""
    from IPython.utils.capture import capture_output
    app = WagiApp()
    headless = {h.route.text: h for h in (b.handler for b in load_notebook_routes(app, app_notebook["path"]))}
    notebook = nbformat.read(str(app_notebook["path"]), as_version=4)
    cwd = os.getcwd()
    wagi_nb.app.clear()
    wagi_nb.app.clear_env()
    os.chdir(app_notebook["folder"])
    try:
        for cell in notebook.cells:
            if cell.cell_type == "code" and cell.source.startswith(("%%wasm_rust", "%%wasm_c", "%%wasm_wat",
                                                                    "%wagi_env")):
                with capture_output():
                    result = ipython_shell.run_cell(cell.source)
                assert result.success, cell.source
        kernel = {h.route.text: h for h in wagi_nb.app.handlers}
        assert sorted(kernel) == sorted(headless)
        for route, handler in kernel.items():
            assert handler.source == headless[route].source
            assert handler.artifact.key == headless[route].artifact.key
            assert handler.artifact.cached, f"{route}: the kernel rebuilt what the headless build built"
        assert wagi_nb.app.global_env == app.global_env
        for target in ("/rust?q=1", "/c", "/wat/x"):
            mine, theirs = app.request("GET", target), wagi_nb.app.request("GET", target)
            assert (mine.status, mine.content_type, mine.body) == (theirs.status, theirs.content_type, theirs.body)
    finally:
        os.chdir(cwd)
        wagi_nb.app.clear()
        wagi_nb.app.clear_env()


def test_serve_notebook_serves_the_route_cells(app_notebook, tmp_path):
    app = WagiApp()
    load_notebook_routes(app, app_notebook["path"])
    with serving("--notebook", app_notebook["path"], cwd=tmp_path, log=tmp_path / "serve.log") as port:
        for method, target, body in [("GET", "/rust", b""), ("GET", "/rust?a=b", b""), ("GET", "/c", b""),
                                     ("POST", "/wat/x", b"ignored"), ("GET", "/healthz", b"")]:
            expected = app.request(method, target, body=body)
            assert fetch(port, method, target, body) == (expected.status, expected.content_type,
                                                        expected.body), target
        assert fetch(port, "GET", "/fortran")[0] == 404  # %%wasm_fortran is no route cell
    assert "GET /c HTTP/1.1\" 200" in (tmp_path / "serve.log").read_text()


# -- %wagi_env, as the magic reads it ----------------------------------------------------------------
ENV_LINES = ["%wagi_env A=1 B=2", "%wagi_env --clear", "%wagi_env C=3 --env-file=vars.env",
             "x = 1\n%wagi_env B='two words'"]


def test_wagi_env_lines_mean_what_the_magic_does(tmp_path, need_toolchain, ipython_shell):
    need_toolchain("c")
    (tmp_path / "vars.env").write_text("C=from-file\nD=4\n")
    path = write_notebook(tmp_path, ENV_LINES + ["%%wasm_c --route /env\n" + C_ENV])
    app = WagiApp()
    load_notebook_routes(app, path)
    # --clear forgets A and B; the file is relative to the notebook; pairs beat the file.
    assert app.global_env == {"C": "3", "D": "4", "B": "two words"}
    assert app.request("GET", "/env").text == "A=- B=two words C=3 D=4 PER=- note=no volume\n"
    from IPython.utils.capture import capture_output
    cwd = os.getcwd()
    wagi_nb.app.clear_env()
    os.chdir(tmp_path)
    try:
        with capture_output():
            ipython_shell.run_line_magic("load_ext", "wagi_nb")
            for line in ENV_LINES:
                assert ipython_shell.run_cell(line).success
        assert wagi_nb.app.global_env == app.global_env
    finally:
        os.chdir(cwd)
        wagi_nb.app.clear_env()


def test_later_route_cell_wins(tmp_path, need_toolchain):
    need_toolchain("wat")
    path = write_notebook(tmp_path, ["%%wasm_wat --route /dup\n" + wat_text("Content-Type: text/plain\n\nfirst\n"),
                                     "%%wasm_wat --route /dup\n" + wat_text("Content-Type: text/plain\n\nsecond\n"),
                                     "%%wasm_wat --route /e --entrypoint go\n" + wat_text(
                                         "Content-Type: text/plain\n\ngo\n", entry="go")])
    app = WagiApp()
    built = load_notebook_routes(app, path)
    assert len(built) == 3 and [h.route.text for h in app.handlers] == ["/dup", "/e"]
    assert app.request("GET", "/dup").text == "second\n"
    assert app.request("GET", "/e").text == "go\n"
    done = wagi_nb_cli("build", path)
    assert done.returncode == 0 and done.stdout.splitlines()[-1] == "3 route cells built; 2 routes."


# -- bad input ---------------------------------------------------------------------------------------
BAD_CELLS = {
    # (language, cell body whose 2nd line is wrong, where the compiler must point)
    "rust": ('fn main() {\n    let x: u32 = "not a number";\n}', "cell.rs:3:18"),
    "c": ("int main(void) {\n  return undefined_thing;\n}", "cell.c:3:10"),
    "wat": ('(module\n  (func (export "_start") (bogus)))', "cell.wat:3:"),
}


@pytest.mark.parametrize("language", sorted(BAD_CELLS))
def test_a_cell_that_does_not_compile_fails_the_build_with_its_diagnostics(language, tmp_path,
                                                                           need_toolchain):
    need_toolchain(language)
    need_toolchain("wat")
    body, where = BAD_CELLS[language]
    path = write_notebook(tmp_path, ["%%wasm_wat --route /ok\n" + wat_text("Content-Type: text/plain\n\nok\n"),
                                     f"%%wasm_{language} --route /bad\n{body}"])
    done = wagi_nb_cli("build", path)
    assert done.returncode == 2
    assert done.stdout.startswith("/ok ")  # the routes before it were built and reported
    assert "route cells built" not in done.stdout
    # The magic line is line 1 of the cell: the body's 2nd line is the cell's line 3.
    assert where in done.stderr, done.stderr
    assert f"app.ipynb, cell 2 (%%wasm_{language} --route /bad) does not compile:" in done.stderr
    for command in (["export", path, tmp_path / "out"], ["serve", "--notebook", path, "-l", "127.0.0.1:0"]):
        failed = wagi_nb_cli(*command)
        assert failed.returncode == 2 and "does not compile" in failed.stderr, command
    assert not (tmp_path / "out").exists()
    with pytest.raises(NotebookError, match="does not compile"):
        load_notebook_routes(WagiApp(), path)


@pytest.mark.parametrize("cells", [
    [],
    ["print('hello')", new_markdown_cell("%%wasm_rust --route /in-markdown")],
    ["%%wasm_wat\n(module)", "%%wasm_rust --no-run\nfn main() {}"],
], ids=["empty", "python-and-markdown", "language-cells-without-route"])
def test_a_notebook_without_route_cells_is_refused(cells, tmp_path):
    path = write_notebook(tmp_path, cells)
    for command in (["build", path], ["serve", "--notebook", path, "-l", "127.0.0.1:0"]):
        done = wagi_nb_cli(*command)
        assert done.returncode == 2, command
        assert "has no route cells" in done.stderr and "--route /path" in done.stderr
        assert "Traceback" not in done.stderr


@pytest.mark.parametrize("make, message", [
    (lambda folder: folder / "missing.ipynb", "No such notebook"),
    (lambda folder: (folder / "bad.ipynb").write_text("not json") and folder / "bad.ipynb",
     "Cannot read"),
    (lambda folder: write_notebook(folder, ["%%wasm_wat --route /x --timeout soon\n(module)"]),
     "cell 1: cannot read `%%wasm_wat --route /x --timeout soon`"),
    (lambda folder: write_notebook(folder, ["%%wasm_wat --route nope\n(module)"]),
     "does not start with '/'"),
    (lambda folder: write_notebook(folder, ["%%wasm_wat --route /v --volume /d=./missing\n(module)"]),
     "does not exist"),
    (lambda folder: write_notebook(folder, ["%wagi_env NOEQUALS", "%%wasm_wat --route /x\n(module)"]),
     "expects KEY=VALUE"),
])
def test_bad_notebooks_get_a_clear_message(make, message, tmp_path, need_toolchain):
    need_toolchain("wat")
    path = make(tmp_path)
    done = wagi_nb_cli("build", path)
    assert done.returncode == 2
    assert done.stderr.startswith("wagi-nb: ") and message in done.stderr, done.stderr
    assert "Traceback" not in done.stderr


def test_the_reader_refuses_what_the_magic_refuses(tmp_path):
    path = write_notebook(tmp_path, ["%%wasm_wat --route / --args 'a b'\n" + wat_text("x")])
    with pytest.raises(NotebookError, match=r"cell 1 .*--args has no effect on a route cell"):
        load_notebook_routes(WagiApp(), path)
