"""The server's curl command has a Copy button that works in JupyterLab, and preformatted text (the
500 banner) wraps at spaces there, though JupyterLab's own CSS breaks a <pre>'s words anywhere."""
from __future__ import annotations

import re

from . import lab
from .lab import expect
from .test_lab_defects import SERVE

#: A 500 whose banner runs over several lines, then one word longer than any line.
BANNER = ("from wagi_nb.display import ResponseView\nfrom wagi_nb.wagi.response import error_response\n"
          "ResponseView(error_response(500, 'Internal Server Error: ' * 60 + 'x' * 3000))")

#: Each place a line of the <pre> ends and the next begins (``before|after``), and whether its text
#: runs past its box.
_LINE_BREAKS = """(pre) => {
    const walker = document.createTreeWalker(pre, NodeFilter.SHOW_TEXT);
    const range = document.createRange();
    const breaks = [];
    let last = null, seen = '';
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
        for (let i = 0; i < node.length; i++) {
            range.setStart(node, i);
            range.setEnd(node, i + 1);
            const rects = range.getClientRects();
            if (!rects.length) continue;
            if (last !== null && rects[0].top > last + 2) breaks.push(seen.slice(-8) + '|' + node.data.slice(i, i + 8));
            last = rects[0].top;
            seen += node.data[i];
        }
    }
    return {breaks, overflows: pre.scrollWidth > pre.clientWidth + 1};
}"""


def test_the_copy_button_puts_the_curl_command_on_the_clipboard(page, lab_server):
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=lab_server.url)
    path = lab.new_notebook(lab_server, "scratch/copy-curl.ipynb", ["%load_ext wagi_nb", SERVE])
    lab.open_notebook(page, lab_server, path)
    lab.run_all_cells(page)
    served = lab.output_area(page, 1)
    expect(served).to_contain_text("Serving the notebook's routes on http://127.0.0.1:")
    command = served.locator("code").filter(has_text="curl").inner_text()
    assert re.fullmatch(r"!curl -s http://127\.0\.0\.1:\d+/", command), command
    page.evaluate("() => navigator.clipboard.writeText('something else')")
    button = served.locator("button.wagi-nb-copy")  # (its name changes to "Copied")
    expect(button).to_have_text("Copy")
    expect(button).to_be_visible()  # its script ran: outputs made in this session are trusted
    button.click()
    expect(button).to_have_text("Copied")
    assert page.evaluate("() => navigator.clipboard.readText()") == command
    expect(button).to_have_text("Copy")  # back, a moment later


def test_the_500_banner_wraps_at_spaces_and_breaks_only_an_overlong_word(page, lab_server):
    path = lab.new_notebook(lab_server, "scratch/wrap-banner.ipynb", [BANNER])
    lab.open_notebook(page, lab_server, path)
    lab.run_all_cells(page)
    banner = lab.output_area(page, 0).locator("pre").filter(has_text="Internal Server Error: Internal").first
    expect(banner).to_be_visible()
    style = lab.computed_style(banner, "word-break", "overflow-wrap", "white-space")
    assert style == {"word-break": "normal", "overflow-wrap": "anywhere", "white-space": "pre-wrap"}, style
    seen = banner.evaluate(_LINE_BREAKS)
    words = [b for b in seen["breaks"] if "x" not in b]
    assert len(words) >= 3, seen  # the banner does run over several lines
    for line_break in words:  # each between two words, never inside one
        before, after = line_break.split("|")
        assert before.endswith(" ") and re.match(r"[A-Zx]", after), seen
    assert any(b.split("|")[0].endswith("x") and b.split("|")[1].startswith("x") for b in seen["breaks"]), seen
    assert not seen["overflows"], seen  # the overlong word is broken to fit, not left running off
