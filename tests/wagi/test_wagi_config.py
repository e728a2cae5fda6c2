"""Spec section 1, ``modules.toml``: loading (paths, volumes, file: URLs, .wat), every bad input and
its message, and save_config → load_config giving the same responses.
"""
from __future__ import annotations

import shutil
import warnings

import pytest

from wagi_nb.export import save_config
from wagi_nb.wagi import ConfigError, WagiApp, load_config
from wagi_nb.wagi.config import ConfigWarning

from helpers import wagi_modules as wm


@pytest.fixture
def site(tmp_path, hello_module, env_module, tool_module):
    """A folder with modules in it, as a modules.toml would sit beside them."""
    folder = tmp_path / "site"
    (folder / "wasm").mkdir(parents=True)
    shutil.copyfile(hello_module.wasm_path, folder / "hello.wasm")
    shutil.copyfile(env_module.wasm_path, folder / "wasm" / "env.wasm")
    shutil.copyfile(tool_module.wasm_path, folder / "wasm" / "tool.wasm")
    (folder / "static").mkdir()
    (folder / "static" / "hello.txt").write_text("hello from the volume\n")
    (tmp_path / "elsewhere").mkdir()
    return folder


def write(folder, text, name="modules.toml"):
    path = folder / name
    path.write_text(text)
    return path


def load_error(folder, text) -> str:
    with pytest.raises(ConfigError) as error:
        WagiApp().load_config(write(folder, text))
    return str(error.value)


# -- valid configs ----------------------------------------------------------------------------------------
def test_two_line_config_serves_hello_world(site, monkeypatch):
    config = write(site, '[[module]]\nroute = "/"\nmodule = "hello.wasm"\n')
    monkeypatch.chdir(site.parent / "elsewhere")           # relative to the file, not the cwd
    app = WagiApp()
    handlers = app.load_config(config)
    assert len(handlers) == 1
    response = app.request("GET", "/")
    assert response.status == 200
    assert response.headers["Content-Type"] == "text/plain"
    assert response.body == b"Hello, world!\n"


def test_same_response_as_the_built_module(site, hello_module):
    built = WagiApp()
    built.add_route("/", hello_module)
    loaded = WagiApp.from_config(write(site, '[[module]]\nroute = "/"\nmodule = "hello.wasm"\n'))
    a, b = built.request("GET", "/"), loaded.request("GET", "/")
    assert (a.status, list(a.headers.get_all()), a.body) == (b.status, list(b.headers.get_all()), b.body)


def test_relative_config_path_from_another_cwd(site, monkeypatch):
    write(site, '[[module]]\nroute = "/env/..."\nmodule = "wasm/env.wasm"\n')
    monkeypatch.chdir(site.parent)
    app = WagiApp()
    app.load_config("site/modules.toml")
    assert wm.Seen(app.request("GET", "/env/x")).env["SCRIPT_NAME"] == "/env"
    entry = load_config("site/modules.toml")[0]
    assert entry.module == (site / "wasm" / "env.wasm").resolve()


def test_config_in_a_subfolder_with_parent_relative_module(site, monkeypatch):
    (site / "conf").mkdir()
    config = write(site / "conf", '[[module]]\nroute = "/"\nmodule = "../hello.wasm"\n')
    monkeypatch.chdir(site.parent / "elsewhere")
    assert WagiApp.from_config(config).request("GET", "/").text == "Hello, world!\n"


def test_absolute_module_path(site, monkeypatch):
    config = write(site.parent / "elsewhere",
                   f'[[module]]\nroute = "/"\nmodule = "{(site / "hello.wasm").as_posix()}"\n')
    assert WagiApp.from_config(config).request("GET", "/").text == "Hello, world!\n"


def test_file_url(site):
    url = (site / "hello.wasm").as_uri()
    config = write(site.parent / "elsewhere", f'[[module]]\nroute = "/"\nmodule = "{url}"\n')
    assert WagiApp.from_config(config).request("GET", "/").text == "Hello, world!\n"


def test_file_url_with_an_escaped_space(site):
    spaced = site / "with space"
    spaced.mkdir()
    shutil.copyfile(site / "hello.wasm", spaced / "hello.wasm")
    url = (spaced / "hello.wasm").as_uri()
    assert "%20" in url
    config = write(site, f'[[module]]\nroute = "/"\nmodule = "{url}"\n')
    assert WagiApp.from_config(config).request("GET", "/").text == "Hello, world!\n"


def test_wat_module_file(site, monkeypatch):
    (site / "hi.wat").write_text(wm.wat_printer({"_start": wm.plain("from a .wat file")}))
    config = write(site, '[[module]]\nroute = "/wat"\nmodule = "hi.wat"\n')
    monkeypatch.chdir(site.parent / "elsewhere")
    assert WagiApp.from_config(config).request("GET", "/wat").text == "from a .wat file"


def test_volumes_are_relative_to_the_config_file(site, monkeypatch):
    config = write(site, '[[module]]\nroute = "/read"\nmodule = "wasm/tool.wasm"\n'
                         'volumes = { "/data" = "static" }\n')
    monkeypatch.chdir(site.parent / "elsewhere")
    app = WagiApp.from_config(config)
    assert app.handlers[0].volumes == {"/data": str((site / "static").resolve())}
    assert app.request("GET", "/read?read=/data/hello.txt").text == "hello from the volume\n"


def test_every_key(site):
    config = write(site, """
[[module]]
route = "/env/..."
module = "wasm/env.wasm"
entrypoint = "_start"
volumes = { "/data" = "static", "/more" = "." }
argv = "${SCRIPT_NAME} --flag ${ARGS}"
allowed_hosts = ["https://api.example.com"]
http_max_concurrency = 4
""")
    app = WagiApp()
    with warnings.catch_warnings():
        warnings.simplefilter("error")                    # no warning for known keys
        app.load_config(config)
    handler = app.handlers[0]
    assert handler.allowed_hosts == ("https://api.example.com",)
    assert handler.http_max_concurrency == 4
    assert set(handler.volumes) == {"/data", "/more"}
    assert wm.Seen(app.request("GET", "/env/x?a=1")).argv == ["/env/x", "--flag", "a=1"]


def test_entrypoint_key(site):
    (site / "multi.wat").write_text(wm.wat_printer({"_start": wm.plain("start"),
                                                    "other": wm.plain("other")}))
    config = write(site, '[[module]]\nroute = "/o"\nmodule = "multi.wat"\nentrypoint = "other"\n'
                         '[[module]]\nroute = "/s"\nmodule = "multi.wat"\n')
    app = WagiApp.from_config(config)
    assert app.request("GET", "/o").text == "other"
    assert app.request("GET", "/s").text == "start"


def test_routes_are_served_in_file_order(site):
    config = write(site, '[[module]]\nroute = "/a/..."\nmodule = "wasm/env.wasm"\n'
                         '[[module]]\nroute = "/a/b"\nmodule = "hello.wasm"\n')
    app = WagiApp.from_config(config)
    assert [h.route.text for h in app.handlers] == ["/a/...", "/a/b"]
    assert wm.Seen(app.request("GET", "/a/b")).env["X_MATCHED_ROUTE"] == "/a/..."


def test_unknown_key_is_a_warning_not_an_error(site):
    config = write(site, '[[module]]\nroute = "/"\nmodule = "hello.wasm"\nshiny = true\n')
    with pytest.warns(ConfigWarning, match="shiny"):
        app = WagiApp.from_config(config)
    assert app.request("GET", "/").status == 200


def test_other_top_level_tables_are_ignored(site):
    config = write(site, 'title = "x"\n[server]\nport = 1\n\n[[module]]\nroute = "/"\n'
                         'module = "hello.wasm"\n')
    assert WagiApp.from_config(config).request("GET", "/").status == 200


def test_load_config_adds_to_and_replaces_existing_routes(site, env_module):
    app = WagiApp()
    app.add_route("/", env_module)
    app.add_route("/keep", env_module)
    app.load_config(write(site, '[[module]]\nroute = "/"\nmodule = "hello.wasm"\n'))
    assert [h.route.text for h in app.handlers] == ["/", "/keep"]
    assert app.request("GET", "/").text == "Hello, world!\n"
    app.load_config(site / "modules.toml", replace_all=True)
    assert [h.route.text for h in app.handlers] == ["/"]


# -- bad configs --------------------------------------------------------------------------------------------
def test_missing_config_file(tmp_path):
    with pytest.raises(ConfigError, match="nope.toml"):
        WagiApp().load_config(tmp_path / "nope.toml")


def test_syntax_error_names_the_line(site):
    message = load_error(site, '[[module]]\nroute = "/"\nmodule = "hello.wasm\n')
    assert "line 3" in message
    assert "modules.toml" in message


def test_syntax_error_on_another_line(site):
    message = load_error(site, '# comment\n\n[[module]]\nroute = "/"\nmodule = hello.wasm\n')
    assert "line 5" in message


def test_missing_route_names_the_key_and_the_entry(site):
    message = load_error(site, '[[module]]\nroute = "/"\nmodule = "hello.wasm"\n'
                               '[[module]]\nmodule = "hello.wasm"\n')
    assert "`route`" in message
    assert "#2" in message


def test_missing_module_names_the_key_the_entry_and_its_route(site):
    message = load_error(site, '[[module]]\nroute = "/x"\n')
    assert "`module`" in message
    assert "#1" in message
    assert "'/x'" in message


@pytest.mark.parametrize("line, key", [
    ("route = 5", "route"),
    ('entrypoint = 3', "entrypoint"),
    ('volumes = "static"', "volumes"),
    ('argv = ["a", "b"]', "argv"),
    ('allowed_hosts = "https://x"', "allowed_hosts"),
    ('http_max_concurrency = "4"', "http_max_concurrency"),
    ("http_max_concurrency = true", "http_max_concurrency"),
    ("module = 1", "module"),
])
def test_wrong_type_names_the_key(site, line, key):
    entry = {"route": 'route = "/"', "module": 'module = "hello.wasm"'}
    name = line.split(" ")[0]
    entry[name] = line
    message = load_error(site, "[[module]]\n" + "\n".join(entry.values()) + "\n")
    assert f"`{key}`" in message
    assert "#1" in message


def test_volume_values_must_be_strings(site):
    message = load_error(site, '[[module]]\nroute = "/"\nmodule = "hello.wasm"\n'
                               'volumes = { "/data" = 1 }\n')
    assert "/data" in message


def test_missing_volume_folder_is_named(site):
    message = load_error(site, '[[module]]\nroute = "/"\nmodule = "hello.wasm"\n'
                               'volumes = { "/data" = "no-such-folder" }\n')
    assert "no-such-folder" in message


def test_missing_module_file_is_named(site):
    message = load_error(site, '[[module]]\nroute = "/"\nmodule = "hello.wasm"\n'
                               '[[module]]\nroute = "/b"\nmodule = "missing/nope.wasm"\n')
    assert "missing/nope.wasm" in message
    assert "#2" in message


def test_module_that_does_not_compile_is_named(site):
    (site / "broken.wasm").write_bytes(b"\0asm not really")
    message = load_error(site, '[[module]]\nroute = "/"\nmodule = "broken.wasm"\n')
    assert "broken.wasm" in message


def test_wat_that_does_not_compile_is_named(site):
    (site / "broken.wat").write_text("(module (func $f (i32.add)))")
    message = load_error(site, '[[module]]\nroute = "/"\nmodule = "broken.wat"\n')
    assert "broken.wat" in message


def test_a_bad_config_adds_no_routes(site, env_module):
    app = WagiApp()
    app.add_route("/", env_module)
    with pytest.raises(ConfigError):
        app.load_config(write(site, '[[module]]\nroute = "/ok"\nmodule = "hello.wasm"\n'
                                    '[[module]]\nroute = "/b"\nmodule = "nope.wasm"\n'))
    assert [h.route.text for h in app.handlers] == ["/"]


@pytest.mark.parametrize("reference", ["oci:example.com/hello:v1", "bindle:hello/1.0.0",
                                       "oci://ghcr.io/x/y:latest"])
def test_oci_and_bindle_are_not_supported(site, reference):
    message = load_error(site, f'[[module]]\nroute = "/"\nmodule = "{reference}"\n')
    assert "not" in message and "support" in message
    assert reference in message


def test_other_url_schemes_are_rejected(site):
    message = load_error(site, '[[module]]\nroute = "/"\nmodule = "https://x.test/a.wasm"\n')
    assert "https://x.test/a.wasm" in message


def test_single_module_table_is_a_clear_error(site):
    message = load_error(site, '[module]\nroute = "/"\nmodule = "hello.wasm"\n')
    assert "[[module]]" in message


def test_no_module_entries_is_an_error(site):
    message = load_error(site, "# nothing here\n")
    assert "[[module]]" in message


def test_bad_route_in_config_names_the_entry(site):
    message = load_error(site, '[[module]]\nroute = "hello"\nmodule = "hello.wasm"\n')
    assert "#1" in message and "'/'" in message


def test_bad_routes_output_in_config_is_a_config_error(site):
    (site / "r.wat").write_text(wm.wat_printer({"_start": wm.plain("x"),
                                                "_routes": "/a b c\n"}))
    message = load_error(site, '[[module]]\nroute = "/..."\nmodule = "r.wat"\n')
    assert "'/a b c'" in message


# -- save_config → load_config ------------------------------------------------------------------------------
REQUESTS = [
    ("GET", "/", None, b""),
    ("GET", "/env/a%20b?x=1&y=2", {"X-Thing": "t"}, b""),
    ("POST", "/env/post", {"Content-Type": "text/plain"}, b"the body"),
    ("GET", "/sub/exact", None, b""),
    ("GET", "/sub/other", None, b""),
    ("GET", "/read?read=/data/hello.txt", None, b""),
    ("GET", "/nothing", None, b""),
    ("GET", "/healthz", None, b""),
    ("GET", "/file", None, b""),
]


def answers(app):
    out = []
    for method, target, headers, body in REQUESTS:
        response = app.request(method, target, headers, body)
        out.append((target, response.status, sorted(response.headers.get_all()), response.body))
    return out


def test_save_then_load_gives_identical_responses(site, tmp_path, hello_module, env_module,
                                                  tool_module, monkeypatch):
    import wagi_nb
    app = WagiApp()
    app.add_route("/", hello_module)
    app.add_route("/env/...", env_module, argv="${SCRIPT_NAME} ${ARGS}")
    app.add_route("/sub/...", wm.wat_module({"_start": wm.plain("parent"), "_routes": "/exact one\n",
                                             "one": wm.plain("one")}))
    app.add_route("/read", tool_module, volumes={"/data": str(site / "static")})
    app.add_route("/file", wagi_nb.load(site / "hello.wasm"))          # a module from a file
    app.add_route("/entry", wm.wat_module({"_start": wm.plain("s"), "e": wm.plain("e")}),
                  entrypoint="e")
    before = answers(app)
    assert [status for _, status, _, _ in before] == [200, 200, 200, 200, 200, 200, 404, 200, 200]

    out = tmp_path / "saved" / "modules.toml"
    assert save_config(app, out) == out
    text = out.read_text()
    assert str(tmp_path) not in text                                   # every path is relative
    monkeypatch.chdir(site.parent / "elsewhere")
    loaded = WagiApp()
    loaded.load_config(out)
    assert answers(loaded) == before
    assert loaded.request("GET", "/entry").text == "e"
    assert [h.route.text for h in loaded.handlers] == [h.route.text for h in app.handlers]
    assert [h.argv for h in loaded.handlers] == [h.argv for h in app.handlers]

    # the saved folder can move: paths stay relative to the file
    moved = tmp_path / "moved"
    shutil.copytree(tmp_path / "saved", moved)
    shutil.rmtree(tmp_path / "saved")
    assert answers(WagiApp.from_config(moved / "modules.toml")) == before


def test_save_config_to_a_folder(tmp_path, hello_module):
    app = WagiApp()
    app.add_route("/", hello_module)
    path = save_config(app, tmp_path / "out")
    assert path == tmp_path / "out" / "modules.toml"
    assert WagiApp.from_config(path).request("GET", "/").text == "Hello, world!\n"


def test_save_config_with_no_routes_is_an_error(tmp_path):
    from wagi_nb.errors import WagiNbError
    with pytest.raises(WagiNbError, match="no routes"):
        save_config(WagiApp(), tmp_path / "modules.toml")


def test_save_config_never_lets_two_modules_share_a_file(tmp_path):
    # /a and /a/... both make the file name "a"; named artifacts can share a name too.
    app = WagiApp()
    app.add_route("/a", wm.wat_module({"_start": wm.plain("exact")}))
    app.add_route("/a/...", wm.wat_module({"_start": wm.plain("prefix")}))
    app.add_route("/n1", wm.wat_module({"_start": wm.plain("first")}, name="same"))
    app.add_route("/n2", wm.wat_module({"_start": wm.plain("second")}, name="same"))
    app.add_route("/n3", wm.wat_module({"_start": wm.plain("first")}, name="same"))
    loaded = WagiApp.from_config(save_config(app, tmp_path / "modules.toml"))
    for target in ("/a", "/a/x", "/n1", "/n2", "/n3"):
        assert loaded.request("GET", target).text == app.request("GET", target).text, target
    assert [loaded.request("GET", t).text for t in ("/a", "/a/x", "/n1", "/n2", "/n3")] == \
        ["exact", "prefix", "first", "second", "first"]
