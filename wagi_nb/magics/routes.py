"""``--route`` on the language magics: register the cell's module and preview a request to it."""
from __future__ import annotations

from IPython.core.error import UsageError

from ..display import ResponseView
from ..errors import WagiNbError
from ..wagi import Request, app, make_handler


def parse_volumes(pairs) -> dict:
    volumes = {}
    for pair in pairs:
        guest, sep, host = pair.partition("=")
        if not sep or not guest.startswith("/") or not host:
            raise UsageError(f"--volume expects GUEST=HOST with an absolute guest path, got {pair!r}; "
                             "e.g. --volume /static=./public.")
        volumes[guest] = host
    return volumes


def preview_target(route) -> str:
    """The path a preview requests by default: the route itself, or a prefix route's base."""
    return route.script_name


def serve_cell(artifact, args, env: dict, origin: str, source: str):
    """Register the built module at ``args.route`` and return the preview of a request to it."""
    try:
        handler = make_handler(args.route, artifact, entrypoint=args.entrypoint, argv=args.argv,
                               volumes=parse_volumes(args.volume), env=env, origin=origin,
                               source=source)
        request = Request.parse_line(args.request or f"GET {preview_target(handler.route)}")
    except UsageError:
        raise
    except WagiNbError as error:
        raise UsageError(str(error)) from None
    replaced = app.add(handler)
    if replaced is not None:
        print(f"Route {handler.route} now served by {origin or 'this cell'}"
              f" (replacing {replaced.origin or 'an earlier module'}).")
    if args.preview:
        return live_preview(handler.route.text, request)
    return ResponseView(app.handle(request), routes=app.routes())


def live_preview(route: str, request: Request):
    from ..wagi.preview import RequestPreview
    from ..widgets import RoutePreviewWidget
    return RoutePreviewWidget(RequestPreview(app, route, request.method, request.target))
