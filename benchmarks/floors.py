"""The floors `wagi-nb serve` is measured against, each run in a process of its own.

    python benchmarks/floors.py tornado                   # the HTTP floor: a trivial tornado handler
    python benchmarks/floors.py httptools                 # the same answer from httptools on asyncio
    python benchmarks/floors.py bare-wasm HELLO.wasm RUNS  # the wasm floor: CPU per fresh instance + run

**The HTTP floor** serves ``GET /`` with ``Hello, world!`` (``text/plain``) from one
``tornado.web.RequestHandler`` in one process, one thread: what any tornado server
pays per request before it does anything. It prints ``Ready: serving on http://IP:PORT``
once listening and stops on SIGTERM.

**The httptools floor** gives the same answer from an ``asyncio.Protocol`` that feeds what it
reads to httptools' ``HttpRequestParser`` and writes a fixed response at each request's end:
what the edge ``wagi-nb serve`` uses (``wagi_nb/server/edge.py``) pays at least, per request.

**The wasm floor** runs a WASI command with bare wasmtime-py the way its documentation
does: ``Engine``, ``Linker.define_wasi()`` and ``Module`` once; per run a new
``Store``, a ``WasiConfig`` whose stdout is a file in /dev/shm, ``linker.instantiate``,
``_start`` called, the file read. It prints one JSON line: the CPU time (user + system,
``time.process_time``) and the wall time per run, for each block of runs.

Neither needs wagi_nb: they are what it is measured against.
"""
from __future__ import annotations

import json
import os
import signal
import sys
import tempfile
import time

HELLO_BODY = b"Hello, world!\n"


def tornado_floor() -> int:
    import asyncio

    import tornado.web

    class Hello(tornado.web.RequestHandler):
        def get(self):
            self.set_header("Content-Type", "text/plain")
            self.write(HELLO_BODY)

    async def main():
        app = tornado.web.Application([(r"/", Hello)])
        server = app.listen(0, "127.0.0.1")
        await _serve_until_stopped(next(iter(server._sockets.values())).getsockname()[1])
        server.stop()

    asyncio.run(main())
    return 0


async def _serve_until_stopped(port: int) -> None:
    """Say Ready, then wait for SIGINT or SIGTERM."""
    import asyncio

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    print(f"Ready: serving on http://127.0.0.1:{port}", flush=True)
    await stop.wait()


def httptools_floor() -> int:
    import asyncio

    import httptools

    answer = (b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n" % len(HELLO_BODY)
              + HELLO_BODY)

    class Hello(asyncio.Protocol):
        def connection_made(self, transport):
            self.transport = transport
            self.parser = httptools.HttpRequestParser(self)

        def on_message_complete(self):
            self.transport.write(answer)

        def data_received(self, data):
            try:
                self.parser.feed_data(data)
            except httptools.HttpParserError:
                self.transport.close()

    async def main():
        server = await asyncio.get_running_loop().create_server(Hello, "127.0.0.1", 0)
        await _serve_until_stopped(server.sockets[0].getsockname()[1])
        server.close()

    asyncio.run(main())
    return 0


def bare_wasm_floor(wasm: str, runs: int, blocks: int = 5) -> dict:
    """CPU and wall µs per run of ``wasm`` (a WASI command), ``blocks`` blocks of ``runs`` runs."""
    import wasmtime

    engine = wasmtime.Engine()
    linker = wasmtime.Linker(engine)
    linker.define_wasi()
    module = wasmtime.Module.from_file(engine, wasm)
    folder = tempfile.mkdtemp(prefix="bare-floor-", dir="/dev/shm" if os.access("/dev/shm", os.W_OK) else None)
    out = os.path.join(folder, "stdout")

    def once() -> bytes:
        store = wasmtime.Store(engine)
        wasi = wasmtime.WasiConfig()
        wasi.stdout_file = out
        store.set_wasi(wasi)
        instance = linker.instantiate(store, module)
        try:
            instance.exports(store)["_start"](store)
        except wasmtime.ExitTrap as exit_:
            if exit_.code != 0:
                raise
        with open(out, "rb") as file:
            return file.read()

    try:
        first = once()
        for _ in range(min(200, runs)):  # warm-up: caches, allocator pools
            once()
        cpu, wall = [], []
        for _ in range(blocks):
            c0, w0 = time.process_time(), time.perf_counter()
            for _ in range(runs):
                once()
            cpu.append((time.process_time() - c0) / runs * 1e6)
            wall.append((time.perf_counter() - w0) / runs * 1e6)
    finally:
        for name in os.listdir(folder):
            os.unlink(os.path.join(folder, name))
        os.rmdir(folder)
    return {"cpu_us": cpu, "wall_us": wall, "runs": runs, "output": first.decode(errors="replace")}


if __name__ == "__main__":
    if sys.argv[1:2] == ["tornado"]:
        sys.exit(tornado_floor())
    if sys.argv[1:2] == ["httptools"]:
        sys.exit(httptools_floor())
    if sys.argv[1:2] == ["bare-wasm"] and len(sys.argv) in (4, 5):
        print(json.dumps(bare_wasm_floor(sys.argv[2], int(sys.argv[3]),
                                         int(sys.argv[4]) if len(sys.argv) == 5 else 5)))
        sys.exit(0)
    sys.exit(__doc__)
