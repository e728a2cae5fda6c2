"""Tab completion of the wagi_nb magics' options: ``%%wasm_rust --ti<Tab>`` → ``--timeout``.

One IPython completion matcher (the Matcher API v2 of ``IPython.core.completer``) reads the
options from each magic's own ``magic_arguments`` parser, so an option added to a magic is
completed with no change here. It answers only on a magic line: the first line of a cell
whose cell magic is one of wagi_nb's, or a line that starts with one of wagi_nb's line magics
in a Python cell (not inside a cell magic's body). Everywhere else it returns nothing and
IPython's own matchers answer as usual. When it has completions it suppresses the others, so
no Python names are mixed in.

Besides option names it completes the values of options that have a fixed set of them
(``choices``, e.g. ``%wagi_export --format``); for ``--route`` (and ``%wagi_preview ROUTE``), the
routes the notebook's app already serves; and for a request's path (``--request "GET /``,
``%wagi_request GET /``), the paths those routes answer: an exact route as it is, a prefix route
``/x/...`` as ``/x/``.
"""
from __future__ import annotations

import argparse
import re
import shlex
from typing import Callable, Optional, cast

from IPython.core.completer import CompletionContext, SimpleCompletion, SimpleMatcherResult, context_matcher
from IPython.core.magic import MagicAlias

#: The matcher's identifier (``IPCompleter.disable_matchers`` and
#: ``IPCompleter.suppress_competing_matchers`` take it), also how ``register`` finds an earlier one.
IDENTIFIER = "wagi_nb.magic_options"

_PACKAGE = __name__.split(".")[0]
_MAGIC = re.compile(r"\s*(%%?)(\w+)")
#: Actions that may be given more than once (so they are offered again).
#: Positional arguments that take a route (``%wagi_preview ROUTE``) or a request's path
#: (``%wagi_request METHOD PATH``): completed from the app's routes when the word starts with ``/``.
_PATH_ARGUMENTS = ("route", "words")
_REPEATABLE = (argparse._AppendAction, argparse._AppendConstAction, argparse._CountAction,
               argparse._ExtendAction)


def install(shell) -> None:
    """Add the matcher to ``shell``'s completer, replacing one added before (``%reload_ext``)."""
    completer = getattr(shell, "Completer", None)
    if completer is None or not hasattr(completer, "custom_matchers"):
        return
    completer.custom_matchers[:] = [m for m in completer.custom_matchers
                                    if getattr(m, "matcher_identifier", None) != IDENTIFIER]
    completer.custom_matchers.append(make_matcher(shell))


def make_matcher(shell) -> Callable:
    @context_matcher(identifier=IDENTIFIER)
    def wagi_nb_magic_options(context: CompletionContext) -> SimpleMatcherResult:
        return complete_options(shell, context)
    return wagi_nb_magic_options


def complete_options(shell, context: CompletionContext) -> SimpleMatcherResult:
    """The completions for the cursor's place in ``context``, if it is on a wagi_nb magic line."""
    found = _magic_at_cursor(context)
    if found is None:
        return _nothing()
    kind, name, typed = found
    parser = _parser_of(shell, kind, name)
    if parser is None:
        return _nothing()
    return _complete_line(parser, typed)


def _magic_at_cursor(context: CompletionContext) -> Optional[tuple]:
    """(kind, name, the line's text after the name up to the cursor) on a magic line, else None."""
    lines = context.full_text.split("\n")
    first = next((i for i, line in enumerate(lines) if line.strip()), 0)  # IPython drops leading blank lines
    if context.cursor_line < first:
        return None
    match = _MAGIC.match(context.text_until_cursor)
    if match is None:
        return None
    escape, name = match.groups()
    if escape == "%%":
        if context.cursor_line != first:  # a cell magic only counts on the cell's first line
            return None
        kind = "cell"
    else:
        # A line magic: on any line of a Python cell, but not in the body of a cell magic.
        if context.cursor_line != first and lines[first].lstrip().startswith("%%"):
            return None
        kind = "line"
    typed = context.text_until_cursor[match.end():]
    if not typed[:1].isspace():  # the cursor is still in the magic's name (IPython completes that)
        return None
    return kind, name, typed


def _parser_of(shell, kind: str, name: str) -> Optional[argparse.ArgumentParser]:
    """The ``magic_arguments`` parser of the wagi_nb magic ``name`` (following aliases), or None."""
    manager = getattr(shell, "magics_manager", None)
    if manager is None:
        return None
    magic = manager.magics.get(kind, {}).get(name)
    for _ in range(5):  # %alias_magic: an alias of an alias …
        if not isinstance(magic, MagicAlias):
            break
        magic = manager.magics.get(magic.magic_kind, {}).get(magic.magic_name)
    owner = getattr(magic, "__self__", None)
    if owner is None or type(owner).__module__.split(".")[0] != _PACKAGE:
        return None
    parser = getattr(magic, "parser", None)
    return parser if isinstance(parser, argparse.ArgumentParser) else None


def _complete_line(parser: argparse.ArgumentParser, typed: str) -> SimpleMatcherResult:
    """Complete the last word of ``typed`` (the magic line after the name, up to the cursor)."""
    options = [action for action in parser._actions if action.option_strings and action.help != argparse.SUPPRESS]
    by_string = {string: action for action in options for string in action.option_strings}
    word = "" if typed[-1:].isspace() else typed.split()[-1]
    if any(quote in word for quote in "\"'\\"):
        return _in_quotes(typed, by_string)
    try:
        before = shlex.split(typed[:len(typed) - len(word)])
    except ValueError:  # inside an open quote
        return _in_quotes(typed, by_string)

    if word.startswith("--") and "=" in word:  # --format=wa
        option, _, value = word.partition("=")
        action = by_string.get(option)
        return _result(_values(action, value) if action is not None else [], value, "value")
    pending = by_string.get(before[-1]) if before else None
    if pending is not None and pending.nargs != 0 and not word.startswith("-"):  # the option's value
        return _result(_values(pending, word), word, "value")
    if word.startswith("-") or (not word and not any(not a.option_strings for a in parser._actions)):
        given = {by_string.get(token.partition("=")[0]) for token in before}
        strings = [string for action in options
                   if action not in given or isinstance(action, _REPEATABLE)
                   for string in action.option_strings
                   if string.startswith(word) and (word.startswith("-") or string.startswith("--"))]
        return _result(strings, word, "param")
    positional = next((a for a in parser._actions if not a.option_strings and a.dest in _PATH_ARGUMENTS), None)
    if positional is not None and word.startswith("/"):  # %wagi_request GET /, %wagi_preview /
        return _result(_values(positional, word), word, "value")
    return _nothing()


def _in_quotes(typed: str, by_string: dict) -> SimpleMatcherResult:
    """In an open quote: the path of ``--request "METHOD /pa`` (or ``--request="METHOD /pa``),
    completed from the app's routes."""
    if "\\" in typed:
        return _nothing()
    for quote in "\"'":
        try:
            words = shlex.split(typed + quote)
        except ValueError:
            continue  # not the quote left open
        option, value = (words[-2] if len(words) > 1 else ""), (words[-1] if words else "")
        if value.startswith("--") and "=" in value:
            option, _, value = value.partition("=")
        action = by_string.get(option)
        path = value.rpartition(" ")[2]
        if action is None or action.dest != "request" or not path.startswith("/") or not typed.endswith(path):
            return _nothing()
        return _result(_values(action, path), path, "value")
    return _nothing()


def _values(action: argparse.Action, prefix: str) -> list:
    """The known values of an option that start with ``prefix``: its choices, or the app's routes."""
    if action.choices is not None:
        values = [str(choice) for choice in action.choices]
    elif action.dest == "route":
        from ..wagi import app
        values = list(dict.fromkeys(handler.route.text for handler in app.handlers))
    elif action.dest in ("request", "words"):  # a request's path: a prefix route's base, /x/
        from ..wagi import app
        values = list(dict.fromkeys(route[:-3] if route.endswith("/...") else route
                                    for route in app.module_routes()))
    else:
        values = []
    return [value for value in values if value.startswith(prefix)]


# (cast: IPython declares the optional keys with typing.NotRequired, which mypy's Python 3.10 lacks.)
def _nothing() -> SimpleMatcherResult:
    return cast(SimpleMatcherResult, {"completions": [], "suppress": False})  # new each time: IPython adds to it


def _result(texts: list, fragment: str, kind: str) -> SimpleMatcherResult:
    if not texts:
        return _nothing()
    return cast(SimpleMatcherResult, {"completions": [SimpleCompletion(text, type=kind) for text in texts],
                                      "matched_fragment": fragment, "suppress": True})
