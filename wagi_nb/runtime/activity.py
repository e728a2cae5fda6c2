"""What the runtime is doing when one step is slow, told to whoever listens in the current context.

A module's first compile to native code (CPython's 25 MB: 4-18 s) is one call into wasmtime that
reports no progress. Around such a step the runtime says what it does (:func:`doing`); a listener
set for the current context (:func:`listening`: a notebook cell's status line, in
``magics/languages.py``) is told the text when the step starts and None when it ends, on the
thread that does it. The runtime knows nothing of who listens; with nobody listening (a server's
threads, the command line) a report costs one context-variable lookup.
"""
from __future__ import annotations

import contextlib
from contextvars import ContextVar
from typing import Callable, Iterator, Optional

#: Told what starts (a sentence: "Compiling ... to native code ..."), then None when it has ended.
Listener = Callable[[Optional[str]], None]

_listener: ContextVar[Optional[Listener]] = ContextVar("wagi_nb_activity_listener", default=None)


@contextlib.contextmanager
def listening(listener: Listener) -> Iterator[None]:
    """Within the block, slow steps of the runtime in this context are told to ``listener``."""
    token = _listener.set(listener)
    try:
        yield
    finally:
        _listener.reset(token)


@contextlib.contextmanager
def doing(what: str) -> Iterator[None]:
    """Tell the context's listener, if there is one, that ``what`` starts, and that it has ended."""
    listener = _listener.get()
    if listener is None:
        yield
        return
    listener(what)
    try:
        yield
    finally:
        listener(None)
