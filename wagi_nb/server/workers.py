"""``wagi-nb serve --workers N``: worker processes on one listening socket, kept alive by the parent.

Workers are new interpreters (``python -m wagi_nb serve ... --worker-fd FD``), not
forks: forking a process that holds a wasmtime engine and its threads is not safe.
The parent pins each to a core (a worker's event loop and module threads then hand
the GIL back and forth on one core instead of across two, which halves the CPU a
request costs), restarts one that dies (one log line each, backing off if it keeps
dying) and stops them all on SIGINT/SIGTERM. A worker ends when its parent does:
it asks the kernel for SIGTERM on its parent's death (``PR_SET_PDEATHSIG``). The
parent says it is ready once every worker it started has said so (a byte on a pipe,
``--ready-fd``, once it accepts connections), so that no request waits in the
listening socket's queue for workers still loading their modules.
"""
from __future__ import annotations

import ctypes
import os
import select
import signal
import subprocess
import sys
import time
from typing import Callable, Dict, List, Optional

PR_SET_PDEATHSIG = 1
#: A worker that dies sooner than this after starting is "dying again": wait before the next start.
QUICK_DEATH = 5.0
MAX_RESTART_DELAY = 30.0
#: How long the parent waits for its workers to say they serve before it says it is ready anyway.
READY_WAIT = 120.0


def end_with_parent(parent_pid: int) -> None:
    """In a worker: get SIGTERM when the parent dies (Linux); exit now if it is already gone."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    except (OSError, AttributeError):
        pass  # not Linux: workers then outlive a killed parent, as before
    if os.getppid() != parent_pid:
        sys.exit(0)


def describe_exit(code: int) -> str:
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exited with status {code}"


class Worker:
    def __init__(self, index: int, core: Optional[int]):
        self.index, self.core = index, core
        self.process: Optional[subprocess.Popen] = None
        self.started = 0.0
        self.delay = 0.0
        self.restart_at: Optional[float] = None
        #: The read end of the pipe the worker says it serves on (first start only).
        self.ready: Optional[int] = None


class WorkerPool:
    def __init__(self, argv: List[str], fd: int, count: int, log: Callable[[str], None]):
        self.argv = [*argv, "--parent-pid", str(os.getpid())]
        self.fd = fd
        self.log = log
        cores = sorted(os.sched_getaffinity(0))
        self.workers = [Worker(index, cores[index % len(cores)] if len(cores) > 1 else None)
                        for index in range(count)]
        self.stopping = False

    def start(self, worker: Worker, announce: bool = False) -> None:
        """Start ``worker``; ``announce``: give it a pipe to say it serves on (``worker.ready``)."""
        if announce:
            read, write = os.pipe()
            try:
                worker.process = subprocess.Popen([*self.argv, "--ready-fd", str(write)],
                                                  pass_fds=[self.fd, write])
            except BaseException:
                os.close(read)
                raise
            finally:
                os.close(write)
            worker.ready = read
        else:
            worker.process = subprocess.Popen(self.argv, pass_fds=[self.fd])
        worker.started, worker.restart_at = time.monotonic(), None
        if worker.core is not None:
            try:
                os.sched_setaffinity(worker.process.pid, {worker.core})
            except OSError:
                pass  # the worker runs unpinned

    def stop(self, signum=None, frame=None) -> None:
        self.stopping = True
        for worker in self.workers:
            if worker.process is not None and worker.process.poll() is None:
                worker.process.send_signal(signal.SIGTERM)

    def start_all(self, timeout: float = READY_WAIT) -> None:
        """Start every worker, and return once each one serves or has ended (or ``timeout``)."""
        for worker in self.workers:
            self.start(worker, announce=True)
        pending = {worker.ready: worker for worker in self.workers if worker.ready is not None}
        deadline = time.monotonic() + timeout
        try:
            while pending and not self.stopping and time.monotonic() < deadline:
                readable, _, _ = select.select(list(pending), [], [],
                                               min(0.5, max(0.0, deadline - time.monotonic())))
                for fd in readable:
                    os.read(fd, 1)  # b"r": it serves; b"": it ended before it could
                    os.close(fd)
                    pending.pop(fd).ready = None
        finally:
            for fd, worker in pending.items():
                os.close(fd)
                worker.ready = None

    def run(self) -> int:
        """Keep the workers running until :meth:`stop`; the workers' worst exit code."""
        codes: Dict[int, int] = {}
        while True:
            now = time.monotonic()
            for worker in self.workers:
                process = worker.process
                if worker.restart_at is not None:
                    if not self.stopping and now >= worker.restart_at:
                        self.start(worker)
                    continue
                code = process.poll() if process is not None else None
                if process is None or code is None:
                    continue
                codes[worker.index] = code
                if self.stopping:
                    continue
                lived = now - worker.started
                worker.delay = 0.0 if lived >= QUICK_DEATH else \
                    min(MAX_RESTART_DELAY, max(1.0, worker.delay * 2))
                worker.restart_at = now + worker.delay
                when = f" in {worker.delay:g} s" if worker.delay else ""
                self.log(f"worker {worker.index + 1} (pid {process.pid}) {describe_exit(code)} after "
                         f"{lived:.1f} s; restarting it{when}")
                worker.process = None
            if self.stopping and all(w.process is None or w.process.poll() is not None
                                     for w in self.workers):
                return max(codes.values(), default=0)
            time.sleep(0.1)
