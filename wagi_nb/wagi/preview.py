"""A request kept to be sent again: the logic behind the live route preview, without widgets."""
from __future__ import annotations

from typing import Optional

from .application import Handler, WagiApp
from .request import BadRequest, Request, split_header
from .response import Response
from .routes import Route


class RequestPreview:
    """Holds a request (method, target, headers text, body) and its latest response.

    ``watch()`` re-sends the request whenever the route that answers it is
    replaced (its cell re-run), and tells ``on_response`` callbacks.
    """

    def __init__(self, app: WagiApp, route: str, method: str = "GET", target: Optional[str] = None,
                 headers: str = "", body: str = ""):
        self.app = app
        self.route = Route(route)
        self.method = method
        self.target = target or self.route.script_name
        self.headers = headers
        self.body = body
        self.response: Optional[Response] = None
        self.error: str = ""
        self.sends = 0
        self.on_response: list = []

    def request(self) -> Request:
        """The request as currently written; raises BadRequest when it cannot be read."""
        request = Request.parse_line(f"{self.method} {self.target}")
        for number, line in enumerate(self.headers.splitlines(), start=1):
            if not line.strip():
                continue
            header = split_header(line)
            if header is None:
                raise BadRequest(f"Header line {number}, {line!r}, is not `Name: value`.")
            request.headers.add(*header)
        request.body = self.body.encode()
        return request

    def send(self) -> Optional[Response]:
        from ..errors import WagiNbError
        self.sends += 1
        try:
            self.response, self.error = self.app.handle(self.request()), ""
        except WagiNbError as error:
            self.response, self.error = None, str(error)
        for callback in list(self.on_response):
            callback(self)
        return self.response

    def watch(self) -> None:
        if self._route_changed not in self.app.route_listeners:
            self.app.route_listeners.append(self._route_changed)

    def unwatch(self) -> None:
        if self._route_changed in self.app.route_listeners:
            self.app.route_listeners.remove(self._route_changed)

    def _route_changed(self, handler: Handler) -> None:
        if handler.route == self.route or any(route.matches(self.target.partition("?")[0])
                                              for route, _ in handler.candidates()):
            self.send()
