"""Spec section 2, "Routing": exact and prefix routes, first match wins, /healthz, 404, ``_routes``
sub-routes (the slash-joining table, reverse order, fresh instances), and the route table.
"""
from __future__ import annotations

import threading

import pytest

from wagi_nb.wagi import BadRoute, Route, WagiApp

from helpers import wagi_modules as wm


def matched(app, target):
    """The route that answered ``GET target`` (X_MATCHED_ROUTE as the module saw it), or 404."""
    response = app.request("GET", target)
    if response.status == 404:
        assert response.body == b""
        return 404
    return wm.Seen(response).env["X_MATCHED_ROUTE"]


def app_with(module, *routes):
    app = WagiApp()
    for route in routes:
        app.add_route(route, module)
    return app


# -- exact and prefix routes -----------------------------------------------------------------------------
@pytest.mark.parametrize("target, expected", [
    ("/foo", "/foo/..."),
    ("/foo/", "/foo/..."),
    ("/foo/a", "/foo/..."),
    ("/foo/a/b", "/foo/..."),
    ("/foo?x=1", "/foo/..."),
    ("/foobar", 404),
    ("/foo.txt", 404),
    ("/fo", 404),
    ("/", 404),
    ("/FOO", 404),
])
def test_prefix_route(env_module, target, expected):
    assert matched(app_with(env_module, "/foo/..."), target) == expected


@pytest.mark.parametrize("target", ["/", "/a", "/a/b/c", "/foobar", "/%20", "/?x=1", "//"])
def test_wildcard_route_matches_every_path(env_module, target):
    assert matched(app_with(env_module, "/..."), target) == "/..."


@pytest.mark.parametrize("target, expected", [
    ("/foo", "/foo"),
    ("/foo?x=1&y", "/foo"),          # the query is not matched
    ("/foo/", 404),                  # byte for byte: /foo is not /foo/
    ("/foo/a", 404),
    ("/Foo", 404),
    ("/foob", 404),
    ("/fo", 404),
])
def test_exact_route(env_module, target, expected):
    assert matched(app_with(env_module, "/foo"), target) == expected


def test_exact_route_with_trailing_slash(env_module):
    app = app_with(env_module, "/foo/")
    assert matched(app, "/foo/") == "/foo/"
    assert matched(app, "/foo") == 404


def test_root_exact_route(env_module):
    app = app_with(env_module, "/")
    assert matched(app, "/") == "/"
    assert matched(app, "/?q") == "/"
    assert matched(app, "/x") == 404


@pytest.mark.parametrize("route, target, expected", [
    ("/a%20b", "/a%20b", "/a%20b"),
    ("/a%20b", "/a b", 404),                       # matching is on the raw path, not decoded
    ("/a b/...", None, None),
    ("/caf%C3%A9/...", "/caf%C3%A9/x", "/caf%C3%A9/..."),
    ("/caf%C3%A9/...", "/café/x", 404),
    ("/caf%C3%A9/...", "/caf%c3%a9/x", 404),       # byte for byte, not case-folded
    ("/a+b", "/a+b", "/a+b"),
    ("/a+b", "/a%2Bb", 404),
])
def test_matching_is_on_the_raw_percent_encoded_path(env_module, route, target, expected):
    if target is None:
        with pytest.raises(BadRoute):
            app_with(env_module, route)
        return
    assert matched(app_with(env_module, route), target) == expected


def test_first_match_wins_in_order(env_module):
    app = app_with(env_module, "/a/...", "/a/b", "/...")
    assert matched(app, "/a/b") == "/a/..."      # /a/b is listed later
    assert matched(app, "/a") == "/a/..."
    assert matched(app, "/b") == "/..."
    other = app_with(env_module, "/a/b", "/a/...", "/...")
    assert matched(other, "/a/b") == "/a/b"
    assert matched(other, "/a/c") == "/a/..."


def test_wildcard_first_shadows_everything(env_module):
    app = app_with(env_module, "/...", "/a")
    assert matched(app, "/a") == "/..."


def test_healthz_is_built_in(env_module):
    response = WagiApp().request("GET", "/healthz")
    assert (response.status, response.body) == (200, b"OK")


@pytest.mark.parametrize("route", ["/...", "/healthz", "/healthz/..."])
def test_healthz_beats_every_module(env_module, route):
    app = app_with(env_module, route)
    response = app.request("GET", "/healthz")
    assert (response.status, response.body) == (200, b"OK")
    assert response.stderr == b""                      # the module did not run


def test_healthz_is_exact(env_module):
    app = app_with(env_module, "/...")
    assert matched(app, "/healthz/") == "/..."
    assert matched(app, "/healthzz") == "/..."


def test_no_match_is_404_with_an_empty_body(env_module):
    app = app_with(env_module, "/a", "/b/...")
    for target in ("/", "/c", "/a/", "/bb", "/nothing/here?x=1"):
        response = app.request("GET", target)
        assert response.status == 404
        assert response.body == b""


def test_empty_app_is_404():
    response = WagiApp().request("GET", "/")
    assert (response.status, response.body) == (404, b"")


# -- bad routes --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("text", ["foo", "", "foo/...", "...", "hello world", "*", "http://x/"])
def test_route_not_starting_with_slash_is_bad(text):
    with pytest.raises(BadRoute, match="does not start with '/'"):
        Route(text)


@pytest.mark.parametrize("text", ["/a b", "/a?x=1", "/a#frag", "/a/.../b", "/a\tb"])
def test_other_bad_routes(text):
    with pytest.raises(BadRoute):
        Route(text)


def test_add_route_rejects_a_route_without_slash(env_module):
    app = WagiApp()
    with pytest.raises(BadRoute, match="'hello'"):
        app.add_route("hello", env_module)
    assert app.handlers == ()


@pytest.mark.parametrize("text, prefix, script_name", [
    ("/", False, "/"), ("/a", False, "/a"), ("/...", True, "/"), ("/a/...", True, "/a"),
    ("/a/b/...", True, "/a/b"),
])
def test_route_properties(text, prefix, script_name):
    route = Route(text)
    assert route.is_prefix is prefix
    assert route.script_name == script_name


# -- _routes -------------------------------------------------------------------------------------------------
def routes_module(routes_output: str, **extra):
    exports = {"_start": wm.plain("parent"), "_routes": routes_output,
               "one": wm.plain("one"), "two": wm.plain("two"), "three": wm.plain("three")}
    exports.update(extra)
    return wm.wat_module(exports, fresh_check="check")


def body(app, target):
    response = app.request("GET", target)
    return response.text if response.status == 200 else response.status


@pytest.mark.parametrize("parent, printed, joined, hits, misses", [
    # the spec's table
    ("/", "/exact", "/exact", ["/exact", "/exact?x"], ["/exact/", "/exact/x"]),
    ("/p/...", "/exact", "/p/exact", ["/p/exact"], ["/p/exact/x", "/exact"]),
    ("/p", "/w/...", "/p/w/...", ["/p/w", "/p/w/", "/p/w/x/y"], ["/p/wx", "/w"]),
    # and the same rules elsewhere
    ("/...", "/exact", "/exact", ["/exact"], ["/exact/"]),
    ("/...", "/w/...", "/w/...", ["/w", "/w/z"], ["/wz"]),
    ("/p/", "/exact", "/p/exact", ["/p/exact"], ["/p//exact"]),
    ("/p/...", "/", "/p/", ["/p/"], ["/p/x"]),
    ("/p/...", "/...", "/p/...", ["/p", "/p/x"], ["/px"]),
    ("/a/b/...", "/c/...", "/a/b/c/...", ["/a/b/c", "/a/b/c/d"], ["/a/b/cd", "/c"]),
])
def test_routes_slash_joining(parent, printed, joined, hits, misses):
    app = WagiApp()
    old = app.add_route(parent, routes_module(f"{printed} one\n"))
    assert old is None
    handler = app.handlers[0]
    assert [(route.text, entrypoint) for route, entrypoint in handler.subroutes] == [(joined, "one")]
    assert app.routes() == ["/healthz", joined, parent]
    for target in hits:
        response = app.request("GET", target)
        assert (response.status, response.text, response.route) == (200, "one", joined), target
    for target in misses:
        assert body(app, target) != "one", target


def test_subroutes_are_matched_before_the_parent_route():
    app = WagiApp()
    app.add_route("/p/...", routes_module("/exact one\n/w/... two\n"))
    assert body(app, "/p/exact") == "one"
    assert body(app, "/p/w/x") == "two"
    assert body(app, "/p/other") == "parent"
    assert body(app, "/p") == "parent"
    assert body(app, "/q") == 404


def test_subroutes_are_matched_in_reverse_order_of_printing():
    later_exact = WagiApp()
    later_exact.add_route("/...", routes_module("/x/... one\n/x/y two\n"))
    assert body(later_exact, "/x/y") == "two"         # printed last, tried first
    assert body(later_exact, "/x/z") == "one"
    assert later_exact.routes() == ["/healthz", "/x/y", "/x/...", "/..."]
    later_prefix = WagiApp()
    later_prefix.add_route("/...", routes_module("/x/y two\n/x/... one\n"))
    assert body(later_prefix, "/x/y") == "one"        # the prefix was printed last: it wins
    same_route = WagiApp()
    same_route.add_route("/...", routes_module("/s one\n/s two\n/s three\n"))
    assert body(same_route, "/s") == "three"


def test_subroutes_of_an_earlier_module_beat_a_later_module(env_module):
    app = WagiApp()
    app.add_route("/m/...", routes_module("/exact one\n"))
    app.add_route("/m/exact", env_module)
    assert body(app, "/m/exact") == "one"


def test_routes_output_whitespace_and_blank_lines():
    app = WagiApp()
    app.add_route("/...", routes_module("\n   /a   one  \n\n\t\n/b\ttwo\r\n\n"))
    assert [(r.text, e) for r, e in app.handlers[0].subroutes] == [("/a", "one"), ("/b", "two")]
    assert body(app, "/a") == "one"
    assert body(app, "/b") == "two"


def test_entrypoint_runs_on_a_fresh_instance_without_start():
    app = WagiApp()
    app.add_route("/...", routes_module("/check check\n"))
    response = app.request("GET", "/check")
    assert response.text == "fresh"                      # _start would have printed "parent" first
    assert response.raw == b"Content-Type: text/plain\n\nfresh"


def test_entrypoint_option_runs_without_start():
    module = wm.wat_module({"_start": wm.plain("start"), "other": wm.plain("other")},
                           fresh_check="check")
    app = WagiApp()
    app.add_route("/other", module, entrypoint="other")
    app.add_route("/check", module, entrypoint="check")
    app.add_route("/start", module)
    assert body(app, "/other") == "other"
    assert body(app, "/check") == "fresh"
    assert body(app, "/start") == "start"


def test_subroute_naming_a_missing_export_is_500_at_request_time():
    app = WagiApp()
    app.add_route("/...", routes_module("/gone missing_function\n"))
    response = app.request("GET", "/gone")
    assert response.status == 500
    assert "missing_function" in response.text
    assert body(app, "/other") == "parent"


def test_module_without_routes_export_has_no_subroutes(env_module):
    app = WagiApp()
    app.add_route("/x/...", env_module)
    assert app.handlers[0].subroutes == ()


@pytest.mark.parametrize("output, quoted", [
    ("/a one extra\n", "/a one extra"),
    ("/ok one\n/a\n", "/a"),
    ("/ok one\njust-one-field\n", "just-one-field"),
    ("/a b c d\n", "/a b c d"),
])
def test_malformed_routes_output_quotes_the_line(output, quoted):
    with pytest.raises(BadRoute) as error:
        WagiApp().add_route("/...", routes_module(output))
    assert repr(quoted) in str(error.value)
    assert "two fields" in str(error.value)


@pytest.mark.parametrize("output", ["", "\n", "  \n\t\n"])
def test_empty_routes_output_is_an_error(output):
    with pytest.raises(BadRoute, match="printed no routes"):
        WagiApp().add_route("/...", routes_module(output))


def test_routes_output_with_a_bad_route_is_an_error():
    with pytest.raises(BadRoute, match=r"/a\?x"):
        WagiApp().add_route("/...", routes_module("/a?x=1 one\n"))


def test_routes_export_that_traps_is_an_error():
    source = wm.wat_printer({"_start": wm.plain("parent")}).rstrip().rstrip(")") + \
        '\n  (func (export "_routes") unreachable))\n'
    module = wm.build(source, "wat")
    with pytest.raises(BadRoute, match="_routes"):
        WagiApp().add_route("/...", module)


def test_a_changed_module_file_brings_its_own_routes(tmp_path):
    import shutil
    live = tmp_path / "live.wasm"
    shutil.copyfile(routes_module("/one one\n").wasm_path, live)
    (tmp_path / "modules.toml").write_text('[[module]]\nroute = "/..."\nmodule = "live.wasm"\n')
    app = WagiApp()
    notices: list = []
    app.notice_listeners.append(notices.append)
    app.load_config(tmp_path / "modules.toml")
    assert (body(app, "/one"), body(app, "/two")) == ("one", "parent")

    shutil.copyfile(routes_module("/two two\n").wasm_path, live)
    assert (body(app, "/two"), body(app, "/one")) == ("two", "parent")  # at the first request
    assert [(r.text, e) for r, e in app.handlers[0].subroutes] == [("/two", "two")]
    assert notices == [f"{live} changed: serving the new module"]

    # a replacement whose _routes fails is not taken up, nor are its routes: the pair stays
    shutil.copyfile(routes_module("/bad?x=1 one\n").wasm_path, live)
    assert body(app, "/two") == "two"
    assert "changed but cannot be used" in notices[-1] and "_routes" in notices[-1]


# -- the route table -----------------------------------------------------------------------------------------
def test_adding_the_same_route_replaces_it_in_place(env_module, tool_module):
    app = WagiApp()
    assert app.add_route("/a/...", env_module) is None
    assert app.add_route("/b", env_module) is None
    first = app.handlers[0]
    old = app.add_route("/a/...", tool_module)
    assert old is first
    assert [h.route.text for h in app.handlers] == ["/a/...", "/b"]
    assert app.handlers[0].artifact is tool_module
    response = app.request("POST", "/a/x", body=wm.plain("tool"))
    assert response.text == "tool"


def test_routes_differing_only_by_wildcard_are_different(env_module):
    app = WagiApp()
    app.add_route("/a", env_module)
    assert app.add_route("/a/...", env_module) is None
    assert len(app.handlers) == 2


def test_remove_and_clear(env_module):
    app = app_with(env_module, "/a", "/b")
    removed = app.remove("/a")
    assert removed.route.text == "/a"
    assert app.request("GET", "/a").status == 404
    assert matched(app, "/b") == "/b"
    app.clear()
    assert app.request("GET", "/b").status == 404
    assert app.routes() == ["/healthz"]


def test_a_request_in_flight_keeps_its_handler(tool_module):
    slow_module, fast_module = tool_module, wm.wat_module({"_start": wm.plain("B")})
    app = WagiApp()
    app.add_route("/swap", slow_module, argv="${SCRIPT_NAME} sleep=1500")
    fast_module.load()                                 # compile and link before the race
    slow_module.load()
    started = threading.Event()
    run_handler = app.run_handler

    def run_and_signal(*args, **kwargs):               # called once the route has been matched
        started.set()
        return run_handler(*args, **kwargs)

    app.run_handler = run_and_signal
    results = {}
    thread = threading.Thread(target=lambda: results.update(slow=app.request("GET", "/swap")))
    thread.start()
    assert started.wait(10)
    old = app.add_route("/swap", fast_module)          # swap while module A is sleeping
    assert old.artifact is slow_module
    assert thread.is_alive()
    after = app.request("GET", "/swap")
    thread.join(30)
    assert results["slow"].text == "slept\n"          # A's answer
    assert after.text == "B"
    assert app.request("GET", "/swap").text == "B"


def test_concurrent_replacement_keeps_the_table_consistent(env_module, tool_module):
    app = WagiApp()
    routes = [f"/r{n}" for n in range(20)]

    def add(module):
        for route in routes:
            app.add_route(route, module)

    threads = [threading.Thread(target=add, args=(m,)) for m in (env_module, tool_module) * 3]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert [h.route.text for h in app.handlers] == routes
