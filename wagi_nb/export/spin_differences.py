"""How Spin's wagi executor runs an exported app differently from Wagi and wagi-nb.

Read from Spin's code (spinframework/spin, formerly fermyon/spin): the executor in
``crates/trigger-http/src/wagi.rs``, the CGI variables in ``crates/http/src/wagi/mod.rs`` and
``crates/trigger-http/src/headers.rs``, the router in ``crates/http/src/routes.rs`` (routefinder
since Spin 2.5), the executor's defaults in ``crates/http/src/config.rs``; then each checked against
the real Spin 3.6.3 (``tests/peers`` pins them). docs/wagi.md lists them.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Mapping, Optional, Sequence

from ..wagi.application import HEALTHZ
from ..wagi.cgi import cgi_argv
from ..wagi.request import Request
from ..wagi.routes import Route

#: Spin answers every path under this itself (``health``, ``info``, else 404); no app route sees them.
SPIN_RESERVED = "/.well-known/spin/"
#: The wagi executor's ``argv`` when the manifest gives none.
SPIN_DEFAULT_ARGV = "${SCRIPT_NAME} ${ARGS}"
#: Route segments Spin 2.5+ reads as wildcards (``:name``, a trailing ``*``); Wagi matches them literally.
_PATTERN_SEGMENT = re.compile(r"/(:[^/]*|\*$)")

GENERAL = (
    "Spin runs the most specific route (an exact route, else the longest prefix); Wagi and wagi-nb run "
    "the first match in file order.",
    "Spin has no built-in `/healthz` (its own is `/.well-known/spin/health`), and paths under "
    "`/.well-known/spin/` never reach the app.",
    "`CONTENT_TYPE` is empty under Spin (and Wagi), whatever the request sends: read `HTTP_CONTENT_TYPE`, "
    "which all set.",
    "Spin adds `X_COMPONENT_ROUTE`, `X_RAW_COMPONENT_ROUTE`, `X_BASE_PATH` and `X_CLIENT_ADDR` (and "
    "`X_PATH_MATCH_<NAME>` for `:name` segments); every variable wagi-nb sets, Spin sets too. When the "
    "request's `Host` has no port, `X_FULL_URL` has none there and `SERVER_PORT` is 80 (wagi-nb and Wagi "
    "take `--hostname`'s port, 3000 by default).",
    "A request without a `Host` header (or with an empty one) gets no answer from Spin: it closes the "
    "connection. wagi-nb and Wagi answer it, with `--hostname`'s name.",
    "Spin treats `//path` as `/path`; wagi-nb and Wagi match the path as sent (a 404 there).",
    "A request header sent twice reaches the module with its last value under Spin (and Wagi); wagi-nb "
    "joins the values with `, `.",
    "No output at all, a trap or a non-zero exit is a 500 in both (with an empty body under Spin); "
    "`proc_exit(0)` is a normal end in both.",
    "A response header printed twice (two `Set-Cookie`) is sent once under Spin (and Wagi), the last one. "
    "A header value that is not valid UTF-8 fails the request there with a 500, and one with a control "
    "character gets no answer at all; wagi-nb drops such a line and passes the other bytes as they are.",
)
EXACT_TRAILING_SLASH = ("An exact route also answers its path with a trailing slash under Spin (`{example}/` "
                        "runs `{example}`); Wagi and wagi-nb match an exact route byte for byte, so there "
                        "`{example}/` is a 404 or goes to a prefix route.")
DEFAULT_ARGV = ("A route without an `argv` template runs with Spin's default, `${{SCRIPT_NAME}} ${{ARGS}}`, "
                "split on single spaces: a request without a query string gets an empty last argument "
                "(`GET {example}`: {spin} under Spin, {wagi} here).")


@dataclass(frozen=True)
class Target:
    """What answers a request path: an app route, a ``_routes`` sub-route, or the server itself."""

    #: The route that matched (for the server: its own path, ``/healthz`` or ``/.well-known/spin/...``).
    route: str
    #: The app route (the handler's own) this belongs to; None: the server answers.
    owner: Optional[str] = None
    entrypoint: str = "_start"

    def __str__(self) -> str:
        if self.owner is None:
            return "Wagi's built-in `/healthz`" if self.route == HEALTHZ else "Spin's own `/.well-known/spin/` handler"
        if self.route != self.owner or self.entrypoint != "_start":
            return f"the `_routes` sub-route `{self.route}` (`{self.entrypoint}`)"
        return f"`{self.route}`"


@dataclass(frozen=True)
class Rerouted:
    """A request path that Spin sends somewhere else than Wagi and wagi-nb do (None: a 404)."""

    path: str
    wagi: Optional[Target]
    spin: Optional[Target]

    def __str__(self) -> str:
        return (f"`GET {self.path}` goes to {self.wagi or 'no route (404)'} under Wagi and wagi-nb, "
                f"to {self.spin or 'no route (404)'} under Spin.")


@dataclass
class SpinDifferences:
    """What an export's README says about Spin: loud warnings, differences per route, general ones."""

    #: The differences that change this app's answers, one sentence each.
    warnings: list = field(default_factory=list)
    #: route text → sentences for that route only, in the app's route order.
    routes: dict = field(default_factory=dict)
    #: Differences that hold for every route.
    general: list = field(default_factory=list)
    #: The request paths Spin routes differently (the structured form of some warnings).
    rerouted: list = field(default_factory=list)

    def add(self, route: str, text: str, loud: bool = False) -> None:
        if text not in self.routes[route]:
            self.routes[route].append(text)
        if loud and text not in self.warnings:
            self.warnings.append(text)


def spin_differences(handlers: Sequence) -> SpinDifferences:
    """The differences for an app's handlers (``.route``, ``.argv``, ``.subroutes``, ``.entrypoint``)."""
    found = SpinDifferences(routes={h.route.text: [] for h in handlers})
    routes = [h.route for h in handlers]
    found.rerouted = rerouted(routes, {h.route: h.subroutes for h in handlers})
    for move in found.rerouted:
        for target in (move.wagi, move.spin):
            if target is not None and target.owner is not None:
                found.add(target.owner, str(move), loud=True)
    for handler in handlers:
        route = handler.route
        if _is_pattern(route):
            found.add(route.text, f"`{route.text}`: Spin 2.5 and later read `:name` segments and a trailing `*` "
                                  "as wildcards, so Spin runs this route for more paths than the literal one "
                                  "Wagi matches.", loud=True)
        argv = argv_difference(handler.argv, example_path(route)) if handler.argv is not None else None
        if argv:
            found.add(route.text, f"`{route.text}` (argv template `{handler.argv}`): {argv}", loud=True)
        if route.is_prefix:
            found.add(route.text, "`PATH_INFO` is the raw rest of the path under Spin (`%20` stays `%20`); "
                                  "wagi-nb decodes it. `X_RAW_PATH_INFO` (raw) and `PATH_TRANSLATED` "
                                  "(decoded) are the same in both.")
        if route.script_name == "/":
            found.add(route.text, "`SCRIPT_NAME` is empty under Spin (`/` here)"
                                  + ("; so is `X_MATCHED_ROUTE`." if route.text == "/" else "."))
        elif not route.is_prefix and route.text.endswith("/"):
            found.add(route.text, f"Spin drops the trailing slash: this route is `{route.text[:-1]}` there "
                                  f"(`SCRIPT_NAME` too), and answers `{route.text[:-1]}` as well.")
    found.general = list(GENERAL)
    exact = [r for r in routes if not r.is_prefix and r.text != "/" and not r.text.endswith("/")]
    if exact:
        found.general.insert(1, EXACT_TRAILING_SLASH.format(example=exact[0].text))
    plain = next((h.route for h in handlers if h.argv is None), None)
    if plain is not None:
        path = example_path(plain)
        found.general.append(DEFAULT_ARGV.format(
            example=path, spin=_shown(spin_argv(SPIN_DEFAULT_ARGV, Request.make("GET", path))),
            wagi=_shown(cgi_argv(Request.make("GET", path)))))
    return found


def rerouted(routes: Sequence[Route], subroutes: Optional[Mapping] = None) -> list:
    """The request paths Spin answers from another route than Wagi does, one example per change.

    ``routes`` are the app's routes in file order, ``subroutes`` maps a route to the ``(Route,
    entrypoint)`` pairs its ``_routes`` printed (Spin never calls ``_routes``). Routes Spin reads as
    patterns (``:name``, ``*``) are left out: they have their own warning. So are the paths that differ
    only by Spin's lenient trailing slash (``/hello/`` runs exact ``/hello``): the general note says it.
    """
    subroutes = subroutes or {}
    plain = [r for r in routes if not _is_pattern(r)]
    table = [(r, tuple(subroutes.get(r, ()))) for r in plain]
    found, seen = [], set()
    for path in _example_paths(table):
        wagi, spin = wagi_target(table, path), spin_target(plain, path)
        if wagi == spin or wagi is None:
            continue
        if wagi.owner is None and (spin is None or spin.owner is None):  # the servers' own paths
            continue
        if (wagi, spin) not in seen:
            seen.add((wagi, spin))
            found.append(Rerouted(path, wagi, spin))
    return found


def wagi_target(table: Sequence, path: str) -> Optional[Target]:
    """What Wagi and wagi-nb run for ``path`` (spec section 2): ``/healthz``, then the first match in order."""
    if path == HEALTHZ:
        return Target(HEALTHZ)
    for route, subs in table:
        for sub, entrypoint in reversed(subs):
            if sub.matches(path):
                return Target(sub.text, route.text, entrypoint)
        if route.matches(path):
            return Target(route.text, route.text)
    return None


def spin_target(routes: Sequence[Route], path: str) -> Optional[Target]:
    """What Spin runs for ``path``: an exact route (trailing slash allowed), else the longest prefix.

    Spin strips one trailing slash from each route, and of two routes that end up the same the first
    wins (measured with Spin 3.6.3: `/d` and `/d/` both run the one listed first).
    """
    if path.startswith(SPIN_RESERVED):
        return Target(SPIN_RESERVED + "...")
    exact = [r for r in routes if not r.is_prefix and path in _exact_paths(r)]
    if exact:
        return Target(exact[0].text, exact[0].text)
    prefixes = [r for r in routes if r.is_prefix and r.matches(path)]
    if not prefixes:
        return None
    longest = max(len(r.base) for r in prefixes)
    best = [r for r in prefixes if len(r.base) == longest][0]
    return Target(best.text, best.text)


def spin_argv(template: str, request: Request) -> list:
    """argv under Spin's wagi executor: the template filled in, then split on single spaces."""
    text = template.replace("${SCRIPT_NAME}", request.path).replace("${ARGS}", request.query.replace("&", " "))
    return text.split(" ")


def argv_difference(template: str, path: str) -> str:
    """How Spin's argv differs from wagi-nb's for a route's template ("" if it never does)."""
    for target in (path, f"{path}?a=1&b=2"):
        request = Request.make("GET", target)
        spin, wagi = spin_argv(template, request), cgi_argv(request, template)
        if spin != wagi:
            why = "Spin splits the filled-in template on single spaces"
            if not request.query and "${ARGS}" in template:
                why += ", so an empty `${ARGS}` leaves an empty argument"
            why += "; wagi-nb splits it on any whitespace"
            return f"`GET {target}` runs with {_shown(spin)} under Spin, {_shown(wagi)} under wagi-nb ({why})."
    return ""


def example_path(route: Route) -> str:
    """A request path the route answers."""
    if route.is_prefix:
        return route.base or "/"
    return route.text


def _exact_paths(route: Route) -> tuple:
    text = route.text[:-1] if route.text.endswith("/") else route.text
    return (text + "/",) if not text else (text, text + "/")


def _is_pattern(route: Route) -> bool:
    return bool(_PATTERN_SEGMENT.search(route.base if route.is_prefix else route.text))


def _example_paths(table: Sequence) -> list:
    """Paths that between them meet every way the routes can overlap (but for trailing slashes): each
    route's own path, a path under each prefix, and the two paths a server answers itself."""
    routes = [r for route, subs in table for r in (route, *(sub for sub, _ in subs))]
    texts = [r.text for r in routes]
    paths = []
    for route in routes:
        if route.is_prefix:
            base = route.base
            paths += [base or "/", base + "/", base + "/" + _unused_segment(base, texts)]
        else:
            paths.append(route.text)
    paths += [HEALTHZ, SPIN_RESERVED + "health"]
    return [p for i, p in enumerate(paths) if p and p not in paths[:i]]


def _unused_segment(base: str, texts: Sequence[str]) -> str:
    """A path segment under ``base`` that no route names, so the path falls to ``base``'s prefix alone."""
    name, number = "x", 0
    while any(t == f"{base}/{name}" or t.startswith(f"{base}/{name}/") for t in texts):
        number += 1
        name = f"x{number}"
    return name


def _shown(argv: list) -> str:
    return f"`{json.dumps(argv, ensure_ascii=False)}`"
