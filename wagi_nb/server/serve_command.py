"""``wagi-nb serve``: a drop-in for ``wagi -c modules.toml`` (spec sections 5 and 6)."""
from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import sys
import tempfile
import time
from pathlib import Path
from typing import Optional

from ..envvars import parse_env_pairs
from ..errors import WagiNbError
from ..runtime import cancel_all
from ..wagi import WagiApp
from .access_log import AccessLog
from .http import Limits, WagiServer
from .listen import bound_port, http_url, listen, parse_listen
from .workers import WorkerPool, end_with_parent

#: How long a stop waits, past the module timeout, for the modules it cancelled to end.
GRACE = 2.0


def build_app(args) -> WagiApp:
    app = WagiApp(hostname=args.hostname, timeout=args.timeout, memory_limit_mib=args.memory_limit,
                  max_output_mib=args.max_output, max_body_mib=args.max_body, log_dir=args.log_dir)
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


def check_log_dir(path: str) -> None:
    """Refuse a --log-dir modules' stderr could not be written to, before serving anything."""
    folder = Path(path)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".wagi-nb-probe-") as probe:
            probe.write(b"x")
            probe.flush()
            os.fsync(probe.fileno())
    except OSError as error:
        raise WagiNbError(f"Cannot write module logs to --log-dir {path}: "
                          f"{error.strerror or error}. Give a folder this user can write to "
                          "(on a disk with space left), or leave --log-dir out for a temporary one.") from None


def serve(args) -> int:
    if not args.config and not args.notebook:
        raise WagiNbError("Nothing to serve: give -c modules.toml (or --notebook NOTEBOOK.ipynb).")
    if args.parent_pid is not None:
        end_with_parent(args.parent_pid)
    temporary_log_dir = args.log_dir is None
    if temporary_log_dir:
        args.log_dir = tempfile.mkdtemp(prefix="wagi-nb-logs-")
    try:
        check_log_dir(args.log_dir)
        app = build_app(args)
        if args.worker_fd is not None:
            return run_loop(app, args, [socket.socket(fileno=args.worker_fd)], ready=None)
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
    """Serve until SIGINT/SIGTERM; then stop accepting, give requests in flight until their
    timeout, cancel the modules still running, and return 0."""
    limits = Limits(max_concurrency=args.max_concurrency) if args.max_concurrency else Limits()
    log = AccessLog(sys.stderr)
    server = WagiServer(app, limits, log)
    app.notice_listeners.append(log.notice)
    for sock in sockets:
        sock.setblocking(False)

    async def main():
        http = server.http_server()
        server.add_sockets(http, sockets)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        if ready:
            print(ready, flush=True)
        await stop.wait()
        http.stop()
        server.scheduler.close()
        await _wait_for(server, args.timeout)
        if server.active:
            cancelled = cancel_all()
            log.notice(f"stopping: cancelled {cancelled} module run(s) still going after the "
                       f"{args.timeout:g} s timeout")
            await _wait_for(server, GRACE)
        await http.close_all_connections()

    asyncio.run(main())
    server.close(wait=False)
    return 0


async def _wait_for(server: WagiServer, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while server.active and time.monotonic() < deadline:
        await asyncio.sleep(0.02)


def run_pool(args, sockets, ready: str) -> int:
    """``--workers N``: N processes accept on the one listening socket (see workers.py)."""
    sock = sockets[0]
    argv = [sys.executable, "-m", "wagi_nb", *args.raw_argv, "--log-dir", args.log_dir,
            "--worker-fd", str(sock.fileno())]
    pool = WorkerPool(argv, sock.fileno(), args.workers,
                      log=lambda line: print(f"wagi-nb: {line}", file=sys.stderr, flush=True))
    signal.signal(signal.SIGINT, pool.stop)
    signal.signal(signal.SIGTERM, pool.stop)
    pool.start_all()
    print(ready, flush=True)
    code = pool.run()
    sock.close()
    return 0 if pool.stopping else code
