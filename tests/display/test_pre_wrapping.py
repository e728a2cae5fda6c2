"""Preformatted text in the views wraps at spaces and breaks only a word too long for its line.

JupyterLab's output area gives every <pre> ``word-break: break-all``, which cut the 500 banner's words
(and those of stderr, logs, warnings) at the edge mid-word: each view's <pre> sets its own.
"""
import html
import re

import pytest

from wagi_nb.display import LogView, ResponseView
from wagi_nb.display.text import compiler_warnings_html
from wagi_nb.wagi.response import parse_cgi_output

WRAPS = ("white-space:pre-wrap", "word-break:normal", "overflow-wrap:anywhere")


def pre_styles(page: str) -> list:
    tags = re.findall(r"<pre\b[^>]*>", page)
    assert tags, page
    return [re.search(r'style="([^"]*)"', tag).group(1) if 'style="' in tag else "" for tag in tags]


@pytest.mark.parametrize("page", [
    # a 500: the error banner, the raw CGI output and the module's stderr
    ResponseView(parse_cgi_output(b"hello there, no header at all\n", stderr=b"a long complaint\n"))._repr_html_(),
    LogView(["GET /hello 200"], {"/hello": [(0.0, b"a line of stderr\n")]})._repr_html_(),
    compiler_warnings_html("warning: unused variable: `x`\n"),
], ids=["500 response", "log", "compiler warnings"])
def test_every_pre_wraps_at_spaces_and_breaks_only_overlong_words(page):
    for style in pre_styles(page):
        declarations = style.replace(" ", "").split(";")
        assert all(wrap in declarations for wrap in WRAPS), style
        assert "word-break:break-all" not in declarations, style


def test_the_500_banner_is_one_of_them():
    response = parse_cgi_output(b"hello there\n")
    assert response.status == 500 and response.error
    page = ResponseView(response)._repr_html_()
    banner = re.search(r'<pre style="([^"]*)">' + re.escape(html.escape(response.error)), page)
    assert banner and "word-break:normal" in banner.group(1), page
