"""IPython magics: ``%load_ext wagi_nb`` registers them."""
from .languages import WasmMagics
from .serve import ServeMagics
from .wagi import WagiMagics


def register(ipython) -> None:
    ipython.register_magics(WasmMagics)
    ipython.register_magics(WagiMagics)
    ipython.register_magics(ServeMagics)
    from . import cells, completion
    completion.install(ipython)  # Tab completion of the magics' options (replaces an earlier one: %reload_ext)
    cells.install(ipython)  # which cell runs: a live preview is the cell's


__all__ = ["ServeMagics", "WasmMagics", "WagiMagics", "register"]
