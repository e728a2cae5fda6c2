"""Defects a person saw in JupyterLab, each checked where it was seen: highlighting, the dark theme,
an untrusted notebook, links and the height of an HTML preview, tutorials opening unmodified."""
from __future__ import annotations

import json

from . import lab
from .lab import expect

PANIC = '''%%wasm_rust --no-raise-error
fn main() {
    let list: Vec<u32> = Vec::new();
    println!("{}", list[3]);
}
'''

LINKS = '''%%wasm_rust --route /links
fn main() {
    println!("Content-Type: text/html");
    println!();
    println!("<p>One line, and <a id='go' href='/target'>a relative link</a>.</p>");
}
'''

TARGET = '''%%wasm_rust --route /target
fn main() {
    println!("Content-Type: text/html");
    println!();
    println!("<p id='arrived'>the notebook's own /target route</p>");
    for i in 0..60 { println!("<p>line {i}</p>"); }
}
'''

SERVE = ("import os, wagi_nb\nport = wagi_nb.server.free_port(int(os.environ.get('WAGI_NB_PORT', 3000)))\n"
         "%wagi_serve --port $port")

_MIME_AND_FN = """(index) => {
    const cell = window.jupyterapp.shell.currentWidget.content.widgets[index];
    const spans = [...cell.node.querySelectorAll('.cm-content span')].filter(s => s.textContent === 'fn');
    const probe = document.createElement('span');
    probe.style.color = 'var(--jp-mirror-editor-keyword-color)';
    document.body.appendChild(probe);
    const keyword = getComputedStyle(probe).color;
    probe.remove();
    return {mime: cell.model.mimeType, keyword,
            colours: spans.map(span => getComputedStyle(span).color)};
}"""


def test_a_wasm_rust_cell_is_highlighted_as_rust_and_switches_back(page, lab_server):
    path = lab.new_notebook(lab_server, "scratch/highlight.ipynb",
                            ['%%wasm_rust\nfn main() {\n    let x = 1;\n}\n'])
    lab.open_notebook(page, lab_server, path)
    lab.wait_until(page, f"() => ({_MIME_AND_FN})(0).colours.length > 0", timeout=lab.UI_TIMEOUT,
                   what="`fn` to be drawn as a token")
    rust = page.evaluate(_MIME_AND_FN, 0)
    assert rust["mime"] == "text/x-rustsrc", rust
    assert rust["colours"] == [rust["keyword"]], rust  # `fn` in the editor's keyword colour

    lab.set_cell_source(page, 0, "fn = 1  # Python again: no magic line\n")
    lab.wait_until(page, f"() => ({_MIME_AND_FN})(0).mime === 'text/x-ipython'", timeout=lab.UI_TIMEOUT,
                   what="the cell to be Python again")
    python = page.evaluate(_MIME_AND_FN, 0)
    assert rust["keyword"] not in python["colours"], python


def test_a_rust_panic_s_stderr_reads_in_the_dark_theme(page, lab_server, need_toolchain):
    need_toolchain("rust")
    path = lab.new_notebook(lab_server, "scratch/panic.ipynb", ["%load_ext wagi_nb", PANIC])
    lab.open_notebook(page, lab_server, path)
    lab.run_all_cells(page)
    lab.set_theme(page, lab.DARK_THEME)
    stderr = lab.output_area(page, 1).get_by_text("panicked at", exact=False).first
    seen = lab.colours(stderr)
    ratio = lab.contrast_ratio(seen["color"], seen["background"])
    assert ratio >= 4.5, (ratio, seen)
    status = lab.output_area(page, 1).get_by_text("trap:", exact=False).first
    seen = lab.colours(status)
    assert lab.contrast_ratio(seen["color"], seen["background"]) >= 3, seen


def test_an_untrusted_notebook_shows_the_page_as_text_and_a_saved_preview_as_text(page, lab_server,
                                                                                 need_toolchain):
    need_toolchain("rust")
    greet = LINKS.replace("/links", "/greet")
    path = lab.new_notebook(lab_server, "scratch/untrusted.ipynb",
                            ["%load_ext wagi_nb", greet, "%wagi_preview /greet"])
    lab.open_notebook(page, lab_server, path)
    lab.run_all_cells(page)
    # Trusted (its outputs were made here): the frame, and no fallback.
    expect(lab.body_frame(page, 1).locator("p")).to_contain_text("One line")
    expect(lab.output_area(page, 1).locator(".wagi-nb-untrusted")).to_have_count(0)
    lab.save_notebook(page)

    # Edited outside JupyterLab, the notebook's signature no longer matches: it opens untrusted.
    file = lab_server.root / path
    notebook = json.loads(file.read_text())
    notebook["cells"][0]["metadata"]["edited"] = "elsewhere"
    file.write_text(json.dumps(notebook))
    lab.reopen_notebook(page, lab_server, path)

    response = lab.output_area(page, 1)
    expect(response).to_contain_text("200 OK")
    expect(response.locator("iframe")).to_have_count(0)  # the sanitiser removed the frame
    expect(response).to_contain_text("This notebook is not trusted")
    expect(response).to_contain_text("One line, and <a id='go' href='/target'>")  # the page as text
    preview = lab.output_area(page, 2)
    expect(preview).to_contain_text("Live preview of GET /greet")
    expect(preview).to_contain_text("200 OK")
    assert "RoutePreviewWidget(" not in lab.output_text(page, 2)


def test_a_tutorial_opens_unmodified(page, lab_server):
    lab.open_notebook(page, lab_server, "02-wagi-routes.ipynb")
    lab.wait_for_kernel_idle(page)
    dirty = page.evaluate("() => window.jupyterapp.shell.currentWidget.context.model.dirty")
    assert dirty is False
