"""The route table and request handling shared by the notebook, the server and the command line."""
from __future__ import annotations

import collections
import dataclasses
import functools
import sys
import threading
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Mapping, Optional, Union

from tornado.httputil import HTTPHeaders

from ..artifacts import Artifact, load
from ..toolchains.base import SCRIPT_DIR
from ..envvars import parse_env_file, parse_env_pairs
from ..errors import ModuleNotLinkable, NotACommand, WagiNbError
from .. import defaults
from ..runtime import get_runtime
from ..runtime.outbound_http import OutboundPolicy
from ..runtime.limits import SERVE_LIMITS, RunLimits
from ..runtime.result import EXIT, INTERRUPTED, OK, OUTPUT, TIMEOUT
from .cgi import cgi_argv, cgi_environment
from .config import ConfigError, ConfigWarning, ModuleEntry, RouteOptions, load_config
from .live_module import LiveModule
from .request import Request
from .response import Response, error_response, parse_cgi_output
from .routes import BadRoute, Route, RouteTable, parse_routes_output
from .stderr_log import StderrLog

HEALTHZ = "/healthz"
MiB = 1024 * 1024


#: A run given a CPU-time budget may take this many times that budget of wall-clock time.
INLINE_WALL = 5


class NotFinished(Exception):
    """A run given a budget (:meth:`WagiApp.handle_within`) did not end within it."""


@dataclass(frozen=True, kw_only=True)
class Handler(RouteOptions):
    """A module mapped to a route: one ``[[module]]`` of a modules.toml, or one route cell."""

    route: Route
    artifact: Artifact
    #: Environment for this route only: over the global env, under the CGI variables.
    env: Mapping = field(default_factory=dict)
    #: Where the handler came from ("cell [3]", "modules.toml"), and the source text if any.
    origin: str = ""
    source: str = ""
    #: The notebook cell's id, where its front end sends one (JupyterLab, Notebook 7): a re-run of
    #: the cell has a new number in ``origin`` but the same id.
    cell_id: str = field(default="", compare=False)
    #: The module as loaded, which survives its file changing (None: load on each request).
    module: Optional[LiveModule] = field(default=None, compare=False, repr=False)
    #: Why the module cannot run as a Wagi module (a Spin HTTP component...): every request is a 500
    #: saying so, as under Wagi (spec section 9); "" for a module that runs.
    problem: str = ""

    @property
    def subroutes(self) -> tuple:
        """``(Route, entrypoint)`` pairs the module's ``_routes`` printed, in the order printed (those
        of the module being served, when its file has changed)."""
        return self.module.subroutes if self.module is not None else ()

    def loaded(self):
        if self.problem:
            raise NotACommand(self.problem)
        return self.module.current() if self.module is not None else self.artifact.load()

    def candidates(self):
        """(route, entrypoint) in matching order: sub-routes last printed first, then the route itself."""
        yield from reversed(self.subroutes)
        yield self.route, self.entrypoint

    def entry(self) -> ModuleEntry:
        return ModuleEntry(route=self.route.text, module=Path(self.artifact.wasm_path),
                           **self.route_options())


def make_handler(route: Union[str, Route], artifact: Artifact, *, entrypoint: str = "_start",
                 volumes: Optional[Mapping] = None, argv: Optional[str] = None,
                 env: Optional[Mapping] = None, allowed_hosts: Iterable[str] = (),
                 http_max_concurrency: Optional[int] = None, origin: str = "", source: str = "",
                 cell_id: str = "", read_only: Iterable[str] = (), watch: Optional[Path] = None,
                 notice=lambda message: None, limits: RunLimits = SERVE_LIMITS) -> Handler:
    """Check and link the module, and ask it for its ``_routes`` if it has them.

    ``watch`` is the file the module came from (default: the artifact's ``.wasm``): if
    it changes under a running server, the replacement is used once it loads. An
    interpreted cell's script folder becomes a read-only volume at ``/app``, and its
    argv template (``python /app/cell.py ${ARGS}``) the route's default ``argv``. ``_routes`` runs
    under ``limits`` (the app's: its timeout, memory limit and output cap).
    """
    route = route if isinstance(route, Route) else Route(route)
    volumes = dict(volumes or {})
    read_only = frozenset(read_only)
    if artifact.script_dir is not None:
        if SCRIPT_DIR in volumes:
            raise WagiNbError(f"Route {route}: {SCRIPT_DIR} is where the {artifact.language} script is "
                              "mounted; give your volume another guest path.")
        volumes[SCRIPT_DIR] = str(artifact.script_dir)
        read_only |= {SCRIPT_DIR}
        argv = argv if argv is not None else artifact.argv_template
    for guest, host in volumes.items():
        if not Path(host).is_dir():
            raise WagiNbError(f"The volume {guest}={host} of route {route} names a host folder that does "
                              "not exist. Give an existing folder: --volume GUEST=HOST.")
    unknown = read_only - set(volumes)
    if unknown:
        raise WagiNbError(f"Route {route}: {', '.join(sorted(unknown))} is marked read-only but is not "
                          "one of its volumes.")
    loaded = artifact.load()

    def routes_of(loaded) -> tuple:
        if "_routes" not in loaded.functions:
            return ()
        result = get_runtime().run(loaded, entrypoint="_routes", limits=limits)
        if not result.ok:
            raise BadRoute(f"The module at {route} exports `_routes`, but calling it failed: "
                           f"{result.status}. {result.stderr_text.strip()}".strip())
        return tuple(parse_routes_output(result.text, route))

    watched = dict(path=artifact.wasm_path) if watch is None else dict(path=watch, reload=lambda: load(watch).load())
    module = LiveModule(**watched, loaded=loaded, notice=notice, subroutes=routes_of(loaded), routes_of=routes_of)
    return Handler(route=route, artifact=artifact, entrypoint=entrypoint, volumes=volumes, argv=argv,
                   env=dict(env or {}), allowed_hosts=tuple(allowed_hosts),
                   http_max_concurrency=http_max_concurrency, origin=origin,
                   source=source, cell_id=cell_id, module=module, read_only=frozenset(read_only))


class WagiApp:
    """Routes and the Wagi rules for answering requests, without sockets or IPython.

    >>> app = WagiApp()
    >>> app.add_route("/", wagi_nb.build(source, language="rust"))     # doctest: +SKIP
    >>> app.request("GET", "/").text                                     # doctest: +SKIP
    'Hello, world!\\n'

    Changing the table swaps one tuple, so a request in flight finishes on
    the handler it started with.
    """

    def __init__(self, *, hostname: str = defaults.HOSTNAME,
                 timeout: Optional[float] = defaults.SERVE_TIMEOUT,
                 memory_limit_mib: Optional[float] = defaults.MEMORY_MIB,
                 max_output_mib: Optional[float] = defaults.MAX_OUTPUT_MIB,
                 max_body_mib: Optional[float] = defaults.MAX_BODY_MIB,
                 max_outbound_mib: Optional[float] = defaults.MAX_OUTBOUND_MIB,
                 log_dir: Union[str, Path, None] = None):
        self.hostname = hostname
        #: What each module run may take (timeout, memory, output); ``timeout`` and the others below
        #: read and replace it.
        self.limits = RunLimits(timeout, memory_limit_mib, max_output_mib)
        self.max_body_mib = max_body_mib
        self.max_outbound_mib = max_outbound_mib
        self.log_dir = Path(log_dir) if log_dir else None
        self._handlers: tuple = ()
        #: (the handlers tuple it was made from, its RouteTable): rebuilt when the tuple changes.
        self._table: tuple = ((), (), RouteTable(()))
        self._lock = threading.Lock()
        self._env_files: dict = {}
        self._env_flags: dict = {}
        self.global_env: dict = {}
        #: id(handler) → (handler, global_env, their merged environment as text): see _base_env.
        self._base_envs: dict = {}
        #: Lines about the app itself (a module file that changed, a log that cannot be written).
        self.notices: collections.deque = collections.deque(maxlen=100)
        #: Called with each notice line too (the server prints them).
        self.notice_listeners: list = []
        #: route text → recent (time, stderr bytes) of its module, bounded (see stderr_log.py).
        self.stderr_log = StderrLog(self.log_dir, self.notice)
        #: Called with (request, response) after every request (the server's access log).
        self.listeners: list = []
        #: Called with the new handler after a route is added or replaced (live previews).
        self.route_listeners: list = []

    timeout = property(lambda self: self.limits.timeout,
                       lambda self, value: self._set_limit(timeout=value), doc="Seconds a run may take.")
    memory_limit_mib = property(lambda self: self.limits.memory_limit_mib,
                                lambda self, value: self._set_limit(memory_limit_mib=value),
                                doc="MiB an instance may allocate.")
    max_output_mib = property(lambda self: self.limits.max_output_mib,
                              lambda self, value: self._set_limit(max_output_mib=value),
                              doc="MiB a run may print to stdout, and to stderr.")

    def _set_limit(self, **change) -> None:
        self.limits = dataclasses.replace(self.limits, **change)

    def notice(self, message: str) -> None:
        self.notices.append(message)
        for listener in list(self.notice_listeners):
            listener(message)

    # -- the route table ------------------------------------------------------------------------
    @property
    def handlers(self) -> tuple:
        return self._handlers

    def add(self, handler: Handler) -> Optional[Handler]:
        """Add a handler, replacing one with the same route in place; returns the replaced one."""
        with self._lock:
            handlers = list(self._handlers)
            replaced = next((h for h in handlers if h.route == handler.route), None)
            if replaced is None:
                handlers.append(handler)
            else:
                handlers[handlers.index(replaced)] = handler
            self._handlers = tuple(handlers)
        for listener in list(self.route_listeners):
            listener(handler)
        return replaced

    def add_route(self, route: Union[str, Route], artifact: Artifact, **options) -> Optional[Handler]:
        return self.add(make_handler(route, artifact, **{"limits": self.limits, **options}))

    def remove(self, route: str) -> Optional[Handler]:
        with self._lock:
            kept = tuple(h for h in self._handlers if h.route.text != route)
            removed = next((h for h in self._handlers if h.route.text == route), None)
            self._handlers = kept
            return removed

    def clear(self) -> None:
        with self._lock:
            self._handlers = ()

    def routes(self) -> list:
        """Every route that answers, in matching order (with ``_routes`` sub-routes): the built-in
        ``/healthz`` first, then :meth:`module_routes`."""
        return [HEALTHZ] + self.module_routes()

    def module_routes(self) -> list:
        """The routes the app's modules answer, in matching order (with ``_routes`` sub-routes): what
        a list of the user's routes shows (the server's own ``/healthz`` is not one of them)."""
        return [r.text for h in self._handlers for r, _ in h.candidates()]

    def stale(self) -> bool:
        """A route's module file changed and :meth:`match` would load it (a ``stat`` per route): a
        server matches on a worker thread then, since loading may compile."""
        return any(h.module.stale() for h in self._handlers if h.module is not None)

    def match(self, path: str, handlers: Optional[tuple] = None, refresh: bool = True):
        """(handler, route, entrypoint) for a raw path, or None. With ``refresh``, a module whose
        file changed is taken up first, with the sub-routes it prints (see :meth:`stale`)."""
        handlers = self._handlers if handlers is None else handlers
        if refresh:
            for handler in handlers:
                if handler.module is not None:
                    handler.module.current()
        generations = tuple(h.module.generation for h in handlers if h.module is not None)
        made_from, made_at, table = self._table
        if made_from is not handlers or made_at != generations:
            table = RouteTable((route, (handler, route, entrypoint)) for handler in handlers
                               for route, entrypoint in handler.candidates())
            self._table = (handlers, generations, table)
        return table.match(path)

    # -- modules.toml -----------------------------------------------------------------------------
    def load_config(self, path: Union[str, Path], replace_all: bool = False) -> list:
        """Add (or replace) the routes of a modules.toml; every module is compiled first."""
        handlers: list = []
        first: dict = {}
        for index, entry in enumerate(load_config(path), start=1):
            if entry.route in first:
                # Wagi serves the first of two entries with one route (spec section 2).
                warnings.warn(f"{path}: [[module]] #{index} repeats route {entry.route} of "
                              f"[[module]] #{first[entry.route]}; the first one is served.",
                              ConfigWarning, stacklevel=2)
                continue
            first[entry.route] = index
            try:
                artifact = load(entry.module)
                try:
                    handler = make_handler(entry.route, artifact, **entry.route_options(), limits=self.limits,
                                           origin=str(path), watch=entry.module, notice=self.notice)
                except ModuleNotLinkable as error:
                    handler = Handler(route=Route(entry.route), artifact=artifact, origin=str(path),
                                      problem=str(error), **entry.route_options())
            except WagiNbError as error:
                raise ConfigError(f"{path}, route {entry.route}: module {entry.module}: {error}") from None
            if handler.problem or handler.entrypoint not in handler.loaded().functions:
                # Wagi starts and answers such a route with 500; so does wagi-nb, and says why now.
                reason = handler.problem or f"it exports no `{handler.entrypoint}`"
                warnings.warn(f"{path}: [[module]] #{index} ({entry.module}, route {entry.route}) cannot run "
                              f"as a Wagi module, so its route answers 500: {' '.join(reason.split())}",
                              ConfigWarning, stacklevel=2)
            handlers.append(handler)
        if replace_all:
            self.clear()
        for handler in handlers:
            self.add(handler)
        return handlers

    @classmethod
    def from_config(cls, path: Union[str, Path], **options) -> "WagiApp":
        app = cls(**options)
        app.load_config(path)
        return app

    # -- global environment (`-e` beats `--env-file`) ------------------------------------------------
    def set_env(self, pairs: Union[Mapping, Iterable[str]]) -> None:
        values = dict(pairs) if isinstance(pairs, Mapping) else parse_env_pairs(pairs)
        self._env_flags.update(values)
        self._merge_env()

    def add_env_file(self, path: Union[str, Path]) -> dict:
        values = parse_env_file(path)
        self._env_files[str(path)] = values
        self._merge_env()
        return values

    def clear_env(self) -> None:
        self._env_files.clear()
        self._env_flags.clear()
        self._merge_env()

    def _merge_env(self) -> None:
        merged = {}
        for values in self._env_files.values():
            merged.update(values)
        merged.update(self._env_flags)
        self.global_env = merged

    # -- answering requests ---------------------------------------------------------------------------
    def request(self, method: str = "GET", target: str = "/", headers=None,
                body: Union[bytes, str] = b"", **fields) -> Response:
        """Send a request to the routes in-process: ``app.request("POST", "/x?y=1", body="hi")``."""
        return self.handle(Request.make(method, target, headers, body, **fields))

    def handle(self, request: Request, found: Optional[tuple] = None, *,
               timeout: Optional[float] = None, max_output_mib: Optional[float] = None) -> Response:
        """Answer ``request``; ``found`` is its :meth:`match` when the caller has it already.
        ``timeout`` and ``max_output_mib`` replace the app's limits for this request only."""
        response = self._respond(request, found, timeout, max_output_mib)
        response.request = request
        for listener in self.listeners:
            listener(request, response)
        return response

    def handle_within(self, request: Request, found: Optional[tuple], budget: float) -> Optional[Response]:
        """Answer ``request`` on this thread if its module ends within ``budget`` seconds of CPU
        time (and five times that of wall-clock time, for a module that sleeps); None if it does
        not: it is stopped then, and nothing of the run is kept (no stderr log, no listener
        called), so the request can be answered again by :meth:`handle`. Ctrl-C is left to the
        caller (a server's event loop). For routes without writable volumes or outbound HTTP
        only: a run cut short must have changed nothing outside itself."""
        try:
            response = self._respond(request, found, None, None, budget=budget)
        except NotFinished:
            return None
        response.request = request
        for listener in self.listeners:
            listener(request, response)
        return response

    def _respond(self, request: Request, found: Optional[tuple], timeout: Optional[float],
                 max_output_mib: Optional[float], budget: Optional[float] = None) -> Response:
        if self.max_body_mib is not None and len(request.body) > self.max_body_mib * MiB:
            return error_response(413, f"The request body is {len(request.body):,} bytes, over the "
                                       f"{self.max_body_mib:g} MiB limit (max_body_mib / --max-body).")
        if request.path == HEALTHZ:  # (no Content-Type, as Wagi answers it)
            return Response(status=200, headers=HTTPHeaders(), body=b"OK", route=HEALTHZ)
        if "%00" in request.path:
            return error_response(400, f"The request path {request.path} holds an encoded NUL byte "
                                       "(%00), which no module can be given in PATH_INFO. Leave it out.")
        found = found or self.match(request.path)
        if found is None:
            return Response(status=404, error=f"No route matches {request.path}.")
        handler, route, entrypoint = found
        return self.run_handler(handler, route, entrypoint, request, timeout=timeout,
                                max_output_mib=max_output_mib, budget=budget)

    def _base_env(self, handler: Handler) -> dict:
        """The global environment under the handler's own, as text: made once per handler and
        global environment (both are replaced, never changed, when they change)."""
        made = self._base_envs.get(id(handler))
        if made is not None and made[0] is handler and made[1] is self.global_env:
            return made[2]
        if len(self._base_envs) > 4 * len(self._handlers) + 16:
            self._base_envs.clear()  # handlers replaced since
        base = {str(k): str(v) for k, v in {**self.global_env, **handler.env}.items()}
        self._base_envs[id(handler)] = (handler, self.global_env, base)
        return base

    def outbound_policy(self, handler: Handler) -> OutboundPolicy:
        """What the handler's module may reach over HTTP: its ``allowed_hosts``, its
        ``http_max_concurrency``, and the app's cap on the response bodies one run holds."""
        limit = self.max_outbound_mib
        return OutboundPolicy(handler.allowed_hosts, handler.http_max_concurrency,
                              max_body=sys.maxsize if limit is None else int(limit * MiB))

    def run_handler(self, handler: Handler, route: Route, entrypoint: str, request: Request, *,
                    timeout: Optional[float] = None, max_output_mib: Optional[float] = None,
                    budget: Optional[float] = None) -> Response:
        """Run the module for ``request``; with a ``budget`` (see :meth:`handle_within`), a run
        still going after it is stopped and :class:`NotFinished` raised instead."""
        limits = self.limits.but(timeout=timeout, max_output_mib=max_output_mib)
        if budget is not None:
            limits = _inline_limits(limits, budget)
        env = cgi_environment(request, route, hostname=self.hostname, base=self._base_env(handler))
        argv = cgi_argv(request, handler.argv) or [request.path]
        dirs = [(host, guest, guest in handler.read_only) for guest, host in handler.volumes.items()]
        fields: dict = dict(route=route.text)
        try:
            result = get_runtime().run(handler.loaded(), argv[1:], program=argv[0], env=env,
                                       stdin=request.body, limits=limits, dirs=dirs, entrypoint=entrypoint,
                                       outbound=self.outbound_policy(handler) if handler.allowed_hosts else None,
                                       sigint=budget is None, cpu_budget=budget)
        except NotACommand as error:
            self.stderr_log.record(route.text, b"")  # (as in Wagi, every request of a route has its log file)
            return error_response(500, str(error), **fields)
        if budget is not None and result.outcome == TIMEOUT:
            raise NotFinished()
        # Keyed by the route that answered: a `_routes` sub-route has a log of its own.
        self.stderr_log.record(route.text, result.stderr)
        fields.update(stderr=result.stderr, duration=result.duration)
        if result.outcome == OK:
            return parse_cgi_output(result.stdout, **fields)
        fields["raw"] = result.stdout
        if result.outcome == TIMEOUT:
            return error_response(504, f"The module ran past the {limits.timeout:g} s timeout and was "
                                       "stopped.", **fields)
        if result.outcome == OUTPUT:
            return error_response(500, f"The module was stopped: it {result.trap} "
                                       "(max_output_mib / --max-output); the first part of what it "
                                       "printed is the raw output.", **fields)
        if result.outcome == INTERRUPTED:
            return error_response(500, "The module was interrupted.", **fields)
        return error_response(500, _failure(result), result.backtrace, **fields)


@functools.lru_cache(maxsize=8)
def _inline_limits(limits: RunLimits, budget: float) -> RunLimits:
    """A run on the event loop's thread: its wall-clock limit is a few times its CPU budget."""
    return dataclasses.replace(limits, timeout=INLINE_WALL * budget)


def _failure(result) -> str:
    """Why a module that exited non-zero or trapped failed: its panic first, at the cell's line."""
    ending = (f"exited with code {result.exit_code}" if result.outcome == EXIT
              else f"trapped: {result.trap}")
    panic = result.panic
    return f"The module {panic}.\nIt {ending}." if panic else f"The module {ending}."
