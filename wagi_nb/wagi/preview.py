"""A request kept to be sent again: the logic behind the live route preview, without widgets."""
from __future__ import annotations

import weakref
from typing import Dict, Optional

from .application import Handler, WagiApp
from .request import BadRequest, Request, split_header
from .response import Response
from .routes import Route


#: app → {key: the preview that watches}: one live preview per notebook cell (or per route, where
#: the cell is not known), so re-running a ``--preview`` cell replaces its preview instead of adding
#: one more, even when its request changed.
_watching: "weakref.WeakKeyDictionary[WagiApp, Dict[tuple, RequestPreview]]" = weakref.WeakKeyDictionary()


class RequestPreview:
    """Holds a request (method, target, headers text, body) and its latest response.

    ``watch()`` re-sends the request whenever the route that answers it is
    replaced (its cell re-run), and tells ``on_response`` callbacks. Only one
    preview watches for a given ``cell`` (a notebook cell's id), or without one for
    a given route: a newer one replaces the older, which is then ``superseded``
    (its callbacks are told once more) and stops.
    """

    def __init__(self, app: WagiApp, route: str, method: str = "GET", target: Optional[str] = None,
                 headers: str = "", body: str = "", cell: Optional[str] = None):
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
        self.superseded = False
        #: What it is the one live preview of: its cell, else its route.
        self.key = ("cell", cell) if cell else ("route", self.route.text)

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
        watching = _watching.setdefault(self.app, {})
        older = watching.get(self.key)
        if older is not None and older is not self:
            older.unwatch()
            older.superseded = True
            for callback in list(older.on_response):
                callback(older)
        watching[self.key] = self
        if self._route_changed not in self.app.route_listeners:
            self.app.route_listeners.append(self._route_changed)

    def unwatch(self) -> None:
        if self._route_changed in self.app.route_listeners:
            self.app.route_listeners.remove(self._route_changed)
        watching = _watching.get(self.app, {})
        if watching.get(self.key) is self:
            del watching[self.key]

    def _route_changed(self, handler: Handler) -> None:
        if handler.route == self.route or any(route.matches(self.target.partition("?")[0])
                                              for route, _ in handler.candidates()):
            self.send()
