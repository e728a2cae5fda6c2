"""Modules that do what an attacker's module does: sleep in host calls, allocate, print, plant links.

One C module, its behaviour chosen by the query string (as a route) or by its first argument (as a
plain run), and WAT modules for what C cannot express (extra tables and memories, a raw
``poll_oneoff`` on a clock of 2^63 ns). Each is compiled for real with ``wagi_nb.build``.
"""
from __future__ import annotations

from .servers import QUERY_HELPERS_C

ATTACKER_C = QUERY_HELPERS_C + r"""
#include <fcntl.h>
#include <poll.h>

int main(int argc, char **argv) {
    const char *q = getenv("QUERY_STRING");
    if (!q || !*q) q = argc > 1 ? argv[1] : "";
    const char *v;
    if ((v = param(q, "sleep"))) {             /* blocked in poll_oneoff, never in wasm code */
        double start = now();
        sleep((unsigned)atoi(v));
        printf("Content-Type: text/plain\n\nslept %.3f s\n", now() - start);
        return 0;
    }
    if ((v = param(q, "nap"))) {               /* a short sleep, in milliseconds */
        double start = now();
        usleep((useconds_t)atoi(v) * 1000);
        printf("Content-Type: text/plain\n\nnapped %.3f s\n", now() - start);
        return 0;
    }
    if ((v = param(q, "spin"))) {
        double end = now() + atoi(v) / 1000.0;
        while (now() < end) {}
        printf("Content-Type: text/plain\n\nspun %s ms\n", v);
        return 0;
    }
    if ((v = param(q, "pollstdin"))) {         /* a descriptor subscription: ready at once */
        struct pollfd fds = { 0, POLLIN, 0 };
        int n = poll(&fds, 1, 60000);
        printf("Content-Type: text/plain\n\npoll %d revents %d\n", n, fds.revents);
        return 0;
    }
    if ((v = param(q, "print"))) {             /* stdout without end: only the output cap stops it */
        static char line[65536];
        memset(line, 'x', sizeof line - 1);
        line[sizeof line - 1] = '\n';
        printf("Content-Type: text/plain\n\n");
        for (;;) fwrite(line, 1, sizeof line, stdout);
    }
    if ((v = param(q, "stderr"))) {            /* N MiB to stderr, then a normal answer */
        static char line[1024];
        memset(line, 'e', sizeof line - 1);
        line[sizeof line - 1] = '\n';
        for (long i = 0; i < atol(v) * 1024; i++) fwrite(line, 1, sizeof line, stderr);
        printf("Content-Type: text/plain\n\nwrote %s MiB to stderr\n", v);
        return 0;
    }
    if ((v = param(q, "bomb"))) {              /* allocate and touch 1 MiB blocks until malloc fails */
        long mib = 0;
        char **head = NULL;
        for (;;) {
            char **p = malloc(1 << 20);
            if (!p) break;
            memset(p, 1, 1 << 20);
            *p = (char *)head;                 /* every block stays reachable: no elided malloc */
            head = p;
            mib++;
        }
        printf("Content-Type: text/plain\n\nbomb stopped after %ld MiB\n", mib);
        return 0;
    }
    if ((v = param(q, "plant"))) {             /* a relative link out of the volume */
        int made = symlink(v, "/data/leak");
        printf("Content-Type: text/plain\n\nsymlink %s\n", made == 0 ? "made" : strerror(errno));
        return 0;
    }
    if ((v = param(q, "read"))) {
        FILE *f = fopen(v, "rb");
        printf("Content-Type: text/plain\n\n");
        if (!f) {
            printf("cannot open %s: %s\n", v, strerror(errno));
            return 0;
        }
        char buf[4096];
        size_t n;
        while ((n = fread(buf, 1, sizeof buf, f)) > 0) fwrite(buf, 1, n, stdout);
        fclose(f);
        return 0;
    }
    if ((v = param(q, "write"))) {
        FILE *f = fopen(v, "wb");
        printf("Content-Type: text/plain\n\n%s\n", f ? "written" : strerror(errno));
        if (f) fclose(f);
        return 0;
    }
    if ((v = param(q, "raw"))) {               /* the request body is the module's whole output */
        char buf[4096];
        size_t n;
        while ((n = fread(buf, 1, sizeof buf, stdin)) > 0) fwrite(buf, 1, n, stdout);
        return 0;
    }
    printf("Content-Type: text/plain\n\nattacker ready\n");
    return 0;
}
"""

def poll_wat(nanoseconds: int, export: str = "_start", then: bytes = b"") -> str:
    """A WAT module whose ``export`` calls ``poll_oneoff`` directly on one relative monotonic clock of
    ``nanoseconds``, then prints ``then`` (with an empty ``_start`` beside any other ``export``)."""
    start = "" if export == "_start" else '\n  (func (export "_start"))'
    data = "".join(f"\\{b:02x}" for b in then)
    return f"""(module
  (import "wasi_snapshot_preview1" "poll_oneoff" (func $poll (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 256) "{data}"){start}
  (func (export "{export}")
    (i64.store (i32.const 0) (i64.const 7))
    (i32.store8 (i32.const 8) (i32.const 0))
    (i32.store (i32.const 16) (i32.const 1))
    (i64.store (i32.const 24) (i64.const {nanoseconds}))
    (drop (call $poll (i32.const 0) (i32.const 64) (i32.const 1) (i32.const 128)))
    (i32.store (i32.const 160) (i32.const 256))
    (i32.store (i32.const 164) (i32.const {len(then)}))
    (drop (call $write (i32.const 1) (i32.const 160) (i32.const 1) (i32.const 168)))))
"""


#: ``poll_oneoff`` on one relative monotonic clock of 2^63 - 1 ns, called from WAT directly.
POLL_FOREVER_WAT = poll_wat(0x7fffffffffffffff)


def _printer(body_func: str, extra: str = "", memories: int = 1) -> str:
    """A WAT command whose ``_start`` computes an i32 with ``body_func`` and prints
    ``Content-Type: text/plain``, a blank line and that number in decimal."""
    return f"""(module
  (import "wasi_snapshot_preview1" "fd_write"
    (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  {extra}
  (data (i32.const 100) "Content-Type: text/plain\\0a\\0a")
  (func $print_i32 (param $n i32)
    (local $p i32) (local $neg i32)
    (local.set $p (i32.const 400))
    (if (i32.lt_s (local.get $n) (i32.const 0))
      (then (local.set $neg (i32.const 1)) (local.set $n (i32.sub (i32.const 0) (local.get $n)))))
    (loop $digits
      (local.set $p (i32.sub (local.get $p) (i32.const 1)))
      (i32.store8 (local.get $p) (i32.add (i32.const 48) (i32.rem_u (local.get $n) (i32.const 10))))
      (local.set $n (i32.div_u (local.get $n) (i32.const 10)))
      (br_if $digits (local.get $n)))
    (if (local.get $neg)
      (then (local.set $p (i32.sub (local.get $p) (i32.const 1)))
            (i32.store8 (local.get $p) (i32.const 45))))
    (i32.store (i32.const 0) (i32.const 100))
    (i32.store (i32.const 4) (i32.const 26))
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 16)))
    (i32.store (i32.const 0) (local.get $p))
    (i32.store (i32.const 4) (i32.sub (i32.const 400) (local.get $p)))
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 16))))
  (func (export "_start") (call $print_i32 {body_func})))
"""


def table_grow_wat(elements: int) -> str:
    """Grows a funcref table by ``elements`` (8 bytes each in wasmtime); prints what table.grow said."""
    return _printer(f"(table.grow $t (ref.null func) (i32.const {elements}))",
                    extra="(table $t 1 funcref)")


#: 64 Mi elements: 512 MiB of table.
TABLE_GROW_WAT = table_grow_wat(64 * 1024 * 1024)

#: Grows its one memory by 2,000 pages (125 MiB) and prints what memory.grow said.
MEMORY_GROW_WAT = _printer("(memory.grow (i32.const 2000))")

#: Declares eight extra linear memories of 64 MiB each.
EIGHT_MEMORIES_WAT = ("(module\n" + "".join(f"  (memory $m{i} 1024)\n" for i in range(8))
                      + '  (func (export "_start")))\n')
