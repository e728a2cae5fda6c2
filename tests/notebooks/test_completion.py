"""Tab completion of the magics' options (wagi_nb/magics/completion.py), in a real IPython shell and
through a live kernel's ``complete_request`` (what JupyterLab sends on Tab)."""
from __future__ import annotations

import pytest
from IPython.core.completer import provisionalcompleter

from wagi_nb import app
from wagi_nb.magics.completion import IDENTIFIER

from helpers.kernels import live_kernel, run_cell


def completions(shell, text: str, offset=None) -> list:
    """What a kernel answers (ipykernel's do_complete: ``shell.Completer.completions``)."""
    with provisionalcompleter():
        return list(shell.Completer.completions(text, len(text) if offset is None else offset))


def texts(shell, text: str, offset=None) -> list:
    return [completion.text for completion in completions(shell, text, offset)]


def long_options(shell, kind: str, name: str) -> set:
    """The long options of a magic, from its own magic_arguments parser."""
    parser = shell.magics_manager.magics[kind][name].parser
    return {string for action in parser._actions for string in action.option_strings if string.startswith("--")}


def ours(shell) -> list:
    return [m for m in shell.Completer.custom_matchers if getattr(m, "matcher_identifier", None) == IDENTIFIER]


def test_a_prefix_completes_to_the_one_option_and_nothing_else(ipython_shell):
    found = completions(ipython_shell, "%%wasm_rust --ti")
    assert [c.text for c in found] == ["--timeout"]
    assert (found[0].start, found[0].end) == (len("%%wasm_rust "), len("%%wasm_rust --ti"))


def test_two_dashes_give_every_long_option_of_the_magic(ipython_shell):
    offered = texts(ipython_shell, "%%wasm_c --")
    assert "--route" in offered and "--timeout" in offered
    assert set(offered) == long_options(ipython_shell, "cell", "wasm_c")
    assert len(offered) == len(set(offered))


def test_every_language_magic_completes_its_own_options(ipython_shell):
    from wagi_nb import toolchains
    for toolchain in toolchains.TOOLCHAINS.values():
        offered = set(texts(ipython_shell, f"%%{toolchain.magic} --"))
        assert offered == long_options(ipython_shell, "cell", toolchain.magic), toolchain.magic
    # --dep is Rust's alone: each magic's parser decides, not a shared list.
    assert "--dep" in texts(ipython_shell, "%%wasm_rust --d")
    assert "--dep" not in texts(ipython_shell, "%%wasm_c --d")


def test_an_option_already_given_is_not_offered_again_unless_it_repeats(ipython_shell):
    offered = texts(ipython_shell, "%%wasm_c --timeout 3 --env A=1 --")
    assert "--timeout" not in offered
    assert "--env" in offered  # repeatable
    assert texts(ipython_shell, "%%wasm_c --timeout 3 --ti") == []


def test_a_line_magic_completes_its_options(ipython_shell):
    assert texts(ipython_shell, "%wagi_serve --p") == ["--port"]
    assert set(texts(ipython_shell, "%wagi_serve --")) == {"--port", "--host", "--allow-host"}
    # A line magic is a magic line anywhere in a Python cell.
    assert texts(ipython_shell, "x = 1\n%wagi_serve --ho") == ["--host"]


def test_values_of_an_option_with_choices(ipython_shell):
    assert texts(ipython_shell, "%wagi_export out --format ") == ["both", "spin", "wagi"]
    assert texts(ipython_shell, "%wagi_export out --format s") == ["spin"]
    found = completions(ipython_shell, "%wagi_export out --format=w")
    assert [c.text for c in found] == ["wagi"]
    assert found[0].start == len("%wagi_export out --format=")


def test_route_values_are_the_app_s_routes(ipython_shell, hello_module):
    route = "/completion-test/hello"
    app.add_route(route, hello_module)
    try:
        assert route in texts(ipython_shell, "%%wasm_rust --route /completion-t")
        assert texts(ipython_shell, "%%wasm_rust --route /completion-test/h") == [route]
    finally:
        app.remove(route)


def test_the_cell_body_and_the_magic_name_keep_ipython_s_completion(ipython_shell):
    ipython_shell.user_ns["ticket_total"] = 1
    try:
        # the same text on the second line of the cell: no options there
        assert "--timeout" not in texts(ipython_shell, "%%wasm_rust\n%%wasm_rust --ti")
        assert "--port" not in texts(ipython_shell, "%%wasm_rust\n%wagi_serve --p")
        assert "ticket_total" in texts(ipython_shell, "x = 0\nticket_t")
    finally:
        del ipython_shell.user_ns["ticket_total"]
    assert "%%wasm_rust" in texts(ipython_shell, "%%wasm_ru")
    # the cursor on the first line of a multi-line cell: the magic line, not the body
    cell = "%%wasm_rust --ti\nfn main() {}\n"
    assert texts(ipython_shell, cell, len("%%wasm_rust --ti")) == ["--timeout"]


def test_other_magics_are_untouched(ipython_shell):
    assert not [t for t in texts(ipython_shell, "%%bash --") if t.startswith("--")]
    assert "--timeout" not in texts(ipython_shell, "%%timeit --ti")


@pytest.mark.filterwarnings("ignore::PendingDeprecationWarning")
def test_the_legacy_complete_api_agrees(ipython_shell):
    """``shell.complete`` (ipykernel's do_complete without the experimental completions; it
    passes the cursor's line alone) gives the same answer."""
    fragment, matches = ipython_shell.complete("", "%%wasm_rust --ti", len("%%wasm_rust --ti"))
    assert (fragment, matches) == ("--ti", ["--timeout"])


def test_loading_again_registers_the_matcher_once(ipython_shell):
    ipython_shell.run_line_magic("reload_ext", "wagi_nb")
    ipython_shell.run_line_magic("load_ext", "wagi_nb")
    from wagi_nb.magics import register
    register(ipython_shell)
    assert len(ours(ipython_shell)) == 1
    assert texts(ipython_shell, "%%wasm_rust --ti") == ["--timeout"]


# -- through a live kernel: the complete_request JupyterLab sends on Tab ---------------------------
@pytest.fixture(scope="module")
def kernel(kernelspec_dir, python_env, tmp_path_factory):
    with live_kernel(kernelspec_dir, python_env(JUPYTER_PATH=kernelspec_dir),
                     tmp_path_factory.mktemp("completion")) as client:
        run_cell(client, "%load_ext wagi_nb")
        yield client


def kernel_complete(client, code: str, cursor_pos: int) -> dict:
    from jupyter_core.utils import run_sync  # the event loop nbclient runs the kernel client on

    async def ask():
        return await client.kc.complete(code, cursor_pos, reply=True, timeout=60)
    reply = run_sync(ask)()
    assert reply["content"]["status"] == "ok", reply["content"]
    return reply["content"]


def test_a_live_kernel_completes_the_magic_line_but_not_the_body(kernel):
    line = "%%wasm_rust --ti"
    cell = f"{line}\n{line}\nfn main() {{}}\n"
    on_first = kernel_complete(kernel, cell, len(line))
    assert on_first["matches"] == ["--timeout"]
    assert "_jupyter_types_experimental" in on_first["metadata"]  # via shell.Completer.completions
    assert (on_first["cursor_start"], on_first["cursor_end"]) == (len("%%wasm_rust "), len(line))
    on_second = kernel_complete(kernel, cell, 2 * len(line) + 1)
    assert "--timeout" not in on_second["matches"]
    assert kernel_complete(kernel, "%wagi_serve --p", len("%wagi_serve --p"))["matches"] == ["--port"]


def test_a_live_kernel_completes_a_request_s_path_from_the_notebook_s_routes(kernel, wat):
    page = wat.program((1, b"Content-Type: text/plain\n\nhi\n"))
    run_cell(kernel, "%%wasm_wat --route /greeting\n" + page)
    run_cell(kernel, "%%wasm_wat --route /files/...\n" + page)

    def offered(code: str) -> list:
        reply = kernel_complete(kernel, code, len(code))
        assert reply["cursor_end"] == len(code)
        return sorted(reply["matches"])

    # Tab inside --request's quotes: the paths the routes answer (a prefix route's base), not files.
    line = '%%wasm_wat --route /greeting --request "GET /'
    assert offered(line) == ["/files/", "/greeting"]
    assert offered(line + "g") == ["/greeting"]
    assert offered("%%wasm_wat --route /x --request 'POST /fi") == ["/files/"]
    assert offered("%wagi_request GET /gr") == ["/greeting"]
    assert offered("%wagi_request /f") == ["/files/"]
    assert offered('%wagi_preview /files/... --request "GET /f') == ["/files/"]
    # %wagi_preview takes a route: a prefix route as it is written.
    assert offered("%wagi_preview /") == ["/files/...", "/greeting"]
    assert "/healthz" not in offered("%wagi_request GET /")
