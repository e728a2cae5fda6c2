"""``%wagi_request``, ``%wagi_routes``, ``%wagi_load``, ``%wagi_save``, ``%wagi_env``: the notebook's routes."""
from __future__ import annotations

from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_cell_magic, line_magic, magics_class
from IPython.core.magic_arguments import argument, magic_arguments

from ..display import ResponseView, RoutesView
from ..errors import WagiNbError
from ..export import OPTIONS as EXPORT_OPTIONS
from ..wagi import Request, Route, app
from ..wagi.request import split_header
from ..cell_options import ENV_LINE
from .routes import preview_link_base
from .languages import declare, parse, parse_env
from .routes import live_preview


@magics_class
class WagiMagics(Magics):
    """Send requests to the notebook's routes, list them, load and save modules.toml."""

    @magic_arguments()
    @argument("words", nargs="*", metavar="METHOD PATH",
              help="e.g. GET /hello?name=wasm (a lone path means GET).")
    @argument("-H", "--header", action="append", default=[], metavar='"Name: value"',
              help="A request header (repeatable).")
    @argument("-d", "--data", default=None, metavar="BODY", help="The request body.")
    @line_cell_magic
    def wagi_request(self, line, cell=None):
        """Send a request to the notebook's routes and show the response.

        As a line: ``%wagi_request POST /echo -H "Content-Type: text/plain" -d hello``.
        As a cell, the cell is a raw HTTP request (request line, headers, blank line, body)::

            %%wagi_request
            POST /echo?x=1
            Content-Type: text/plain

            hello

        The response is also returned: ``r = _`` then ``r.status``, ``r.headers``, ``r.text``, ``r.json()``.
        """
        args = parse(self.wagi_request, line)
        if cell is not None:
            if args.words or args.header or args.data is not None:
                raise UsageError("%%wagi_request takes the whole request from the cell; "
                                 "leave the magic line empty.")
            request = Request.parse_http(cell)
        else:
            if not args.words:
                raise UsageError('%wagi_request needs a method and a path, e.g. %wagi_request GET /')
            request = Request.parse_line(" ".join(args.words))
            for header in args.header:
                name_value = split_header(header)
                if name_value is None:
                    raise UsageError(f'-H expects "Name: value", got {header!r}.')
                request.headers.add(*name_value)
            if args.data is not None:
                request.body = args.data.encode()
        return ResponseView(app.handle(request), routes=app.module_routes(), link_base=preview_link_base())

    @magic_arguments()
    @argument("route", help="The route to preview, e.g. / or /hello/...")
    @argument("--request", default=None, metavar='"METHOD /path?query"',
              help="The request to start with (default: GET the route).")
    @line_magic
    def wagi_preview(self, line):
        """A live preview of a route: edit the request, press Send; re-running the route's cell
        re-sends it, so the response updates as you edit the module."""
        args = parse(self.wagi_preview, line)
        try:
            request = Request.parse_line(args.request or f"GET {Route(args.route).script_name}")
            return live_preview(args.route, request)
        except WagiNbError as error:
            raise UsageError(str(error)) from None

    @line_magic
    def wagi_routes(self, line):
        """Show the notebook's route table."""
        if line.strip():
            raise UsageError("%wagi_routes takes no arguments.")
        return RoutesView(app.handlers, app.global_env)

    @magic_arguments()
    @argument("path", help="The modules.toml to load.")
    @argument("--replace", action="store_true", help="Drop the notebook's other routes first.")
    @line_magic
    def wagi_load(self, line):
        """Add (or replace) the routes of a modules.toml; module paths are relative to the file."""
        args = parse(self.wagi_load, line)
        app.load_config(args.path, replace_all=args.replace)
        return RoutesView(app.handlers, app.global_env)

    @magic_arguments()
    @argument("path", help="Where to write modules.toml (a file, or a folder to put it in).")
    @line_magic
    def wagi_save(self, line):
        """Write the notebook's routes to a modules.toml; modules built from cells are copied beside it."""
        args = parse(self.wagi_save, line)
        from ..export import save_config
        path = save_config(app, args.path)
        print(f"Wrote {path} ({len(app.handlers)} route{'s' * (len(app.handlers) != 1)}); "
              f"serve it with: wagi-nb serve -c {path}")

    @magic_arguments()
    @argument("folder", help="The folder to write (must be new or empty, unless --force).")
    @declare(EXPORT_OPTIONS)
    @line_magic
    def wagi_export(self, line):
        """Export the notebook's routes as an app folder: compiled modules, cell sources,
        modules.toml for `wagi -c`, spin.toml for `spin up`, and a README of anything a format
        cannot express."""
        from ..export import export_app
        args = parse(self.wagi_export, line)
        report = export_app(app, args.folder, format=args.format, name=args.name, force=args.force,
                            component=args.component)
        print(report)
        return None

    @magic_arguments()
    @declare(ENV_LINE)
    @line_magic
    def wagi_env(self, line):
        """Set environment variables every route's module sees (the CGI variables still win)."""
        args = parse(self.wagi_env, line)
        if args.clear:
            app.clear_env()
        for path in args.env_file:
            app.add_env_file(path)
        app.set_env(parse_env(args.pairs))
        shown = ", ".join(f"{k}={v}" for k, v in app.global_env.items()) or "(empty)"
        print(f"global env: {shown}")
