"""HTTP over the Wagi route table: tornado, a thread pool, limits at the edge."""
from .background import BackgroundServer, current_server, serve, stop
from .access_log import AccessLog
from .http import Limits, WagiServer
from .listen import ListenError, free_port

__all__ = ["BackgroundServer", "current_server", "serve", "stop", "AccessLog", "Limits", "WagiServer", "ListenError",
           "free_port"]
