"""IPython magics: ``%load_ext wagi_nb`` registers them."""
from .languages import WasmMagics


def register(ipython) -> None:
    ipython.register_magics(WasmMagics)


__all__ = ["WasmMagics", "register"]
