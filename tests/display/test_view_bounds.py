"""What a hostile module's response may cost the notebook: the view renders in time linear in the body
it shows, and to an output bounded by the view's caps, whatever the module prints."""
import json
import re
import time

import pytest
from hypothesis import given, settings, strategies as st

from wagi_nb.display import ResponseView
from wagi_nb.display.response_view import has_links
from wagi_nb.display.json_tree import MAX_DEPTH, MAX_NODES, STRING_LIMIT
from wagi_nb.display.text import SHOW_LIMIT
from wagi_nb.wagi.response import parse_cgi_output

KiB, MiB = 1024, 1024 * 1024
#: Where the page's links lead: nowhere (no %wagi_serve), the server, the server behind a proxy path.
LINK_BASES = [None, "http://127.0.0.1:3000/", "/user/ada/proxy/3000/"]
#: Pieces of HTML an attacker repeats: tags that never close, links that never finish, unclosed quotes.
HOSTILE = {
    "<a ": b"<a ",
    "<a href=": b"<a href=",
    'href="': b'href="',
    "unclosed quotes": b"<a href=\"/x ' <a href='/y \" ",
    "<form action=": b"<form action=",
    "<area href": b"<area href ",
    "mixed": b"<a <form <area href href= action src=\"/ src='/ <a\thref\n=\n",
}


def html_page(piece: bytes, size: int) -> ResponseView:
    body = (piece * (size // len(piece) + 1))[:size]
    return parse_cgi_output(b"Content-Type: text/html\n\n" + body)


def render_time(response, link_base, repeats: int = 1) -> float:
    """The fastest of ``repeats`` renderings: the others met a busy machine, not the algorithm."""
    best = float("inf")
    for _ in range(repeats):
        view = ResponseView(response, link_base=link_base)
        start = time.perf_counter()
        view._repr_html_()
        best = min(best, time.perf_counter() - start)
    return best


@pytest.mark.parametrize("link_base", LINK_BASES)
@pytest.mark.parametrize("name", HOSTILE)
def test_hostile_html_renders_in_linear_time(name, link_base):
    piece = HOSTILE[name]
    # Once first, and bounded: a quadratic rewrite takes a minute here, so it fails without repeats.
    once = render_time(html_page(piece, 64 * KiB), link_base)
    assert once < 2.0, f"64 KiB of {name!r} took {once:.1f} s to render"
    # Taken in turns, so that a busy spell of the machine slows both sizes alike.
    small = large = plain = float("inf")
    for _ in range(7):
        small = min(small, render_time(html_page(piece, 16 * KiB), link_base))
        large = min(large, render_time(html_page(piece, 64 * KiB), link_base))
        plain = min(plain, render_time(html_page(b"<p>plain words", 64 * KiB), link_base))
    # Four times the input: a linear algorithm takes ~4x as long, a quadratic one ~16x. The 10 ms
    # absorb a scheduler's pause in a measurement of a few milliseconds.
    assert large < 8 * small + 0.010, (f"{name!r}: 16 KiB {small * 1000:.1f} ms, 64 KiB {large * 1000:.1f} ms "
                                       f"(plain text: {plain * 1000:.1f} ms)")


def test_a_body_past_the_cap_renders_as_fast_as_the_cap():
    once = render_time(html_page(b"<a ", 1 * MiB), None)  # the view shows (and scans) its first 64 KiB
    assert once < 2.0, f"1 MiB of '<a ' took {once:.1f} s to render"


def test_link_note_on_hostile_pages():
    # The note that links go nowhere is still given exactly when a tag has a link attribute.
    def noted(piece):
        return "do nothing until %wagi_serve runs" in ResponseView(html_page(piece, 64 * KiB))._repr_html_()
    assert noted(b"<a ") is False and noted(b'href="') is False
    assert noted(b"<a href=") and noted(b"<form action=") and noted(HOSTILE["mixed"])
    assert noted(b"<a " * 10_000 + b"<a href=/x>")


#: The one pattern the link check was (quadratic): what it found is what has_links must find.
QUADRATIC_LINK = re.compile(r"<(a|area|form)\b[^>]*\b(href|action)\s*=", re.IGNORECASE)
FRAGMENTS = ["<a", "<A", "<area", "<form", "<ab", " ", "\t", "\n", "href", "HREF", "action", "src", "x",
             "-", "=", ">", "<", "'", '"', "/"]


@settings(max_examples=300, deadline=None, database=None)
@given(st.lists(st.sampled_from(FRAGMENTS), max_size=40).map("".join))
def test_has_links_finds_what_the_quadratic_pattern_found(page):
    assert has_links(page) == bool(QUADRATIC_LINK.search(page))


# -- JSON ----------------------------------------------------------------------------------------

#: The notebook output a JSON body may make: the tree (2,000 values of a few hundred bytes of markup,
#: 64 KiB of text) and the raw output's first 64 KiB, escaped. A 16 MiB body made 65 MB.
OUTPUT_BOUND = 1_000_000
#: The text form: 64 KiB of indented JSON, the status, headers and a note.
TEXT_BOUND = SHOW_LIMIT + 2 * KiB


def json_view(body: bytes) -> ResponseView:
    return ResponseView(parse_cgi_output(b"Content-Type: application/json\n\n" + body))


def huge_string(size: int) -> bytes:
    return json.dumps("x" * size).encode()


def array_of_objects(size: int) -> bytes:
    return b"[" + b",".join([b'{"id":1,"ok":true}'] * (size // 19)) + b"]"


def nested_arrays(size: int) -> bytes:
    return b"[" * (size // 2) + b"]" * (size // 2)


def test_a_huge_json_string_is_cut_with_a_note():
    view = json_view(huge_string(16 * MiB))
    page, text = view._repr_html_(), repr(view)
    assert len(page) < OUTPUT_BOUND and len(text) < TEXT_BOUND
    assert "wagi-nb-json" in page  # still a tree, its one string cut
    assert f"x…&quot;<span style='font-size:85%;color:var(--jp-ui-font-color2, #616161)'> " \
           f"({16 * MiB - STRING_LIMIT:,} more characters)" in page
    assert f"strings are cut at {STRING_LIMIT:,} characters" in page
    assert "the full body is on the result object (.body" in page
    assert f"showing the first 65,536 bytes of the indented JSON of a {16 * MiB + 2:,}-byte body" in text


def test_a_huge_json_array_stops_with_a_note():
    view = json_view(array_of_objects(16 * MiB))
    page, text = view._repr_html_(), repr(view)
    assert len(page) < OUTPUT_BOUND and len(text) < TEXT_BOUND
    assert "wagi-nb-json" in page  # the first values as a tree, then how many were left out
    assert f"the tree stops after {MAX_NODES:,} values" in page and "more items</div>" in page
    assert "the full body is on the result object (.body" in page
    assert "showing the first 65,536 bytes of the indented JSON" in text


def test_deeply_nested_json_is_bounded():
    view = json_view(nested_arrays(16 * MiB))  # deeper than Python's parser goes
    page, text = view._repr_html_(), repr(view)
    assert len(page) < OUTPUT_BOUND and len(text) < TEXT_BOUND
    assert "nested too deeply to parse, shown as text" in page and "showing the first 65,536 of" in page
    assert "nested too deeply to parse, shown as text" in text
    shallow = json_view(nested_arrays(2 * (MAX_DEPTH + 50)))._repr_html_()  # parses: summarised past MAX_DEPTH
    assert f"containers nested {MAX_DEPTH} deep are summarised" in shallow and "… 1 item</span> ]" in shallow


def test_huge_json_keys_are_cut():
    body = json.dumps({f"k{i}" + "y" * 100_000: "v" * 100_000 for i in range(100)}).encode()
    page = json_view(body)._repr_html_()
    assert len(page) < OUTPUT_BOUND and "strings are cut" in page and "the tree stops after" in page


@pytest.mark.parametrize("make", [huge_string, array_of_objects, nested_arrays])
def test_json_output_does_not_grow_with_the_body(make):
    # Bounded, not merely smaller: 16 times the body, the same output (but for the counts in it).
    small, large = json_view(make(1 * MiB)), json_view(make(16 * MiB))
    assert abs(len(large._repr_html_()) - len(small._repr_html_())) < 200
    assert abs(len(repr(large)) - len(repr(small))) < 200
