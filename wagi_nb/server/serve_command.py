"""``wagi-nb serve``: a drop-in for ``wagi -c modules.toml`` (spec sections 5 and 6)."""
from __future__ import annotations

import asyncio
import gc
import os
import signal
import socket
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Tuple

from .. import defaults
from ..cache.native import NATIVE_CACHE_ENV, native_cache_dir
from ..errors import WagiNbError
from ..runtime import cancel_all
from ..runtime.engine import Pooling, use_pooling
from ..wagi import WagiApp
from .access_log import AccessLog
from .edge import Edge
from .http import Limits, WagiServer
from .listen import http_url, listen, parse_listen
from .workers import WorkerPool

#: How long a stop waits, past the module timeout, for the modules it cancelled to end.
GRACE = 2.0


@dataclass(kw_only=True)
class ServeOptions:
    """What ``wagi-nb serve`` is asked to do: its flags, typed and checked."""

    config: Optional[Path] = None
    notebooks: Tuple[Path, ...] = ()
    listen: str = defaults.LISTEN
    hostname: str = defaults.HOSTNAME
    env: Tuple[str, ...] = ()
    env_files: Tuple[Path, ...] = ()
    log_dir: Optional[Path] = None
    timeout: float = defaults.SERVE_TIMEOUT
    memory_limit_mib: int = defaults.MEMORY_MIB
    max_output_mib: float = defaults.MAX_OUTPUT_MIB
    max_body_mib: float = defaults.MAX_BODY_MIB
    max_outbound_mib: float = defaults.MAX_OUTBOUND_MIB
    #: Processes serving (``--workers N``); None: one per usable CPU (see :func:`worker_count`).
    workers: Optional[int] = None
    max_concurrency: Optional[int] = None
    #: CPU seconds a module may run on the event loop's thread (0: none, every module on the pool).
    inline_budget: float = defaults.INLINE_BUDGET
    #: ``--module-cache DIR``: where native code is kept; ``--cache FILE``: Wagi's cache.toml, not read.
    module_cache: Optional[Path] = None
    cache_config: Optional[Path] = None
    #: A worker process's inherited listening socket and its parent's pid (``--workers``).
    worker_fd: Optional[int] = None
    parent_pid: Optional[int] = None
    #: A worker's end of the pipe it tells its parent it serves on.
    ready_fd: Optional[int] = None
    #: The command line as given, for starting workers with the same flags.
    argv: Tuple[str, ...] = ()


def _probe(path: Path) -> None:
    """Make the folder ``path`` and write a byte there; OSError if that cannot be done."""
    path.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=path, prefix=".wagi-nb-probe-") as probe:
        probe.write(b"x")
        probe.flush()
        os.fsync(probe.fileno())


def check_log_dir(path: Path) -> None:
    """Refuse a --log-dir modules' stderr could not be written to, before serving anything."""
    try:
        _probe(path)
    except OSError as error:
        raise WagiNbError(f"Cannot write module logs to --log-dir {path}: "
                          f"{error.strerror or error}. Give a folder this user can write to "
                          "(on a disk with space left), or leave --log-dir out for a temporary one.") from None


def use_module_cache(path: Path) -> Path:
    """``--module-cache DIR``: keep native code in DIR, in this process and the workers it starts
    (they inherit the environment variable), once DIR is known to be writable."""
    default = native_cache_dir()
    path = path.expanduser().resolve()
    try:
        _probe(path)
    except OSError as error:
        raise WagiNbError(f"Cannot keep compiled modules in --module-cache {path}: "
                          f"{error.strerror or error}. Give a folder this user can write to, or leave "
                          f"--module-cache out (compiled modules then go to {default}).") from None
    os.environ[NATIVE_CACHE_ENV] = str(path)
    return path


def unused_cache_config(path: Path) -> str:
    """What ``--cache FILE`` does here: nothing, and why, in one line."""
    return (f"--cache {path} is not read: Wagi reads it to switch on wasmtime's cache of compiled "
            f"modules, which wagi-nb always keeps (in {native_cache_dir()}; --module-cache DIR moves it).")


def use_instance_pool(options: ServeOptions) -> None:
    """Instances from a pool of reserved slots (:class:`~wagi_nb.runtime.engine.Pooling`): a
    server's instances at once are bounded by its module slots (``--max-concurrency``); room is
    left over that bound for instances whose store is being dropped. Before the app is loaded."""
    slots = options.max_concurrency or defaults.max_concurrency()
    use_pooling(Pooling(instances=2 * slots + 16,
                        memory_mib=max(options.memory_limit_mib, defaults.MEMORY_MIB)))


def open_sockets(options: ServeOptions) -> list:
    """The listening sockets: bound to ``--listen``, or a worker's inherited one."""
    if options.worker_fd is not None:
        return [socket.socket(fileno=options.worker_fd)]
    host, port = parse_listen(options.listen)
    return listen(host, port, flag="--listen {host}:{port}")


def worker_count(options: ServeOptions) -> int:
    """``--workers N``, else one process per CPU this process may use (its affinity mask)."""
    return options.workers if options.workers is not None else defaults.serve_workers()


def serve(app: WagiApp, options: ServeOptions, sockets: list) -> int:
    """Serve ``app`` (its routes loaded already) on ``sockets`` until SIGINT/SIGTERM."""
    if options.worker_fd is not None:
        return run_loop(app, options, sockets, ready=None)
    host, port = sockets[0].getsockname()[:2]
    ready = f"Ready: serving on {http_url(host, port)}"
    workers = worker_count(options)
    if workers <= 1:
        return run_loop(app, options, sockets, ready)
    return run_pool(options, sockets, ready, workers)


def run_loop(app: WagiApp, options: ServeOptions, sockets, ready: Optional[str]) -> int:
    """Serve until SIGINT/SIGTERM; then stop accepting, give requests in flight until their
    timeout, cancel the modules still running, and return 0."""
    limits = Limits(inline_budget=options.inline_budget or None)
    if options.max_concurrency:
        limits.max_concurrency = options.max_concurrency
    log = AccessLog(sys.stderr, batch=True)
    server = WagiServer(app, limits, log)
    app.notice_listeners.append(log.notice)
    for sock in sockets:
        sock.setblocking(False)
    # What was loaded to serve lives as long as the process: keep the garbage collector's full
    # passes from walking it again and again (each one a pause of milliseconds in some request).
    gc.collect()
    gc.freeze()

    async def main():
        http = Edge(server)
        http.add_sockets(sockets, log=log.notice, shared=options.worker_fd is not None)
        if options.ready_fd is not None:
            _tell_ready(options.ready_fd)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        if ready:
            print(ready, flush=True)
        await stop.wait()
        http.stop()
        server.scheduler.drain()  # what was accepted finishes, within the timeout
        await _wait_for(server, options.timeout)
        server.scheduler.close()
        if server.active:
            cancelled = cancel_all()
            log.notice(f"stopping: cancelled {cancelled} module run(s) still going after the "
                       f"{options.timeout:g} s timeout")
            await _wait_for(server, GRACE)
        await http.close_all_connections()

    asyncio.run(main())
    log.flush()
    server.close(wait=False)
    return 0


def _tell_ready(fd: int) -> None:
    """A worker's word to its parent that it accepts connections now."""
    try:
        os.write(fd, b"r")
        os.close(fd)
    except OSError:
        pass  # the parent is gone (the worker ends with it)


async def _wait_for(server: WagiServer, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while server.active and time.monotonic() < deadline:
        await asyncio.sleep(0.02)


def run_pool(options: ServeOptions, sockets, ready: str, workers: int) -> int:
    """``workers`` processes accept on the one listening socket (see workers.py)."""
    sock = sockets[0]
    argv = [sys.executable, "-m", "wagi_nb", *options.argv, "--log-dir", str(options.log_dir),
            "--worker-fd", str(sock.fileno())]
    pool = WorkerPool(argv, sock.fileno(), workers,
                      log=lambda line: print(f"wagi-nb: {line}", file=sys.stderr, flush=True))
    why = "" if options.workers is not None else " (one per usable CPU; --workers N sets another number)"
    print(f"wagi-nb: serving with {workers} worker processes{why}", file=sys.stderr, flush=True)
    signal.signal(signal.SIGINT, pool.stop)
    signal.signal(signal.SIGTERM, pool.stop)
    pool.start_all()
    if not pool.stopping:
        print(ready, flush=True)
    code = pool.run()
    sock.close()
    return 0 if pool.stopping else code
