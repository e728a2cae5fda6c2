"""One exported app with a route for every part of the Wagi contract, served by the real Wagi 0.8.1,
the real Spin 3.6.3 (wagi executor) and ``wagi-nb serve``, and exported with ``--component`` too,
served as wasi:http components by the real Spin 3.6.3 with no executor and by ``wasmtime serve``
(:data:`COMPONENT_HOSTS`): the same answers, or a difference that ``docs/wagi.md`` and the export's
README list (for a component, its ``COMPONENT_LIMITS``), pinned here.

The app: a handler in each language of the registry; allocator stress routes in C, C++ and Rust
(Spin runs every module through a WASI adapter that shares its memory, and so does a component,
through wagi_nb's); an environment dumper, on an exact and a prefix route; read-only and read-write
volumes; global variables from an env file and ``-e``; `Status`, `Location`, repeated headers,
binary and multi-MiB bodies; `_routes` and outbound HTTP (Spin's wagi executor has neither; a
component has both).
"""
from __future__ import annotations

import shutil

import pytest

import wagi_nb
from wagi_nb.export import export_app
from wagi_nb import toolchains
from wagi_nb.toolchains import TOOLCHAINS
from wagi_nb.wagi import WagiApp

from helpers import outbound
from helpers.language_samples import HANDLER
from helpers.servers import TOOL_C
from helpers.wagi_modules import ROUTED_WAT, printed_argv, printed_env

from .servers import COMPONENT_HOSTS, Peers, same

#: Prints the header first (so the WASI adapter has taken its pages before the first malloc),
#: then mallocs and reallocs 4,000 blocks and counts the ones that do not hold what was written.
STRESS_C = r"""#include <stdio.h>
#include <stdlib.h>
#include <string.h>
int main(void) {
    printf("Content-Type: text/plain\n\n");
    fflush(stdout);
    enum { N = 4000 };
    static unsigned char *blocks[N];
    static size_t sizes[N];
    int bad = 0;
    for (int i = 0; i < N; i++) {
        sizes[i] = 16 + (i * 37) % 3000;
        blocks[i] = malloc(sizes[i]);
        memset(blocks[i], i & 0xff, sizes[i]);
    }
    for (int i = 0; i < N; i += 2) {
        sizes[i] *= 3;
        blocks[i] = realloc(blocks[i], sizes[i]);
        memset(blocks[i], i & 0xff, sizes[i]);
    }
    for (int i = 0; i < N; i++)
        for (size_t j = 0; j < sizes[i]; j++)
            if (blocks[i][j] != (i & 0xff)) { bad++; break; }
    printf("corrupted blocks: %d\n", bad);
    return 0;
}
"""

STRESS_CPP = r"""#include <cstdio>
#include <map>
#include <string>
#include <vector>
int main() {
    std::printf("Content-Type: text/plain\n\n");
    std::fflush(stdout);
    std::map<int, std::string> words;
    std::vector<std::vector<int>> rows;
    for (int i = 0; i < 20000; i++) {
        words[i] = std::string(i % 50 + 1, 'a' + i % 26);
        rows.emplace_back(i % 100, i);
    }
    long long sum = 0;
    for (auto &entry : words) sum += (long long)entry.second.size() * entry.second[0];
    for (auto &row : rows) for (int value : row) sum += value;
    std::printf("sum %lld\n", sum);
}
"""

#: Reads its environment before it allocates, as most handlers do.
STRESS_RUST = r"""use std::collections::BTreeMap;
fn main() {
    let query = std::env::var("QUERY_STRING").unwrap_or_default();
    let mut words = BTreeMap::new();
    let mut rows: Vec<Vec<u8>> = Vec::new();
    for i in 0..20000u32 {
        words.insert(i, format!("{}{}", query, i).repeat((i % 7) as usize + 1));
        rows.push(vec![(i % 251) as u8; (i % 300) as usize]);
    }
    let mut bad = 0;
    for (i, row) in rows.iter().enumerate() {
        if row.iter().any(|b| *b != (i as u32 % 251) as u8) { bad += 1; }
    }
    for (i, word) in words.iter() {
        if !word.starts_with(&format!("{}{}", query, i)) { bad += 1; }
    }
    println!("Content-Type: text/plain\n\nbad entries: {}", bad);
}
"""

#: /files/...: prints the file at PATH_INFO under the read-only /data; /write: writes /rw/note.txt,
#: reads it back, and says what happened.
FILES_C = r"""#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
int main(void) {
    const char *route = getenv("X_MATCHED_ROUTE");
    printf("Content-Type: text/plain\n\n");
    if (route && strcmp(route, "/write") == 0) {
        FILE *out = fopen("/rw/note.txt", "w");
        if (!out) { printf("cannot write: %s\n", strerror(errno)); return 0; }
        fputs("written by the module\n", out);
        fclose(out);
        FILE *in = fopen("/rw/note.txt", "r");
        char line[100] = {0};
        fgets(line, sizeof line, in);
        printf("read back: %s", line);
        return 0;
    }
    char path[512];
    snprintf(path, sizeof path, "/data%s", getenv("PATH_INFO"));
    FILE *file = fopen(path, "rb");
    if (!file) { printf("cannot open %s: %s\n", path, strerror(errno)); return 0; }
    char buffer[4096];
    size_t n;
    while ((n = fread(buffer, 1, sizeof buffer, file)) > 0) fwrite(buffer, 1, n, stdout);
    return 0;
}
"""

GLOBAL_ENV = {"GREETING": "hello from app.env", "SHARED": "file"}
#: The CGI variables a component host gives differently (COMPONENT_LIMITS): `wasmtime serve` does not
#: tell who is calling, and adds INSTANCE_ID.
WASMTIME_ENV = {"REMOTE_ADDR": "", "REMOTE_HOST": ""}


@pytest.fixture(scope="module")
def contract(tmp_path_factory, need_toolchain, peer_binaries, target):
    """The exported app, served by the three servers."""
    for language in TOOLCHAINS:
        need_toolchain(language)
    data = tmp_path_factory.mktemp("data")
    (data / "hello.txt").write_text("a file from the volume\n")
    (data / "logo.bin").write_bytes(bytes(range(256)) * 4)
    rw = tmp_path_factory.mktemp("rw")
    app = WagiApp()
    tool = wagi_nb.build(TOOL_C, "c", name="tool")
    app.add_route("/tool", tool)
    app.add_route("/prefix/...", tool)
    for language, source in HANDLER.items():
        app.add_route(f"/lang/{language}", wagi_nb.build(source, language))
    app.add_route("/lang/wat", wagi_nb.build(ROUTED_WAT, "wat"))
    app.add_route("/stress/c", wagi_nb.build(STRESS_C, "c"))
    if shutil.which("clang"):  # Debian's clang and its wasi-libc from before PR 377: the sbrk fix at work
        toolchains.set_compiler("c", shutil.which("clang"))
        try:
            old = wagi_nb.build(STRESS_C, "c")
        finally:
            toolchains.set_compiler("c", None)
        assert old.toolchain.get("old_libc"), old.toolchain
        app.add_route("/stress/c-old-libc", old)
    app.add_route("/stress/cpp", wagi_nb.build(STRESS_CPP, "cpp"))
    app.add_route("/stress/rust", wagi_nb.build(STRESS_RUST, "rust"))
    files = wagi_nb.build(FILES_C, "c")
    app.add_route("/files/...", files, volumes={"/data": str(data)}, read_only=["/data"])
    app.add_route("/write", files, volumes={"/rw": str(rw)})
    app.add_route("/out", wagi_nb.build(outbound.CLIENT_C, "c"), allowed_hosts=["http://127.0.0.1"])
    app.set_env(GLOBAL_ENV)
    folder = tmp_path_factory.mktemp("contract")
    export_app(app, folder / "app")
    export_app(app, folder / "app-component", component=True)
    peers = Peers(peer_binaries, folder / "app", wagi_args=["--env-file", "app.env"],
                  servers=("wagi-nb", "wagi", "spin", *COMPONENT_HOSTS), component_folder=folder / "app-component")
    # -e for Wagi, wagi-nb and the component hosts (spin up -e, wasmtime serve --env); Spin's wagi
    # executor is run as the README says, with spin.toml's environment alone.
    for name, value in [("URL", target.url("/echo/from-module")), ("CGI", "1"), ("SHARED", "flag"),
                        ("PRINT_BODY", "1"), ("NO_READ_AFTER_CLOSE", "1")]:
        for server in ("wagi", "wagi-nb", *COMPONENT_HOSTS):
            peers.servers[server].set_env(name, value)
    with peers:
        yield peers


def env_of(answer) -> dict:
    """The `E NAME=value` lines of the tool's answer."""
    return printed_env(answer.body.decode("latin-1"))


def argv_of(answer) -> list:
    return printed_argv(answer.body.decode("latin-1"))


@pytest.mark.parametrize("language", sorted(HANDLER))
def test_a_handler_in_each_language_answers_the_same(contract, language):
    answers = contract.ask("POST", f"/lang/{language}?name=peer&x=1", [("X-Agent", "peer-suite")],
                           b"a posted body")
    expected = f"{language} query=name=peer&x=1 agent=peer-suite body=a posted body\n".encode()
    if language in ("go", "zig"):
        # Go and Zig end with proc_exit(0), which Wagi 0.8.1 answers with an empty 500 (a Wagi bug the
        # contract fixes; docs/wagi.md, the export's README). wagi-nb and Spin send what it printed.
        assert (answers["wagi"].status, answers["wagi"].body) == (500, b"")
        assert same(answers, but=["wagi"]).body == expected
    else:
        assert same(answers).body == expected
    assert answers["wagi-nb"].header("Content-Type") == "text/plain"


def test_a_wat_module_answers_the_same(contract):
    assert same(contract.ask("GET", "/lang/wat")).body == b"main\n"


@pytest.mark.parametrize("route, expected", [
    ("/stress/c", b"corrupted blocks: 0\n"),
    ("/stress/c-old-libc", b"corrupted blocks: 0\n"),
    ("/stress/cpp", b"sum 9972014830\n"),
    ("/stress/rust?peer", b"bad entries: 0\n"),
])
def test_allocator_stress_is_clean_under_spins_wasi_adapter(contract, route, expected):
    for _ in range(3):  # (every request: a fresh instance, and the adapter's pages again)
        assert same(contract.ask("GET", route)).body == expected


def test_status_location_and_repeated_headers(contract):
    answers = contract.ask("GET", "/tool?redirect")  # `Status: 301` and `Location`
    redirect = same(answers, but=["wagi"])
    assert (redirect.status, redirect.header("Location")) == (301, "/elsewhere")
    # Wagi 0.8.1 picks the Status or the Location's 302 at random (documented; the contract has Status win).
    assert answers["wagi"].status in (301, 302) and answers["wagi"].header("Location") == "/elsewhere"
    answers = contract.ask("GET", "/tool?cookies")
    # Wagi and Spin send a repeated response header once, the last; wagi-nb sends every one (better than
    # Wagi: the contract's choice), and so does a component. The rest is the same.
    assert same(answers, but=["wagi", "spin"]).headers["set-cookie"] == ["a=1", "b=2"]
    for peer in ("wagi", "spin"):
        assert answers[peer].headers["set-cookie"] == ["b=2"], peer
        assert answers[peer].header("X-Custom") == "yes" and answers[peer].body == b"cookies\n"


@pytest.mark.parametrize("size", [100_000, 3_000_000])
def test_binary_bodies_of_a_few_mib(contract, size):
    answer = same(contract.ask("GET", f"/tool?big={size}"))
    assert answer.body == bytes(i % 251 for i in range(size))
    assert answer.header("Content-Type") == "application/octet-stream"


def test_a_posted_body_of_two_mib_reaches_stdin(contract):
    body = bytes(range(256)) * 8192
    answers = contract.ask("POST", "/tool", [("Content-Type", "application/octet-stream")], body)
    for name, answer in answers.items():
        assert answer.status == 200 and answer.body.endswith(b"STDIN\n" + body), name
        assert env_of(answer)["CONTENT_LENGTH"] == str(len(body)), name


def test_the_cgi_environment(contract):
    answers = contract.ask("POST", "/tool?a=1&b=2", [("X-Rep", "one"), ("X-Rep", "two"),
                                                     ("Content-Type", "text/plain")], b"x")
    envs = {name: env_of(answer) for name, answer in answers.items()}
    ours = envs["wagi-nb"]
    # Documented differences (docs/wagi.md; the export's README):
    assert ours["HTTP_X_REP"] == "one, two"                       # wagi-nb joins a repeated header,
    assert envs["wagi"]["HTTP_X_REP"] == envs["spin"]["HTTP_X_REP"] == "two"  # Wagi and Spin keep the last
    assert ours["CONTENT_TYPE"] == "text/plain"                   # CGI/1.1; Wagi and Spin leave it empty
    assert envs["wagi"]["CONTENT_TYPE"] == envs["spin"]["CONTENT_TYPE"] == ""
    spin_only = {"X_COMPONENT_ROUTE", "X_RAW_COMPONENT_ROUTE", "X_BASE_PATH", "X_CLIENT_ADDR"}
    assert spin_only <= set(envs["spin"]) and not spin_only & set(ours)
    # -e reaches Wagi and wagi-nb (a flag beats the env file); Spin has the file's values only.
    assert ours["SHARED"] == envs["wagi"]["SHARED"] == "flag" and envs["spin"]["SHARED"] == "file"
    assert "CGI" not in envs["spin"] and "URL" not in envs["spin"]
    # Everything else is the same, value for value.
    skip = {"HTTP_X_REP", "CONTENT_TYPE", "SHARED", "CGI", "URL", "PRINT_BODY", "NO_READ_AFTER_CLOSE"}
    for name in ("wagi", "spin"):
        theirs = {k: v for k, v in envs[name].items() if k not in skip | spin_only}
        assert theirs == {k: v for k, v in ours.items() if k not in skip}, name
    # A component sees wagi-nb's environment, -e included, but for what `wasmtime serve` cannot tell.
    assert envs["spin-component"] == ours
    assert envs["wasmtime"].pop("INSTANCE_ID").isdigit() and envs["wasmtime"] == {**ours, **WASMTIME_ENV}
    assert ours["GREETING"] == "hello from app.env" and ours["X_FULL_URL"] == "http://localhost:3000/tool?a=1&b=2"
    assert {name: argv_of(answer) for name, answer in answers.items()} == {
        name: ["/tool", "a=1", "b=2"] for name in answers}


def test_path_info_on_a_prefix_route(contract):
    answers = contract.ask("GET", "/prefix/a%20b/c?q")
    envs = {name: env_of(answer) for name, answer in answers.items()}
    for name, env in envs.items():
        assert (env["SCRIPT_NAME"], env["X_RAW_PATH_INFO"], env["PATH_TRANSLATED"]) == \
            ("/prefix", "/a%20b/c", "/a b/c"), name
        assert env["X_MATCHED_ROUTE"] == "/prefix/...", name
    # Spin leaves PATH_INFO raw (documented); Wagi, wagi-nb and the components decode it.
    assert {envs[name]["PATH_INFO"] for name in ("wagi-nb", "wagi", *COMPONENT_HOSTS)} == {"/a b/c"}
    assert envs["spin"]["PATH_INFO"] == "/a%20b/c"


def test_read_only_and_read_write_volumes(contract):
    assert same(contract.ask("GET", "/files/hello.txt")).body == b"a file from the volume\n"
    assert same(contract.ask("GET", "/files/logo.bin")).body == bytes(range(256)) * 4
    answers = contract.ask("GET", "/write")
    assert same(answers, but=["spin", "spin-component"]).body == b"read back: written by the module\n"
    # Spin's `files` are read-only (the export's README says so for this volume; for a component,
    # COMPONENT_LIMITS), with or without its wagi executor; `wasmtime serve --dir` can write.
    for spin in ("spin", "spin-component"):
        assert answers[spin].status == 200 and answers[spin].body.startswith(b"cannot write: "), spin


def test_routes_sub_routes_under_wagi_and_not_under_spin(contract):
    answers = contract.ask("GET", "/lang/wat/sub")
    assert same(answers, but=["spin"]).body == b"sub\n"  # (a component: the adapter dispatches)
    assert answers["spin"].status == 404  # Spin never calls `_routes` (the export's README says so)


def test_outbound_http_under_wagi(contract, target):
    answers = contract.ask("GET", "/out", outbound=True)
    assert answers["wagi-nb"].status == answers["wagi"].status == 200
    ours, wagis = (answers[name].body.decode().splitlines() for name in ("wagi-nb", "wagi"))
    assert ours[0] == wagis[0] == "req=0 status=200 handle=0"
    # The upstream's answer, as the module read it: its headers (Wagi's client adds none of its own
    # that the module sees differently) and its body, which names the path it was asked for.
    assert "path=/echo/from-module" in ours and "path=/echo/from-module" in wagis
    assert ours[-2:] == wagis[-2:] and ours[-1] == "close=0"
    # Spin refuses a module that imports wasi_experimental_http (and then the whole app): the export
    # leaves the route out of spin.toml, so Spin has no such route.
    assert answers["spin"].status == 404
    # A component's request goes through the adapter onto wasi:http: the same exchange, line for line
    # (handles from 0, `accept: */*` sent, as wagi-nb's and Wagi's client do), but for the upstream's Date.
    for host in COMPONENT_HOSTS:
        assert answers[host].status == 200, host
        theirs = answers[host].body.decode().splitlines()
        assert [line for line in theirs if not line.startswith("date:")] == \
            [line for line in ours if not line.startswith("date:")], host


def test_healthz(contract):
    answers = contract.ask("GET", "/healthz")
    assert answers["wagi-nb"].compared() == answers["wagi"].compared()
    assert (answers["wagi"].status, answers["wagi"].body, answers["wagi"].header("Content-Type")) == (200, b"OK", None)
    # Spin has no /healthz (its own is /.well-known/spin/health), nor has wasmtime serve (COMPONENT_LIMITS).
    assert {answers[name].status for name in ("spin", *COMPONENT_HOSTS)} == {404}
