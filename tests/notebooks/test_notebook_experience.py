"""What a notebook user sees of a cell, outside the browser: a failing module fails the cell, compiler
warnings are shown, who holds a busy port, untrusted and saved fallbacks, binary raw output, ANSI
colours, the result of a slow build, the widget's Enter key, the tutorials' metadata, usage lines.
(What needs a browser to be seen is in tests/browser/.)"""
from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest
from IPython.utils.capture import capture_output

import wagi_nb
from wagi_nb.display import ResponseView, RunView
from wagi_nb.errors import ModuleFailed
from wagi_nb.wagi import app
from wagi_nb.wagi.response import parse_cgi_output

from helpers import REPO
from helpers.kernels import iopub_of, live_kernel, run_cell, text_of
from helpers.subprocesses import serving
from helpers.unavailable import need_module

TRAP_WAT = '(module (func (export "_start") unreachable))\n'
WARNING_RUST = 'fn main() {\n    let unused = 5;\n    println!("hi");\n}\n'


@pytest.fixture
def shell(ipython_shell):
    app.clear()
    yield ipython_shell
    app.clear()


def run(shell, source: str):
    """Run a cell as the kernel does (the result, with what it displayed)."""
    with capture_output() as captured:
        result = shell.run_cell(source, store_history=True)
    return result, captured


# -- 3. a module that fails fails the cell -----------------------------------------------------------
@pytest.mark.parametrize("body, needle", [
    (TRAP_WAT, "trap: wasm `unreachable`"),
    (None, "exit status 3"),
])
def test_a_failing_module_fails_the_cell_after_showing_it(shell, wat, body, needle):
    body = body or wat.program((1, b"partial\n"), exit_code=3)
    result, captured = run(shell, "%%wasm_wat\n" + body)
    assert isinstance(result.error_in_exec, ModuleFailed)
    assert needle in str(result.error_in_exec) and "--no-raise-error" in str(result.error_in_exec)
    shown = "".join(output.data.get("text/plain", "") for output in captured.outputs)
    assert needle in shown  # the view is shown before the cell fails
    assert result.error_in_exec._render_traceback_() == [f"ModuleFailed: {result.error_in_exec}"]


def test_no_raise_error_and_the_setting_show_a_failure_without_failing(shell):
    result, _ = run(shell, "%%wasm_wat --no-raise-error\n" + TRAP_WAT)
    assert result.error_in_exec is None and not result.result.result.ok
    shell.run_line_magic("config", "WasmMagics.raise_on_error = False")
    try:
        result, _ = run(shell, "%%wasm_wat\n" + TRAP_WAT)
    finally:
        shell.run_line_magic("config", "WasmMagics.raise_on_error = True")
    assert result.error_in_exec is None


def test_a_route_whose_module_fails_fails_the_cell_and_stays_served(shell, wat):
    result, _ = run(shell, "%%wasm_wat --route /bad\n" + wat.program((1, b"no blank line\n")))
    assert isinstance(result.error_in_exec, ModuleFailed)
    assert "wagi_nb answered 500" in str(result.error_in_exec)
    assert "/bad" in app.routes()  # registered all the same: fix it and re-run
    ok, _ = run(shell, "%%wasm_wat --route /bad\n" + wat.program((1, b"Content-Type: text/plain\n\nok\n")))
    assert ok.error_in_exec is None and ok.result.status == 200


def test_run_all_stops_at_a_failing_module_with_no_python_traceback(kernelspec_dir, python_env, tmp_path):
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError
    from nbformat.v4 import new_code_cell, new_notebook
    notebook = new_notebook(cells=[new_code_cell("%load_ext wagi_nb"), new_code_cell("%%wasm_wat\n" + TRAP_WAT),
                                   new_code_cell("print('after')")])
    client = NotebookClient(notebook, kernel_name="python3", timeout=120,
                            resources={"metadata": {"path": str(tmp_path)}})
    mp = pytest.MonkeyPatch()
    mp.setenv("JUPYTER_PATH", str(kernelspec_dir))
    try:
        with pytest.raises(CellExecutionError) as caught:
            client.execute(env=python_env(JUPYTER_PATH=kernelspec_dir))
    finally:
        mp.undo()
    assert "ModuleFailed: The module failed (trap" in str(caught.value)
    assert "Traceback (most recent call last)" not in str(caught.value)
    assert notebook.cells[2].outputs == []  # Run All stopped there


# -- 2. cell numbers under IPython 9 ------------------------------------------------------------------
def test_messages_name_the_cells_by_their_own_numbers(kernelspec_dir, python_env, tmp_path, wat):
    hello = wat.program((1, b"Content-Type: text/plain\n\nhi\n"))
    other = wat.program((1, b"Content-Type: text/plain\n\nho\n"))  # (the same text would be a re-run)
    with live_kernel(kernelspec_dir, python_env(JUPYTER_PATH=kernelspec_dir), tmp_path) as client:
        run_cell(client, "%load_ext wagi_nb")
        first = run_cell(client, "%%wasm_wat --route /n\n" + hello)
        second = run_cell(client, "%%wasm_wat --route /n\n" + other)
        routes = run_cell(client, "%wagi_routes")
    one, two = first.execution_count, second.execution_count
    assert f"Route /n now served by cell [{two}] (replacing cell [{one}])." in text_of(second)
    assert f"cell [{two}]" in text_of(routes)


# -- issue 25, 7: re-running a route cell does not say it replaces itself ------------------------------
def test_re_running_a_route_cell_does_not_say_it_replaces_itself(shell, wat):
    def route_cell(body: bytes, cell_id=None) -> str:
        """What the cell printed above its result."""
        source = "%%wasm_wat --route /again\n" + wat.program((1, b"Content-Type: text/plain\n\n" + body))
        with capture_output() as shown:
            result = shell.run_cell(source, store_history=True, cell_id=cell_id)
        assert result.error_in_exec is None
        return shown.stdout.partition("Out[")[0]

    # JupyterLab sends the cell's id: an edited and re-run cell is the same cell, another cell is not.
    route_cell(b"one\n", cell_id="cell-a")
    assert route_cell(b"one, edited\n", cell_id="cell-a") == ""
    other = route_cell(b"two\n", cell_id="cell-b")
    assert re.fullmatch(r"Route /again now served by cell \[\d+\] \(replacing cell \[\d+\]\)\.\n", other), other
    # A front end that sends no id (nbclient, the classic Notebook): the same text is a re-run.
    route_cell(b"three\n")
    assert route_cell(b"three\n") == ""
    assert "(replacing cell [" in route_cell(b"four\n")


# -- 4. compiler warnings ----------------------------------------------------------------------------
def test_compiler_warnings_are_shown_folded_at_the_notebook_s_line(shell, need_toolchain):
    need_toolchain("rust")
    result, _ = run(shell, "%%wasm_rust\n" + WARNING_RUST)
    page = result.result._repr_html_()
    assert re.search(r"<details><summary[^>]*>Compiler warnings \(1\)</summary>", page)
    assert "cell.rs:3:9" in page and "unused variable" in page  # line 3 of the cell, counting %%
    assert "--- compiler warnings (1) ---" in repr(result.result)
    routed, _ = run(shell, "%%wasm_rust --route /w\n" + WARNING_RUST.replace(
        'println!("hi")', 'println!("Content-Type: text/plain\\n\\nhi")'))
    assert "Compiler warnings (1)" in routed.result._repr_html_()
    assert "Header warnings" not in routed.result._repr_html_()  # nothing to say about headers


# -- 5. who holds the port ---------------------------------------------------------------------------
def test_a_port_held_by_wagi_nb_serve_is_named(shell, wat, tmp_path):
    (tmp_path / "hello.wat").write_text(wat.program((1, b"Content-Type: text/plain\n\nhi\n")))
    (tmp_path / "modules.toml").write_text('[[module]]\nroute = "/"\nmodule = "hello.wat"\n')
    with serving("-c", "modules.toml", cwd=tmp_path, log=tmp_path / "serve.log") as port:
        with pytest.raises(wagi_nb.server.ListenError) as caught:
            shell.run_line_magic("wagi_serve", f"--port {port}")
        assert wagi_nb.server.free_port(port) != port
    assert re.search(rf"Port {port} on 127.0.0.1 is already in use by another wagi-nb server: a "
                     r"`wagi-nb serve` \(pid \d+\)", str(caught.value)), caught.value


def test_a_port_held_by_another_notebook_s_server_is_named(shell, kernelspec_dir, python_env, tmp_path):
    port = wagi_nb.server.free_port(3400)
    with live_kernel(kernelspec_dir, python_env(JUPYTER_PATH=kernelspec_dir), tmp_path) as client:
        run_cell(client, "%load_ext wagi_nb")
        run_cell(client, f"%wagi_serve --port {port}")
        with pytest.raises(wagi_nb.server.ListenError) as caught:
            shell.run_line_magic("wagi_serve", f"--port {port}")
        assert wagi_nb.server.free_port(port) > port
    assert "the %wagi_serve of another notebook's kernel (pid" in str(caught.value)
    assert "%wagi_stop in that notebook" in str(caught.value)


def test_a_port_held_by_another_program_says_so(shell):
    import socket
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen()
    port = holder.getsockname()[1]
    try:
        with pytest.raises(wagi_nb.server.ListenError) as caught:
            shell.run_line_magic("wagi_serve", f"--port {port}")
    finally:
        holder.close()
    assert "already in use by another program" in str(caught.value)


# -- 6. untrusted and saved fallbacks ----------------------------------------------------------------
def test_a_saved_preview_widget_falls_back_to_the_response_as_text(shell, wat):
    run(shell, "%%wasm_wat --route /p --no-run\n" + wat.program((1, b"Content-Type: text/plain\n\npreviewed\n")))
    from wagi_nb.magics.routes import live_preview
    from wagi_nb.wagi import Request
    widget = live_preview("/p", Request.parse_line("GET /p"))
    bundle = widget._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle
    text = bundle["text/plain"]
    assert "RoutePreviewWidget(" not in text
    assert "Live preview of GET /p (route /p)" in text and "HTTP 200 OK" in text and "previewed" in text
    widget.close()


# -- 10. the preview's Enter key ---------------------------------------------------------------------
def test_enter_in_the_preview_s_path_box_sends(shell, env_module):
    app.add_route("/e/...", env_module)
    from wagi_nb.magics.routes import live_preview
    from wagi_nb.wagi import Request
    widget = live_preview("/e/...", Request.parse_line("GET /e/one"))
    sends = widget.preview.sends
    assert widget.target.continuous_update is False  # the value arrives on Enter, not per key
    widget.target.value = "/e/two?x=1"  # what the browser sends when Enter is pressed
    assert widget.preview.sends == sends + 1 and "/e/two" in widget.output.value
    widget.close()


# -- 9. binary raw output, ANSI, the 404 ------------------------------------------------------------
def test_a_binary_body_s_raw_output_is_headers_and_a_hex_dump():
    png = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 180
    response = parse_cgi_output(b"Content-Type: image/png\n\n" + png)
    page = ResponseView(response)._repr_html_()
    raw = page.split("Raw CGI output</summary>", 1)[1]
    assert "Content-Type: image/png" in raw and f"&lt;{len(png):,} bytes of image/png&gt;" in raw
    assert "\ufffd" not in page and "00000000  89 50 4e 47" in raw
    assert len(page) < len(png) * 2  # the image inline once, not thousands of replacement characters


def test_ansi_colours_in_module_output_are_drawn(shell, wat):
    result, _ = run(shell, "%%wasm_wat\n" + wat.program((1, b"\x1b[31mred\x1b[0m plain\n"),
                                                       (2, b"\x1b[1;33mwarn\x1b[0m\n")))
    page = result.result._repr_html_()
    assert "\x1b" not in page
    assert '<span style="color:var(--jp-ansi-red, #e75c58)">red</span> plain' in page
    assert '<span style="font-weight:bold;color:var(--jp-ansi-yellow, #ddb62b)">warn</span>' in page


def test_the_no_route_404_says_it_once():
    page = ResponseView(app.request("GET", "/nowhere"), routes=app.routes())._repr_html_()
    assert page.count("No route matches /nowhere") == 1


def test_the_404_lists_the_notebook_s_routes_without_the_server_s_healthz(shell, wat):
    hello = wat.program((1, b"Content-Type: text/plain\n\nhi\n"))
    run(shell, "%%wasm_wat --route /mine\n" + hello)
    result, _ = run(shell, "%wagi_request GET /nowhere")
    view = result.result
    assert "No route matches /nowhere. Routes: /mine" in repr(view)
    assert "/healthz" not in repr(view) and "/healthz" not in view._repr_html_()
    routed, _ = run(shell, "%%wasm_wat --route /mine --request 'GET /elsewhere'\n" + hello)
    assert "Routes: /mine" in repr(routed.result) and "/healthz" not in repr(routed.result)
    assert app.request("GET", "/healthz").status == 200  # it still answers


# -- 10. a slow build still gives Out[n] and _ ---------------------------------------------------------
def test_a_build_slow_enough_for_the_status_line_still_returns_its_result(shell, logging_rustc, monkeypatch):
    wrapper, _ = logging_rustc
    monkeypatch.setenv("WRAP_DELAY", "0.8")  # a compile past the status line's half second
    wagi_nb.set_compiler("rust", str(wrapper))
    result, captured = run(shell, "%%wasm_rust --force\n" + WARNING_RUST)
    assert isinstance(result.result, RunView) and shell.user_ns["_"] is result.result
    assert any("Compiling with" in output.data.get("text/plain", "") for output in captured.outputs), \
        [output.data for output in captured.outputs]


# -- issue 25, 1: the first use of a language says what it does, and for how long ---------------------
def status_messages(messages: list) -> tuple:
    """(the status line's messages, in order: its display and its updates; the message index of the
    result): the status line is the first display with an id; the result the execute_result."""
    shown = [m for m in messages if m["msg_type"] == "display_data" and m["content"]["transient"].get("display_id")]
    assert shown, [(m["msg_type"], m["content"]) for m in messages]
    display_id = shown[0]["content"]["transient"]["display_id"]
    status = [m for m in messages if m["msg_type"] in ("display_data", "update_display_data")
              and m["content"].get("transient", {}).get("display_id") == display_id]
    result = next(index for index, m in enumerate(messages) if m["msg_type"] == "execute_result")
    return status, result


def texts_of(status: list) -> list:
    return [m["content"]["data"].get("text/plain", "") for m in status]


def test_a_first_python_cell_shows_the_interpreter_s_compile_until_its_result(kernelspec_dir, python_env,
                                                                              tmp_path, need_toolchain):
    need_toolchain("python")
    cell = "%%wasm_python\nprint('compiled at last')\n"
    # In the first kernel the cell's build (its syntax check) compiles the interpreter; in the second,
    # with the build cached, its run does.
    for native in ("native-1", "native-2"):
        env = python_env(JUPYTER_PATH=kernelspec_dir, WAGI_NB_CACHE_DIR=tmp_path / "cache",
                         WAGI_NB_NATIVE_CACHE_DIR=tmp_path / native)  # empty: the first use
        with live_kernel(kernelspec_dir, env, tmp_path) as client:
            run_cell(client, "%load_ext wagi_nb")
            messages = iopub_of(client, cell, after_idle=1.0)
        status, result = status_messages(messages)
        texts = texts_of(status)
        assert texts[0].startswith("Compiling the Python interpreter (") and \
            "MB) to native code (first use; later runs take a moment) … " in texts[0], texts
        # It kept counting while the compile held the cell's thread inside wasmtime.
        counted = [text for text in texts if text.startswith("Compiling the Python interpreter")]
        assert len(set(counted)) > 1 and all(re.search(r" … \d+\.\d s$", text) for text in counted), texts
        # Gone before the result, and nothing after it (the idle, and a second more).
        assert status[-1]["msg_type"] == "update_display_data" and texts[-1] == "", texts
        assert messages.index(status[-1]) < result
        assert messages.index(status[-1]) == max(messages.index(m) for m in status)
        outputs = "".join(m["content"].get("text", "") for m in messages if m["msg_type"] == "stream")
        assert "compiled at last" in outputs


def test_first_go_and_zig_builds_say_what_they_build_first(kernelspec_dir, python_env, tmp_path, need_toolchain):
    from helpers.language_samples import HELLO
    need_toolchain("go")
    need_toolchain("zig")
    env = python_env(JUPYTER_PATH=kernelspec_dir, WAGI_NB_CACHE_DIR=tmp_path / "cache",
                     GOCACHE=tmp_path / "go-build", ZIG_GLOBAL_CACHE_DIR=tmp_path / "zig-cache")
    with live_kernel(kernelspec_dir, env, tmp_path) as client:
        run_cell(client, "%load_ext wagi_nb")
        go = iopub_of(client, "%%wasm_go\n" + HELLO["go"], after_idle=1.0)
        zig = iopub_of(client, "%%wasm_zig\n" + HELLO["zig"], after_idle=1.0)
        again = iopub_of(client, "%%wasm_zig\n" + HELLO["zig"].replace("Hello", "Hi"))
    go_status, go_result = status_messages(go)
    go_texts = texts_of(go_status)
    assert any(re.fullmatch(r"Compiling with go\S+ … \d+\.\d s · building Go's standard library for wasip1 "
                            r"\(first build only\): [\w/]+", text) for text in go_texts), go_texts
    zig_status, zig_result = status_messages(zig)
    zig_texts = texts_of(zig_status)
    assert any(re.fullmatch(r"Compiling with zig \S+ … \d+\.\d s · building Zig's compiler_rt for wasm32-wasi "
                            r"\(first build only\)", text) for text in zig_texts), zig_texts
    for status, result, texts in ((go_status, go_result, go_texts), (zig_status, zig_result, zig_texts)):
        assert texts[-1] == "" and status[-1]["msg_type"] == "update_display_data"
        messages = go if status is go_status else zig
        assert messages.index(status[-1]) == max(messages.index(m) for m in status) < result
    # A later build finds them in Zig's cache and says nothing of them.
    assert not any("first build" in str(m["content"]) for m in again)


# -- 10. usage lines, messages, the tutorials' metadata -----------------------------------------------
def test_a_cell_magic_s_usage_line_has_two_percent_signs(shell):
    doc = shell.find_cell_magic("wasm_rust").__doc__
    assert doc.startswith("::\n\n  %%wasm_rust [-n NAME]")


def test_the_missing_zig_message_says_what_is_missing_once(tmp_path):
    # A machine without zig: no ziglang package (an empty one stands in) and no zig on PATH.
    import subprocess
    (tmp_path / "ziglang").mkdir()
    (tmp_path / "ziglang" / "__init__.py").write_text("")
    code = ("import wagi_nb.toolchains as t\n"
            "from wagi_nb.errors import ToolchainNotFound\n"
            "try:\n    t.require('zig')\nexcept ToolchainNotFound as e:\n    print(e)\n")
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": f"{tmp_path}:{Path(wagi_nb.__file__).parents[1]}",
           "WAGI_NB_CACHE_DIR": str(tmp_path / "cache")}
    message = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                             timeout=60).stdout
    assert message.startswith("No Zig compiler for wasm32-wasi was found. Neither the ziglang package "
                              "nor a `zig` on PATH is installed. Install one with:"), message
    assert "no zig found" not in message


def test_the_tutorials_store_the_language_info_the_kernel_reports():
    from ipykernel.ipkernel import IPythonKernel
    for path in sorted(REPO.glob("notebooks/0*.ipynb")):
        stored = json.loads(path.read_text())["metadata"]["language_info"]
        assert stored == IPythonKernel.language_info, path.name  # else JupyterLab marks it modified


# -- 13. a library cell ------------------------------------------------------------------------------
def test_a_cell_without_start_is_kept_and_lists_its_exports(shell):
    source = '(module (func (export "add") (param i32 i32) (result i32) local.get 0 local.get 1 i32.add))\n'
    result, _ = run(shell, "%%wasm_wat -n adder\n" + source)
    assert result.error_in_exec is None
    assert 'wagi_nb.modules["adder"].exports.NAME(...)' in repr(result.result)
    assert "add(i32, i32) -> i32" in repr(result.result)
    assert wagi_nb.modules["adder"].exports.add(2, 3) == 5


# -- 14. the proxy link outside JupyterHub -------------------------------------------------------------
def test_with_jupyter_server_proxy_the_link_goes_through_the_server_s_base_url(tmp_path, monkeypatch):
    import os

    from wagi_nb.server import BackgroundServer
    need_module("jupyter_server_proxy")
    monkeypatch.delenv("JUPYTERHUB_SERVICE_PREFIX", raising=False)
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(tmp_path))
    (tmp_path / "jpserver-1.json").write_text(json.dumps({"pid": os.getppid(), "base_url": "/lab-here/"}))
    server = BackgroundServer(app, port=0)
    try:
        assert server.proxy_url() == f"/lab-here/proxy/{server.port}/"
        from wagi_nb.display import ServerView
        page = ServerView(server.url, server.proxy_url(), "started", app.routes())._repr_html_()
        assert f"href='/lab-here/proxy/{server.port}/'" in page and f"href='{server.url}'" in page
        (tmp_path / "jpserver-1.json").unlink()
        assert server.proxy_url() == f"/proxy/{server.port}/"  # no server file: Jupyter at the root
    finally:
        server.stop()
