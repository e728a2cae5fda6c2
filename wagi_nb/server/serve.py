"""``wagi-nb serve``: a drop-in for ``wagi -c modules.toml`` (spec sections 5 and 6)."""
from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from typing import Optional

from ..envvars import parse_env_pairs
from ..errors import WagiNbError
from ..wagi import WagiApp
from .http import AccessLog, Limits, WagiServer
from .listen import bound_port, http_url, listen, parse_listen

#: How long a stop waits for requests in flight, beyond the module timeout.
GRACE = 5.0


def build_app(args) -> WagiApp:
    app = WagiApp(hostname=args.hostname, timeout=args.timeout, memory_limit_mib=args.memory_limit,
                  max_body_mib=args.max_body, log_dir=args.log_dir)
    for path in args.env_file:
        app.add_env_file(path)
    flags = parse_env_pairs(args.env, where="-e/--env")
    app.set_env(flags)
    if args.config:
        app.load_config(args.config)
    for notebook in getattr(args, "notebook", None) or []:
        from ..notebook import load_notebook_routes
        load_notebook_routes(app, notebook)
    app.set_env(flags)  # a flag beats the notebooks' %wagi_env lines too
    return app


def serve(args) -> int:
    if not args.config and not args.notebook:
        raise WagiNbError("Nothing to serve: give -c modules.toml (or --notebook NOTEBOOK.ipynb).")
    temporary_log_dir = args.log_dir is None
    if temporary_log_dir:
        args.log_dir = tempfile.mkdtemp(prefix="wagi-nb-logs-")
    try:
        app = build_app(args)
        if args.worker_fd is not None:
            return run_worker(app, args, socket.socket(fileno=args.worker_fd))
        host, port = parse_listen(args.listen)
        sockets = listen(host, port, flag="--listen {host}:{port}")
    except WagiNbError:
        # A start-up error is one line on stderr: no "Module stderr goes to" line before it, and
        # no empty temporary folder left behind.
        if temporary_log_dir:
            shutil.rmtree(args.log_dir, ignore_errors=True)
        raise
    if temporary_log_dir:
        print(f"Module stderr goes to {args.log_dir}", file=sys.stderr, flush=True)
    ready = f"Ready: serving on {http_url(host, bound_port(sockets))}"
    if args.workers <= 1:
        return run_loop(app, args, sockets, ready)
    return run_pool(args, sockets, ready)


def run_loop(app: WagiApp, args, sockets, ready: Optional[str]) -> int:
    """Serve until SIGINT/SIGTERM, then let requests in flight finish and return 0."""
    limits = Limits(max_concurrency=args.max_concurrency) if args.max_concurrency else Limits()
    server = WagiServer(app, limits, AccessLog(sys.stderr))

    async def main():
        http = server.http_server()
        http.add_sockets(sockets)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        if ready:
            print(ready, flush=True)
        await stop.wait()
        http.stop()
        deadline = time.monotonic() + (args.timeout or 0) + GRACE
        while server.active and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        await http.close_all_connections()

    asyncio.run(main())
    server.close()
    return 0


def run_worker(app: WagiApp, args, sock: socket.socket) -> int:
    sock.setblocking(False)
    return run_loop(app, args, [sock], ready=None)


def _pin(core: int):
    return lambda: os.sched_setaffinity(0, {core})


def run_pool(args, sockets, ready: str) -> int:
    """``--workers N``: N processes accept on the one listening socket (no fork of a live engine)."""
    sock = sockets[0]
    argv = [sys.executable, "-m", "wagi_nb", *args.raw_argv, "--log-dir", args.log_dir,
            "--worker-fd", str(sock.fileno())]
    cores = sorted(os.sched_getaffinity(0))
    # One core per worker: a worker's event loop and module threads then hand the GIL back and forth
    # on one core instead of across two, which halves the CPU each request costs (measured).
    workers = [subprocess.Popen(argv, pass_fds=[sock.fileno()],
                                preexec_fn=_pin(cores[index % len(cores)]) if len(cores) > 1 else None)
               for index in range(args.workers)]
    stopping = []

    def stop(signum, frame):
        stopping.append(signum)
        for worker in workers:
            if worker.poll() is None:
                worker.send_signal(signal.SIGTERM)

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    print(ready, flush=True)
    codes = [worker.wait() for worker in workers]
    sock.close()
    if stopping:
        return 0
    return max(codes)
