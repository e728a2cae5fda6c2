"""What the server tests share (``from helpers import servers as ss``): modules to serve, a real
``wagi-nb serve`` process, and plain clients. Its checks of itself are ``server/test_server_helpers.py``.

* Module sources: the seed's Rust hello (prints Content-Type, a blank line, ``Hello, world!``), a C
  "tool" module whose query string picks a behaviour (echo, redirect, cookies, a big body, a memory
  bomb, a busy wait), a WAT module that never ends, and C modules printing ``version A``/``B``.
* :class:`ServeProcess`: a real ``python -m wagi_nb serve`` subprocess on ``-l 127.0.0.1:0``,
  whose port is read from its ``Ready: serving on http://IP:PORT`` line.
* Plain HTTP clients (http.client, raw sockets), and a few /proc readers. (Ports and addresses:
  ``helpers/ports.py``.)

Everything talks to real sockets on 127.0.0.1; nothing is mocked.
"""
from __future__ import annotations

import http.client
import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from .wagi_modules import DUMP_REQUEST_C

# -- modules ----------------------------------------------------------------------------------------
#: The seed article's module, as a route: headers, a blank line, the body.
HELLO_RUST = ('fn main() {\n    println!("Content-Type: text/plain");\n    println!();\n'
              '    println!("Hello, world!");\n}\n')

#: The C all the query-driven test modules start with: the headers they use, ``param`` (the value of
#: ``name=...`` in a query, ``""`` for a bare name, or NULL) and ``now`` (monotonic seconds).
QUERY_HELPERS_C = r"""
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char *param(const char *query, const char *name) {
    size_t n = strlen(name);
    const char *p = query;
    while (p && *p) {
        if (strncmp(p, name, n) == 0 && (p[n] == '=' || p[n] == '&' || p[n] == 0))
            return p[n] == '=' ? p + n + 1 : "";
        p = strchr(p, '&');
        if (p) p++;
    }
    return NULL;
}

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}
"""

#: One C module, many behaviours, chosen by the query string (a fresh instance per request, so one
#: route serves every test). Without a known parameter it prints argv, its environment and stdin.
TOOL_C = QUERY_HELPERS_C + DUMP_REQUEST_C + r"""
int main(int argc, char **argv) {
    const char *q = getenv("QUERY_STRING");
    const char *v;
    if (!q) q = "";
    if ((v = param(q, "stderr"))) fprintf(stderr, "tool stderr: %s\n", v);
    if ((v = param(q, "spin"))) {              /* busy for that many ms (no sleeping in WASI) */
        double end = now() + atoi(v) / 1000.0;
        while (now() < end) {}
        printf("Content-Type: text/plain\n\nspun %s ms\n", v);
        return 0;
    }
    if ((v = param(q, "redirect"))) {
        printf("Status: 301 Moved Permanently\nLocation: /elsewhere\n\n");
        return 0;
    }
    if ((v = param(q, "cookies"))) {
        printf("Content-Type: text/plain\nSet-Cookie: a=1\nSet-Cookie: b=2\nX-Custom: yes\n\ncookies\n");
        return 0;
    }
    if ((v = param(q, "big"))) {               /* byte i of the body is i % 251 */
        long n = atol(v), done = 0;
        static unsigned char buf[65536];
        printf("Content-Type: application/octet-stream\n\n");
        while (done < n) {
            long k = n - done < (long)sizeof buf ? n - done : (long)sizeof buf;
            for (long i = 0; i < k; i++) buf[i] = (unsigned char)((done + i) % 251);
            fwrite(buf, 1, k, stdout);
            done += k;
        }
        return 0;
    }
    if ((v = param(q, "bomb"))) {              /* allocate and touch 1 MiB blocks until malloc fails */
        long mib = 0, sum = 0;
        char **head = NULL;
        for (;;) {
            char **p = malloc(1 << 20);
            if (!p) break;
            memset(p, (int)mib, 1 << 20);
            *p = (char *)head;                 /* keep every block reachable: no elided malloc */
            head = p;
            mib++;
        }
        for (char **p = head; p; p = (char **)*p) sum += ((unsigned char *)p)[sizeof(char *)];
        printf("Content-Type: text/plain\n\nbomb stopped after %ld MiB (%ld)\n", mib, sum);
        return 0;
    }
    if ((v = param(q, "id"))) {
        printf("Content-Type: text/plain\n\nid=%s\n", v);
        return 0;
    }
    return dump_request(argc, argv);
}
"""

#: Never ends: only the server's timeout (epoch interruption) stops it.
LOOP_WAT = '(module\n  (memory (export "memory") 1)\n  (func (export "_start")\n    (loop $forever (br $forever))))\n'

VERSION_C = r"""
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int main(void) {
    const char *q = getenv("QUERY_STRING");
    if (q && strcmp(q, "slow") == 0) {         /* stay in flight for a while */
        struct timespec start, t;
        clock_gettime(CLOCK_MONOTONIC, &start);
        do clock_gettime(CLOCK_MONOTONIC, &t);
        while ((t.tv_sec - start.tv_sec) * 1000 + (t.tv_nsec - start.tv_nsec) / 1000000 < 800);
    }
    printf("Content-Type: text/plain\n\nversion %s\n", "TAG");
    return 0;
}
"""


def version_source(tag: str) -> str:
    return VERSION_C.replace('"TAG"', f'"{tag}"')


def big_body(n: int) -> bytes:
    """What ``?big=n`` answers."""
    return (bytes(range(251)) * (n // 251 + 1))[:n]


def build(need_toolchain, source: str, language: str, name: Optional[str] = None):
    import wagi_nb
    need_toolchain(language)
    return wagi_nb.build(source, language=language, name=name)


# -- /proc ------------------------------------------------------------------------------------------
def rss_bytes(pid: int) -> int:
    """VmRSS of a server: of the processes that serve, i.e. its worker processes if it has any
    (`wagi-nb serve` starts one per usable CPU by default), else of the process itself."""
    return sum(_rss_bytes(serving) for serving in serving_pids(pid))


def _rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"no VmRSS for {pid}")


def serving_pids(pid: int) -> list:
    """The processes of a `wagi-nb serve` that run modules: its workers, or itself without any."""
    return children_of(pid) or [pid]


def children_of(pid: int) -> list:
    kids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # pid (comm) state ppid ...: comm may contain spaces, so split after the last ")".
        if int(stat.rpartition(")")[2].split()[1]) == pid:
            kids.append(int(entry.name))
    return sorted(kids)


# -- HTTP clients -----------------------------------------------------------------------------------
@dataclass
class Reply:
    status: int
    reason: str
    headers: list
    body: bytes

    def header(self, name: str) -> Optional[str]:
        values = self.all(name)
        return values[0] if values else None

    def all(self, name: str) -> list:
        return [v for k, v in self.headers if k.lower() == name.lower()]

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")


def request(port: int, method: str = "GET", target: str = "/", body: Optional[bytes] = None,
            headers: Optional[dict] = None, host: str = "127.0.0.1", timeout: float = 60) -> Reply:
    """One request on a fresh connection."""
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        conn.request(method, target, body=body, headers=headers or {})
        response = conn.getresponse()
        data = response.read()
        return Reply(response.status, response.reason, response.getheaders(), data)
    finally:
        conn.close()


def raw_exchange(port: int, data: bytes, *, close_write: bool = True, timeout: float = 15) -> bytes:
    """Send raw bytes, (optionally) half-close, and read whatever comes back until the server closes."""
    received = bytearray()
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        try:
            sock.sendall(data)
            if close_write:
                sock.shutdown(socket.SHUT_WR)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server closed the connection before taking everything: a rejection too
        while True:
            try:
                chunk = sock.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            received += chunk
    return bytes(received)


def status_of(raw: bytes) -> Optional[int]:
    match = re.match(rb"HTTP/1\.[01] (\d{3})", raw)
    return int(match.group(1)) if match else None


# -- `wagi-nb serve` as a subprocess -----------------------------------------------------------------
READY = re.compile(r"^Ready: serving on http://(?P<host>[^\s]+):(?P<port>\d+)$")


@dataclass
class ServeProcess:
    """``python -m wagi_nb serve ARGS`` with stdout and stderr collected line by line."""

    args: list
    env: dict
    cwd: Path
    process: subprocess.Popen = field(init=False)
    ready_line: str = field(init=False, default="")
    host: str = field(init=False, default="")
    port: int = field(init=False, default=0)

    def __post_init__(self):
        self._stdout, self._stderr = [], []
        self._lines: queue.Queue = queue.Queue()
        self.process = subprocess.Popen([sys.executable, "-m", "wagi_nb", "serve", *map(str, self.args)],
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                        cwd=self.cwd, env=self.env)
        for stream, sink, notify in ((self.process.stdout, self._stdout, True),
                                     (self.process.stderr, self._stderr, False)):
            threading.Thread(target=self._pump, args=(stream, sink, notify), daemon=True).start()

    def _pump(self, stream, sink, notify):
        for line in stream:
            sink.append(line.rstrip("\n"))
            if notify:
                self._lines.put(line.rstrip("\n"))
        if notify:
            self._lines.put(None)

    def wait_ready(self, timeout: float = 90) -> "ServeProcess":
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self._lines.get(timeout=max(0.1, deadline - time.monotonic()))
            except queue.Empty:
                self.kill()
                raise AssertionError(f"no Ready line within {timeout} s; stderr: {self.stderr}") from None
            if line is None:
                self.process.wait(30)
                raise AssertionError(f"serve exited with {self.process.returncode} before Ready; "
                                     f"stderr: {self.stderr}")
            match = READY.match(line)
            if match:
                self.ready_line, self.host, self.port = line, match["host"], int(match["port"])
                return self

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def stdout(self) -> str:
        return "\n".join(self._stdout)

    @property
    def stderr(self) -> str:
        return "\n".join(self._stderr)

    def stderr_lines(self) -> list:
        return list(self._stderr)

    def wait_for_stderr(self, pattern: str, timeout: float = 15) -> str:
        """The first stderr line matching ``pattern`` (lines are written after the response)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in list(self._stderr):
                if re.search(pattern, line):
                    return line
            time.sleep(0.02)
        raise AssertionError(f"no stderr line matches {pattern!r}; stderr: {self.stderr}")

    def request(self, *args, **kwargs) -> Reply:
        return request(self.port, *args, **kwargs)

    def stop(self, sig=signal.SIGTERM, timeout: float = 60) -> int:
        if self.process.poll() is None:
            self.process.send_signal(sig)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(f"serve did not stop within {timeout} s after {sig!r}") from None

    def kill(self):
        if self.process.poll() is None:
            for pid in children_of(self.process.pid):
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            self.process.kill()
            self.process.wait(30)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.kill()


def serve_process(python_env, cwd, *args, ready: bool = True, **env) -> ServeProcess:
    process = ServeProcess(list(args), python_env(**env), Path(cwd))
    return process.wait_ready() if ready else process
