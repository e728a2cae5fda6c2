"""Route patterns (spec section 2): exact routes, ``/...`` prefix routes, ``_routes`` joining."""
from __future__ import annotations

from dataclasses import dataclass

from ..errors import WagiNbError

WILDCARD = "/..."


class BadRoute(WagiNbError):
    """A route that cannot be used, or ``_routes`` output that cannot be read."""


@dataclass(frozen=True)
class Route:
    """A route as configured, e.g. ``/hello`` (exact) or ``/static/...`` (prefix)."""

    text: str

    def __post_init__(self):
        check_route(self.text)

    @property
    def is_prefix(self) -> bool:
        return self.text.endswith(WILDCARD)

    @property
    def script_name(self) -> str:
        """SCRIPT_NAME: the route, or for a prefix route the route without ``/...`` (``/...`` gives ``/``)."""
        if not self.is_prefix:
            return self.text
        return self.text[: -len(WILDCARD)] or "/"

    @property
    def base(self) -> str:
        """The part a path must start with; ``""`` for ``/...``."""
        return self.text[: -len(WILDCARD)] if self.is_prefix else self.text

    def matches(self, path: str) -> bool:
        """Whether a raw (percent-encoded) path without query is served by this route."""
        if not self.is_prefix:
            return path == self.text
        base = self.base
        return path == base or path.startswith(base + "/") or (base == "" and path.startswith("/"))

    def path_info(self, path: str) -> str:
        """The raw path after SCRIPT_NAME (``""`` for exact routes)."""
        return path[len(self.base):] if self.is_prefix else ""

    def join(self, child: str) -> "Route":
        """A ``_routes`` sub-route under this one, without doubling the slash; the child decides exact/prefix."""
        parent = self.base.rstrip("/")
        if not child.startswith("/"):
            child = "/" + child
        return Route(parent + child if parent + child else "/")

    def __str__(self) -> str:
        return self.text


def check_route(text: str) -> None:
    if not isinstance(text, str) or not text.startswith("/"):
        raise BadRoute(f"The route {text!r} does not start with '/'. Routes are URL paths such as "
                       "'/', '/hello' or '/static/...' (a trailing '/...' matches everything under it).")
    if any(ch.isspace() for ch in text) or "?" in text or "#" in text:
        raise BadRoute(f"The route {text!r} has whitespace, '?' or '#' in it. A route is only a path: "
                       "the query string is passed to the module, not matched.")
    if "..." in text[:-len(WILDCARD)] if text.endswith(WILDCARD) else "..." in text:
        raise BadRoute(f"The route {text!r} has '...' in the middle. Only a trailing '/...' is a wildcard.")


def parse_routes_output(output: str, route: Route) -> list:
    """``_routes`` output → ``[(Route, entrypoint)]`` in the order printed."""
    found = []
    for number, line in enumerate(output.splitlines(), start=1):
        if not line.strip():
            continue
        fields = line.split()
        if len(fields) != 2:
            raise BadRoute(f"Line {number} of the `_routes` output of the module at {route} is {line!r}; "
                           "each line must be exactly two fields, `path entrypoint` (e.g. "
                           "`/hello say_hello`).")
        path, entrypoint = fields
        try:
            found.append((route.join(path), entrypoint))
        except BadRoute as error:
            raise BadRoute(f"Line {number} of the `_routes` output of the module at {route}: "
                           f"{error}") from None
    if not found:
        raise BadRoute(f"The module at {route} exports `_routes` but it printed no routes. Print one "
                       "`path entrypoint` line per sub-route, or remove the `_routes` export.")
    return found


class RouteTable:
    """``(Route, value)`` entries matched in order (the first that matches wins), without trying
    every entry: exact routes are looked up by path, and only the prefix routes listed before
    that exact one are tried. A table of 1,000 exact routes costs what a table of one does."""

    def __init__(self, entries):
        self.exact: dict = {}
        self.prefixes: list = []
        for position, (route, value) in enumerate(entries):
            if route.is_prefix:
                self.prefixes.append((position, route, value))
            elif route.text not in self.exact:
                self.exact[route.text] = (position, value)

    def match(self, path: str):
        """The value of the first entry whose route matches ``path``, or None."""
        exact = self.exact.get(path)
        if not self.prefixes:
            return None if exact is None else exact[1]
        last = len(self.exact) + len(self.prefixes) if exact is None else exact[0]
        for position, route, value in self.prefixes:
            if position > last:
                break
            if route.matches(path):
                return value
        return None if exact is None else exact[1]
