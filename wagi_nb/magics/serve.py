"""``%wagi_serve``, ``%wagi_stop``, ``%wagi_log``: the notebook's routes over real HTTP."""
from __future__ import annotations

from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_magic, magics_class
from IPython.core.magic_arguments import argument, magic_arguments

from .. import defaults, server
from ..display import LogView, ServerView
from ..wagi import app
from .languages import parse


@magics_class
class ServeMagics(Magics):
    @magic_arguments()
    @argument("--port", type=int, default=defaults.NOTEBOOK_PORT,
              help=f"Port to listen on (default {defaults.NOTEBOOK_PORT}).")
    @argument("--host", default="127.0.0.1",
              help="Address to listen on (default 127.0.0.1, this machine only).")
    @argument("--allow-host", action="append", default=[], metavar="NAME",
              help="Also answer requests addressed to this host name (repeatable; * for any). "
                   "IP addresses, localhost and this machine's names are always answered.")
    @line_magic
    def wagi_serve(self, line):
        """Serve the notebook's routes from a background thread, so `!curl` and browsers reach them.

        Routes added or re-run later are served at once (hot reload). Running it
        again keeps the server, or restarts it on new settings. Requests addressed
        to other host names are refused (a web page could otherwise point its own
        domain at 127.0.0.1 and read the routes): see --allow-host.
        """
        args = parse(self.wagi_serve, line)
        running, what = server.serve(app, port=args.port, host=args.host,
                                     allow_hosts=tuple(args.allow_host))
        return ServerView(running.url, running.proxy_url(), what, app.module_routes())

    @line_magic
    def wagi_stop(self, line):
        """Stop the background server and free its port."""
        if line.strip():
            raise UsageError("%wagi_stop takes no arguments.")
        stopped = server.stop()
        print(f"Stopped the server on {stopped.url}" if stopped else "No server is running.")

    @line_magic
    def wagi_log(self, line):
        """Show the background server's recent access log and each route's module stderr."""
        current = server.current_server()
        lines = current.access_log.lines if current else []
        return LogView(lines, app.stderr_log)
