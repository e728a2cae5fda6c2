"""What a person sees in JupyterLab: the tutorials and the magics run in a real Lab, in Chromium.

The Lab, the browser and a fresh page per test come from ``conftest.py``; ``lab.py`` has the
steps (open a notebook, run its cells, read an output, switch the theme, take a screenshot).
The README's pictures (``docs/images/*.png``) are taken here, on every run.
"""
from __future__ import annotations

import re

from . import lab
from .lab import expect

HELLO = "01-hello-wasm.ipynb"

GREET = '''%%wasm_rust --route /greet
fn main() {
    let query = std::env::var("QUERY_STRING").unwrap_or_default();
    let name = if query.is_empty() { "world".to_string() } else { query };
    println!("Content-Type: text/html");
    println!();
    println!("<h1>Hello, {name}!</h1>");
}
'''


def scratch(page, lab_server, name, *sources):
    """A new notebook with ``%load_ext wagi_nb`` (and ``sources``) in cells, open and run."""
    path = lab.new_notebook(lab_server, f"scratch/{name}.ipynb", ["%load_ext wagi_nb", *sources])
    lab.open_notebook(page, lab_server, path)
    lab.run_all_cells(page)
    return path


def test_hello_tutorial_shows_the_route_response(page, lab_server, need_toolchain, images_dir):
    need_toolchain("rust")
    lab.open_notebook(page, lab_server, HELLO)
    lab.run_all_cells(page)

    run = lab.output_area(page, lab.cell_index(page, "hello-run"))
    expect(run).to_contain_text("Hello, world!")
    expect(run).to_contain_text("exit status 0")

    response = lab.output_area(page, lab.cell_index(page, "route-preview"))
    status = response.get_by_text("200 OK", exact=False).first
    expect(status).to_be_visible()
    expect(response.get_by_text("Hello, world!", exact=True)).to_be_visible()  # the body
    expect(response.get_by_text("text/plain").first).to_be_visible()
    assert "Traceback (most recent call last)" not in lab.output_text(page, lab.cell_index(page, "route-preview"))

    # The real server the notebook started answered curl.
    curl = lab.output_area(page, lab.cell_index(page, "curl"))
    expect(curl).to_contain_text("Hello, world!")

    lab.screenshot(response, images_dir / "response-view.png")


def test_a_saved_notebook_reopens_with_its_outputs(page, lab_server, need_toolchain):
    need_toolchain("rust")
    path = lab.new_notebook(lab_server, "scratch/saved.ipynb", ["%load_ext wagi_nb", GREET])
    lab.open_notebook(page, lab_server, path)
    lab.run_all_cells(page)
    expect(lab.body_frame(page, 1).locator("h1")).to_have_text("Hello, world!")
    lab.save_notebook(page)

    lab.reopen_notebook(page, lab_server, path)
    # The stored outputs come back as they were, the HTML body still in its frame.
    expect(lab.output_area(page, 1)).to_contain_text("200 OK")
    expect(lab.body_frame(page, 1).locator("h1")).to_have_text("Hello, world!")


def test_a_compile_error_shows_the_compiler_not_a_traceback(page, lab_server, need_toolchain):
    need_toolchain("rust")
    scratch(page, lab_server, "compile-error")
    index = lab.run_new_cell(page, '%%wasm_rust\nfn main() { let x: i32 = "no"; }\n')

    output = lab.output_area(page, index)
    expect(output.get_by_text("mismatched types").first).to_be_visible()
    expect(output).to_contain_text("expected `i32`, found `&str`")
    text = lab.output_text(page, index)
    assert "Traceback (most recent call last)" not in text, text
    assert "wagi_nb" not in text.replace("%load_ext wagi_nb", ""), text


def test_the_route_preview_widget_renders_and_sends(page, lab_server, need_toolchain, images_dir):
    need_toolchain("rust")
    scratch(page, lab_server, "preview", GREET)
    index = lab.run_new_cell(page, "%wagi_preview /greet")

    output = lab.output_area(page, index)
    send = output.get_by_role("button", name="Send")
    expect(send).to_be_visible()  # a real widget, not its text repr
    assert "RoutePreviewWidget(" not in lab.output_text(page, index)
    expect(output).to_contain_text("200 OK")
    heading = lab.body_frame(page, index).locator("h1")
    expect(heading).to_have_text("Hello, world!")
    lab.screenshot(output, images_dir / "route-preview.png")

    output.get_by_role("textbox", name="Path").fill("/greet?wasm")
    send.click()
    expect(heading).to_have_text("Hello, wasm!", timeout=lab.CELL_TIMEOUT * 1000)
    expect(output).to_contain_text(re.compile(r"send #(?!1\b)\d+"))  # sent again
    expect(output.get_by_text("GET /greet?wasm").first).to_be_visible()


STDERR_ROUTE = '''%%wasm_rust --route /noisy
fn main() {
    eprintln!("a note on stderr");
    println!("Content-Type: text/plain");
    println!();
    println!("the body text");
}
'''


def readable(locator, minimum=4.5):
    """The WCAG contrast of what a person sees: the text colour on the background it is drawn on."""
    seen = lab.colours(locator)
    ratio = lab.contrast_ratio(seen["color"], seen["background"])
    assert ratio >= minimum, f"contrast {ratio:.2f} < {minimum} for {locator}: {seen}"


def test_in_the_dark_theme_responses_and_errors_stay_readable(page, lab_server, need_toolchain):
    need_toolchain("rust")
    scratch(page, lab_server, "dark", STDERR_ROUTE)
    error = lab.append_cell(page, '%%wasm_rust\nfn main() { let x: i32 = "no"; }\n')
    lab.run_cell(page, error)
    editor = lab.cell(page, 1).locator(".jp-InputArea-editor")
    light = lab.colours(editor)

    lab.set_theme(page, lab.DARK_THEME)
    dark = lab.colours(editor)
    assert sum(lab.parse_rgb(dark["background"])) < sum(lab.parse_rgb(light["background"])), (light, dark)
    response = lab.output_area(page, 1)
    readable(response.get_by_text("200 OK").first, 3)  # bold
    readable(response.get_by_text("the body text", exact=True))
    readable(response.get_by_text("a note on stderr", exact=True))
    readable(lab.output_area(page, error).get_by_text("mismatched types").first)
