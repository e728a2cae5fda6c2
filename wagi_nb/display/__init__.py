"""How results look: an HTML form for notebooks and a text form for terminals and logs."""
from .run_view import BuildStatus, RunView, toolchain_label
from .toolchains_view import ToolchainsView

__all__ = ["RunView", "BuildStatus", "ToolchainsView", "toolchain_label"]
