"""The export's README says how Spin's wagi executor answers differently, per route and loudly.

The route-choice model (Wagi: first match in file order; Spin: most specific, no `_routes`, no
`/healthz`, `/.well-known/spin/` its own) is checked on route sets directly. Then real notebooks
(WAT and Python route cells) are exported with `wagi-nb export` and the README is read as a user
reads it; the exported app is served with `wagi-nb serve` to check that what the README says
wagi-nb does (the route that answers, the argv) is what it does.
"""
from __future__ import annotations

import http.client
import json
import re
from pathlib import Path

import pytest

import wagi_nb
from wagi_nb.export.spin_differences import (SPIN_RESERVED, argv_difference, rerouted, spin_argv,
                                             spin_differences, spin_target, wagi_target)
from wagi_nb.wagi import HEALTHZ, Request, Route, WagiApp

from helpers.subprocesses import serving, wagi_nb_cli
from test_export import wat_module, write_notebook

WARNING = "**Under Spin this app answers differently:**"
PER_ROUTE = "## Running under Spin: differences, per route"


# -- the route-choice model, on route sets -------------------------------------------------------------
def moves(*routes, subroutes=None) -> list:
    """(example path, what Wagi runs, what Spin runs) for each change, routes given as text."""
    table = [Route(r) for r in routes]
    subs = {Route(parent): [(Route(parent).join(path), entrypoint) for path, entrypoint in children]
            for parent, children in (subroutes or {}).items()}
    return [(m.path, m.wagi and m.wagi.route, m.spin and m.spin.route) for m in rerouted(table, subs)]


def test_an_earlier_prefix_route_shadows_a_later_exact_one_only_under_wagi():
    assert moves("/api/...", "/api/todos") == [("/api/todos", "/api/...", "/api/todos")]
    assert moves("/api/todos", "/api/...") == []  # the exact route first: both agree


def test_the_longest_prefix_wins_under_spin():
    assert moves("/one/...", "/one/two/...") == [("/one/two", "/one/...", "/one/two/...")]
    assert moves("/one/two/...", "/one/...") == []
    assert moves("/one/...", "/onetwo/...") == []  # `/one/...` never matches `/onetwo`


def test_a_catch_all_first_shadows_everything_and_meets_both_servers_own_paths():
    assert moves("/...", "/", "/hello") == [
        ("/", "/...", "/"),
        ("/hello", "/...", "/hello"),
        (HEALTHZ, HEALTHZ, "/..."),  # Wagi answers /healthz itself; Spin has no such route
        (SPIN_RESERVED + "health", "/...", SPIN_RESERVED + "..."),
    ]
    assert moves("/", "/hello", "/...") == [(HEALTHZ, HEALTHZ, "/..."),
                                            (SPIN_RESERVED + "health", "/...", SPIN_RESERVED + "...")]


def test_routes_that_do_not_overlap_answer_the_same():
    assert moves("/hello") == []
    assert moves("/hello", "/static/...", "/api/v2/...") == []
    assert moves("/healthz") == [(HEALTHZ, HEALTHZ, "/healthz")]  # only Spin lets the app have it


def test_spin_answers_an_exact_route_with_a_trailing_slash():
    assert spin_target([Route("/hello")], "/hello/").route == "/hello"
    assert wagi_target([(Route("/hello"), ())], "/hello/") is None
    # The general note says so once; the loud list keeps to what changes for the paths as written.
    assert moves("/hello") == [] and moves("/a/b", "/a/...") == []
    assert spin_target([Route("/docs/")], "/docs").route == "/docs/"  # Spin strips the route's slash


def test_sub_routes_are_gone_under_spin():
    assert moves("/wat/...", subroutes={"/wat/...": [("/sub", "sub_fn")]}) == [("/wat/sub", "/wat/sub", "/wat/...")]
    [move] = rerouted([Route("/wat/...")], {Route("/wat/..."): [(Route("/wat/sub"), "sub_fn")]})
    assert str(move) == ("`GET /wat/sub` goes to the `_routes` sub-route `/wat/sub` (`sub_fn`) under Wagi and "
                         "wagi-nb, to `/wat/...` under Spin.")
    # A sub-route outside its parent's own route is a 404 under Spin.
    assert moves("/p", subroutes={"/p": [("/w/...", "w")]}) == [("/p/w", "/p/w/...", None)]
    # One that repeats its parent's path runs another export there.
    [move] = rerouted([Route("/p")], {Route("/p"): [(Route("/p"), "alt")]})
    assert str(move) == ("`GET /p` goes to the `_routes` sub-route `/p` (`alt`) under Wagi and wagi-nb, "
                         "to `/p` under Spin.")


def test_spin_pattern_routes_are_left_to_their_own_warning(need_toolchain):
    assert moves("/users/...", "/users/:id") == []
    assert moves("/files/*", "/api/...") == []
    need_toolchain("wat")
    app = WagiApp()
    for route in ("/users/...", "/users/:id", "/files/*"):
        app.add_route(route, wagi_nb.build(say(route), language="wat"))
    found = spin_differences(app.handlers)
    assert [w for w in found.warnings if "wildcards" in w] == [
        f"`{route}`: Spin 2.5 and later read `:name` segments and a trailing `*` as wildcards, so Spin runs this "
        "route for more paths than the literal one Wagi matches." for route in ("/users/:id", "/files/*")]
    assert found.routes["/users/..."] == [next(i for i in found.routes["/users/..."] if "PATH_INFO" in i)]


def test_spin_argv_splits_on_single_spaces():
    assert spin_argv("${SCRIPT_NAME} ${ARGS}", Request.make("GET", "/x")) == ["/x", ""]
    assert spin_argv("${SCRIPT_NAME} ${ARGS}", Request.make("GET", "/x?a=1&b")) == ["/x", "a=1", "b"]
    assert spin_argv("a  b", Request.make("GET", "/x")) == ["a", "", "b"]
    assert argv_difference("${SCRIPT_NAME} --fixed", "/x") == ""
    assert "`[\"python\", \"/app/cell.py\", \"\"]` under Spin" in argv_difference("python /app/cell.py ${ARGS}",
                                                                                "/py")
    double = argv_difference("run  ${SCRIPT_NAME}", "/x")
    assert double.startswith("`GET /x` runs with `[\"run\", \"\", \"/x\"]` under Spin")


# -- exported notebooks, read as a user reads them ----------------------------------------------------
def say(text: str) -> str:
    return wat_module({"_start": f"Content-Type: text/plain\n\n{text}\n"})


PYTHON_ARGV = 'import json, sys\nprint("Content-Type: application/json")\nprint()\nprint(json.dumps(sys.argv))'

SHADOWED = [
    "%load_ext wagi_nb",
    "%%wasm_wat -n api --route /api/...\n" + say("the api prefix"),
    "%%wasm_wat -n todos --route /api/todos\n" + say("the todos"),
    "%%wasm_python --route /py\n" + PYTHON_ARGV,
    "%%wasm_wat -n plain --route /plain\n" + say("plain"),
]
SEPARATE = [
    "%load_ext wagi_nb",
    "%%wasm_wat -n hello --route /hello\n" + say("hello"),
    "%%wasm_wat -n static --route /static/...\n" + say("static"),
]


def export(tmp_path: Path, cells, *options) -> Path:
    notebook = write_notebook(tmp_path / "notebook", cells)
    done = wagi_nb_cli("export", notebook, tmp_path / "app", *options, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    (tmp_path / "export.out").write_text(done.stdout)
    return tmp_path / "app"


def warning_block(readme: str) -> list:
    """The loud list's items, or [] when the README has none."""
    if WARNING not in readme:
        return []
    block = readme.split(WARNING, 1)[1].split("## Run it", 1)[0]
    return [line[2:] for line in block.splitlines() if line.startswith("- ")]


def per_route(readme: str) -> dict:
    """route → the per-route items of the "Running under Spin" section; "" → the items for every route."""
    section = readme.split(PER_ROUTE, 1)[1]
    found: dict = {"": []}
    current = ""
    for line in section.splitlines():
        heading = re.fullmatch(r"`(/[^`]*)`:", line)
        if heading:
            current = heading.group(1)
            found[current] = []
        elif line.startswith("- "):
            found[current].append(line[2:])
    return found


def get(port: int, target: str) -> bytes:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        connection.request("GET", target)
        return connection.getresponse().read()
    finally:
        connection.close()


@pytest.fixture(scope="module")
def shadowed(tmp_path_factory, wagi_cache_dir, need_toolchain):
    need_toolchain("wat")
    need_toolchain("python")
    folder = export(tmp_path_factory.mktemp("spin-shadowed"), SHADOWED)
    return folder, (folder / "README.md").read_text()


def test_the_loud_warning_names_the_shadowed_route_and_a_path(shadowed):
    _, readme = shadowed
    assert readme.index(WARNING) < readme.index("## Run it")
    warnings = warning_block(readme)
    assert "`GET /api/todos` goes to `/api/...` under Wagi and wagi-nb, to `/api/todos` under Spin." in warnings
    [argv] = [w for w in warnings if "argv" in w]
    assert argv.startswith("`/py` (argv template `python /app/cell.py ${ARGS}`): `GET /py` runs with "
                           "`[\"python\", \"/app/cell.py\", \"\"]` under Spin, `[\"python\", \"/app/cell.py\"]` "
                           "under wagi-nb")
    assert len(warnings) == 2, warnings  # nothing about /plain, which neither shadows nor has a template


def test_the_export_command_prints_the_loud_warnings_too(shadowed):
    folder, readme = shadowed
    printed = (folder.parent / "export.out").read_text()
    assert "Under Spin this app answers differently" in printed
    for warning in warning_block(readme):
        assert f"  ! {warning}" in printed


def test_the_per_route_list_has_only_what_applies_to_each_route(shadowed):
    _, readme = shadowed
    routes = per_route(readme)
    assert set(routes) == {"", "/api/...", "/api/todos", "/py", "/plain"}
    path_info = [r for r, items in routes.items() if any(i.startswith("`PATH_INFO`") for i in items)]
    assert path_info == ["/api/..."]  # the only wildcard route
    argv = [r for r, items in routes.items() if r and any("argv template" in i for i in items)]
    assert argv == ["/py"]
    shadowing = [r for r, items in routes.items() if any("`GET /api/todos` goes to" in i for i in items)]
    assert shadowing == ["/api/...", "/api/todos"]
    assert routes["/plain"] == ["nothing more."]
    general = " ".join(routes[""])
    assert "`CONTENT_TYPE` is empty under Spin" in general and "X_COMPONENT_ROUTE" in general
    assert "`GET /api`: `[\"/api\", \"\"]` under Spin, `[\"/api\"]` here" in general


def test_what_the_readme_says_wagi_nb_does_is_what_it_does(shadowed, tmp_path):
    folder, readme = shadowed
    with serving("-c", folder / "modules.toml", cwd=tmp_path, log=tmp_path / "serve.log") as port:
        todos, py = get(port, "/api/todos"), get(port, "/py")
    assert todos == b"the api prefix\n"  # the first match in file order, as the README says
    said = re.search(r'`(\["python", "/app/cell.py"\])` under wagi-nb', readme).group(1)
    assert json.loads(py) == json.loads(said)[1:]  # sys.argv: argv without the interpreter's name


def test_no_warning_without_shadowing_or_templates(tmp_path, wagi_cache_dir, need_toolchain):
    need_toolchain("wat")
    folder = export(tmp_path, SEPARATE)
    readme = (folder / "README.md").read_text()
    assert WARNING not in readme and warning_block(readme) == []
    assert "Under Spin" not in (tmp_path / "export.out").read_text()
    routes = per_route(readme)
    assert [i for i in routes["/static/..."] if i.startswith("`PATH_INFO`")]
    assert routes["/hello"] == ["nothing more."]
    assert "Spin's default, `${SCRIPT_NAME} ${ARGS}`" in " ".join(routes[""])


def test_a_wagi_only_export_says_nothing_about_spin(tmp_path, wagi_cache_dir, need_toolchain):
    need_toolchain("wat")
    cells = SEPARATE[:1] + ["%%wasm_wat -n api --route /api/...\n" + say("api"),
                            "%%wasm_wat -n todos --route /api/todos\n" + say("todos")]
    readme = (export(tmp_path, cells, "--format", "wagi") / "README.md").read_text()
    assert WARNING not in readme and PER_ROUTE not in readme
