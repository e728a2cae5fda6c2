"""What %wagi_serve shows: the address, and a curl command with a Copy button beside it."""
import html
import json
from html.parser import HTMLParser

from wagi_nb.display import ServerView

URL = "http://127.0.0.1:3000/"


class Elements(HTMLParser):
    """Each start tag of a page, with its attributes as the browser reads them (entities decoded)."""

    def __init__(self, page: str):
        super().__init__()
        self.tags: list = []
        self.feed(page)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


def buttons(page: str) -> list:
    return [attrs for tag, attrs in Elements(page).tags if tag == "button"]


def test_the_curl_command_has_a_copy_button_that_copies_exactly_it():
    page = ServerView(URL, None, "started", ["/hello"])._repr_html_()
    assert f"<code>!curl -s {URL}</code><button" in page  # beside the command
    [button] = buttons(page)
    assert button["type"] == "button" and "hidden" in button  # hidden until its script shows it
    assert page.count("</button><script>document.currentScript.previousElementSibling.hidden=false</script>") == 1
    on_click = button["onclick"]
    assert f"t={json.dumps('!curl -s ' + URL)};" in on_click
    assert "navigator.clipboard.writeText(t)" in on_click and "'Copied'" in on_click


def test_the_copy_button_escapes_a_hostile_address():
    url = "http://127.0.0.1:3000/a'b\"c\\d</script><b>x</b>&amp;"
    page = ServerView(url, None, "started", [])._repr_html_()
    assert "<b>" not in page and "</script><b>" not in page
    [button] = buttons(page)
    # The attribute, once the browser decodes it, holds the command as one JavaScript string.
    assert f"t={json.dumps('!curl -s ' + url)};" in button["onclick"]
    assert html.escape(f"!curl -s {url}") in page


def test_the_text_form_is_unchanged():
    view = ServerView(URL, "https://hub.example/user/ada/proxy/3000/", "running", ["/", "/hello"])
    assert repr(view) == (
        f"Already serving the notebook's routes on {URL}\n"
        "In any browser showing this notebook (through jupyter-server-proxy): "
        "https://hub.example/user/ada/proxy/3000/\n"
        f"Try: !curl -s {URL}\n"
        "Routes: /, /hello")
    assert "Copy" not in repr(view)
