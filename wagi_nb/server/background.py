"""A server in a background thread with its own event loop: the notebook's ``%wagi_serve``.

Requests are answered while other cells run, and ``!curl`` in a later cell
reaches it. Routes added afterwards are served at once (the server reads the
same route table), so re-running a route cell is a hot reload.
"""
from __future__ import annotations

import asyncio
import atexit
import os
import threading
from typing import Optional

from ..wagi import WagiApp
from .http import AccessLog, Limits, WagiServer
from .listen import bound_port, http_url, listen


class BackgroundServer:
    def __init__(self, app: WagiApp, host: str = "127.0.0.1", port: int = 3000,
                 limits: Optional[Limits] = None):
        self.app, self.host = app, host
        self.access_log = AccessLog(stream=None)
        self.wagi = WagiServer(app, limits, self.access_log)
        # Bind here, in the caller's thread, so "port in use" is raised to the caller.
        self.sockets = listen(host, port)
        self.port = bound_port(self.sockets)
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
        self.http.add_sockets(self.sockets)
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
        """The jupyter-server-proxy path on JupyterHub/Binder, from the hub's own variable."""
        prefix = os.environ.get("JUPYTERHUB_SERVICE_PREFIX")
        if not prefix:
            return None
        return f"{prefix.rstrip('/')}/proxy/{self.port}/"

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
        self.wagi.close()

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"<BackgroundServer {self.url} {state}>"


_current: Optional[BackgroundServer] = None
_current_lock = threading.Lock()


def serve(app: Optional[WagiApp] = None, port: int = 3000, host: str = "127.0.0.1",
          limits: Optional[Limits] = None) -> tuple:
    """Start (or keep) the process's background server; returns (server, what happened).

    The same settings again keep the running server ("running"); new settings
    restart it ("restarted"); otherwise "started".
    """
    global _current
    from ..wagi import app as notebook_app
    app = app or notebook_app
    with _current_lock:
        current = _current
        if current is not None and current.running:
            if (current.app, current.host, current.port) == (app, host, port):
                return current, "running"
            if current.port == port:
                current.stop()
                _current = BackgroundServer(app, host, port, limits)
            else:  # bind the new port first, so a busy one leaves the running server alone
                _current = BackgroundServer(app, host, port, limits)
                current.stop()
            return _current, "restarted"
        _current = BackgroundServer(app, host, port, limits)
        return _current, "started"


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
