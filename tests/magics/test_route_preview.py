"""The live route preview: request logic tested directly, the widget through button clicks."""

import pytest
from IPython.utils.capture import capture_output

import wagi_nb
from wagi_nb.wagi import WagiApp, app
from wagi_nb.wagi.preview import RequestPreview

PAGE = ('fn main() {{\n    println!("Content-Type: text/html");\n    println!();\n'
        '    println!("<h1>{}</h1>");\n}}\n')


@pytest.fixture(scope="module")
def ip(ipython_shell, need_toolchain):
    need_toolchain("rust")
    # Built up front, so that each test's cells run rather than compile.
    for heading in ("first", "second", "form"):
        wagi_nb.build(PAGE.format(heading), language="rust", line_offset=1)
    return ipython_shell


@pytest.fixture(autouse=True)
def fresh_routes():
    app.clear()
    yield
    app.clear()


def route_cell(ip, line, heading):
    with capture_output():
        return ip.run_cell_magic("wasm_rust", line, PAGE.format(heading))


def test_preview_resends_when_its_route_is_replaced(ip):
    local = WagiApp()
    local.add_route("/page", wagi_nb.build(PAGE.format("one"), language="rust"))
    preview = RequestPreview(local, "/page")
    seen = []
    preview.on_response.append(lambda p: seen.append(p.response.text))
    preview.watch()
    preview.send()
    local.add_route("/page", wagi_nb.build(PAGE.format("two"), language="rust"))
    local.add_route("/other", wagi_nb.build(PAGE.format("other"), language="rust"))
    assert seen == ["<h1>one</h1>\n", "<h1>two</h1>\n"]
    preview.unwatch()
    local.add_route("/page", wagi_nb.build(PAGE.format("three"), language="rust"))
    assert len(seen) == 2


def test_widget_updates_when_the_route_cell_is_rerun(ip):
    widget = route_cell(ip, "--route /page --preview", "first")
    assert widget.status.value.startswith("200 OK")
    assert "srcdoc" in widget.output.value and "first" in widget.output.value
    route_cell(ip, "--route /page", "second")
    assert "second" in widget.output.value and "first" not in widget.output.value
    widget.close()


def test_send_button_uses_the_form(ip):
    route_cell(ip, "--route /page", "form")
    widget = ip.run_line_magic("wagi_preview", "/page")
    widget.target.value = "/missing"
    widget.send_button.click()
    assert widget.status.value.startswith("404")
    widget.method.value = "POST"
    widget.target.value = "/page?x=1"
    widget.headers.value = "X-One: 1\nnot a header"
    widget.send_button.click()
    assert widget.status.value == "Request not sent" and "not a header" in widget.output.value
    # The error wraps at spaces, not mid-word as JupyterLab's <pre> would (word-break:break-all).
    assert "word-break:normal;overflow-wrap:anywhere" in widget.output.value
    assert "word-break:normal;overflow-wrap:anywhere" in widget.html_fallback()
    widget.headers.value = "X-One: 1"
    widget.send_button.click()
    assert widget.status.value.startswith("200") and widget.preview.response.request.method == "POST"
    widget.close()


def test_rerunning_a_preview_cell_replaces_its_preview(ip):
    widgets = [route_cell(ip, "--route /page --preview", "first") for _ in range(5)]
    runs = []
    app.listeners.append(lambda request, response: runs.append(request.target))
    try:
        route_cell(ip, "--route /page", "second")
    finally:
        app.listeners.pop()
    assert runs == ["/page", "/page"]  # the cell's own preview request, then the one live preview
    assert "second" in widgets[-1].output.value
    for old in widgets[:-1]:
        assert "no longer updates" in old.status.value and "second" not in old.output.value
    for widget in widgets:
        widget.close()
    assert not [listener for listener in app.route_listeners
                if getattr(listener, "__self__", None) in [w.preview for w in widgets]]


def preview_cell(ip, line, heading, cell_id):
    """Run a route cell as JupyterLab runs it: with the cell's id (IPython's pre_run_cell hooks get it)."""
    with capture_output():
        result = ip.run_cell(f"%%wasm_rust {line}\n{PAGE.format(heading)}", cell_id=cell_id)
    assert result.success, result.error_in_exec
    return result.result


def test_a_preview_cell_edited_and_rerun_keeps_one_live_preview(ip):
    # the same cell, its --request edited between runs
    widgets = [preview_cell(ip, f"--route /page/... --preview --request 'GET /page/{n}'", "first", "cell-a")
               for n in range(5)]
    other = preview_cell(ip, "--route /page/... --preview --request 'GET /page/other'", "first", "cell-b")
    runs = []
    app.listeners.append(lambda request, response: runs.append(request.target))
    try:
        route_cell(ip, "--route /page/... --no-run", "second")
    finally:
        app.listeners.pop()
    # one run per live preview: cell a's latest and cell b's (it was five for cell a)
    assert sorted(runs) == ["/page/4", "/page/other"]
    assert "second" in widgets[-1].output.value and "second" in other.output.value
    for old in widgets[:-1]:
        assert "no longer updates" in old.status.value and "second" not in old.output.value
    for widget in [*widgets, other]:
        widget.close()
