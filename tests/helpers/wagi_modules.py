"""Real Wagi modules for the wagi/test_wagi_*.py files (and others), and helpers to read what they print.

Every module is compiled with ``wagi_nb.build`` (C with clang, WAT with
wasmtime's own parser), so the tests drive the whole path: request → CGI
environment/argv/stdin → wasmtime → stdout → response. The build cache makes
a second build of the same source (from another test file) a cache hit.

Nothing here depends on ``conftest.py``: if ``WAGI_NB_CACHE_DIR`` is not set
yet, a temporary cache is used so the tests never write to the user's cache.
"""
from __future__ import annotations

import os
import tempfile

if not os.environ.get("WAGI_NB_CACHE_DIR"):
    os.environ["WAGI_NB_CACHE_DIR"] = tempfile.mkdtemp(prefix="wagi_nb-test-wagi-cache-")

import wagi_nb
from wagi_nb import toolchains
from wagi_nb.errors import ToolchainNotFound

from .unavailable import unavailable
from .wat import escape


def require_toolchain(language: str) -> None:
    """Skip the test (fail it on CI) when there is no compiler for ``language``."""
    try:
        toolchains.require(language)
    except ToolchainNotFound as error:
        unavailable(f"no {language} toolchain: {error}")


def build(source: str, language: str, name=None):
    require_toolchain(language)
    return wagi_nb.build(source, language=language, name=name)


#: C that prints a CGI response of argv, the environment and stdin, as ``printed_argv`` and
#: ``printed_env`` read them: ``return dump_request(argc, argv);``.
DUMP_REQUEST_C = r"""
extern char **environ;

static int dump_request(int argc, char **argv) {
    printf("Content-Type: text/plain\n\n");
    printf("ARGC %d\n", argc);
    for (int i = 0; i < argc; i++) printf("A %s\n", argv[i]);
    for (char **e = environ; *e; e++) printf("E %s\n", *e);
    printf("STDIN\n");
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, stdin)) > 0) fwrite(buf, 1, n, stdout);
    return 0;
}
"""


# -- the env module: prints its whole environment, argv and stdin ---------------------------------
ENV_MODULE_C = r"""
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
""" + DUMP_REQUEST_C + r"""
int main(int argc, char **argv) {
    fputs("env-module stderr\n", stderr);
    return dump_request(argc, argv);
}
"""


def env_module():
    return build(ENV_MODULE_C, "c", name="wagi_test_env")


def printed_argv(text: str) -> list:
    """The ``A arg`` lines before ``STDIN`` of what a module that prints its argv, environment and
    stdin printed (this env module, the tool module of ``servers.py``, the peers' tool): its argv."""
    return [line[2:] for line in text.partition("STDIN\n")[0].splitlines() if line.startswith("A ")]


def printed_env(text: str) -> dict:
    """The ``E NAME=value`` lines before ``STDIN`` of what such a module printed: its environment."""
    return dict(line[2:].partition("=")[::2] for line in text.partition("STDIN\n")[0].splitlines()
                if line.startswith("E "))


class Seen:
    """What the env module saw: ``env`` (dict), ``argv`` (list) and ``stdin`` (bytes)."""

    def __init__(self, response):
        assert response.status == 200, (response.status, response.text, response.stderr)
        head, marker, stdin = response.body.partition(b"STDIN\n")
        assert marker, response.body
        text = head.decode()
        self.argv, self.env = printed_argv(text), printed_env(text)
        self.stdin = stdin
        self.response = response


# -- the tool module: writes raw output, traps, exits, spins, sleeps or reads a file --------------
TOOL_MODULE_C = r"""
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void copy(FILE *from) {
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, from)) > 0) fwrite(buf, 1, n, stdout);
}

int main(int argc, char **argv) {
    const char *mode = argc > 1 ? argv[1] : "echo";
    if (!strcmp(mode, "trap")) {
        printf("Content-Type: text/plain\n\nbefore the trap\n");
        fflush(stdout);
        __builtin_trap();
    }
    if (!strncmp(mode, "exit=", 5)) {
        printf("Content-Type: text/plain\n\nexiting\n");
        exit(atoi(mode + 5));          /* proc_exit(N) after flushing stdout */
    }
    if (!strcmp(mode, "spin")) {
        volatile unsigned long n = 0;
        for (;;) n++;
    }
    if (!strncmp(mode, "sleep=", 6)) {
        long ms = atol(mode + 6);
        struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
        nanosleep(&ts, NULL);
        printf("Content-Type: text/plain\n\nslept\n");
        return 0;
    }
    if (!strncmp(mode, "read=", 5)) {
        printf("Content-Type: text/plain\n\n");
        FILE *f = fopen(mode + 5, "rb");
        if (!f) {
            printf("cannot open %s\n", mode + 5);
            return 0;
        }
        copy(f);
        fclose(f);
        return 0;
    }
    copy(stdin);                       /* echo: the body is the module's whole output */
    return 0;
}
"""


def tool_module():
    return build(TOOL_MODULE_C, "c", name="wagi_test_tool")


# -- WAT modules that print fixed strings from named exports ----------------------------------------
def wat_printer(exports: dict, fresh_check: str = "") -> str:
    """A WAT module whose every export ``name`` prints ``exports[name]`` (bytes or str) to stdout.

    ``_start`` (if given) also sets a global; an export named ``fresh_check``
    prints ``...started`` if that global is set, else ``...fresh`` - so a test
    can tell whether ``_start`` ran on the instance first.
    """
    lines = [
        "(module",
        '  (import "wasi_snapshot_preview1" "fd_write"',
        "    (func $fd_write (param i32 i32 i32 i32) (result i32)))",
        '  (memory (export "memory") 1)',
        "  (global $started (mut i32) (i32.const 0))",
        "  (func $print (param $ptr i32) (param $len i32)",
        "    (i32.store (i32.const 0) (local.get $ptr))",
        "    (i32.store (i32.const 4) (local.get $len))",
        "    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8))))",
    ]
    offset = 64
    segments = {}

    def place(data: bytes):
        nonlocal offset
        if data not in segments:
            lines.append(f'  (data (i32.const {offset}) "{escape(data)}")')
            segments[data] = (offset, len(data))
            offset += len(data) + 8
        return segments[data]

    for name, data in exports.items():
        data = data.encode() if isinstance(data, str) else data
        ptr, length = place(data)
        body = f"(call $print (i32.const {ptr}) (i32.const {length}))"
        if name == "_start":
            body = "(global.set $started (i32.const 1)) " + body
        lines.append(f'  (func (export "{name}") {body})')
    if fresh_check:
        started = place(b"Content-Type: text/plain\n\nstarted")
        fresh = place(b"Content-Type: text/plain\n\nfresh")
        lines.append(
            f'  (func (export "{fresh_check}")'
            f" (if (global.get $started)"
            f" (then (call $print (i32.const {started[0]}) (i32.const {started[1]})))"
            f" (else (call $print (i32.const {fresh[0]}) (i32.const {fresh[1]})))))")
    lines.append(")")
    return "\n".join(lines) + "\n"


def plain(body: str) -> str:
    """CGI output: a text/plain header block and ``body``."""
    return f"Content-Type: text/plain\n\n{body}"


def wat_module(exports: dict, fresh_check: str = "", name=None):
    return build(wat_printer(exports, fresh_check), "wat", name=name)


def hello_module():
    """The spec's walk-through module: prints a header block and ``Hello, world!``."""
    return wat_module({"_start": plain("Hello, world!\n")}, name="wagi_test_hello")


# -- a module with sub-routes, written out by hand (test_wagi_fidelity.py and peers/ serve it) ------
#: `_routes` names a sub-route served by the `sub` export, which writes to stderr; `_start` does not.
ROUTED_WAT = r"""(module
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 100) "/sub sub\n")
  (data (i32.const 200) "Content-Type: text/plain\n\nmain\n")
  (data (i32.const 300) "Content-Type: text/plain\n\nsub\n")
  (data (i32.const 400) "stderr of the sub-route\n")
  (func $write (param $fd i32) (param $at i32) (param $len i32)
    (i32.store (i32.const 0) (local.get $at))
    (i32.store (i32.const 4) (local.get $len))
    (drop (call $fd_write (local.get $fd) (i32.const 0) (i32.const 1) (i32.const 8))))
  (func (export "_routes") (call $write (i32.const 1) (i32.const 100) (i32.const 9)))
  (func (export "_start") (call $write (i32.const 1) (i32.const 200) (i32.const 31)))
  (func (export "sub")
    (call $write (i32.const 1) (i32.const 300) (i32.const 30))
    (call $write (i32.const 2) (i32.const 400) (i32.const 24))))
"""
