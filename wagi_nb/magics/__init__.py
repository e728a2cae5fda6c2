"""IPython magics: ``%load_ext wagi_nb`` registers them."""
from .languages import WasmMagics
from .wagi import WagiMagics


def register(ipython) -> None:
    ipython.register_magics(WasmMagics)
    ipython.register_magics(WagiMagics)


__all__ = ["WasmMagics", "WagiMagics", "register"]
