"""Wagi: a WASI command as a CGI handler (routes, environment, header parsing, modules.toml)."""
from .. import defaults
from .application import HEALTHZ, Handler, WagiApp, make_handler
from .cgi import cgi_argv, cgi_environment
from .config import ConfigError, ModuleEntry, load_config
from .request import BadRequest, Request
from .response import Response, parse_cgi_output
from .routes import BadRoute, Route

#: The notebook's routes: what the magics add to and ``%wagi_serve`` serves.
app = WagiApp(timeout=defaults.CELL_TIMEOUT)

__all__ = ["app", "HEALTHZ", "Handler", "WagiApp", "make_handler", "cgi_argv", "cgi_environment",
           "ConfigError", "ModuleEntry", "load_config", "BadRequest", "Request", "Response",
           "parse_cgi_output", "BadRoute", "Route"]
