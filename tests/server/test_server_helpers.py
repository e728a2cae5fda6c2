"""Checks of ``helpers/servers.py`` itself: its tool and version modules behave as the server tests
assume (in-process, no sockets)."""
from __future__ import annotations

import re

import pytest

from helpers.servers import TOOL_C, big_body, build, version_source


@pytest.fixture(scope="module")
def tool_app(need_toolchain):
    from wagi_nb.wagi import WagiApp
    app = WagiApp(timeout=20, memory_limit_mib=16)
    app.add_route("/m", build(need_toolchain, TOOL_C, "c", name="server_tool"))
    return app


def test_tool_module_behaviours(tool_app):
    assert tool_app.request("GET", "/m?id=x7").body == b"id=x7\n"
    assert tool_app.request("GET", "/m?redirect").status == 301
    assert tool_app.request("GET", "/m?cookies").headers.get_list("Set-Cookie") == ["a=1", "b=2"]
    assert tool_app.request("GET", "/m?big=1000").body == big_body(1000)
    assert tool_app.request("GET", "/m?spin=10").body == b"spun 10 ms\n"
    seen = tool_app.request("POST", "/m?x=1&y=2", body=b"the body").text
    assert "A x=1\nA y=2\n" in seen and "E QUERY_STRING=x=1&y=2\n" in seen
    assert seen.endswith("STDIN\nthe body")


def test_tool_memory_bomb_stops_at_the_limit(tool_app):
    response = tool_app.request("GET", "/m?bomb")
    assert response.status == 200, response.text
    mib = int(re.search(r"bomb stopped after (\d+) MiB", response.text).group(1))
    assert 0 < mib < 16


def test_version_modules(need_toolchain):
    from wagi_nb.wagi import WagiApp
    app = WagiApp()
    app.add_route("/", build(need_toolchain, version_source("A"), "c"))
    assert app.request("GET", "/").body == b"version A\n"
