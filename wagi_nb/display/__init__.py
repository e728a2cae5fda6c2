"""How results look: an HTML form for notebooks and a text form for terminals and logs."""
from .response_view import ResponseView
from .routes_view import RoutesView
from .server_view import LogView, ServerView
from .run_view import BuildStatus, RunView, toolchain_label
from .toolchains_view import ToolchainsView

__all__ = ["LogView", "ServerView", "ResponseView", "RoutesView", "RunView", "BuildStatus", "ToolchainsView",
           "toolchain_label"]
