"""Rust with crates: cells with dependencies (``--dep`` and a cargo-script manifest) built by Cargo
in a shared target folder per dependency set, ``%wasm_cargo`` on a ``cargo new`` crate, and their
export rebuilt by Cargo. Offline, from Debian's vendored crates (the set-up installs
librust-serde-json-dev, librust-serde-derive-dev and librust-form-urlencoded-dev)."""
from __future__ import annotations

import http.client
import json
import os
import shutil
import subprocess
import sys

import nbformat
import pytest
from IPython.utils.capture import capture_output
from nbformat.v4 import new_code_cell, new_notebook

import wagi_nb
from wagi_nb.notebook import load_notebook_routes
from wagi_nb.toolchains.cargo import RELEASE_PROFILE, Cargo, compiled_crates, paired_cargo
from wagi_nb.wagi import WagiApp, app

from helpers.subprocesses import child_env, serving
from helpers.subprocesses import wagi_nb_cli as run_cli

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

SERDE_JSON = 'serde_json = "1"'
JSON_HANDLER = '''use serde_json::json;

fn main() {
    let query = std::env::var("QUERY_STRING").unwrap_or_default();
    let reply = json!({"query": query, "method": std::env::var("REQUEST_METHOD").unwrap_or_default()});
    println!("Content-Type: application/json\\n");
    println!("{}", reply);
}
'''
FRONTMATTER = f"---\n[dependencies]\n{SERDE_JSON}\n---\n"


@pytest.fixture(autouse=True)
def fresh_routes():
    app.clear()
    yield
    app.clear()


@pytest.fixture()
def rust(need_toolchain):
    return need_toolchain("rust")


def json_body(run) -> object:
    """The JSON after the headers a module printed."""
    return json.loads(run.text.partition("\n\n")[2])


def statuses(build, *args, **kwargs):
    """(the artifact, every status text the build reported: Cargo's "Compiling …" lines)."""
    seen: list = []
    artifact = build(*args, progress=lambda elapsed, detail: seen.append(detail), **kwargs)
    return artifact, [text for text in dict.fromkeys(seen) if text]


def test_a_dep_option_builds_a_json_route_with_serde_json(rust, ipython_shell):
    with capture_output():
        ipython_shell.run_cell_magic("wasm_rust", f"--dep '{SERDE_JSON}' --route /api", JSON_HANDLER)
    response = app.request("GET", "/api?name=ferris")
    assert response.status == 200 and response.content_type == "application/json"
    assert json.loads(response.body) == {"query": "name=ferris", "method": "GET"}


def test_a_cargo_script_manifest_declares_the_same_dependencies(rust, ipython_shell):
    with capture_output():
        view = ipython_shell.run_cell_magic("wasm_rust", "", FRONTMATTER + JSON_HANDLER)
    assert view is None or json_body(view) == {"query": "", "method": ""}
    by_option = wagi_nb.build(JSON_HANDLER, "rust", dependencies=[SERDE_JSON])
    by_manifest = wagi_nb.build(FRONTMATTER + JSON_HANDLER, "rust")
    assert by_manifest.flags["dependencies"] == by_option.flags["dependencies"] == {"serde_json": "1"}
    assert json_body(by_manifest.run()) == json_body(by_option.run())
    assert by_manifest.project_files["Cargo.toml"].count("serde_json") == 1


def test_features_in_a_dep_spec_reach_cargo(rust, ipython_shell):
    source = '''use serde::Serialize;

#[derive(Serialize)]
struct Greeting { hello: &'static str, count: u32 }

fn main() {
    println!("Content-Type: application/json\\n");
    println!("{}", serde_json::to_string(&Greeting { hello: "world", count: 3 }).unwrap());
}
'''
    line = f"""--dep 'serde = {{ version = "1", features = ["derive"] }}' --dep '{SERDE_JSON}'"""
    with capture_output() as shown:
        view = ipython_shell.run_cell_magic("wasm_rust", line, source)
    progress = " ".join(output.data.get("text/plain", "") for output in shown.outputs)
    # A long build shows Cargo's progress in the cell's status line.
    assert "Compiling serde_derive 1." in progress and "/" in progress.partition("Compiling serde_derive")[2]
    assert view is None or json_body(view) == {"hello": "world", "count": 3}
    artifact = wagi_nb.build(source, "rust", dependencies=[line.split("'")[1], SERDE_JSON], line_offset=1)
    assert artifact.cached and json_body(artifact.run()) == {"hello": "world", "count": 3}


def test_one_dependency_set_compiles_its_crates_once(rust):
    dependency = 'form_urlencoded = "1"'
    first_source = ('fn main() {\n    let q = std::env::var("QUERY_STRING").unwrap_or_default();\n'
                    '    for (k, v) in form_urlencoded::parse(q.as_bytes()) { println!("{}={}", k, v); }\n}\n')
    second_source = first_source.replace('"{}={}"', '"{} is {}"')
    first, first_status = statuses(wagi_nb.build, first_source, "rust", dependencies=[dependency])
    second, second_status = statuses(wagi_nb.build, second_source, "rust", dependencies=[dependency])
    first_crates = compiled_crates("\n".join(first_status))
    assert "form_urlencoded" in first_crates and "percent-encoding" in first_crates and first_crates[-1] == "cell"
    assert first_status[-1].endswith(f"({len(first_crates)}/{len(first_crates)})")
    assert compiled_crates("\n".join(second_status)) == ["cell"]
    env = {"QUERY_STRING": "a=1&b=x%20y"}
    assert first.run(env=env).text == "a=1\nb=x y\n" and second.run(env=env).text == "a is 1\nb is x y\n"
    again, again_status = statuses(wagi_nb.build, second_source, "rust", dependencies=[dependency])
    assert again.cached and again_status == []  # an unchanged re-run starts no Cargo
    rebuilt, rebuilt_status = statuses(wagi_nb.build, second_source, "rust", dependencies=[dependency],
                                       force=True)
    assert not rebuilt.cached and compiled_crates("\n".join(rebuilt_status)) == ["cell"]


def test_the_lock_is_kept_and_update_resolves_again(rust):
    source = 'fn main() {\n    let mut b = itoa::Buffer::new();\n    println!("{}", b.format(42));\n}\n'
    built = wagi_nb.build(source, "rust", dependencies=['itoa = "1"'])
    assert built.run().text == "42\n" and 'name = "itoa"' in built.project_files["Cargo.lock"]
    lock = Cargo(rust.path, rust.target).dependency_folder({"itoa": "1"}, rust.identity) / "Cargo.lock"
    kept = lock.read_text()
    # The registry moved on (an apt upgrade replaced the crate): the kept lock names a version gone.
    locked = next(line for line in kept.split("[[package]]") if 'name = "itoa"' in line)
    version = locked.split('version = "')[1].split('"')[0]
    lock.write_text(kept.replace(f'version = "{version}"', 'version = "1.0.0-gone"'))
    with pytest.raises(wagi_nb.CompileError) as caught:
        wagi_nb.build(source, "rust", dependencies=['itoa = "1"'])
    assert "Cargo.lock needs to be updated" in caught.value.diagnostics  # Cargo's words, then ours:
    assert "Run the cell again with --update" in caught.value.diagnostics
    assert "wagi_nb-build-" not in caught.value.diagnostics
    updated = wagi_nb.build(source, "rust", dependencies=['itoa = "1"'], update=True)
    assert updated.run().text == "42\n" and lock.read_text() == kept and updated.key == built.key


def test_a_crate_that_is_not_there_gets_cargo_s_words_and_what_to_do(rust):
    with pytest.raises(wagi_nb.CompileError) as caught:
        wagi_nb.build(JSON_HANDLER, "rust", dependencies=['wagi_nb_no_such_crate = "1"'])
    words = caught.value.diagnostics
    assert "no matching package named `wagi_nb_no_such_crate`" in words
    assert "Cargo could not resolve this cell's dependencies (wagi_nb_no_such_crate)" in words
    assert "librust-" in words and "WAGI_NB_CARGO_SOURCE=crates-io" in words
    assert "wagi_nb-resolve-" not in words


def test_a_registry_cargo_cannot_reach_is_named_with_what_to_do(rust, tmp_path, monkeypatch):
    # The user's own Cargo configuration, followed: here a mirror that does not answer.
    (tmp_path / "config.toml").write_text('[source.crates-io]\nreplace-with = "mirror"\n'
                                          '[source.mirror]\nregistry = "https://127.0.0.1:9/index"\n'
                                          '[net]\nretry = 0\n')
    monkeypatch.setenv("CARGO_HOME", str(tmp_path))
    monkeypatch.setenv("WAGI_NB_CARGO_SOURCE", "crates-io")
    with pytest.raises(wagi_nb.CompileError) as caught:
        wagi_nb.build(JSON_HANDLER, "rust", dependencies=['itoa = "1"'])
    assert "127.0.0.1:9" in caught.value.diagnostics
    assert "Cargo could not reach its registry" in caught.value.diagnostics


def test_warnings_of_a_dependency_cell_point_at_the_notebook_s_line(rust):
    source = 'fn main() {\n    let unused = 1;\n    println!("{}", itoa::Buffer::new().format(7));\n}\n'
    built = wagi_nb.build(source, "rust", dependencies=['itoa = "1"'], line_offset=1)
    assert built.run().text == "7\n"
    assert "unused variable: `unused`" in built.warnings and "cell.rs:3:9" in built.warnings


@pytest.mark.parametrize("spec", ["serde_json", 'serde_json = "1"\nitoa = "1"', "= 1"])
def test_a_dep_that_is_not_one_manifest_line_says_what_one_looks_like(rust, ipython_shell, spec):
    with pytest.raises(wagi_nb.WagiNbError) as caught:  # (shown as its message, no traceback)
        ipython_shell.run_cell_magic("wasm_rust", f"--dep '{spec}'", JSON_HANDLER)
    assert "--dep expects one `name = spec` line of a Cargo manifest" in str(caught.value)


@pytest.mark.parametrize("spec, said", [
    ("serde = 1979-05-27", "is not a version or a table of Cargo's keys (it is a TOML date)"),
    ("serde = { version = 1979-05-27 }", "(it is a table holding a TOML date)"),
    ("serde = { features = [[1]] }", "(it is a table holding an array that is not all strings)"),
    ("serde = 3", "(it is a number)"),
    ("serde = " + "[" * 3000 + "]" * 3000, "--dep expects one `name = spec` line"),
])
def test_a_dep_that_toml_reads_but_cargo_would_not_is_one_line(rust, ipython_shell, spec, said):
    """A TOML date, or arrays 3,000 deep, gave a traceback (from the JSON of the cache key, from the
    TOML parser's recursion): each is the one-line error of any bad spec, as --dep and as a manifest."""
    with pytest.raises(wagi_nb.WagiNbError) as caught:
        ipython_shell.run_cell_magic("wasm_rust", f"--dep '{spec}'", JSON_HANDLER)
    assert said in str(caught.value) and len(str(caught.value)) < 400
    in_manifest = f"---\n[dependencies]\n{spec}\n---\n" + JSON_HANDLER
    with pytest.raises(wagi_nb.WagiNbError) as caught:
        ipython_shell.run_cell_magic("wasm_rust", "", in_manifest)
    assert "is not a version or a table" in str(caught.value) or "nests arrays or tables" in str(caught.value)


def test_an_unclosed_manifest_says_where_it_opened(rust, ipython_shell):
    with pytest.raises(wagi_nb.WagiNbError) as caught:
        ipython_shell.run_cell_magic("wasm_rust", "", "\n---\n[dependencies]\nitoa = '1'\nfn main() {}\n")
    assert "opens a Cargo manifest with `---` on line 3 but never closes it" in str(caught.value)


def test_an_error_in_a_dependency_cell_is_shown_at_the_notebook_s_line(rust, ipython_shell):
    source = FRONTMATTER + ('fn main() {\n    let v: serde_json::Value = serde_json::from_str("{}").unwrap();\n'
                            '    println!("{}", v.no_such_method());\n}\n')
    with pytest.raises(wagi_nb.CompileError) as caught:
        with capture_output():
            ipython_shell.run_cell_magic("wasm_rust", "", source)
    # Line 1 is %%wasm_rust, lines 2-5 the manifest, the call on line 8.
    assert "cell.rs:8:" in caught.value.diagnostics, caught.value.diagnostics
    assert "no_such_method" in caught.value.diagnostics
    assert "Compiling" not in caught.value.diagnostics and "wagi_nb-build-" not in caught.value.diagnostics


def test_cargo_is_the_one_beside_the_rustc(rust):
    setup = Cargo(rust.path, rust.target)
    assert os.path.dirname(os.path.realpath(setup.path)) == os.path.dirname(os.path.realpath(rust.path))
    assert setup.environment()["RUSTC"] == rust.path
    on_path = shutil.which("cargo")
    if on_path and os.path.realpath(on_path) != os.path.realpath(setup.path):  # rustup's first on PATH
        assert setup.version != subprocess.run([on_path, "--version"], capture_output=True,
                                               text=True).stdout.strip()


def test_a_rustc_without_a_cargo_beside_it_says_how_to_get_one(tmp_path):
    (tmp_path / "rustc").write_text("#!/bin/sh\nexit 0\n")
    (tmp_path / "rustc").chmod(0o755)
    assert paired_cargo(str(tmp_path / "rustc")) is None
    with pytest.raises(wagi_nb.WagiNbError, match="there is no cargo beside .* Install it: apt-get install cargo"):
        Cargo(str(tmp_path / "rustc"), "wasm32-wasi")


# -- an existing crate: %wasm_cargo -------------------------------------------------------------------
HELLO_HANDLER = ('fn main() {\n    println!("Content-Type: text/plain\\n");\n'
                 '    println!("Hello from a crate, {}", std::env::var("PATH_INFO").unwrap_or_default());\n}\n')


@pytest.fixture()
def logging_cargo(rust, tmp_path_factory):
    """Rust set to a rustc beside a ``cargo`` that logs every call but ``--version``, then runs the
    real one (conftest puts the compiler back): ``logging_cargo()`` → the calls so far ("build ...")."""
    folder = tmp_path_factory.mktemp("logging-cargo")
    log = folder / "cargo.log"
    (folder / "rustc").symlink_to(os.path.realpath(rust.path))
    (folder / "cargo").write_text(f'#!/bin/sh\n[ "$1" = --version ] || echo "$*" >> "{log}"\n'
                                  f'exec "{paired_cargo(rust.path)}" "$@"\n')
    (folder / "cargo").chmod(0o755)
    wagi_nb.set_compiler("rust", str(folder / "rustc"))
    return lambda: log.read_text().splitlines() if log.exists() else []


def test_a_new_crate_is_a_wagi_handler_that_routes_as_tutorial_02_says(rust, ipython_shell, tmp_path,
                                                                         monkeypatch):
    monkeypatch.chdir(tmp_path)
    with capture_output() as made:
        ipython_shell.run_line_magic("wasm_cargo", "--new hello-rust")
    assert "Build and run it with: %wasm_cargo hello-rust" in made.stdout
    assert "%wasm_cargo hello-rust --route /hello-rust" in made.stdout
    crate = tmp_path / "hello-rust"
    assert tomllib.loads((crate / "Cargo.toml").read_text())["package"]["name"] == "hello-rust"
    assert "Wagi handler" in (crate / "src" / "main.rs").read_text()
    with capture_output():
        ipython_shell.run_line_magic("wasm_cargo", "hello-rust --route /hello -n hello")
    response = app.request("GET", "/hello")
    assert (response.status, response.content_type, response.text) == (200, "text/plain", "Hello, world!\n")
    # Built as a cell is: release, without the standard library's debug info (Cargo's own release
    # profile keeps it: 5.8 MB, where the cell's is 95 KB).
    cell = wagi_nb.build((crate / "src" / "main.rs").read_text(), "rust")
    assert wagi_nb.modules["hello"].size < 300_000 and cell.size < 300_000
    with capture_output():
        view = ipython_shell.run_line_magic("wasm_cargo", "hello-rust")
    assert view is None or view.text == "Content-Type: text/plain\n\nHello, world!\n"


def test_any_crate_is_built_without_debug_info_unless_it_asks_for_it(rust, tmp_path):
    cargo = Cargo(rust.path, rust.target)
    for name in ("plain", "with-debug"):  # as `cargo new` makes them, not %wasm_cargo --new
        assert cargo.run("new", tmp_path, "--bin", "--vcs", "none", name)[0] == 0
    with open(tmp_path / "with-debug" / "Cargo.toml", "a") as manifest:
        manifest.write("\n[profile.release]\ndebug = true\n")
    plain, with_debug = (wagi_nb.build_crate(tmp_path / name) for name in ("plain", "with-debug"))
    assert plain.size < 300_000 < with_debug.size
    assert plain.run().text == with_debug.run().text == "Hello, world!\n"


def test_an_unchanged_crate_runs_again_without_cargo_and_an_edit_rebuilds(logging_cargo, ipython_shell,
                                                                           tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with capture_output():
        ipython_shell.run_line_magic("wasm_cargo", "--new hello-rust")
        ipython_shell.run_line_magic("wasm_cargo", "hello-rust --route /hello")
    calls = logging_cargo()
    assert [call.split()[0] for call in calls] == ["new", "build"]
    with capture_output():
        ipython_shell.run_line_magic("wasm_cargo", "hello-rust --route /hello")
    assert logging_cargo() == calls, "an unchanged crate must not start Cargo"
    assert app.request("GET", "/hello").text == "Hello, world!\n"
    main = tmp_path / "hello-rust" / "src" / "main.rs"
    main.write_text(HELLO_HANDLER)
    with capture_output():
        ipython_shell.run_line_magic("wasm_cargo", "hello-rust --route /hello/...")
    assert [call.split()[0] for call in logging_cargo()[len(calls):]] == ["build"]
    response = app.request("GET", "/hello/there")
    assert (response.status, response.text) == (200, "Hello from a crate, /there\n")


def test_a_file_the_crate_includes_from_outside_src_is_part_of_the_key(rust, logging_cargo, tmp_path):
    crate = tmp_path / "page"
    assert Cargo(rust.path, rust.target).run("new", tmp_path, "--bin", "--vcs", "none", "page")[0] == 0
    (crate / "page.html").write_text("<p>first</p>\n")
    (crate / "src" / "main.rs").write_text('fn main() {\n    println!("Content-Type: text/html\\n");\n'
                                           '    print!("{}", include_str!("../page.html"));\n}\n')
    first = wagi_nb.build_crate(crate)
    builds = len(logging_cargo())
    again = wagi_nb.build_crate(crate)
    assert again.cached and again.key == first.key and len(logging_cargo()) == builds
    (crate / "page.html").write_text("<p>second</p>\n")
    edited = wagi_nb.build_crate(crate)
    assert not edited.cached and len(logging_cargo()) == builds + 1
    assert edited.run().text == "Content-Type: text/html\n\n<p>second</p>\n"


def test_new_refuses_a_path_that_is_taken_and_changes_nothing(rust, ipython_shell, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with capture_output():
        ipython_shell.run_line_magic("wasm_cargo", "--new hello-rust")
    main = tmp_path / "hello-rust" / "src" / "main.rs"
    main.write_text(HELLO_HANDLER)
    with pytest.raises(Exception, match=r"^hello-rust is already a Cargo crate, so --new made nothing and "
                                        r"changed nothing there: build it with %wasm_cargo hello-rust"):
        ipython_shell.run_line_magic("wasm_cargo", "--new hello-rust")
    assert main.read_text() == HELLO_HANDLER
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "todo.txt").write_text("keep\n")
    with pytest.raises(Exception, match=r"^notes is already a folder, so --new made nothing"):
        ipython_shell.run_line_magic("wasm_cargo", "--new notes")
    assert os.listdir(tmp_path / "notes") == ["todo.txt"]


def test_wasm_cargo_without_a_crate_says_what_it_needs(rust, ipython_shell, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(Exception, match="is not a Cargo crate .no Cargo.toml there"):
        ipython_shell.run_line_magic("wasm_cargo", "nowhere")
    with pytest.raises(Exception, match="needs the crate's folder"):
        ipython_shell.run_line_magic("wasm_cargo", "")


@pytest.mark.parametrize("line", ["nowhere", "--no-such-flag", "nowhere --timeout soon", "--new a b", ""])
def test_wasm_cargo_errors_name_the_line_magic(ipython_shell, tmp_path, monkeypatch, line):
    monkeypatch.chdir(tmp_path)  # (`nowhere` is not a crate: no Rust is needed to say so)
    with pytest.raises(Exception) as caught:
        ipython_shell.run_line_magic("wasm_cargo", line)
    message = str(caught.value)
    assert "%wasm_cargo" in message and "%%wasm_cargo" not in message, message


# -- headless build and export ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def cargo_notebook(need_toolchain, tmp_path_factory):
    info = need_toolchain("rust")
    folder = tmp_path_factory.mktemp("cargo-export")
    Cargo(info.path, info.target).new_crate(folder / "hello-rust")
    (folder / "hello-rust" / "src" / "main.rs").write_text(HELLO_HANDLER)
    # as a plain `cargo new` leaves it: no release profile of its own (the notebook's build strips it)
    manifest = folder / "hello-rust" / "Cargo.toml"
    manifest.write_text(manifest.read_text().replace(RELEASE_PROFILE, ""))
    cells = [new_code_cell("%wasm_cargo hello-rust --route /hello/..."),
             new_code_cell(f"%%wasm_rust --route /api\n{FRONTMATTER}{JSON_HANDLER}")]
    notebook = folder / "cargo.ipynb"
    nbformat.write(new_notebook(cells=cells), str(notebook))
    return folder, notebook


def answers(port) -> dict:
    found = {}
    for target in ("/hello/x", "/api?a=1"):
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        connection.request("GET", target)
        reply = connection.getresponse()
        found[target] = (reply.status, reply.getheader("Content-Type"), reply.read())
        connection.close()
    return found


def test_wagi_nb_build_and_serve_understand_wasm_cargo(cargo_notebook, tmp_path):
    folder, notebook = cargo_notebook
    done = run_cli("build", notebook, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    with serving("--notebook", notebook, cwd=tmp_path, log=tmp_path / "serve.log") as port:
        served = answers(port)
    assert served["/hello/x"] == (200, "text/plain", b"Hello from a crate, /x\n")
    assert json.loads(served["/api?a=1"][2]) == {"query": "a=1", "method": "GET"}


def test_the_export_writes_crates_that_cargo_rebuilds(cargo_notebook, tmp_path):
    folder, notebook = cargo_notebook
    done = run_cli("export", notebook, folder / "app", cwd=folder)
    assert done.returncode == 0, done.stderr
    previews = WagiApp()
    load_notebook_routes(previews, notebook)
    expected = {target: previews.request("GET", target) for target in ("/hello/x", "/api?a=1")}
    copy = tmp_path / "app"
    shutil.copytree(folder / "app", copy)
    manifest = tomllib.loads((copy / "spin.toml").read_text())
    builds = {cid: c["build"] for cid, c in manifest["component"].items() if "build" in c}
    assert len(builds) == 2 and all("cargo build --release --target wasm32-" in b["command"]
                                    for b in builds.values())
    crates = [copy / b["workdir"] for b in builds.values()]
    for crate in crates:
        assert (crate / "Cargo.toml").is_file() and (crate / "src" / "main.rs").is_file()
        assert not (crate / "target").exists()
    cell_crate = next(c for c in crates if "serde_json" in (c / "Cargo.toml").read_text())
    assert 'name = "serde_json"' in (cell_crate / "Cargo.lock").read_text()  # the lock the cell built with
    for cid, build in builds.items():
        module = copy / manifest["component"][cid]["source"]
        exported = module.stat().st_size
        module.unlink()
        rebuilt = subprocess.run(["bash", "-c", build["command"]], cwd=copy / build["workdir"],
                                 env=child_env(), capture_output=True, text=True, timeout=600)
        assert rebuilt.returncode == 0, (cid, build, rebuilt.stdout[-2000:], rebuilt.stderr[-2000:])
        # built with the notebook's release profile (stripped), not Cargo's default (5.8 MB for 95 KB)
        assert module.stat().st_size < 2 * exported, (cid, exported, module.stat().st_size)
    with serving("-c", copy / "modules.toml", cwd=copy, log=tmp_path / "serve.log",
                 env=child_env(WAGI_NB_CACHE_DIR=str(tmp_path / "fresh-cache"))) as port:
        served = answers(port)
    for target, preview in expected.items():
        assert served[target] == (preview.status, preview.content_type, preview.body), target
