"""Every tutorial, run top to bottom on a real kernel and exported with ``%wagi_export`` as its reader
would, answers the same under the real Wagi 0.8.1, the real Spin 3.6.3 (wagi executor) and
``wagi-nb serve``; and exported with ``%wagi_export --component``, under the real Spin 3.6.3 with no
executor and under ``wasmtime serve`` (:data:`COMPONENT_HOSTS`): the requests the tutorial itself
makes, each asked of the five and compared. Every difference is one that ``docs/wagi.md`` and the
export's README list (for a component: its "How a component differs" list, ``COMPONENT_LIMITS``),
pinned here.
"""
from __future__ import annotations

import shlex
import sys

import pytest

from helpers.tutorials import COMPONENT_EXPORT, EXPORT
from helpers.waiting import wait_until
from wagi_nb.export.component_routes import COMPONENT_LIMITS

from .servers import COMPONENT_HOSTS, Peers, same

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

TEXT = [("Content-Type", "text/plain")]
TUTORIALS = ["01-hello-wasm.ipynb", "02-wagi-routes.ipynb", "03-any-language.ipynb", "04-serve-and-share.ipynb"]


def serve_tutorial(run_notebook, peer_binaries, name: str, *flags: str) -> Peers:
    """Wagi, Spin's wagi executor and wagi-nb on the tutorial's export; the component hosts on its
    component export."""
    _, work, _ = run_notebook(name)
    return Peers(peer_binaries, work / EXPORT, wagi_args=["--env-file", "app.env", *flags],
                 servers=("wagi-nb", "wagi", "spin", *COMPONENT_HOSTS), component_folder=work / COMPONENT_EXPORT)


def lines(answer) -> dict:
    """``NAME=value`` lines of a body."""
    return dict(line.split("=", 1) for line in answer.body.decode().splitlines() if "=" in line)


def test_01_hello_wasm(run_notebook, peer_binaries):
    with serve_tutorial(run_notebook, peer_binaries, "01-hello-wasm.ipynb") as peers:
        for method, target, body in [("GET", "/", b""), ("GET", "/?x=1", b""), ("POST", "/", b"hi"),
                                     ("HEAD", "/", b""), ("GET", "/nope", b"")]:
            answer = same(peers.ask(method, target, TEXT if body else (), body))
            assert answer.status == (404 if target == "/nope" else 200)
        assert same(peers.ask("GET", "/")).body == b"Hello, world!\n"


def test_02_wagi_routes(run_notebook, peer_binaries):
    with serve_tutorial(run_notebook, peer_binaries, "02-wagi-routes.ipynb") as peers:
        plain = [("GET", "/args?name=wasm&lang=rust"), ("GET", "/args?city=S%C3%A3o%20Paulo&lang=rust"),
                 ("GET", "/old-page"), ("GET", "/teapot"), ("GET", "/api/anything/else"),
                 ("GET", "/static/index.html"), ("GET", "/static/notes.txt"), ("GET", "/static/../../etc/passwd"),
                 ("GET", "/version"), ("GET", "/nowhere")]
        for method, target in plain:
            same(peers.ask(method, target))
        assert same(peers.ask("POST", "/shout", TEXT, b"short and sweet")).body == \
            b"15 bytes on stdin: SHORT AND SWEET\n"
        todo = same(peers.ask("POST", "/todos", [("Content-Type", "application/json")], b'{"title": "learn Wagi"}'))
        assert todo.status == 201 and b'"title": "learn Wagi"' in todo.body
        assert same(peers.ask("POST", "/todos", (), b"not json")).status == 400
        assert same(peers.ask("GET", "/old-page")).header("Location") == "/new-page"

        # Spin's differences, as the export's README lists them for these routes:
        answers = peers.ask("GET", "/args")  # the default argv template, split on single spaces
        assert same(answers, but=["spin"]).body.startswith(b'argv:         ["/args"]\n')
        assert answers["spin"].body.startswith(b'argv:         ["/args", ""]\n')
        answers = peers.ask("GET", "/files/docs/read%20me.txt")  # PATH_INFO left raw
        assert lines(same(answers, but=["spin"]))["PATH_INFO"] == "/docs/read me.txt"
        assert lines(answers["spin"])["PATH_INFO"] == "/docs/read%20me.txt"
        for target, export in [("/api/hello", b"Hello from the `hello` export\n"),
                               ("/api/goodbye/moon", b"Goodbye, moon\n")]:  # `_routes` is never called
            answers = peers.ask("GET", target)
            assert same(answers, but=["spin"]).body == export
            assert answers["spin"].body.startswith(b"main answers everything else under /api")

        # The environment, with a global REQUEST_METHOD=DELETE that the CGI variable beats everywhere
        # (the export leaves it out of spin.toml, where Spin would give the module both).
        answers = peers.ask("GET", "/env?lang=rust&answer=42", [("Accept-Language", "fr")])
        envs = {name: lines(answer) for name, answer in answers.items()}
        for name, env in envs.items():
            assert env["REQUEST_METHOD"] == "GET" and env["GREETING"] == "Bonjour", name
            assert answers[name].body.count(b"REQUEST_METHOD=") == 1, name
        spin_only = {"X_COMPONENT_ROUTE", "X_RAW_COMPONENT_ROUTE", "X_BASE_PATH", "X_CLIENT_ADDR"}
        assert {k: v for k, v in envs["spin"].items() if k not in spin_only} == envs["wagi-nb"] == envs["wagi"]
        # A component has none of the wagi executor's variables: Spin gives it wagi-nb's environment;
        # `wasmtime serve` does not tell who is calling and adds INSTANCE_ID (COMPONENT_LIMITS).
        assert envs["spin-component"] == envs["wagi-nb"]
        assert envs["wagi-nb"]["REMOTE_ADDR"] == envs["wagi-nb"]["REMOTE_HOST"] == "127.0.0.1"
        assert envs["wasmtime"].pop("INSTANCE_ID").isdigit()
        assert envs["wasmtime"] == {**envs["wagi-nb"], "REMOTE_ADDR": "", "REMOTE_HOST": ""}

        # A module that forgets the blank line: a 500 everywhere; wagi-nb's body says what is missing,
        # the adapter's in one line of its own (COMPONENT_LIMITS).
        answers = peers.ask("GET", "/forgot")
        assert {answer.status for answer in answers.values()} == {500}
        assert b"blank line" in answers["wagi-nb"].body
        for host in COMPONENT_HOSTS:
            assert answers[host].body == b"wagi: the module's output is not a CGI response: it must print a " \
                b"Content-Type or Location header, then a blank line, before the body. It printed neither.\n", host


def test_03_any_language(run_notebook, peer_binaries):
    with serve_tutorial(run_notebook, peer_binaries, "03-any-language.ipynb") as peers:
        languages = ["rust", "c", "cpp", "zig", "go", "assemblyscript", "wat", "python", "js"]
        for language in languages:
            for query, name in (("?name=wasm", "wasm"), ("", "world")):
                answers = peers.ask("GET", f"/{language}{query}")
                expected = f'{{"greeting": "Hello, {name}!", "language": "{language}"}}\n'.encode()
                if language in ("go", "zig"):
                    # Go's and Zig's runtimes end with proc_exit(0): an empty 500 from Wagi 0.8.1, the
                    # response everywhere else (docs/wagi.md; the export's README says it loudly).
                    assert (answers["wagi"].status, answers["wagi"].body) == (500, b""), language
                    assert same(answers, but=["wagi"]).body == expected, language
                else:
                    assert same(answers).body == expected, language
    readme = (run_notebook("03-any-language.ipynb")[1] / "app" / "README.md").read_text()
    loud = readme.split("## Run it")[0]
    assert "**Under Wagi 0.8.1 this app answers differently:**" in loud
    assert "`/go` is a Go module" in loud and "`/zig` is a Zig module" in loud


def test_04_serve_and_share(run_notebook, peer_binaries):
    peers = serve_tutorial(run_notebook, peer_binaries, "04-serve-and-share.ipynb")
    # The relay routes call another route over HTTP: their TARGET (a route's own env, which modules.toml
    # cannot hold; spin.toml has the notebook's server) is given with -e, as the export's README says
    # for Wagi, and to every server, pointing at wagi-nb's /live.
    peers.set_env("TARGET", f"http://127.0.0.1:{peers.servers['wagi-nb'].port}/live")
    with peers:
        for target_path in ("/live", "/live?from=preview", "/hello"):
            assert same(peers.ask("GET", target_path)).status == 200
        assert b"Live page, version 2" in same(peers.ask("GET", "/live")).body
        answers = peers.ask("GET", "/oops")  # a panic: a 500 everywhere, explained by wagi-nb alone
        assert {answer.status for answer in answers.values()} == {500}
        assert b"The module panicked at cell line 7: index out of bounds" in answers["wagi-nb"].body
        # A trap leaves a component: the host answers its own 500 (COMPONENT_LIMITS), and logs the panic.
        assert answers["spin-component"].body == b""
        assert b"<h1>500 Internal Server Error</h1>" in answers["wasmtime"].body
        spin_log = run_notebook("04-serve-and-share.ipynb")[1] / COMPONENT_EXPORT / ".spin" / "logs" / "oops_stderr.txt"
        wait_until(lambda: spin_log.is_file() and "panicked at" in spin_log.read_text(), 10, "Spin's log of the panic")
        wait_until(lambda: "panicked at" in peers.output("wasmtime"), 10, "wasmtime serve's log of the panic")
        relay = peers.ask("GET", "/relay", outbound=True)
        # The components make the request too, through the adapter (Spin: with allowed_outbound_hosts).
        assert b"Live page, version 2" in same(relay, but=["spin"]).body
        # Spin's wagi executor has no wasi_experimental_http: the export leaves the route out of spin.toml.
        assert relay["spin"].status == 404
        # No allowed hosts: refused everywhere (destination_not_allowed, 7), wasmtime serve included.
        closed = peers.ask("GET", "/relay-closed", outbound=True)
        assert same(closed, but=["spin"]).body == b"req returned 7\n" and closed["spin"].status == 404
        # (/spin and /sleep never end: wagi-nb answers 504 at --timeout; Wagi has no timeout at all.)


@pytest.mark.parametrize("name", TUTORIALS)
def test_every_tutorials_export_says_which_spin_runs_it(run_notebook, name):
    readme = (run_notebook(name)[1] / EXPORT / "README.md").read_text()
    assert "Spin 2 and 3 run it as exported" in readme and "#3652" in readme


def wasmtime_commands(readme: str) -> list:
    """The argv of each `wasmtime serve ... &` in the README's block (a value may span lines, quoted)."""
    block = readme.split("With `wasmtime serve`")[1].split("```sh\n")[1].split("```")[0]
    commands: list = [[]]
    for word in shlex.split(block):
        if word == "&":
            commands.append([])
        else:
            commands[-1].append(word)
    return [command for command in commands if command]


@pytest.mark.parametrize("name", TUTORIALS)
def test_every_tutorials_component_export_says_how_wasmtime_serves_each_route(run_notebook, name):
    """The README's `wasmtime serve` commands are the ones the peer suite runs (spin.toml's environment
    and files), one per route, and its list of differences is COMPONENT_LIMITS."""
    folder = run_notebook(name)[1] / COMPONENT_EXPORT
    readme = (folder / "README.md").read_text()
    manifest = tomllib.loads((folder / "spin.toml").read_text())
    commands = wasmtime_commands(readme)
    expected = []
    for trigger in manifest["trigger"]["http"]:
        component = manifest["component"][trigger["component"]]
        assert "executor" not in trigger and (folder / component["source"]).is_file()
        argv = ["wasmtime", "serve", "-S", "cli"]
        for variable, value in component.get("environment", {}).items():
            argv += ["--env", f"{variable}={value}"]
        for mount in component.get("files", []):
            assert (folder / mount["source"]).is_dir()
            argv += ["--dir", f"{mount['source']}::{mount['destination']}"]
        expected.append([*argv, component["source"]])
    assert [command[:4] + command[6:] for command in commands] == expected
    assert all(command[4] == "--addr" for command in commands)
    assert all(f"- {limit}" in readme for limit in COMPONENT_LIMITS)
