"""Where the real Wagi 0.8.1 answers an exported app differently from wagi-nb.

Measured with the Wagi 0.8.1 binary of ``../shared/peers`` (the peer suite, ``tests/peers``, pins
each one); wagi-nb keeps the contract's choice (``../shared/docs/wagi-spec.md``, "better than
Wagi"), and ``docs/wagi.md`` says why.
"""
from __future__ import annotations

from typing import Sequence

GENERAL = (
    "A module that ends with `proc_exit(0)` (every Go and Zig module does; `exit(0)` in C) gets a 500 with "
    "an empty body from Wagi 0.8.1; wagi-nb and Spin send the response it printed.",
    "A request header sent twice reaches the module with its last value under Wagi (and Spin); wagi-nb "
    "joins the values with `, ` (`HTTP_ACCEPT=text/a, text/b`).",
    "`CONTENT_TYPE` is always empty under Wagi (and Spin); wagi-nb passes the request's Content-Type, as "
    "CGI/1.1 says. `HTTP_CONTENT_TYPE` has it everywhere.",
    "A response header the module prints twice (two `Set-Cookie`) is sent once, the last one, by Wagi "
    "(and Spin); wagi-nb sends both.",
    "When a module prints both `Status` and `Location`, Wagi answers one or the other at random; wagi-nb "
    "(and Spin) answer the `Status`.",
    "Wagi sends header names in lower case, wagi-nb in their usual capitals (`Content-Type`); HTTP "
    "reads both the same.",
    "Errors wagi-nb answers itself (a trap, an exit code, output that is no response, a bad `Status`) have "
    "a one-paragraph text body saying what happened; Wagi's are empty or one line.",
    "A header value that is not valid UTF-8, or holds a control character, makes Wagi answer 500 (or "
    "close the connection with no answer); wagi-nb drops the control-character line and passes other "
    "bytes as they are.",
)


#: Languages whose runtime ends every program with ``proc_exit(0)`` (Go's, and Zig 0.17's start code).
EXITING = {"go": "Go", "zig": "Zig"}


def exit_warning(route: str, language: str) -> str:
    return (f"`{route}` is a {EXITING[language]} module, which ends with `proc_exit(0)`: Wagi 0.8.1 answers "
            "every request to it with a 500 and an empty body (a Wagi bug the contract fixes); wagi-nb and "
            "Spin send the response it printed.")


def wagi_warnings(routes: Sequence) -> list:
    """The loud differences for the exported routes (``.route``, ``.language``)."""
    return [exit_warning(r.route, r.language) for r in routes if r.language in EXITING]
