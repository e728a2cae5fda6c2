"""``--route`` on the language magics: register the cell's module and preview a request to it."""
from __future__ import annotations

from IPython.core.error import UsageError

from ..cell_options import parse_volumes
from ..display import ResponseView
from ..errors import WagiNbError
from ..wagi import Request, app, make_handler


def serve_cell(artifact, args, env: dict, origin: str, source: str):
    """Register the built module at ``args.route`` and return the preview of a request to it."""
    from .cells import running_cell
    try:
        volumes, read_only = parse_volumes(args.volume)
        handler = make_handler(args.route, artifact, entrypoint=args.entrypoint, argv=args.argv,
                               volumes=volumes, read_only=read_only, env=env, origin=origin,
                               source=source, cell_id=running_cell.cell_id or "",
                               notice=app.notice, allowed_hosts=args.allowed_host,
                               limits=app.limits.but(timeout=args.timeout, max_output_mib=args.max_output))
        # By default the preview requests the route itself (a prefix route: its base path).
        request = Request.parse_line(args.request or f"GET {handler.route.script_name}")
    except UsageError:
        raise
    except WagiNbError as error:
        raise UsageError(str(error)) from None
    if args.stdin is not None:
        request.body = args.stdin.encode()  # the module reads the request body on stdin
    replaced = app.add(handler)
    if replaced is not None and re_run(replaced, handler):
        replaced = None  # (the cell's own earlier run: nothing to say)
    if replaced is not None or args.no_run:
        print(f"Route {handler.route} now served by {origin or 'this cell'}"
              + (f" (replacing {replaced.origin or 'an earlier module'})" if replaced else "") + ".")
    if args.no_run:
        return None
    if args.preview:
        return live_preview(handler.route.text, request)
    return ResponseView(app.handle(request, timeout=args.timeout, max_output_mib=args.max_output),
                        routes=app.module_routes(), compiler_warnings=artifact.warnings, link_base=preview_link_base())


def re_run(earlier, handler) -> bool:
    """Whether ``handler`` comes from the cell that made ``earlier``, run again: the same cell id when
    the front end sends ids (JupyterLab, Notebook 7), else the same source (the classic Notebook,
    nbclient: an edited cell then reads as another one)."""
    if earlier.cell_id and handler.cell_id:
        return earlier.cell_id == handler.cell_id
    return bool(handler.source) and earlier.source == handler.source


def preview_link_base():
    """Where relative links in a previewed page lead: the running %wagi_serve, as a browser reaches it."""
    from ..server import current_server
    running = current_server()
    return running.browser_url() if running else None


def live_preview(route: str, request: Request):
    """The running cell's live preview of ``request`` (it replaces the one the cell made before)."""
    from ..wagi.preview import RequestPreview
    from ..widgets import RoutePreviewWidget
    from .cells import running_cell
    return RoutePreviewWidget(RequestPreview(app, route, request.method, request.target,
                                             cell=running_cell.cell_id),
                              link_base=preview_link_base)
