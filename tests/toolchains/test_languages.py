"""Every language of the registry passes the same tests: hello world, an error at the notebook's
line, a route reading the query, a header and a POST body, and an export that a fresh
``wagi-nb serve -c`` serves identically (its build commands rebuilding the modules). Real
compilers and interpreters throughout (tests/helpers/language_samples.py has the programs)."""
from __future__ import annotations

import shutil
import subprocess
import sys

import nbformat
import pytest
from IPython.utils.capture import capture_output
from nbformat.v4 import new_code_cell, new_notebook

import wagi_nb
from wagi_nb import toolchains
from wagi_nb.notebook import load_notebook_routes
from wagi_nb.wagi import WagiApp, app

from helpers import language_samples as samples
from helpers.subprocesses import child_env, serving
from helpers.subprocesses import wagi_nb_cli as run_cli

LANGUAGES = list(toolchains.TOOLCHAINS)
HANDLERS = list(samples.HANDLER)
REQUEST = dict(method="POST", target="/h?x=1&y=2", headers={"X-Agent": "tester"}, body="payload")

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


def answer(language: str) -> str:
    return f"{language} query=x=1&y=2 agent=tester body=payload\n"


@pytest.fixture(autouse=True)
def fresh_routes():
    app.clear()
    yield
    app.clear()


def test_the_registry_has_the_nine_languages():
    assert LANGUAGES == ["rust", "c", "cpp", "zig", "go", "assemblyscript", "wat", "python", "js"]
    assert set(samples.HELLO) == set(samples.BROKEN) == set(LANGUAGES)


@pytest.mark.parametrize("language", LANGUAGES)
def test_hello_world(need_toolchain, language):
    need_toolchain(language)
    result = wagi_nb.build(samples.HELLO[language], language=language, line_offset=1).run()
    assert (result.outcome, result.text) == ("ok", "Hello, world!\n"), result.stderr_text


@pytest.mark.parametrize("language", LANGUAGES)
def test_an_error_is_shown_at_the_notebook_s_line(need_toolchain, ipython_shell, language):
    need_toolchain(language)
    source, where = samples.BROKEN[language]
    with pytest.raises(wagi_nb.CompileError) as caught:
        with capture_output():
            ipython_shell.run_cell_magic(toolchains.get_toolchain(language).magic, "", source)
    assert where in caught.value.diagnostics, caught.value.diagnostics
    assert "/app/" not in caught.value.diagnostics  # the script folder, as the module saw it
    assert "wagi_nb-build-" not in caught.value.diagnostics and "wagi_nb-check-" not in caught.value.diagnostics


@pytest.mark.parametrize("language", HANDLERS)
def test_a_route_reads_the_query_a_header_and_the_body(need_toolchain, ipython_shell, language):
    need_toolchain(language)
    request = '--request "POST /h?x=1&y=2" --stdin payload'
    with capture_output():
        view = ipython_shell.run_cell_magic(toolchains.get_toolchain(language).magic,
                                            f"--route /h {request}", samples.HANDLER[language])
    assert view.status == 200 and view.text == f"{language} query=x=1&y=2 agent= body=payload\n"
    response = app.request(REQUEST["method"], REQUEST["target"], REQUEST["headers"], REQUEST["body"])
    assert (response.status, response.text) == (200, answer(language)), response.stderr_text


@pytest.mark.parametrize("language", ["python", "js"])
def test_an_interpreted_cell_is_a_cached_script_for_the_pinned_interpreter(need_toolchain, language):
    info = need_toolchain(language)
    first = wagi_nb.build(samples.HELLO[language], language=language)
    again = wagi_nb.build(samples.HELLO[language], language=language)
    assert again.cached and again.key == first.key
    assert str(first.wasm_path) == info.path and info.digest and first.toolchain["digest"] == info.digest
    script = first.script_dir / toolchains.get_toolchain(language).source_name
    assert script.read_text() == samples.HELLO[language]
    assert first.argv_template.endswith(f"/app/{script.name} ${{ARGS}}")


def test_an_interpreter_that_is_not_installed_says_how_to_install_it(tmp_path, monkeypatch):
    monkeypatch.setenv("WAGI_NB_QUICKJS_WASM", str(tmp_path / "no-such-qjs.wasm"))
    toolchains.refresh()
    try:
        with pytest.raises(wagi_nb.ToolchainNotFound) as caught:
            wagi_nb.build(samples.HELLO["js"], language="js")
    finally:
        monkeypatch.undo()
        toolchains.refresh()
    assert "no-such-qjs.wasm" in str(caught.value) and "wagi-nb install js" in str(caught.value)


def test_go_without_a_module_proxy_says_so(need_toolchain, monkeypatch):
    need_toolchain("go")
    monkeypatch.setenv("GOPROXY", "off")
    source = 'package main\n\nimport "example.invalid/greeting"\n\nfunc main() { greeting.Say() }\n'
    with pytest.raises(wagi_nb.CompileError) as caught:
        wagi_nb.build(source, language="go", force=True)
    assert "GOPROXY=off" in caught.value.diagnostics
    assert "Set GOPROXY to a module proxy" in caught.value.diagnostics


def test_flags_reach_the_compiler_and_the_cache_key(need_toolchain, ipython_shell):
    need_toolchain("c")
    source = '#include <stdio.h>\nint main(void) { printf("%d\\n", ANSWER); return 0; }\n'
    with capture_output():
        view = ipython_shell.run_cell_magic("wasm_c", "--flags '-DANSWER=42 -O1'", source)
    assert view.text == "42\n"
    plain = wagi_nb.build(source.replace("ANSWER", "7"), language="c")
    with_flags = wagi_nb.build(source, language="c", flags=["-DANSWER=1"])
    other_flags = wagi_nb.build(source, language="c", flags=["-DANSWER=2"])
    assert len({plain.key, with_flags.key, other_flags.key}) == 3
    assert (with_flags.run().text, other_flags.run().text) == ("1\n", "2\n")
    ipython_shell.run_line_magic("config", "WasmMagics.c_flags = '-DANSWER=5'")
    try:
        with capture_output():
            view = ipython_shell.run_cell_magic("wasm_c", "", source)
    finally:
        ipython_shell.run_line_magic("config", "WasmMagics.c_flags = ''")
    assert view.text == "5\n"
    with pytest.raises(wagi_nb.WagiNbError, match="take no compiler flags"):
        wagi_nb.build(samples.HELLO["wat"], language="wat", flags=["-x"])


# -- export ---------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def exported(need_toolchain, tmp_path_factory):
    for language in HANDLERS:
        need_toolchain(language)
    folder = tmp_path_factory.mktemp("languages-export")
    cells = [new_code_cell(f"%%{toolchains.get_toolchain(language).magic} --route /{language}\n"
                           + samples.HANDLER[language]) for language in HANDLERS]
    notebook = folder / "languages.ipynb"
    nbformat.write(new_notebook(cells=cells), str(notebook))
    done = run_cli("export", notebook, folder / "app", cwd=folder)
    assert done.returncode == 0, done.stderr
    previews = WagiApp()
    load_notebook_routes(previews, notebook)
    expected = {language: previews.request(REQUEST["method"], f"/{language}?x=1&y=2", REQUEST["headers"],
                                           REQUEST["body"]) for language in HANDLERS}
    assert all(response.text == answer(language) for language, response in expected.items())
    return folder, expected


def served_answers(folder, app_folder, log):
    import http.client
    answers = {}
    with serving("-c", app_folder / "modules.toml", cwd=folder, log=log,
                 env=child_env(WAGI_NB_CACHE_DIR=str(folder / "fresh-cache"))) as port:
        for language in HANDLERS:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            connection.request(REQUEST["method"], f"/{language}?x=1&y=2", body=REQUEST["body"],
                               headers=REQUEST["headers"])
            reply = connection.getresponse()
            answers[language] = (reply.status, reply.getheader("Content-Type"), reply.read())
            connection.close()
    return answers


def test_a_fresh_server_serves_the_export_as_the_notebook_did(exported):
    folder, expected = exported
    answers = served_answers(folder, folder / "app", folder / "serve.log")
    for language, preview in expected.items():
        assert answers[language] == (preview.status, preview.content_type, preview.body), language
    manifest = tomllib.loads((folder / "app" / "spin.toml").read_text())
    python = manifest["component"]["python"]
    assert python["source"] == "modules/python-3.12.0.wasm" and "build" not in python
    assert {"source": "files/python/app", "destination": "/app"} in python["files"]
    triggers = {t["route"]: t for t in manifest["trigger"]["http"]}
    assert triggers["/python"]["executor"]["argv"] == "python /app/cell.py ${ARGS}"
    assert triggers["/js"]["executor"]["argv"] == "qjs --std /app/cell.js ${ARGS}"
    assert (folder / "app" / "src" / "go" / "go.mod").is_file()
    assert manifest["component"]["go"]["build"]["workdir"] == "src/go"


@pytest.mark.network  # AssemblyScript's build command runs `npm install`
def test_the_export_s_build_commands_rebuild_the_compiled_languages(exported, tmp_path):
    folder, expected = exported
    copy = tmp_path / "app"
    shutil.copytree(folder / "app", copy)
    manifest = tomllib.loads((copy / "spin.toml").read_text())
    built = []
    for cid, component in manifest["component"].items():
        build = component.get("build")
        if not build:
            continue
        (copy / component["source"]).unlink()
        done = subprocess.run(["bash", "-c", build["command"]], cwd=copy / build.get("workdir", "."),
                              env=child_env(), capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, (cid, build, done.stdout[-2000:], done.stderr[-2000:])
        assert (copy / component["source"]).is_file(), cid
        built.append(cid)
    assert set(built) == {"rust", "c", "cpp", "zig", "go", "assemblyscript"}
    answers = served_answers(tmp_path, copy, tmp_path / "serve.log")
    for language, preview in expected.items():
        assert answers[language][2] == preview.body, language


def test_wagi_nb_install_reports_what_it_cannot_install(wagi_nb_cli):
    done = wagi_nb_cli("install", "rust")
    assert done.returncode == 2
    assert b"does not install Rust itself; it uses " in done.stderr
    assert b"wagi-nb install fetches: assemblyscript, python, js, component." in done.stderr
    assert b"Traceback" not in done.stderr
