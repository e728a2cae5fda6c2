"""The Wagi contract through the bridge, under the real `wasmtime serve -S cli` and Spin 3.6.3.

Each test is a group of checks on the apps of ``conftest.apps`` (the same requests under both
hosts), and reports every check that failed, not only the first; servers start once per host.
"""
from __future__ import annotations

import hashlib
import os
import time
from typing import List



class Checks:
    """Checks that all run; :meth:`done` fails with every one that did not hold."""

    def __init__(self, host: str):
        self.host = host
        self.failed: List[str] = []

    def __call__(self, name: str, ok: bool, detail: object = "") -> None:
        if not ok:
            self.failed.append(f"{self.host}: {name}   [{str(detail)[:400]}]")

    def done(self) -> None:
        assert not self.failed, "\n".join(self.failed)


def variables(body: bytes) -> dict:
    return dict(line.split("=", 1) for line in body.decode(errors="replace").splitlines() if "=" in line)


def test_cgi_environment_argv_and_status_rules(deployment):
    ask, check = deployment.ask, Checks(deployment.host)
    port = deployment.port("cgi")
    answer = ask("cgi", "GET", "/c/x%20y?env&b=2", headers=[("X-A", "1"), ("X-A", "2"), ("Authorization", "s")])
    env = variables(answer.body)
    check("GET 200", answer.status == 200, answer)
    check("argv: the raw path, then the query split at &", b"argv[0]=/c/x%20y\nargv[1]=env\nargv[2]=b=2\n"
          in answer.body, answer.body[:120])
    expected = {"REQUEST_METHOD": "GET", "QUERY_STRING": "env&b=2", "SCRIPT_NAME": "/c", "PATH_INFO": "/x y",
                "PATH_TRANSLATED": "/x y", "X_RAW_PATH_INFO": "/x%20y", "X_MATCHED_ROUTE": "/c/...",
                "SERVER_NAME": "127.0.0.1", "SERVER_PORT": str(port), "SERVER_PROTOCOL": "HTTP/1.1",
                "X_FULL_URL": f"http://127.0.0.1:{port}/c/x%20y?env&b=2", "SERVER_SOFTWARE": "WAGI/1",
                "GATEWAY_INTERFACE": "CGI/1.1", "AUTH_TYPE": "", "REMOTE_USER": "", "CONTENT_LENGTH": "0",
                "CONTENT_TYPE": "", "HTTP_X_A": "1, 2", "HTTP_HOST": f"127.0.0.1:{port}", "GREETING": "hi",
                "REMOTE_ADDR": "127.0.0.1" if deployment.host == "spin" else ""}
    for name, value in expected.items():
        check(f"env {name}", env.get(name) == value, f"{name}={env.get(name)!r}")
    check("no HTTP_AUTHORIZATION, WAGI_NB_* or spin-* headers",
          not [k for k in env if k.startswith(("HTTP_AUTHORIZATION", "WAGI_NB_", "HTTP_SPIN_"))], sorted(env))

    env = variables(ask("cgi", "POST", "/c?env", body=b"abc", headers=[("Content-Type", "application/json")]).body)
    check("POST: CONTENT_LENGTH, CONTENT_TYPE, exact SCRIPT_NAME", (env.get("CONTENT_LENGTH"), env.get("CONTENT_TYPE"),
          env.get("SCRIPT_NAME"), env.get("PATH_INFO")) == ("3", "application/json", "/c", ""), env)
    check("any method token", variables(ask("cgi", "PROPFIND", "/c?env").body).get("REQUEST_METHOD") == "PROPFIND")

    statuses = {"status&404": 404, "status&700": 502, "location": 302, "locstatus": 201, "noheader": 500,
                "noblank": 500, "exit&3": 500, "exit&0": 200, "trap": 500}
    answers = {query: ask("cgi", "GET", f"/c?{query}") for query in statuses}
    for query, status in statuses.items():
        check(f"?{query} -> {status}", answers[query].status == status, answers[query])
    check("Status: 404 keeps the body", answers["status&404"].body == b"status 404\n", answers["status&404"].body)
    check("Location", answers["location"].header("location") == "/elsewhere", answers["location"].headers)
    check("no header block: 500 says which", b"Content-Type or Location" in answers["noheader"].body,
          answers["noheader"].body)
    check("no blank line: 500 says so", b"blank line" in answers["noblank"].body, answers["noblank"].body)
    check("exit(0) keeps the body", answers["exit&0"].body == b"exiting with 0\n", answers["exit&0"].body)

    headers = ask("cgi", "GET", "/c?headers")
    check("repeated headers kept, Content-Type once, invalid lines dropped, CRs in the body kept",
          headers.status == 200 and headers.headers.get_all("set-cookie") == ["a=1", "b=2"]
          and headers.headers.get_all("content-type") == ["text/plain"] and headers.header("x-thing") == "one"
          and "x-ctl" not in headers.headers and headers.body == b"body\r\nkept\r\n", headers)
    check("%00 in the path -> 400", ask("cgi", "GET", "/c/a%00b?env").status == 400)
    if deployment.host == "wasmtime":  # (Spin routes first: its own 404)
        other = ask("cgi", "GET", "/other")
        check("a path outside the route -> 404, empty", (other.status, other.body) == (404, b""), other)
    check.done()


def test_argv_template_and_an_exact_route(deployment):
    check = Checks(deployment.host)
    answer = deployment.ask("argv", "GET", "/t?a&b%20c")
    check("argv template", b"argv[0]=/t\nargv[1]=env\nargv[2]=a\nargv[3]=b%20c\n" in answer.body, answer.body[:200])
    env = variables(answer.body)
    check("exact route: SCRIPT_NAME, X_RAW_PATH_INFO", (env.get("SCRIPT_NAME"), env.get("X_RAW_PATH_INFO"))
          == ("/t", ""), env)
    check.done()


def test_bodies_in_and_out(deployment):
    ask, check = deployment.ask, Checks(deployment.host)
    body = os.urandom(3_000_000)
    echoed = ask("cgi", "POST", "/c?echo", body=body)
    check("3 MB binary POST echoed byte-identical (fread loop)", echoed.status == 200 and echoed.body == body,
          (echoed.status, len(echoed.body)))
    echoed = ask("cgi", "POST", "/c?mecho", body=body)
    check("3 MB POST through one malloc'ed buffer", echoed.status == 200 and echoed.body == body,
          (echoed.status, len(echoed.body)))
    big = ask("cgi", "GET", "/c?big&5000000")
    pattern = bytes(97 + i % 26 for i in range(26)) * (5_000_000 // 26 + 1)
    check("5 MB body streamed intact", big.status == 200 and hashlib.sha256(big.body).digest()
          == hashlib.sha256(pattern[:5_000_000]).digest(), (big.status, len(big.body)))
    check.done()


def test_volumes_sleep_and_stderr(deployment, volume):
    ask, check = deployment.ask, Checks(deployment.host)
    answer = ask("cgi", "GET", "/c?file&/data/hello.txt")
    check("a volume's file", (answer.status, answer.body) == (200, b"hello from a volume\n"), answer)
    answer = ask("cgi", "GET", "/c?file&/data/bin.dat")
    check("a volume's binary file", answer.body == (volume / "bin.dat").read_bytes(), (answer.status, len(answer.body)))
    answer = ask("cgi", "GET", "/c?ls&/data")
    check("readdir", sorted(answer.body.split()) == [b"bin.dat", b"hello.txt", b"sub"], answer.body)
    check("a missing file: the module's 404", ask("cgi", "GET", "/c?file&/data/missing").status == 404)
    check("nothing outside the volumes", ask("cgi", "GET", "/c?file&/etc/passwd").status == 404)
    written = volume / "sub" / f"written-{deployment.host}.txt"
    answer = ask("cgi", "GET", f"/c?write&/data/sub/{written.name}")
    if deployment.host == "spin":
        check("Spin's files are read-only", answer.status == 403 and not written.exists(), answer)
    else:
        check("--dir is writable", answer.status == 200 and written.read_text() == "written\n", answer)
    answer = ask("rust", "GET", "/rs?file&/data/hello.txt")
    check("Rust std::fs::read", (answer.status, answer.body) == (200, b"hello from a volume\n"), answer)

    answer = ask("cgi", "GET", "/c?sleep&150")
    slept = int(answer.body.split()[1]) if answer.status == 200 else -1
    check("poll_oneoff: nanosleep(150 ms)", 150 <= slept < 1500, answer.body)
    answer = ask("rust", "GET", "/rs?sleep")
    check("Rust thread::sleep(100 ms)", answer.status == 200 and answer.body.startswith(b"slept 1"), answer.body)
    check("stderr", ask("cgi", "GET", "/c?stderr").status == 200)
    check("stderr reaches the host's log", wait_for(lambda: "a line on stderr" in deployment.stderr("cgi")),
          deployment.stderr("cgi")[-500:])
    check.done()


def test_routes_entry_slots(deployment):
    check = Checks(deployment.host)
    for path, who, script in [("/r/exact", b"entry hello", b"SCRIPT_NAME=/r/exact"),
                              ("/r/wild/a", b"entry wild", b"SCRIPT_NAME=/r/wild"),
                              ("/r/exactly", b"main (_start)", b"SCRIPT_NAME=/r"),
                              ("/r", b"main (_start)", b"SCRIPT_NAME=/r")]:
        answer = deployment.ask("routes", "GET", path)
        check(f"_routes: {path} -> {who.decode()}", answer.status == 200 and answer.body.startswith(who)
              and script in answer.body, answer)
    answer = deployment.ask("entry", "GET", "/e")
    check("a route whose entrypoint is not _start (slot 3)", answer.body.startswith(b"entry other"), answer)
    check.done()


def test_outbound_http_through_the_second_adapter(deployment, outbound_target):
    ask, check = deployment.ask, Checks(deployment.host)
    target = f"127.0.0.1:{outbound_target}"
    body = ask("outbound", "GET", f"/o?http://{target}/x?y").body
    # (the first handle is 0 and `accept: */*` is sent unless the module sends one, as under Wagi and wagi-nb)
    for part in [b"status=200 handle=0", b"body: GET /x?y x-from=wagi accept=*/* body=\n",
                 b"header_get x-missing err=5", b"header_get content-type err=0 value=text/plain",
                 b"headers_get_all small err=4",
                 b"close err=0, close again err=1"]:
        check(f"outbound GET: {part.decode().strip()}", part in body, body)
    body = ask("outbound", "POST", f"/o?http://{target}/p", body=b"ping").body
    check("outbound POST with a body", b"body: POST /p x-from=wagi accept=*/* body=ping" in body, body)
    check("a bad URL -> invalid_url (10)", b"req err=10" in ask("outbound", "GET", "/o?not-a-url").body)
    refused = ask("outbound", "GET", f"/o?http://127.0.0.1:{outbound_target + 1}/").body
    check("refused by the host (7) or the connection (11)", b"req err=7" in refused or b"req err=11" in refused,
          refused)
    body = ask("outbound-allowed", "GET", f"/oa?http://{target}/x").body
    check("WAGI_NB_ALLOWED_HOSTS: the host matches, its port is not compared", b"status=200" in body, body)
    body = ask("outbound-allowed", "GET", f"/oa?http://localhost:{outbound_target}/x").body
    check("WAGI_NB_ALLOWED_HOSTS: another host -> destination_not_allowed (7)", b"req err=7" in body, body)
    body = ask("outbound-none", "GET", f"/on?http://{target}/x").body
    check("WAGI_NB_ALLOWED_HOSTS empty: nothing is allowed (7), as under Wagi", b"req err=7" in body, body)
    # Redirects are followed as Wagi's client and wagi-nb follow them.
    redirect = f"http://{target}/redirect?to="
    for (method, url, sent), expected in [
            (("GET", f"{redirect}/x?y", None), b"body: GET /x?y x-from=wagi"),  # an absolute path
            (("GET", f"http://{target}/a/redirect?to=b?c", None), b"body: GET /a/b?c x-from=wagi"),  # relative
            (("GET", f"{redirect}http://{target}/full", None), b"body: GET /full x-from=wagi"),  # a whole URL
            (("POST", f"http://{target}/redirect303?to=/p", b"ping"), b"GET /p x-from=wagi accept=*/* body=\n"),
            (("POST", f"http://{target}/redirect302?to=/p", b"ping"), b"GET /p x-from=wagi accept=*/* body=\n"),
            (("POST", f"http://{target}/redirect307?to=/p", b"ping"), b"POST /p x-from=wagi accept=*/* body=ping"),
            (("GET", f"{redirect}/redirect?to=/twice", None), b"body: GET /twice x-from=wagi"),
            (("GET", f"{redirect}mailto:x", None), b"req err=0 status=302")]:  # not to an http(s) host
        body = ask("outbound", method, f"/o?{url}", body=sent).body
        check(f"redirect: {method} {url} -> {expected.decode().strip()}", expected in body, body)
    loop = f"http://{target}/redirect?to=" + "/redirect?to=" * 11 + "/end"
    body = ask("outbound", "GET", f"/o?{loop}").body  # (nested: each hop peels one)
    check("more than 10 redirects: request_error (11)", b"req err=11" in body, body)
    body = ask("outbound", "GET", f"/o?{redirect}" + "/redirect?to=" * 9 + "/end").body
    check("10 redirects are followed", b"body: GET /end x-from=wagi" in body, body)
    body = ask("outbound-allowed", "GET", f"/oa?http://{target}/redirect?to=http://localhost:{outbound_target}/x").body
    check("a redirect to a host not allowed: request_error (11), as under wagi-nb", b"req err=11" in body, body)
    check.done()


def test_every_language(deployment):
    ask, check = deployment.ask, Checks(deployment.host)
    answer = ask("go", "GET", "/go?env")
    check("Go: env (its runs end with proc_exit(0))", answer.status == 200 and answer.header("x-lang") == "go"
          and variables(answer.body).get("GREETING") == "go", answer)
    body = os.urandom(500_000)
    answer = ask("go", "POST", "/go?echo", body=body)
    check("Go: 500 KB echo", answer.status == 200 and answer.body == body, (answer.status, len(answer.body)))
    answer = ask("go", "GET", "/go?alloc&33554432")
    check("Go: 32 MiB allocated intact (below the adapter's 64 MiB gap)", b"intact=true" in answer.body, answer)

    answer = ask("rust", "GET", "/rs?env")
    check("Rust 1.63: env", answer.status == 200 and answer.header("x-lang") == "rust"
          and variables(answer.body).get("GREETING") == "rust", answer)
    body = os.urandom(1_400_000)
    answer = ask("rust", "POST", "/rs?echo", body=body)
    check("Rust: 1.4 MB read_to_end echo", answer.status == 200 and answer.body == body,
          (answer.status, len(answer.body)))
    outcomes: List[tuple] = [(q, ask("rust", "GET", f"/rs?{q}").status) for q in ("exit&0", "exit&2", "panic")]
    check("Rust: exit(0) -> 200, exit(2) -> 500, panic -> 500", outcomes == [("exit&0", 200), ("exit&2", 500),
                                                                           ("panic", 500)], outcomes)
    answer = ask("zigcc", "GET", "/zigcc?q")
    check("zig cc (C with zig's wasi-libc)", answer.status == 200 and answer.header("x-lang") == "zig-cc", answer)
    answer = ask("zig", "GET", "/zig?q")
    check("Zig", answer.status == 200 and b"arg: /zig" in answer.body, answer)
    answer = ask("wat", "GET", "/wat")
    check("WAT", answer.status == 200 and b"Hello from WAT" in answer.body, answer)
    answer = ask("cpp", "GET", "/cpp?a")
    check("C++", answer.status == 200 and answer.header("x-lang") == "cpp" and b"argv[0]=/cpp\n" in answer.body,
          answer)
    answer = ask("as", "GET", "/as")
    check("AssemblyScript", answer.status == 200 and b"hello from AssemblyScript" in answer.body, answer)
    for app, route, language in [("py-cgi", "/py", "python"), ("js-cgi", "/js", "js")]:
        answer = ask(app, "POST", f"{route}?a&b", body=b"")
        check(f"{language}: the interpreter runs the script from its volume with the argv template",
              answer.status == 200 and answer.header("x-lang") == language
              and b"args: a b\nmethod: POST\n" in answer.body, answer)
    check.done()


def wait_for(condition, seconds: float = 5.0) -> bool:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True
