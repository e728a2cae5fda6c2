"""A C module that calls the five ``wasi_experimental_http`` functions, and a real HTTP server on
127.0.0.1 for it to call (tornado, on its own thread), for the outbound HTTP tests.

The module is told what to do through its environment (URL, METHOD, HEADERS, BODY, REQUESTS,
CHUNK, HEADER, HEADERS_BUF, PRINT_BODY, NO_READ_AFTER_CLOSE) and prints one line per call with the call's error code,
so a test reads exactly what the ABI returned.
"""
from __future__ import annotations

import asyncio
import threading

import tornado.web
from tornado.httpserver import HTTPServer
from tornado.netutil import bind_sockets

CLIENT_C = r"""
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>

#define IMPORT(name) __attribute__((import_module("wasi_experimental_http"), import_name(name)))
IMPORT("req") uint32_t req(const char *url, size_t url_len, const char *method, size_t method_len,
                           const char *headers, size_t headers_len, const char *body, size_t body_len,
                           uint16_t *status, uint32_t *handle);
IMPORT("close") uint32_t close_response(uint32_t handle);
IMPORT("header_get") uint32_t header_get(uint32_t handle, const char *name, size_t name_len,
                                         char *value, size_t value_len, size_t *written);
IMPORT("headers_get_all") uint32_t headers_get_all(uint32_t handle, char *buf, size_t buf_len,
                                                   size_t *written);
IMPORT("body_read") uint32_t body_read(uint32_t handle, char *buf, size_t buf_len, size_t *read);

static const char *env(const char *name, const char *fallback) {
    const char *value = getenv(name);
    return value ? value : fallback;
}

int main(void) {
    const char *url = env("URL", ""), *method = env("METHOD", "GET");
    const char *headers = env("HEADERS", ""), *body = env("BODY", "");
    int requests = atoi(env("REQUESTS", "1"));
    size_t chunk = (size_t)atoi(env("CHUNK", "4096"));
    uint16_t status = 0;
    uint32_t handle = 0, err = 0;
    if (getenv("CGI")) printf("Content-Type: text/plain\n\n");
    for (int i = 0; i < requests; i++) {
        err = req(url, strlen(url), method, strlen(method), headers, strlen(headers), body, strlen(body),
                  &status, &handle);
        printf("req=%u status=%u handle=%u\n", err, status, handle);
        if (err) return 0;
    }
    static char all[65536];
    size_t written = 0;
    err = headers_get_all(handle, all, (size_t)atoi(env("HEADERS_BUF", "65536")), &written);
    printf("headers_get_all=%u\n%.*s", err, err ? 0 : (int)written, all);
    const char *name = env("HEADER", "content-type");
    char value[256];
    err = header_get(handle, name, strlen(name), value, sizeof value, &written);
    printf("header_get=%u %.*s\n", err, err ? 0 : (int)written, value);
    char *buf = malloc(chunk);
    size_t total = 0, got = 0;
    int chunks = 0;
    printf("body:\n");
    while ((err = body_read(handle, buf, chunk, &got)) == 0 && got > 0) {
        if (getenv("PRINT_BODY")) fwrite(buf, 1, got, stdout);
        total += got;
        chunks++;
    }
    printf("\nbody_read=%u chunks=%d bytes=%zu\n", err, chunks, total);
    printf("close=%u\n", close_response(handle));
    if (!getenv("NO_READ_AFTER_CLOSE"))  /* (Wagi 0.8.1's host panics on it, and drops the connection) */
        printf("after close: body_read=%u\n", body_read(handle, buf, chunk, &got));
    return 0;
}
"""


class _Echo(tornado.web.RequestHandler):
    SUPPORTED_METHODS = ("GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS")

    def _answer(self):
        self.application.settings["seen"].append(self.request)
        self.set_header("Content-Type", "text/plain; charset=utf-8")
        self.set_header("X-Echo", "yes")
        self.add_header("Set-Cookie", "a=1")
        self.add_header("Set-Cookie", "b=2")
        lines = [f"method={self.request.method}", f"path={self.request.uri}"]
        lines += [f"h:{name.lower()}={value}" for name, value in sorted(self.request.headers.get_all())]
        lines.append(f"body={self.request.body.decode('utf-8', 'replace')}")
        self.write("\n".join(lines) + "\n")

    get = post = put = delete = patch = options = _answer

    def head(self):
        self._answer()


class _Big(tornado.web.RequestHandler):
    async def get(self):
        left = int(self.get_argument("n"))
        self.set_header("Content-Type", "application/octet-stream")
        while left:
            part = min(left, 65536)
            self.write(b"x" * part)
            await self.flush()
            left -= part


class _Slow(tornado.web.RequestHandler):
    async def get(self):
        await asyncio.sleep(float(self.get_argument("s")))
        self.write("finally\n")


class _Redirect(tornado.web.RequestHandler):
    def _go(self):
        self.set_status(int(self.get_argument("code", "302")))
        # As bytes: UTF-8 on the wire, as servers send a Location that is not ASCII.
        self.set_header("Location", self.get_argument("to").encode("utf-8"))

    get = post = _go


class Target:
    """The server a module calls: ``url(path)``, and ``seen`` (the requests it answered)."""

    def __init__(self):
        self.seen: list = []
        self.port = 0
        ready = threading.Event()
        self.thread = threading.Thread(target=self._serve, args=(ready,), daemon=True)
        self.thread.start()
        ready.wait(10)

    def _serve(self, ready: threading.Event) -> None:
        async def main():
            app = tornado.web.Application([("/echo.*", _Echo), ("/big", _Big), ("/slow", _Slow),
                                           ("/redirect", _Redirect)], seen=self.seen)
            sockets = bind_sockets(0, "127.0.0.1")
            self.port = sockets[0].getsockname()[1]
            server = HTTPServer(app)
            server.add_sockets(sockets)
            self.loop = asyncio.get_running_loop()
            self.stop = asyncio.Event()
            ready.set()
            await self.stop.wait()
            server.stop()
        asyncio.run(main())

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.stop.set)
        self.thread.join(10)
