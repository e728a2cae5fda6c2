"""ResponseView: how a Wagi response looks as HTML in a notebook and as text in a log."""
import base64
import html
import re

import pytest

from wagi_nb.display import ResponseView
from wagi_nb.wagi.request import Request
from wagi_nb.wagi.response import error_response, parse_cgi_output

SCRIPT_PAGE = b"Content-Type: text/html\n\n<h1>hi</h1><script>alert(1)</script>"


def test_html_body_is_in_a_sandboxed_iframe_and_never_raw():
    page = ResponseView(parse_cgi_output(SCRIPT_PAGE))._repr_html_()
    assert "<h1>" not in page and "<script>alert" not in page
    # The one script is wagi_nb's own, which removes the untrusted fallback after the frame.
    assert re.findall(r"<script>[^<]*</script>", page) == [
        "<script>document.currentScript.previousElementSibling.remove()</script>"]
    srcdoc = re.search(r'<iframe sandbox="([^"]*)" srcdoc="([^"]*)"', page)
    assert srcdoc, page
    # same-origin (so the frame can fit its page), and never allow-scripts
    assert srcdoc.group(1).split() == ["allow-same-origin", "allow-popups", "allow-popups-to-escape-sandbox"]
    assert html.unescape(srcdoc.group(2)) == ('<base href="about:invalid" target="_blank"><h1>hi</h1>'
                                              '<script>alert(1)</script>')


def test_relative_links_lead_to_the_running_server_in_a_new_tab_or_nowhere():
    page = b"Content-Type: text/html\n\n<!DOCTYPE html><a href='/about'>about</a>"
    served = ResponseView(parse_cgi_output(page), link_base="http://127.0.0.1:3000/")._repr_html_()
    srcdoc = html.unescape(re.search(r'srcdoc="([^"]*)"', served).group(1))
    assert srcdoc == ('<!DOCTYPE html><base href="http://127.0.0.1:3000/" target="_blank">'
                      "<a href='/about'>about</a>")
    assert "allow-forms" in served and "do nothing until" not in served
    alone = ResponseView(parse_cgi_output(page))._repr_html_()
    assert html.unescape(re.search(r'srcdoc="([^"]*)"', alone).group(1)) == (
        '<!DOCTYPE html><base href="about:invalid" target="_blank"><a data-href=\'/about\'>about</a>')
    assert "allow-forms" not in alone  # a form's submission would blank the frame
    assert "do nothing until %wagi_serve runs: start it and re-run this cell" in alone
    proxied = ResponseView(parse_cgi_output(page), link_base="/user/ada/proxy/3000/")._repr_html_()
    srcdoc = html.unescape(re.search(r'srcdoc="([^"]*)"', proxied).group(1))
    # A <base> cannot give a link from the root the proxy's path: the link itself gets it.
    assert srcdoc == ('<!DOCTYPE html><base href="/user/ada/proxy/3000/" target="_blank">'
                      "<a href='/user/ada/proxy/3000/about'>about</a>")
    plain = ResponseView(parse_cgi_output(b"Content-Type: text/html\n\n<p>no links</p>"))._repr_html_()
    assert "do nothing until" not in plain  # nothing to say about links a page does not have


def test_an_untrusted_notebook_keeps_status_headers_and_the_page_as_text():
    page = ResponseView(parse_cgi_output(SCRIPT_PAGE))._repr_html_()
    fallback = page.split("class='wagi-nb-untrusted'>", 1)[1].split("<script>", 1)[0]
    assert "This notebook is not trusted" in fallback and "jupyter trust" in fallback
    assert "&lt;h1&gt;hi&lt;/h1&gt;" in fallback  # the page's text, escaped
    widget = ResponseView(parse_cgi_output(SCRIPT_PAGE), in_widget=True)._repr_html_()
    assert "wagi-nb-untrusted" not in widget and "<script>" not in widget


def test_html_srcdoc_escapes_quotes():
    response = parse_cgi_output(b'Content-Type: text/html\n\n<a title="x" onclick=\'y\'>a</a>"><script>')
    page = ResponseView(response)._repr_html_()
    srcdoc = re.search(r'srcdoc="([^"]*)"', page).group(1)
    assert "<" not in srcdoc and "'" not in srcdoc
    assert html.unescape(srcdoc) == '<base href="about:invalid" target="_blank">' + response.text


def test_json_is_pretty_printed():
    response = parse_cgi_output(b'Content-Type: application/json\n\n{"a":[1,2],"b":"x"}')
    assert '{\n  "a": [\n    1,\n    2\n  ],\n  "b": "x"\n}' in repr(ResponseView(response))
    tree = ResponseView(response)._repr_html_()
    assert re.search(r"&quot;a&quot;</span>: <details open[^>]*><summary[^>]*>\[ <span[^>]*>2 items", tree)
    assert "&quot;x&quot;" in tree


def test_plus_json_that_does_not_parse_falls_back_to_text():
    text = repr(ResponseView(parse_cgi_output(b"Content-Type: application/problem+json\n\n{broken")))
    assert "{broken" in text and "does not parse as JSON" in text


def test_image_is_inlined_as_data_url():
    png = b"\x89PNG\r\n\x1a\n" + bytes(40)
    page = ResponseView(parse_cgi_output(b"Content-Type: image/png\n\n" + png))._repr_html_()
    assert f'<img src="data:image/png;base64,{base64.b64encode(png).decode()}"' in page


def test_svg_is_an_image_not_inline_markup():
    svg = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'
    page = ResponseView(parse_cgi_output(b"Content-Type: image/svg+xml\n\n" + svg))._repr_html_()
    assert "data:image/svg+xml;base64," in page
    assert "<svg" not in page and "<script" not in page


def test_binary_body_gets_size_and_hex_preview():
    body = bytes(i % 256 for i in range(300))
    view = ResponseView(parse_cgi_output(b"Content-Type: application/octet-stream\n\n" + body))
    text = repr(view)
    assert "<300 bytes of application/octet-stream>" in text
    assert "00000000  00 01 02 03 04 05 06 07 08 09 0a 0b 0c 0d 0e 0f  |................|" in text
    assert "000000f0  f0 f1" in text and "00000100" not in text  # only the first 256 bytes
    assert "44 more bytes" in text
    page = view._repr_html_()
    assert "300 bytes of application/octet-stream" in page and "00000010  10 11" in page


def test_image_text_form_is_a_summary_not_bytes():
    text = repr(ResponseView(parse_cgi_output(b"Content-Type: image/png\n\n\x89PNG\r\n\x1a\n")))
    assert "<8 bytes of image/png>" in text and "|.PNG....|" in text


def test_text_form_layout():
    response = parse_cgi_output(b"Content-Type: text/plain\nX-Foo: bar\nX-Foo: baz\n\nHello, world!\n",
                                request=Request.parse_line("GET /hello"), route="/hello", duration=0.00042)
    assert repr(ResponseView(response)) == (
        "GET /hello\n"
        "HTTP 200 OK  (route /hello, 0.42 ms)\n"
        "content-type: text/plain\n"
        "x-foo: bar\n"
        "x-foo: baz\n"
        "\n"
        "Hello, world!")


def test_html_form_has_request_status_and_all_header_values():
    response = parse_cgi_output(b"Content-Type: text/plain\nX-Foo: bar\nX-Foo: baz\n\nok",
                                request=Request.parse_line("GET /hello?x=1"), route="/hello", duration=0.001)
    page = ResponseView(response)._repr_html_()
    assert "GET /hello?x=1" in page and "200 OK" in page and "#2a7a2a" in page
    assert "route /hello, 1.00 ms" in page
    assert page.count(">X-Foo</td>") == 2 and ">bar</td>" in page and ">baz</td>" in page


def test_status_colour_by_class():
    # JupyterLab's theme colours (light and dark), with the light ones where there is no theme.
    colours = {200: "var(--jp-success-color0, #2a7a2a)", 302: "var(--jp-info-color0, #1f5fa8)",
               404: "var(--jp-warn-color0, #b07800)", 503: "var(--jp-error-color1, #b52a2a)"}
    for status, colour in colours.items():
        response = parse_cgi_output(f"Status: {status}\nContent-Type: text/plain\n\n".encode())
        assert f"font-weight:bold;color:{colour}'>{status}" in ResponseView(response)._repr_html_()


def test_no_view_sets_a_fixed_text_colour_a_dark_theme_cannot_read():
    response = parse_cgi_output(b"Content-Type: text/plain\nnot a header\n\nbody", stderr=b"panicked\n")
    page = ResponseView(response, compiler_warnings="warning: unused")._repr_html_()
    fixed = re.findall(r"(?<![-\w])color:\s*(#[0-9a-fA-F]{3,6})", page)
    assert fixed == [], fixed  # every colour is a theme variable (with a fallback inside var())
    assert "background:var(--jp-rendermime-error-background" in page


def test_404_lists_the_routes():
    response = error_response(404, "Nothing is routed here.", request=Request.parse_line("GET /x"))
    view = ResponseView(response, routes=["/", "/hello/..."])
    assert "No route matches /x. Routes: /, /hello/..." in repr(view)
    assert "No route matches /x. Routes: /, /hello/..." in view._repr_html_()


def test_module_404_does_not_list_routes():
    response = parse_cgi_output(b"Status: 404\nContent-Type: text/plain\n\nno such user", route="/users/...")
    assert "Routes:" not in repr(ResponseView(response, routes=["/", "/users/..."]))


def test_error_is_shown_once_in_text_and_raw_output_with_it():
    response = parse_cgi_output(b"hello there\n")
    text = repr(ResponseView(response))
    assert text.startswith("HTTP 500 Internal Server Error")
    assert text.count("is not a CGI response") == 1
    assert "--- raw CGI output ---\nhello there" in text
    page = ResponseView(response)._repr_html_()
    assert "is not a CGI response" in page and "<details open><summary" in page


def test_raw_stderr_and_warnings_sections():
    response = parse_cgi_output(b"Content-Type: text/plain\nnot a header\n\nbody", stderr=b"debug: <b>x</b>\n")
    page = ResponseView(response)._repr_html_()
    assert "Raw CGI output" in page and "Content-Type: text/plain\nnot a header" in page
    assert re.search(r"<details open><summary[^>]*>Module stderr</summary>", page)
    assert "debug: &lt;b&gt;x&lt;/b&gt;" in page and "<b>x</b>" not in page
    assert re.search(r"<details open><summary[^>]*>Header warnings \(1\)</summary>", page)
    text = repr(ResponseView(response))
    assert "--- stderr ---\ndebug: <b>x</b>" in text
    assert "--- header warnings ---\n- dropped a header line" in text


def test_quiet_response_keeps_sections_closed():
    page = ResponseView(parse_cgi_output(b"Content-Type: text/plain\n\nok"))._repr_html_()
    assert "<details open" not in page and "Raw CGI output" in page
    # Empty sections are not shown at all (no "Module stderr (empty)" on every response).
    assert "Module stderr" not in page and "warnings" not in page.lower()
    assert "--- stderr ---" not in repr(ResponseView(parse_cgi_output(b"Content-Type: text/plain\n\nok")))


def test_empty_body():
    view = ResponseView(parse_cgi_output(b"Status: 204 No Content\n\n"))
    assert "(empty body)" in repr(view) and "(empty body)" in view._repr_html_()


def test_non_utf8_body_and_stderr_do_not_crash():
    response = parse_cgi_output(b"Content-Type: text/html\n\n\xff<b>\xfe</b>", stderr=b"\xc3\x28")
    page = ResponseView(response)._repr_html_()
    assert "not valid UTF-8" in page and "<b>" not in page
    assert "\ufffd" in repr(ResponseView(response))
    unknown = parse_cgi_output(b"Content-Type: text/plain\n\n\xff\xfe\xfd")
    assert "\ufffd" in repr(ResponseView(unknown))


def test_declared_charset_is_used():
    response = parse_cgi_output(b"Content-Type: text/plain; charset=iso-8859-1\n\ncaf\xe9")
    assert repr(ResponseView(response)).endswith("café")


@pytest.mark.parametrize("content_type", [
    'text/plain; charset="iso-8859-1"',
    "text/plain;Charset=Latin1",
    "text/plain; format=flowed; charset=cp1252",
    'text/plain; title="a; charset=utf-8"; charset=iso-8859-1',  # (a quoted value's `;` is not a split)
])
def test_the_view_and_response_text_read_the_charset_alike(content_type):
    response = parse_cgi_output(f"Content-Type: {content_type}\n\n".encode() + b"caf\xe9")
    assert response.text == "café"
    assert repr(ResponseView(response)).endswith("café")


def test_a_codec_that_is_no_charset_falls_back_to_utf8_in_both():
    response = parse_cgi_output("Content-Type: text/plain; charset=base64\n\ncafé".encode())
    assert response.text == "café"
    assert repr(ResponseView(response)).endswith("café")


def test_body_without_content_type_decodes_as_text_or_shows_bytes():
    text = ResponseView(parse_cgi_output(b"Status: 200\n\nplain words"))
    assert repr(text).endswith("plain words")
    binary = ResponseView(parse_cgi_output(b"Status: 200\n\n\x00\xff"))
    assert "<2 bytes, no content-type>" in repr(binary)


def test_large_text_body_is_truncated_with_a_note():
    view = ResponseView(parse_cgi_output(b"Content-Type: text/plain\n\n" + b"a" * 100_000))
    assert "showing the first 65,536 of 100,000 bytes" in repr(view)
    assert "showing the first 65,536 of 100,000 bytes" in view._repr_html_()


def test_title_and_attribute_fall_through():
    view = ResponseView(parse_cgi_output(b'Content-Type: application/json\n\n{"a": 1}'), title="GET /api")
    assert repr(view).startswith("GET /api\n") and "GET /api" in view._repr_html_()
    assert view.status == 200 and view.json() == {"a": 1}


def test_a_panic_comes_first_and_the_backtrace_is_folded():
    message = ("The module panicked at cell line 7: index out of bounds: the len is 3 but the index is 6.\n"
               "It trapped: wasm trap: wasm `unreachable` instruction executed.")
    frames = ["0x72dc __rust_start_panic", "0x6ab cell::main", "0x3b7 _start"]
    response = error_response(500, message, frames, stderr=b"thread 'main' panicked at ...\n")
    assert response.text == message + "".join(f"\n    {frame}" for frame in frames)  # what curl shows
    page = ResponseView(response)._repr_html_()
    assert page.index("The module panicked at cell line 7") < page.index("It trapped") < page.index("Module stderr")
    folded = re.search(r"<details><summary[^>]*>wasm backtrace</summary>(.*?)</details>", page, re.S)
    assert folded and "cell::main" in folded.group(1)
    assert page.count("cell::main") == 1  # in the fold only, not also as a body below the message


def test_the_note_on_a_cut_body_is_above_it_too():
    response = parse_cgi_output(b"Content-Type: text/plain\n\n" + b"line of output\n" * 10_000)
    view = ResponseView(response)
    page, text = view._repr_html_(), repr(view)
    note = "showing the first 65,536 of 150,000 bytes"
    assert page.count(note) == 2 and page.index(note) < page.index("line of output")
    assert text.count(note) == 2 and text.index(note) < text.index("line of output")
    short = ResponseView(parse_cgi_output(b"Content-Type: text/plain\n\nshort\n"))
    assert "showing the first" not in short._repr_html_()
