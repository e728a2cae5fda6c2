"""A server in a background thread with its own event loop: the notebook's ``%wagi_serve``.

Requests are answered while other cells run, and ``!curl`` in a later cell
reaches it. Routes added afterwards are served at once (the server reads the
same route table), so re-running a route cell is a hot reload.
"""
from __future__ import annotations

import asyncio
import atexit
import importlib.util
import json
import os
import threading
from typing import Optional

from ..wagi import WagiApp
from .access_log import AccessLog
from .host_check import HostCheck
from .http import Limits, WagiServer
from .listen import bound_port, http_url, listen


class BackgroundServer:
    """``allow_hosts``: ``Host`` names to answer beyond the ones that cannot be rebound
    (see host_check.py); ``"*"`` answers any."""

    def __init__(self, app: WagiApp, host: str = "127.0.0.1", port: int = 3000,
                 limits: Optional[Limits] = None, allow_hosts: tuple = ()):
        self.app, self.host = app, host
        self.allow_hosts = tuple(allow_hosts)
        self.access_log = AccessLog(stream=None)
        # Bind here, in the caller's thread, so "port in use" is raised to the caller.
        self.sockets = listen(host, port)
        self.port = bound_port(self.sockets)
        self.wagi = WagiServer(app, limits, self.access_log,
                               HostCheck(self.port, self.allow_hosts))
        app.notice_listeners.append(self.access_log.notice)
        self._ready = threading.Event()
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        self._thread = threading.Thread(target=self._serve, name=f"wagi_nb-server-{self.port}",
                                        daemon=True)
        self._thread.start()
        self._ready.wait(10)

    def _serve(self):
        loop = self._loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        self.http = self.wagi.http_server()
        self.wagi.add_sockets(self.http, self.sockets)
        self._ready.set()
        try:
            loop.run_forever()
        finally:
            loop.close()

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    @property
    def url(self) -> str:
        return http_url(self.host, self.port) + "/"

    def proxy_url(self) -> Optional[str]:
        """The jupyter-server-proxy path: on JupyterHub/Binder from the hub's own variable; else, when
        jupyter-server-proxy is installed, under the base URL of the Jupyter server running this
        kernel (the only link a user of a remote JupyterLab can open)."""
        prefix = os.environ.get("JUPYTERHUB_SERVICE_PREFIX")
        if prefix:
            return f"{prefix.rstrip('/')}/proxy/{self.port}/"
        if importlib.util.find_spec("jupyter_server_proxy") is None:
            return None
        return f"{jupyter_base_url().rstrip('/')}/proxy/{self.port}/"

    def browser_url(self) -> str:
        """Where a browser showing this notebook reaches the server: the proxy path, else the URL."""
        return self.proxy_url() or self.url

    def stop(self, timeout: float = 5.0) -> None:
        """Stop accepting, close connections, free the port."""
        if not self.running or self._loop is None:
            return

        async def shutdown():
            self.http.stop()
            await self.http.close_all_connections()
            asyncio.get_running_loop().stop()

        asyncio.run_coroutine_threadsafe(shutdown(), self._loop)
        self._thread.join(timeout)
        if self.access_log.notice in self.app.notice_listeners:
            self.app.notice_listeners.remove(self.access_log.notice)
        self.wagi.close(wait=False)  # modules still running end by their own timeout

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"<BackgroundServer {self.url} {state}>"


_current: Optional[BackgroundServer] = None
_current_lock = threading.Lock()


def serve(app: Optional[WagiApp] = None, port: int = 3000, host: str = "127.0.0.1",
          limits: Optional[Limits] = None, allow_hosts: tuple = ()) -> tuple:
    """Start (or keep) the process's background server; returns (server, what happened).

    The same settings again keep the running server ("running"); new settings
    restart it ("restarted"); otherwise "started".
    """
    global _current
    from ..wagi import app as notebook_app
    app = app or notebook_app
    allow_hosts = tuple(allow_hosts)
    with _current_lock:
        current = _current
        if current is not None and current.running:
            if (current.app, current.host, current.port, current.allow_hosts) == \
                    (app, host, port, allow_hosts):
                return current, "running"
            if current.port == port:
                current.stop()
                _current = BackgroundServer(app, host, port, limits, allow_hosts)
            else:  # bind the new port first, so a busy one leaves the running server alone
                _current = BackgroundServer(app, host, port, limits, allow_hosts)
                current.stop()
            return _current, "restarted"
        _current = BackgroundServer(app, host, port, limits, allow_hosts)
        return _current, "started"


def jupyter_base_url() -> str:
    """The base URL of the Jupyter server that started this kernel (its parent process), read from
    the server's own runtime file; "/" when there is none."""
    try:
        from jupyter_core.paths import jupyter_runtime_dir
        runtime = jupyter_runtime_dir()
        for name in os.listdir(runtime):
            if name.startswith("jpserver-") and name.endswith(".json"):
                with open(os.path.join(runtime, name)) as file:
                    info = json.load(file)
                if info.get("pid") == os.getppid():
                    return info.get("base_url") or "/"
    except (ImportError, OSError, ValueError):
        pass
    return "/"


def current_server() -> Optional[BackgroundServer]:
    return _current if _current is not None and _current.running else None


def stop() -> Optional[BackgroundServer]:
    """Stop the background server, if one runs; returns it."""
    global _current
    with _current_lock:
        server, _current = _current, None
    if server is not None:
        server.stop()
    return server


atexit.register(stop)
