"""Export (issue 6): a notebook's routes as an app folder for `wagi -c` and `spin up`.

The round trip: a notebook with Rust, C and WAT route cells (a volume, global env, a `_routes`
module, a non-`_start` entrypoint) is run cell by cell in IPython's test shell to get the
notebook's in-process previews; `wagi-nb export` writes the app folder in a subprocess; `wagi-nb
serve -c DIR/modules.toml --env-file DIR/app.env`, started from another folder, must answer every
request byte for byte as the notebook did (status, Content-Type, body). The same holds for a copy of
the folder moved elsewhere (with an empty build cache and the notebook folder gone), and after
`modules/*.wasm` are rebuilt from `src/` with the `[component.<id>.build]` commands of spin.toml.
spin.toml is checked with `wagi_nb.export.check_manifest`, whose own rules are checked too.
"""
from __future__ import annotations

import http.client
import os
import re
import shlex
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

import wagi_nb
from wagi_nb import cli
from wagi_nb.envvars import parse_env_file, parse_env_pairs
from wagi_nb.toolchains import wasi_libc
from wagi_nb.export import save_config, ExportError, check_manifest, component_id, export_app
from wagi_nb.wagi import WagiApp

from helpers.subprocesses import child_env, serving, wagi_nb_cli

# conftest.py gives every test (and the subprocesses, through os.environ) a private build cache
# (`wagi_cache_dir`) and `need_toolchain(language)`, which skips, or fails when CI=true.


# -- the modules ------------------------------------------------------------------------------------
RUST = r'''use std::io::Read;
fn main() {
    let mut body = String::new();
    std::io::stdin().read_to_string(&mut body).unwrap();
    let var = |name: &str| std::env::var(name).unwrap_or_default();
    println!("Content-Type: text/plain; charset=utf-8");
    println!();
    println!("{} from rust: {} {} query={} x-demo={} type={} body={}", var("GREETING"),
             var("REQUEST_METHOD"), var("PATH_INFO"), var("QUERY_STRING"), var("HTTP_X_DEMO"),
             var("CONTENT_TYPE"), body);
}'''

C = r'''#include <stdio.h>
#include <stdlib.h>
int main(void) {
    const char *greeting = getenv("GREETING");
    FILE *f = fopen("/static/message.txt", "r");
    printf("Content-Type: text/html\n\n");
    if (!f) { printf("<p>no file</p>\n"); return 0; }
    char buf[256];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = 0;
    printf("<p>%s</p><p>%s</p>\n", buf, greeting ? greeting : "-");
    return 0;
}'''

STATIC_TEXT = "static file from public/, via the volume"


def wat_module(functions: dict) -> str:
    """A WAT module whose exports each write one text to stdout with fd_write."""
    def escape(data: bytes) -> str:
        return "".join(chr(b) if 32 <= b < 127 and chr(b) not in '"\\' else f"\\{b:02x}" for b in data)
    data, funcs, offset = [], [], 64
    for name, text in functions.items():
        raw = text.encode()
        data.append(f'  (data (i32.const {offset}) "{escape(raw)}")')
        funcs.append(f'  (func (export "{name}") (call $write (i32.const {offset}) (i32.const {len(raw)})))')
        offset += len(raw) + 16
    return "\n".join([
        "(module",
        '  (import "wasi_snapshot_preview1" "fd_write"',
        "    (func $fd_write (param i32 i32 i32 i32) (result i32)))",
        '  (memory (export "memory") 1)',
        *data,
        "  (func $write (param $ptr i32) (param $len i32)",
        "    (i32.store (i32.const 0) (local.get $ptr))",
        "    (i32.store (i32.const 4) (local.get $len))",
        "    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8))))",
        *funcs,
        ")"])


WAT_ROUTES = wat_module({
    "_start": "Content-Type: text/plain\n\nthe wat root\n",
    "_routes": "/sub sub_fn\n",
    "sub_fn": 'Content-Type: application/json\n\n{"sub": true}\n',
})
WAT_ENTRY = wat_module({
    "_start": "Content-Type: text/plain\n\nfrom _start (wrong)\n",
    "handle": "Content-Type: text/x-handle\n\nfrom handle\n",
})

CELLS = [
    "%load_ext wagi_nb",
    "%wagi_env GREETING=hi",
    "%%wasm_rust --route /hello\n" + RUST,
    "%%wasm_c -n files --route /files --volume /static=./public\n" + C,
    "%%wasm_wat --route /wat/...\n" + WAT_ROUTES,
    "%%wasm_wat -n other --route /other --entrypoint handle\n" + WAT_ENTRY,
]

#: (method, target, headers, body): every route, a query string, a POST body, the sub-route,
#: the static file through the volume, a prefix route's deeper path, and a path with no route.
REQUESTS = [
    ("GET", "/hello", {}, b""),
    ("GET", "/hello?name=wasm&x=1%202", {}, b""),
    ("POST", "/hello?via=post", {"Content-Type": "text/plain", "X-Demo": "yes"}, b"a posted body"),
    ("GET", "/files", {}, b""),
    ("GET", "/wat", {}, b""),
    ("GET", "/wat/sub", {}, b""),
    ("GET", "/wat/deeper/path?q=1", {}, b""),
    ("GET", "/other", {}, b""),
    ("GET", "/nowhere", {}, b""),
]


def write_notebook(folder: Path, cells, name="app.ipynb") -> Path:
    notebook = new_notebook(cells=[new_markdown_cell("# An app born in a notebook")]
                            + [new_code_cell(source) for source in cells])
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    nbformat.write(notebook, str(path))
    return path


def fetch(port: int, method: str, target: str, headers: dict, body: bytes) -> tuple:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request(method, target, body=body or None, headers=headers)
        response = connection.getresponse()
        return response.status, response.getheader("Content-Type"), response.read()
    finally:
        connection.close()


def served(port: int) -> dict:
    return {(m, t): fetch(port, m, t, h, b) for m, t, h, b in REQUESTS}


# -- the notebook, run in IPython, and its CLI export ----------------------------------------------
@pytest.fixture(scope="module")
def shell(ipython_shell):
    return ipython_shell


@pytest.fixture(scope="module")
def app_notebook(tmp_path_factory, wagi_cache_dir, need_toolchain, shell):
    """The round-trip notebook, its in-process previews (through IPython), and what %wagi_export did."""
    from IPython.utils.capture import capture_output
    for language in ("rust", "c", "wat"):
        need_toolchain(language)
    base = tmp_path_factory.mktemp("roundtrip")
    folder = base / "notebook"
    (folder / "public").mkdir(parents=True)
    (folder / "public" / "message.txt").write_text(STATIC_TEXT)
    path = write_notebook(folder, CELLS)
    cwd = os.getcwd()
    wagi_nb.app.clear()
    wagi_nb.app.clear_env()
    os.chdir(folder)  # as Jupyter runs a notebook: relative paths (./public) from its folder
    try:
        for cell in nbformat.read(str(path), as_version=4).cells:
            if cell.cell_type != "code":
                continue
            with capture_output() as captured:
                result = shell.run_cell(cell.source)
            assert result.success, (cell.source.splitlines()[0], captured.stdout, captured.stderr,
                                    result.error_before_exec or result.error_in_exec)
        previews = {}
        for method, target, headers, body in REQUESTS:
            response = wagi_nb.app.request(method, target, headers=headers, body=body)
            previews[method, target] = (response.status, response.headers.get("Content-Type"),
                                        response.body)
        magic_folder = base / "from-magic" / "app"
        with capture_output() as captured:
            shell.run_line_magic("wagi_export", str(magic_folder))
        magic_output = captured.stdout
    finally:
        os.chdir(cwd)
        wagi_nb.app.clear()
        wagi_nb.app.clear_env()
    return dict(base=base, folder=folder, path=path, previews=previews,
                magic_folder=magic_folder, magic_output=magic_output)


@pytest.fixture(scope="module")
def exported(app_notebook):
    """``wagi-nb export NOTEBOOK DIR`` in a subprocess (from the notebook's parent folder)."""
    target = app_notebook["base"] / "from-cli" / "app"
    done = wagi_nb_cli("export", app_notebook["path"], target, cwd=app_notebook["base"])
    assert done.returncode == 0, done.stderr
    return dict(app_notebook, target=target, output=done.stdout)


def test_the_previews_are_what_the_modules_print(app_notebook):
    previews = app_notebook["previews"]
    assert previews["GET", "/hello"] == (200, "text/plain; charset=utf-8",
                                         b"hi from rust: GET  query= x-demo= type= body=\n")
    assert previews["GET", "/hello?name=wasm&x=1%202"][2] == \
        b"hi from rust: GET  query=name=wasm&x=1%202 x-demo= type= body=\n"
    assert previews["POST", "/hello?via=post"][2] == \
        b"hi from rust: POST  query=via=post x-demo=yes type=text/plain body=a posted body\n"
    assert previews["GET", "/files"] == (200, "text/html", f"<p>{STATIC_TEXT}</p><p>hi</p>\n".encode())
    assert previews["GET", "/wat"] == (200, "text/plain", b"the wat root\n")
    assert previews["GET", "/wat/deeper/path?q=1"] == previews["GET", "/wat"]
    assert previews["GET", "/wat/sub"] == (200, "application/json", b'{"sub": true}\n')
    assert previews["GET", "/other"] == (200, "text/x-handle", b"from handle\n")
    assert previews["GET", "/nowhere"][0] == 404


def test_export_writes_a_self_describing_folder(exported):
    target, output = exported["target"], exported["output"]
    files = sorted(p.relative_to(target).as_posix() for p in target.rglob("*") if p.is_file())
    assert files == sorted([
        "README.md", "app.env", "modules.toml", "spin.toml",
        "modules/hello.wasm", "modules/files.wasm", "modules/wat.wasm", "modules/other.wasm",
        "modules/other.spin.wasm",  # (Spin 3 has no `entrypoint`: a copy whose `_start` is `handle`)
        "src/hello.rs", "src/files.c", "src/wat.wat", "src/other.wat",
        "files/files/static/message.txt"])
    # The cell bodies as IPython hands them to the magic: after the magic line, ending in a newline.
    assert (target / "src" / "hello.rs").read_text() == RUST + "\n"
    assert (target / "src" / "files.c").read_text() == C + "\n"
    assert (target / "src" / "wat.wat").read_text() == WAT_ROUTES + "\n"
    assert (target / "files/files/static/message.txt").read_text() == STATIC_TEXT
    assert (target / "app.env").read_text() == "GREETING=hi\n"
    assert output.startswith("Exported 4 route(s) of app 'app' to ")
    for route, module in [("/hello", "hello"), ("/files", "files"), ("/wat/...", "wat"), ("/other", "other")]:
        assert re.search(rf"^  {re.escape(route)} +-> modules/{module}\.wasm$", output, re.M), output
    assert "wagi-nb serve -c modules.toml --env-file app.env" in output and "spin up" in output
    config = tomllib.loads((target / "modules.toml").read_text())
    assert config["module"] == [
        {"route": "/hello", "module": "modules/hello.wasm"},
        {"route": "/files", "module": "modules/files.wasm", "volumes": {"/static": "files/files/static"}},
        {"route": "/wat/...", "module": "modules/wat.wasm"},
        {"route": "/other", "module": "modules/other.wasm", "entrypoint": "handle"}]


def test_served_export_answers_byte_for_byte_as_the_notebook(exported, tmp_path):
    target = exported["target"]
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    with serving("-c", target / "modules.toml", "--env-file", target / "app.env",
                 cwd=elsewhere, log=tmp_path / "serve.log") as port:
        answers = served(port)
    for key, preview in exported["previews"].items():
        assert answers[key] == preview, key


def test_the_export_is_self_contained(exported, tmp_path):
    """A copy elsewhere serves the same, with the notebook folder gone and an empty build cache."""
    moved = tmp_path / "deploy" / "my-app"
    shutil.copytree(exported["target"], moved)
    notebook_folder = exported["folder"]
    hidden = notebook_folder.with_name("notebook-hidden")
    notebook_folder.rename(hidden)
    try:
        (tmp_path / "cwd").mkdir()
        env = child_env(WAGI_NB_CACHE_DIR=str(tmp_path / "empty-cache"))
        with serving("-c", "../deploy/my-app/modules.toml", "--env-file", "../deploy/my-app/app.env",
                     cwd=tmp_path / "cwd", env=env, log=tmp_path / "serve.log") as port:
            answers = served(port)
    finally:
        hidden.rename(notebook_folder)
    for key, preview in exported["previews"].items():
        assert answers[key] == preview, key


def test_build_commands_rebuild_every_module_from_src(exported, tmp_path):
    copy = tmp_path / "rebuilt"
    shutil.copytree(exported["target"], copy)
    manifest = tomllib.loads((copy / "spin.toml").read_text())
    originals = {}
    for wasm in (copy / "modules").glob("*.wasm"):
        originals[wasm.name] = wasm.stat().st_size
        wasm.unlink()
    commands = {cid: c["build"]["command"] for cid, c in manifest["component"].items()}
    assert set(commands) == {"hello", "files", "wat", "other"}
    assert commands["hello"].split()[0].endswith("rustc") and "src/hello.rs" in commands["hello"]
    # Debian's Rust links a wasi-libc from before PR 377: the build fixes the module's sbrk, as wagi_nb did.
    assert commands["hello"].endswith(" && wagi-nb rewrite modules/hello.wasm --fix-heap")
    assert "clang" in commands["files"].split()[0] and "src/files.c" in commands["files"]
    assert commands["other"].endswith(" && wagi-nb rewrite modules/other.wasm --start handle "
                                      "-o modules/other.spin.wasm")
    for cid, command in commands.items():
        assert manifest["component"][cid]["build"]["watch"] == [
            next(str(p.relative_to(copy)) for p in (copy / "src").glob(f"{cid}.*"))]
        done = subprocess.run(["bash", "-c", command], cwd=copy, env=child_env(),
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, (command, done.stderr)
        assert (copy / manifest["component"][cid]["source"]).is_file(), command
    assert sorted(p.name for p in (copy / "modules").glob("*.wasm")) == sorted(originals)
    # The WAT modules come out byte for byte the same (no paths are compiled in), the Rust one with its sbrk fixed.
    for name in ("wat.wasm", "other.spin.wasm"):
        assert (copy / "modules" / name).read_bytes() == (exported["target"] / "modules" / name).read_bytes(), name
    assert wasi_libc.MARK.encode() in (copy / "modules/hello.wasm").read_bytes()
    with serving("-c", copy / "modules.toml", "--env-file", copy / "app.env", cwd=tmp_path,
                 env=child_env(WAGI_NB_CACHE_DIR=str(tmp_path / "cache")),
                 log=tmp_path / "serve.log") as port:
        answers = served(port)
    for key, preview in exported["previews"].items():
        assert answers[key] == preview, key


def test_spin_manifest_is_valid_v2(exported):
    manifest = tomllib.loads((exported["target"] / "spin.toml").read_text())
    assert check_manifest(manifest) == []
    assert manifest["spin_manifest_version"] == 2
    assert manifest["application"]["name"] == "app"
    triggers = {t["route"]: t for t in manifest["trigger"]["http"]}
    assert set(triggers) == {"/hello", "/files", "/wat/...", "/other"}
    assert triggers["/hello"] == {"route": "/hello", "component": "hello", "executor": {"type": "wagi"}}
    # Spin 3 refuses an `entrypoint` key: Spin gets a copy whose `_start` is `handle`.
    assert triggers["/other"]["executor"] == {"type": "wagi"}
    components = manifest["component"]
    assert components["other"]["source"] == "modules/other.spin.wasm"
    for cid, component in components.items():
        assert re.fullmatch(r"[a-z][a-z0-9]*(-[a-z][a-z0-9]*)*", cid)
        assert component["source"] == f"modules/{cid}.wasm" or cid == "other"
        assert component["environment"] == {"GREETING": "hi"}  # the global env, in every component
        assert component["allowed_outbound_hosts"] == []
    assert components["files"]["files"] == [{"source": "files/files/static", "destination": "/static"}]
    assert all("files" not in c for cid, c in components.items() if cid != "files")


def test_unsupported_features_are_reported_in_the_output_and_the_readme(exported):
    output, readme = exported["output"], (exported["target"] / "README.md").read_text()
    assert "Not expressible, see README.md:" in output
    routes_note = re.compile(r"/wat/\.\.\..*`_routes` sub-routes are not called by Spin \(/wat/sub -> sub_fn\)")
    for text in (output, readme):
        assert routes_note.search(text), text
        assert "/hello" not in "".join(line for line in text.splitlines()
                                       if "spin:" in line or "wagi:" in line)
    assert "## What the formats cannot express" in readme
    assert re.search(r"`/other` — Spin 3 refuses an `entrypoint` key .*`modules/other.spin.wasm`, a copy whose "
                     r"`_start` is `handle`", readme), readme
    assert "| `/files` | `modules/files.wasm` | `src/files.c` |" in readme
    assert "`GREETING`" in readme


def test_wagi_export_magic_prints_the_report_and_writes_the_same_app(exported):
    output, magic_folder = exported["magic_output"], exported["magic_folder"]
    assert output.startswith("Exported 4 route(s) of app 'app' to ")
    assert "Not expressible, see README.md:" in output and "sub_fn" in output
    assert "Run it: cd " in output
    cli_files = {p.relative_to(exported["target"]): p.read_bytes()
                 for p in exported["target"].rglob("*") if p.is_file()}
    magic_files = {p.relative_to(magic_folder): p.read_bytes() for p in magic_folder.rglob("*") if p.is_file()}
    assert sorted(magic_files) == sorted(cli_files)
    for name, data in cli_files.items():
        assert magic_files[name] == data, name


def test_the_magic_asks_for_force_over_an_earlier_export(exported, shell, tmp_path):
    from IPython.utils.capture import capture_output
    earlier = tmp_path / "earlier"
    shutil.copytree(exported["magic_folder"], earlier)
    wagi_nb.app.clear()
    wagi_nb.app.add_route("/", wagi_nb.build(WAT_ROUTES, language="wat"))
    try:
        with pytest.raises(ExportError, match="--force"):
            shell.run_line_magic("wagi_export", str(earlier))
        with capture_output() as captured:
            shell.run_line_magic("wagi_export", f"{earlier} --force --format wagi")
    finally:
        wagi_nb.app.clear()
    assert "Exported 1 route(s)" in captured.stdout
    assert not (earlier / "spin.toml").exists() and not (earlier / "files").exists()
    assert sorted(p.name for p in (earlier / "modules").iterdir()) == ["root.wasm"]


# -- component ids, formats, --force ---------------------------------------------------------------
AWKWARD = [
    "%%wasm_wat --route /\n" + WAT_ENTRY,
    "%%wasm_wat --route /api/v2/...\n" + WAT_ENTRY,
    "%%wasm_wat -n 2fast --route /fast\n" + WAT_ENTRY,
    "%%wasm_wat --route /api-2\n" + WAT_ENTRY,
    "%%wasm_wat -n Hello_World --route /hw\n" + WAT_ENTRY,
    "%%wasm_wat -n hello-world --route /hw2\n" + WAT_ENTRY,
]


@pytest.fixture(scope="module")
def awkward_notebook(tmp_path_factory, wagi_cache_dir, need_toolchain):
    need_toolchain("wat")
    return write_notebook(tmp_path_factory.mktemp("awkward"), AWKWARD)


def test_component_ids_are_valid_kebab_case_for_awkward_names(awkward_notebook, tmp_path):
    done = wagi_nb_cli("export", awkward_notebook, tmp_path / "out", "--format", "spin",
                       "--name", "My App 2")
    assert done.returncode == 0, done.stderr
    assert "(spin)" in done.stdout and "spin up" in done.stdout and "modules.toml" not in done.stdout
    out = tmp_path / "out"
    assert not (out / "modules.toml").exists() and not (out / "app.env").exists()
    manifest = tomllib.loads((out / "spin.toml").read_text())
    assert check_manifest(manifest) == []
    assert manifest["application"]["name"] == "my-app2"
    ids = {t["route"]: t["component"] for t in manifest["trigger"]["http"]}
    assert ids == {"/": "root", "/api/v2/...": "api-v2", "/fast": "r2fast", "/api-2": "api2",
                   "/hw": "hello-world", "/hw2": "hello-world-a"}
    assert sorted(manifest["component"]) == sorted(ids.values())
    for cid in ids.values():
        assert (out / "modules" / f"{cid}.wasm").is_file()


@pytest.mark.parametrize("text, expected", [
    ("/", "root"), ("/api/v2/...", "api-v2"), ("2fast", "r2fast"), ("api-2", "api2"),
    ("/static/...", "static"), ("Hello World!", "hello-world"), ("", "root"), ("/-/", "root"),
    ("/v1/2/x", "v12-x"),
])
def test_component_id(text, expected):
    cid = component_id(text)
    assert cid == expected
    assert check_manifest(_manifest(cid)) == []


def test_component_id_avoids_taken_ids():
    assert component_id("/api", {"api"}) == "api-a"
    assert component_id("/api", {"api", "api-a"}) == "api-b"


def test_export_over_an_existing_folder_asks_for_force(awkward_notebook, tmp_path):
    target = tmp_path / "out"
    target.mkdir()
    assert wagi_nb_cli("export", awkward_notebook, target).returncode == 0  # an empty folder is fine
    (target / "modules" / "stale.wasm").write_bytes(b"\0asm")
    (target / "notes.txt").write_text("mine")
    done = wagi_nb_cli("export", awkward_notebook, target, "--format", "wagi")
    assert done.returncode != 0
    assert "already exists and is not empty" in done.stderr and "--force" in done.stderr
    assert (target / "spin.toml").exists()  # nothing was touched
    done = wagi_nb_cli("export", awkward_notebook, target, "--format", "wagi", "--force")
    assert done.returncode == 0, done.stderr
    assert not (target / "spin.toml").exists()  # the earlier export's files are replaced
    assert not (target / "modules" / "stale.wasm").exists()
    assert (target / "notes.txt").read_text() == "mine"  # what the export did not write stays
    assert (target / "modules.toml").exists() and (target / "app.env").read_text() == ""


def test_unknown_format_is_refused(awkward_notebook, tmp_path):
    done = wagi_nb_cli("export", awkward_notebook, tmp_path / "out", "--format", "docker")
    assert done.returncode == 2
    assert "invalid choice: 'docker'" in done.stderr and not (tmp_path / "out").exists()
    app = WagiApp()
    app.add_route("/", wagi_nb.build(WAT_ENTRY, language="wat"))
    with pytest.raises(ExportError, match="Unknown export format 'docker'"):
        export_app(app, tmp_path / "out2", format="docker")


def test_export_of_a_notebook_without_route_cells_fails_clearly(tmp_path):
    path = write_notebook(tmp_path, ["print('no routes here')", "%%wasm_wat\n(module)"])
    done = wagi_nb_cli("export", path, tmp_path / "out")
    assert done.returncode != 0
    assert "has no route cells" in done.stderr and "--route" in done.stderr
    assert not (tmp_path / "out").exists()
    with pytest.raises(ExportError, match="no routes to export"):
        export_app(WagiApp(), tmp_path / "out")


# -- a modules.toml's features: allowed_hosts, http_max_concurrency, entrypoint --------------------
def test_modules_toml_features_map_to_spin_or_are_reported(tmp_path, need_toolchain):
    need_toolchain("wat")
    (tmp_path / "routes.wat").write_text(WAT_ROUTES)
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "x.txt").write_text("x")
    hosts = ["https://api.example.com", "example.org", "localhost:8080", "insecure:allow-all",
             "http://h.example.com:81/"]
    (tmp_path / "modules.toml").write_text(f"""
[[module]]
route = "/api/v2/..."
module = "routes.wat"
allowed_hosts = {hosts!r}
http_max_concurrency = 4
volumes = {{ "/data" = "data" }}

[[module]]
route = "/b"
module = "routes.wat"
entrypoint = "sub_fn"
argv = "${{SCRIPT_NAME}} ${{ARGS}}"
""".replace("'", '"'))
    app = WagiApp()
    app.load_config(tmp_path / "modules.toml")
    app.set_env({"MODE": "prod"})
    report = export_app(app, tmp_path / "out", name="hosts")
    out = tmp_path / "out"
    text, readme = str(report), (out / "README.md").read_text()
    manifest = tomllib.loads((out / "spin.toml").read_text())
    assert check_manifest(manifest) == []
    api, b = manifest["component"]["api-v2"], manifest["component"]["b"]
    # (a URL without a port allows any, as under Wagi: Spin would read it as the scheme's default port)
    assert api["allowed_outbound_hosts"] == ["https://api.example.com:*", "*://example.org:*",
                                             "*://localhost:8080", "*://*:*", "http://h.example.com:81"]
    assert api["files"] == [{"source": "files/api-v2/data", "destination": "/data"}]
    assert (out / "files/api-v2/data/x.txt").read_text() == "x"
    assert api["environment"] == b["environment"] == {"MODE": "prod"}
    assert "build" not in api  # a module from a file has no cell source to rebuild from
    triggers = {t["route"]: t for t in manifest["trigger"]["http"]}
    # Spin 3 refuses the executor's `entrypoint` key: its module is a copy whose `_start` is `sub_fn`.
    assert triggers["/b"]["executor"] == {"type": "wagi", "argv": "${SCRIPT_NAME} ${ARGS}"}
    assert b["source"] == "modules/b.spin.wasm"
    assert "`/b` — Spin 3 refuses an `entrypoint` key" in readme
    for output in (text, readme):
        assert re.search(r"/api/v2/\.\.\..*http_max_concurrency has no Spin equivalent", output)
        assert re.search(r"/api/v2/\.\.\..*`_routes` sub-routes .*\(/api/v2/sub -> sub_fn\)", output)
    # Wagi can say all of it: the exported modules.toml keeps every key, and loads back.
    config = tomllib.loads((out / "modules.toml").read_text())["module"]
    assert config[0]["allowed_hosts"] == hosts and config[0]["http_max_concurrency"] == 4
    assert config[1]["entrypoint"] == "sub_fn" and config[1]["argv"] == "${SCRIPT_NAME} ${ARGS}"
    again = WagiApp()
    again.load_config(out / "modules.toml")
    again.add_env_file(out / "app.env")
    assert again.global_env == {"MODE": "prod"}
    for target in ("/api/v2", "/api/v2/sub", "/b"):
        assert again.request("GET", target).body == app.request("GET", target).body


# -- the global env: app.env holds what Wagi's reader reads back, -e the rest ----------------------
#: Variables an env-file line holds exactly (a value ending in `\r` only when quoted).
IN_APP_ENV = {"PLAIN": "hello world", "SPACES": " padded # not a comment ", "SINGLE": "'single quoted'",
              "EMPTY": "", "CR_END": "ends in a carriage return\r", "dash-name": "ok"}
#: Variables it cannot hold: every one but QUOTED goes by -e instead (-e strips QUOTED's quotes).
NOT_IN_APP_ENV = {"INNER": 'say "hi"', "MULTI": "line one\nline two", "QUOTED": '"wrapped"',
                  "MY.VAR": "dotted name", "HALF": '"half-quoted'}


def test_app_env_reads_back_exactly_and_what_it_cannot_hold_is_named(tmp_path, need_toolchain):
    need_toolchain("wat")
    app = WagiApp()
    app.add_route("/", wagi_nb.build(WAT_ENTRY, language="wat"))
    app.set_env({**IN_APP_ENV, **NOT_IN_APP_ENV})
    report = export_app(app, tmp_path / "out", name="env")
    out = tmp_path / "out"
    output, readme = str(report), (out / "README.md").read_text()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # (a line the reader skips is an EnvFileWarning)
        assert parse_env_file(out / "app.env") == IN_APP_ENV
    # The README's command passes the others with -e, and wagi-nb serve reads them back exactly.
    command = readme.split("## Run it\n\n```sh\n", 1)[1].split("\n# or, with Wagi itself", 1)[0]
    argv = shlex.split(command)
    assert argv[:2] == ["wagi-nb", "serve"] and command in output
    flags = parse_env_pairs(cli.parser().parse_args(argv[1:]).env)
    assert flags == {name: value for name, value in NOT_IN_APP_ENV.items() if name != "QUOTED"}
    for name in NOT_IN_APP_ENV:
        for text in (output, readme):
            assert f"`{name}` is NOT in app.env" in text, text
    for text in (output, readme):
        assert re.search(r"`QUOTED` is NOT in app.env: .*-e cannot pass it either .*Only Spin has it", text)
        assert re.search(r"`MY.VAR` is NOT in app.env: its name .*Pass it with -e NAME=VALUE", text)
    assert "PLAIN" not in output and "`PLAIN` is NOT" not in readme
    manifest = tomllib.loads((out / "spin.toml").read_text())
    assert manifest["component"]["root"]["environment"] == {**IN_APP_ENV, **NOT_IN_APP_ENV}


# -- the validator ---------------------------------------------------------------------------------
def _manifest(cid="hello", **changes) -> dict:
    manifest = tomllib.loads(f"""
spin_manifest_version = 2
[application]
name = "app"
[[trigger.http]]
route = "/..."
component = "{cid}"
executor = {{ type = "wagi" }}
[component.{cid}]
source = "modules/{cid}.wasm"
files = [{{ source = "files/static", destination = "/static" }}, "README.md"]
environment = {{ A = "1" }}
allowed_outbound_hosts = ["https://example.com", "*://*:*"]
[component.{cid}.build]
command = "make"
""")
    for path, value in changes.items():
        *parents, last = path.split("__")
        table = manifest
        for key in parents:
            table = table[int(key)] if key.isdigit() else table[key]
        if value is DELETE:
            del table[last]
        else:
            table[last] = value
    return manifest


DELETE = object()


def test_the_validator_accepts_a_good_manifest():
    assert check_manifest(_manifest()) == []
    assert check_manifest(_manifest("api-v2")) == []
    # no executor: a wasi:http component (export --component)
    assert check_manifest(_manifest(trigger__http__0__executor=DELETE)) == []


@pytest.mark.parametrize("manifest, complaint", [
    (_manifest("api-2"), "kebab-case"),
    (_manifest("Api"), "kebab-case"),
    (_manifest(trigger__http__0__executor={}), "executor must be"),
    (_manifest(trigger__http__0__executor={"type": "spin"}), "executor must be"),
    (_manifest(trigger__http__0__executor={"type": "wagi", "memory": 1}), "only takes type, argv"),
    (_manifest(component__hello__allowed_outbound_hosts=["api.example.com"]), "needs a scheme"),
    (_manifest(component__hello__allowed_outbound_hosts=["https://example.com/path"]), "needs a scheme"),
    (_manifest(component__hello__files=[{"source": "files/static"}]), "destination"),
    (_manifest(component__hello__files=[{"source": "s", "destination": "static"}]), "absolute"),
    (_manifest(component__hello__files="files/static"), "`files` must be a list"),
    (_manifest(trigger__http__0__component="ghost"), "'ghost' is not defined"),
    (_manifest(trigger__http__0__route="api"), "`route` must be a path"),
    (_manifest(spin_manifest_version=1), "spin_manifest_version must be 2"),
    (_manifest(application__name=DELETE), "needs a string `name`"),
    (_manifest(application__name="my app"), "may only use"),
    (_manifest(component__hello__source=DELETE), "`source` must be"),
    (_manifest(component__hello__environment={"A": 1}), "table of strings"),
    (_manifest(component__hello__build={"command": ["make"]}), "`command` must be a string"),
    (_manifest(component__hello="modules/hello.wasm"), "must be a table"),
    (_manifest(trigger=DELETE), "no [[trigger.http]]"),
    (_manifest(trigger={"http": ["x"]}), "must be a table"),
    (_manifest(component=DELETE), "no [component"),
])
def test_the_validator_catches_bad_manifests(manifest, complaint):
    problems = check_manifest(manifest)
    assert problems, "the validator let a bad manifest through"
    assert any(complaint in problem for problem in problems), problems


def test_strings_toml_cannot_hold_raw_are_escaped_in_both_manifests(tmp_path, need_toolchain):
    need_toolchain("wat")
    awkward = "del\x7f tab\t quote\" backslash\\ nul-free é"
    app = WagiApp()
    app.add_route("/r\x7fx", wagi_nb.build(WAT_ROUTES, language="wat"), argv=f"${{SCRIPT_NAME}} {awkward}")
    app.set_env({"AWKWARD": awkward})
    export_app(app, tmp_path / "out", name="strings")
    config = tomllib.loads((tmp_path / "out" / "modules.toml").read_text())["module"][0]
    assert config["route"] == "/r\x7fx" and config["argv"] == f"${{SCRIPT_NAME}} {awkward}"
    manifest = tomllib.loads((tmp_path / "out" / "spin.toml").read_text())
    assert manifest["component"]["r-x"]["environment"] == {"AWKWARD": awkward}
    saved = save_config(app, tmp_path / "saved")
    assert tomllib.loads(saved.read_text())["module"][0]["argv"] == f"${{SCRIPT_NAME}} {awkward}"
