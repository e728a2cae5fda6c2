"""ResponseView: how a Wagi response looks as HTML in a notebook and as text in a log."""
import base64
import html
import re

from wagi_nb.display import ResponseView
from wagi_nb.wagi.request import Request
from wagi_nb.wagi.response import error_response, parse_cgi_output

SCRIPT_PAGE = b"Content-Type: text/html\n\n<h1>hi</h1><script>alert(1)</script>"


def test_html_body_is_in_a_sandboxed_iframe_and_never_raw():
    page = ResponseView(parse_cgi_output(SCRIPT_PAGE))._repr_html_()
    assert "<script" not in page and "<h1>" not in page
    srcdoc = re.search(r'<iframe sandbox="" srcdoc="([^"]*)"', page)
    assert srcdoc, page
    assert html.unescape(srcdoc.group(1)) == "<h1>hi</h1><script>alert(1)</script>"


def test_html_srcdoc_escapes_quotes():
    response = parse_cgi_output(b'Content-Type: text/html\n\n<a title="x" onclick=\'y\'>a</a>"><script>')
    page = ResponseView(response)._repr_html_()
    srcdoc = re.search(r'srcdoc="([^"]*)"', page).group(1)
    assert "<" not in srcdoc and "'" not in srcdoc
    assert html.unescape(srcdoc) == response.text


def test_json_is_pretty_printed():
    response = parse_cgi_output(b'Content-Type: application/json\n\n{"a":[1,2],"b":"x"}')
    assert '{\n  "a": [\n    1,\n    2\n  ],\n  "b": "x"\n}' in repr(ResponseView(response))
    assert "&quot;a&quot;: [" in ResponseView(response)._repr_html_()


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
    colours = {200: "#2a7a2a", 302: "#1f5fa8", 404: "#b07800", 503: "#b52a2a"}
    for status, colour in colours.items():
        response = parse_cgi_output(f"Status: {status}\nContent-Type: text/plain\n\n".encode())
        assert f"color:{colour}" in ResponseView(response)._repr_html_()


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
    assert re.search(r"<details open><summary[^>]*>Warnings \(1\)</summary>", page)
    text = repr(ResponseView(response))
    assert "--- stderr ---\ndebug: <b>x</b>" in text
    assert "--- warnings ---\n- dropped a header line" in text


def test_quiet_response_keeps_sections_closed():
    page = ResponseView(parse_cgi_output(b"Content-Type: text/plain\n\nok"))._repr_html_()
    assert "<details open" not in page and "Module stderr (empty)" in page
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
