"""Previews as a newcomer meets them in JupyterLab: frames that fit their pages, links and forms,
and a saved live preview reopened on a new kernel."""
from __future__ import annotations

from . import lab
from .lab import expect
from .test_lab_defects import SERVE, TARGET

#: A page with a relative link, a form and a link to another site.
LINKS = '''%%wasm_rust --route /links
fn main() {
    println!("Content-Type: text/html");
    println!();
    println!("<p id='line'>One line, and <a id='go' href='/target'>a relative link</a>.</p>");
    println!("<form id='ask' action='/target'><input name='q' value='x'><button id='send'>Send</button></form>");
    println!("<a id='away' href='https://example.org/elsewhere'>another site</a>");
}
'''

#: A short page (about 80 px), as the tutorials' routes print.
SHORT = '''%%wasm_rust --route /short{n}
fn main() {{
    println!("Content-Type: text/html");
    println!();
    println!("<h2>Short page {n}</h2><p>One paragraph under it.</p>");
}}
'''

#: A cell tall enough to push what follows out of the viewport.
FILLER = 'print("\\n".join(f"line {i}" for i in range(60)))'

#: For each frame of the notebook (scrolled into view first): the frame's height, its page's own
#: height, and whether the page has to scroll inside the frame.
_FRAMES = """async () => {
    const frames = [...document.querySelectorAll('.jp-Notebook iframe')];
    const seen = [];
    for (const frame of frames) {
        frame.scrollIntoView();
        await new Promise(done => setTimeout(done, 400));
        const doc = frame.contentDocument.documentElement;
        seen.push({frame: frame.clientHeight, page: Math.ceil(doc.querySelector('body').getBoundingClientRect().bottom),
                   scrolls: doc.scrollHeight > frame.clientHeight});
    }
    return seen;
}"""


def test_every_frame_of_tutorial_4_fits_its_page_after_run_all(page, lab_server, need_toolchain):
    need_toolchain("rust")
    lab.write_settings(lab_server.settings_dir, {"@jupyterlab/notebook-extension/tracker": {}})
    for attempt in range(3):
        lab.open_notebook(page, lab_server, "04-serve-and-share.ipynb")
        lab.run_all_cells(page)
        frames = page.evaluate(_FRAMES)
        assert frames
        for seen in frames:
            assert not seen["scrolls"] and seen["frame"] >= seen["page"], (attempt, frames)
            assert seen["frame"] < seen["page"] + 60, (attempt, frames)
        lab_server.shutdown_kernels()


def test_every_frame_fits_its_page_after_run_all_with_lab_s_default_windowing(page, lab_server, need_toolchain):
    """JupyterLab's default windowing lays out cells outside the viewport late ("contentVisibility"):
    a frame fitted while it was not laid out was 42 px for an 81 px page."""
    need_toolchain("rust")
    lab.write_settings(lab_server.settings_dir, {"@jupyterlab/notebook-extension/tracker": {}})
    sources = ["%load_ext wagi_nb"]
    for n in range(4):
        sources += [FILLER, FILLER, SHORT.format(n=n)]
    path = lab.new_notebook(lab_server, "scratch/fit.ipynb", sources)
    lab.open_notebook(page, lab_server, path)
    lab.run_all_cells(page)
    frames = page.evaluate(_FRAMES)
    assert len(frames) == 4, frames
    for seen in frames:
        assert not seen["scrolls"] and seen["frame"] >= seen["page"], frames  # all of the page shows
        assert seen["frame"] < seen["page"] + 60, frames  # and not in a box much taller than it


def test_links_and_forms_open_the_notebook_s_routes_in_a_new_tab_and_the_frame_stays(page, lab_server,
                                                                                     need_toolchain):
    need_toolchain("rust")
    path = lab.new_notebook(lab_server, "scratch/links.ipynb", ["%load_ext wagi_nb", LINKS, SERVE, TARGET, LINKS])
    lab.open_notebook(page, lab_server, path)
    lab.run_all_cells(page)

    # Before %wagi_serve: the view says why its links do nothing, and a click leaves the page shown.
    expect(lab.output_area(page, 1)).to_contain_text("do nothing until %wagi_serve runs")
    before = lab.body_frame(page, 1)
    before.locator("#go").click()
    before.locator("#send").click()
    page.wait_for_timeout(500)
    expect(before.locator("#line")).to_contain_text("One line")  # (a click used to blank the frame)
    assert len(page.context.pages) == 1

    # Served: a link and a form open the route in a new tab; the frame keeps the response its heading names.
    frame = lab.body_frame(page, 4)
    expect(lab.output_area(page, 4)).not_to_contain_text("do nothing until")
    with page.context.expect_page() as opened:
        frame.locator("#go").click()
    tab = opened.value
    expect(tab.locator("#arrived")).to_have_text("the notebook's own /target route")
    tab.close()
    with page.context.expect_page() as opened:
        frame.locator("#send").click()
    tab = opened.value
    tab.wait_for_load_state()
    assert tab.url.endswith("/target?q=x"), tab.url
    expect(tab.locator("#arrived")).to_have_text("the notebook's own /target route")
    tab.close()
    # (this machine reaches no other site: the browser answers for it)
    page.context.route("https://example.org/**", lambda route: route.fulfill(body="<p id='there'>there</p>",
                                                                             content_type="text/html"))
    with page.context.expect_page() as opened:
        frame.locator("#away").click()
    expect(opened.value.locator("#there")).to_have_text("there")
    assert opened.value.url == "https://example.org/elsewhere"
    opened.value.close()
    expect(frame.locator("#line")).to_contain_text("One line")
    expect(lab.output_area(page, 4)).to_contain_text("GET /links")


GREET = '''%%wasm_rust --route /greet
fn main() {
    let query = std::env::var("QUERY_STRING").unwrap_or_default();
    let name = if query.is_empty() { "world".to_string() } else { query };
    println!("Content-Type: text/html");
    println!();
    println!("<h1>Hello, {name}!</h1>");
}
'''


def test_a_saved_live_preview_reopened_on_a_new_kernel_shows_its_last_response(page, lab_server, need_toolchain):
    need_toolchain("rust")
    path = lab.new_notebook(lab_server, "scratch/saved-preview.ipynb", ["%load_ext wagi_nb", GREET,
                                                                        "%wagi_preview /greet"])
    lab.open_notebook(page, lab_server, path)
    lab.run_all_cells(page)
    output = lab.output_area(page, 2)
    path_box = output.get_by_role("textbox", name="Path")
    path_box.fill("/greet?ada")
    path_box.press("Enter")
    heading = lab.body_frame(page, 2).locator("h1")
    expect(heading).to_have_text("Hello, ada!")
    # The live widget stays as it was after the saved copy is refreshed: the same box, still usable.
    path_box.fill("/greet?lin")
    output.get_by_role("button", name="Send").click()
    expect(heading).to_have_text("Hello, lin!")
    lab.save_notebook(page)

    lab_server.shutdown_kernels()  # a new kernel has none of the old one's widgets
    lab.reopen_notebook(page, lab_server, path)
    output = lab.output_area(page, 2)
    expect(output).to_contain_text("Live preview of GET /greet?lin")
    expect(lab.body_frame(page, 2).locator("h1")).to_have_text("Hello, lin!")  # the last response
    expect(output).not_to_contain_text("Error displaying widget")
