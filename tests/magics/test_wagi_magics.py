"""The Wagi magics through a real IPython shell: --route previews, %wagi_request, routes, load/save, env."""
import shutil

import pytest
from IPython.core.error import UsageError
from IPython.utils.capture import capture_output

import wagi_nb
from wagi_nb.wagi import app
from wagi_nb.wagi.config import ConfigError, ConfigWarning

HELLO = ('fn main() {\n    println!("Content-Type: text/plain");\n    println!();\n'
         '    println!("Hello, world!");\n}\n')
ECHO = r'''
use std::io::Read;
fn main() {
    let mut body = String::new();
    std::io::stdin().read_to_string(&mut body).unwrap();
    println!("Content-Type: application/json");
    println!();
    println!("{{\"method\": \"{}\", \"query\": \"{}\", \"body\": \"{}\", \"greeting\": \"{}\"}}",
             std::env::var("REQUEST_METHOD").unwrap(), std::env::var("QUERY_STRING").unwrap(),
             body, std::env::var("GREETING").unwrap_or_default());
}
'''
NO_HEADER = 'fn main() {\n    println!("Hello, world!");\n}\n'


@pytest.fixture(scope="module")
def ip(ipython_shell, need_toolchain):
    need_toolchain("rust")
    # Built up front, so that each test's cells run rather than compile.
    for source in (HELLO, ECHO, NO_HEADER):
        wagi_nb.build(source, language="rust", line_offset=1)
    return ipython_shell


@pytest.fixture(autouse=True)
def fresh_routes():
    app.clear()
    app.clear_env()
    yield
    app.clear()
    app.clear_env()


def cell(ip, magic, line, body):
    with capture_output() as captured:
        view = ip.run_cell_magic(magic, line, body)
    return view, captured.stdout


def test_route_cell_previews_the_seed_response(ip):
    view, _ = cell(ip, "wasm_rust", "--route /", HELLO)
    assert (view.status, view.content_type, view.text) == (200, "text/plain", "Hello, world!\n")
    text = repr(view)
    assert "HTTP 200 OK" in text and "content-type: text/plain" in text and "Hello, world!" in text
    assert "<iframe" not in view._repr_html_() and "Hello, world!" in view._repr_html_()


def test_the_same_module_from_a_two_line_modules_toml_previews_the_same(ip, tmp_path):
    built = wagi_nb.build(HELLO, language="rust")
    shutil.copy(built.wasm_path, tmp_path / "hello.wasm")
    # Exactly the two lines the article shows (Wagi itself would want a [[module]] line above them).
    (tmp_path / "modules.toml").write_text('module = "hello.wasm"\nroute = "/"\n')
    with pytest.warns(ConfigWarning, match=r"\[\[module\]\]"):
        ip.run_line_magic("wagi_load", str(tmp_path / "modules.toml"))
    response = ip.run_line_magic("wagi_request", "GET /")
    assert (response.status, response.headers["Content-Type"], response.body) == \
        (200, "text/plain", b"Hello, world!\n")


def test_request_flag_and_request_magics(ip):
    view, _ = cell(ip, "wasm_rust", '--route /echo --request "POST /echo?x=1"', ECHO)
    assert view.json() == {"method": "POST", "query": "x=1", "body": "", "greeting": ""}
    line = ip.run_line_magic("wagi_request", 'PUT /echo?a=b -H "X-Test: 1" -d "hi there"')
    assert line.json()["method"] == "PUT" and line.json()["body"] == "hi there"
    with capture_output():
        raw = ip.run_cell_magic("wagi_request", "", "POST /echo?y=2\nContent-Type: text/plain\n\nbody")
    assert raw.json() == {"method": "POST", "query": "y=2", "body": "body", "greeting": ""}
    assert "application/json" in repr(raw)


def test_global_env_reaches_modules_and_the_env_flag_overrides_it(ip, tmp_path):
    cell(ip, "wasm_rust", "--route /echo", ECHO)
    envfile = tmp_path / "env"
    envfile.write_text("GREETING=from-file\n")
    with capture_output():
        ip.run_line_magic("wagi_env", f"--env-file {envfile}")
    assert ip.run_line_magic("wagi_request", "GET /echo").json()["greeting"] == "from-file"
    with capture_output():
        ip.run_line_magic("wagi_env", "GREETING='from flag'")
    assert ip.run_line_magic("wagi_request", "GET /echo").json()["greeting"] == "from flag"


def test_a_later_cell_on_the_same_route_wins_and_says_so(ip):
    cell(ip, "wasm_rust", "--route /", HELLO)
    view, printed = cell(ip, "wasm_rust", "--route /", ECHO)
    assert "Route / now served by" in printed and "replacing" in printed
    assert view.content_type == "application/json"
    assert [h.route.text for h in app.handlers] == ["/"]


def test_route_without_slash_is_a_usage_error(ip):
    with pytest.raises(UsageError, match="does not start with '/'"):
        cell(ip, "wasm_rust", "--route hello", HELLO)
    assert app.handlers == ()


def test_module_without_header_block_explains_what_to_print(ip):
    view, _ = cell(ip, "wasm_rust", "--route /plain --no-raise-error", NO_HEADER)
    assert view.status == 500
    assert "Content-Type" in view.text and "blank line" in view.text
    assert "Hello, world!" in repr(view)  # the raw output is shown, so the user sees what was printed


def test_unmatched_path_lists_the_routes_that_exist(ip):
    cell(ip, "wasm_rust", "--route /hello", HELLO)
    response = ip.run_line_magic("wagi_request", "GET /nothing")
    assert response.status == 404 and response.body == b""
    assert "/hello" in repr(response) and "No route matches /nothing" in repr(response)


def test_routes_table_and_save_round_trip(ip, tmp_path):
    cell(ip, "wasm_rust", "-n hello --route /hello", HELLO)
    cell(ip, "wasm_rust", "--route /echo/...", ECHO)
    table = repr(ip.run_line_magic("wagi_routes", ""))
    assert "/hello" in table and "/echo/..." in table and "rust" in table and "hello" in table
    with capture_output() as captured:
        ip.run_line_magic("wagi_save", str(tmp_path / "out"))
    assert "modules.toml" in captured.stdout
    saved = tmp_path / "out" / "modules.toml"
    again = wagi_nb.WagiApp.from_config(saved)
    for target in ("/hello", "/echo/x?q=1"):
        assert again.request("GET", target).body == app.request("GET", target).body


def test_bad_modules_toml_names_the_line(ip, tmp_path):
    bad = tmp_path / "modules.toml"
    bad.write_text('[[module]]\nroute = "/"\nmodule = \n')
    with pytest.raises(ConfigError, match="line 3"):
        ip.run_line_magic("wagi_load", str(bad))


def test_bad_request_line_is_explained(ip):
    with pytest.raises(wagi_nb.WagiNbError, match="method and a path"):
        ip.run_line_magic("wagi_request", "FE(TCH /x")
    with pytest.raises(UsageError):
        ip.run_line_magic("wagi_request", "")


# -- run options on a route cell: applied to the preview, or refused -----------------------------------
@pytest.mark.parametrize("line, needle", [
    ("--route / --args 'a b'", "--args has no effect on a route cell"),
    ("--route / --dir /tmp", "--dir has no effect on a route cell .--route.: a route.s folders are its volumes"),
    ("--volume /d=/tmp", "--volume only means something on a route cell"),
    ("--preview --request '/x'", "--request, --preview only mean something on a route cell"),
])
def test_options_a_cell_would_ignore_are_refused(ip, line, needle):
    with pytest.raises(UsageError, match=needle):
        cell(ip, "wasm_rust", line, HELLO)
    assert not app.handlers


def test_no_run_on_a_route_cell_registers_without_a_request(ip):
    runs = []
    app.listeners.append(lambda request, response: runs.append(request.target))
    try:
        view, out = cell(ip, "wasm_rust", "--route /quiet --no-run", HELLO)
    finally:
        app.listeners.pop()
    assert view is None and runs == []
    assert "Route /quiet now served by" in out
    assert app.request("GET", "/quiet").text == "Hello, world!\n"


def test_stdin_on_a_route_cell_is_the_preview_request_s_body(ip):
    view, _ = cell(ip, "wasm_rust", "--route /echo --request 'POST /echo?q=1' --stdin 'sent body'", ECHO)
    assert view.json() == {"method": "POST", "query": "q=1", "body": "sent body", "greeting": ""}


def test_timeout_and_max_output_on_a_route_cell_limit_the_preview(ip, need_toolchain):
    import time
    from helpers import attackers
    need_toolchain("c")
    with capture_output():
        wagi_nb.build(attackers.ATTACKER_C, language="c", line_offset=1)
    start = time.monotonic()
    view, _ = cell(ip, "wasm_c", "--route /a --request '/a?sleep=1000' --timeout 1 --no-raise-error",
                   attackers.ATTACKER_C)
    assert view.status == 504 and "1 s timeout" in view.text
    assert time.monotonic() - start < 5
    view, _ = cell(ip, "wasm_c", "--route /a --request '/a?print' --max-output 1 --no-raise-error",
                   attackers.ATTACKER_C)
    assert view.status == 500 and "1 MiB output cap" in view.text
    assert app.timeout == 10.0  # the route itself keeps the notebook's limits


def test_route_cells_run_under_the_notebook_s_limits(ip, need_toolchain):
    import time
    from helpers import attackers
    from wagi_nb import defaults
    need_toolchain("c")
    with capture_output():
        wagi_nb.build(attackers.ATTACKER_C, language="c", line_offset=1)
    ip.run_line_magic("config", "WasmMagics.timeout = 0.5")
    ip.run_line_magic("config", "WasmMagics.memory_limit = 16")
    try:
        start = time.monotonic()
        view, _ = cell(ip, "wasm_c", "--route /a --request '/a?sleep=1000' --no-raise-error",
                       attackers.ATTACKER_C)
        assert view.status == 504 and "0.5 s timeout" in view.text
        assert time.monotonic() - start < 3
        with capture_output():
            bomb = ip.run_line_magic("wagi_request", "/a?bomb")
        mib = int(bomb.text.split("after ")[1].split()[0])
        assert mib < 16, bomb.text  # (the app's own limit was 256 MiB)

        start = time.monotonic()
        with pytest.raises(UsageError, match="_routes"):
            cell(ip, "wasm_wat", "--route /r --timeout 1",  # (its _routes never returns)
                 attackers.poll_wat(2 ** 63 - 1, export="_routes"))
        assert time.monotonic() - start < 5  # (it was given 30 s, whatever --timeout said)
    finally:
        ip.run_line_magic("config", f"WasmMagics.timeout = {defaults.CELL_TIMEOUT}")
        ip.run_line_magic("config", f"WasmMagics.memory_limit = {defaults.MEMORY_MIB}")
    assert (app.timeout, app.memory_limit_mib) == (defaults.CELL_TIMEOUT, defaults.MEMORY_MIB)
