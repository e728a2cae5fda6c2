"""The options of a language cell (``%%wasm_rust -n hello --route / ...``), declared once.

The magics turn these into IPython ``@argument`` declarations; the headless
notebook reader (``wagi-nb build``) parses the same lines with argparse, so
both read a cell the same way.
"""
from __future__ import annotations

import argparse
import shlex

from .errors import WagiNbError

BUILD = (
    (("-n", "--name"), dict(default=None,
                            help="Keep the module under this name (wagi_nb.modules[NAME], %%wasm_run NAME).")),
    (("--force",), dict(action="store_true", help="Rebuild even if the cache has this cell.")),
    (("--no-run",), dict(action="store_true", help="Only build; do not run the module.")),
)

FLAGS = (
    (("--flags",), dict(default="", metavar='"FLAGS"',
                        help="Extra compiler arguments, split like a shell would (added to "
                             "WasmMagics.<language>_flags; part of the build cache key).")),
)

DEPENDENCIES = (
    (("--dep",), dict(action="append", default=[], metavar="'NAME = SPEC'",
                      help="A crate the cell depends on, as a Cargo.toml line (repeatable), e.g. "
                           "--dep 'serde_json = \"1\"'; builds the cell with Cargo.")),
    (("--update",), dict(action="store_true",
                         help="Resolve the dependencies again (the kept Cargo.lock is replaced).")),
)

PROFILES = (
    (("--release",), dict(dest="release", action="store_true", default=True,
                          help="Optimised build (the default).")),
    (("--debug",), dict(dest="release", action="store_false", help="Unoptimised build with debug info.")),
)

RUN = (
    (("--args",), dict(default="", metavar='"ARGS"',
                       help="Command-line arguments for the module, split like a shell would.")),
    (("--env",), dict(action="append", default=[], metavar="KEY=VALUE",
                      help="An environment variable for the module (repeatable). Nothing is inherited.")),
    (("--stdin",), dict(default=None, metavar="TEXT", help="Text to give the module on stdin.")),
    (("--timeout",), dict(type=float, default=None, metavar="SECONDS",
                          help="Stop the module after this long, whatever it is doing (default: "
                               "WasmMagics.timeout, 10 s).")),
    (("--max-output",), dict(type=float, default=None, metavar="MIB",
                             help="Stop the module once it prints more than this to stdout or stderr "
                                  "(default: WasmMagics.max_output, 64 MiB).")),
    (("--dir",), dict(action="append", default=[], metavar="HOST[:GUEST][:ro]",
                      help="Preopen a host folder for the module (repeatable); nothing else is reachable.")),
    (("--allowed-host",), dict(action="append", default=[], dest="allowed_host", metavar="URL",
                               help="A host the module may send HTTP requests to with wasi_experimental_http "
                                    "(repeatable; e.g. https://api.example.com, or insecure:allow-all), as "
                                    "`allowed_hosts` in modules.toml. None by default.")),
    (("--no-raise-error",), dict(action="store_true", dest="no_raise_error",
                                 help="Show a module that fails (a trap, a non-zero exit, a timeout; on a "
                                      "route, a 5xx wagi_nb answered for it) without failing the cell, so "
                                      "Run All goes on (as %%bash --no-raise-error). Default: "
                                      "WasmMagics.raise_on_error.")),
)

ROUTE = (
    (("--route",), dict(default=None, metavar="ROUTE",
                        help="Serve the module at this route (e.g. / or /static/...) and preview a request.")),
    (("--entrypoint",), dict(default="_start", metavar="NAME",
                             help="With --route: the exported function to call per request (default _start).")),
    (("--argv",), dict(default=None, metavar="TEMPLATE",
                       help='With --route: argv template, e.g. "${SCRIPT_NAME} ${ARGS}".')),
    (("--volume",), dict(action="append", default=[], metavar="GUEST=HOST[:ro]",
                         help="With --route: mount a host folder at a guest path (repeatable); read-write "
                              "as in Wagi, or read-only with a trailing :ro.")),
    (("--request",), dict(default=None, metavar='"METHOD /path?query"',
                          help="With --route: the request to preview (default: GET the route).")),
    (("--preview",), dict(action="store_true",
                          help="With --route: show a live preview (a request form that re-sends when the "
                               "route's cell is re-run) instead of a static one.")),
)


#: Options of a plain run that mean nothing to a route, and what to use instead.
NOT_FOR_ROUTES = {
    "args": ("--args", "a route's argv comes from each request: put the arguments in the query "
                       "(--request \"GET /route?a&b\") or write an --argv template"),
    "dir": ("--dir", "a route's folders are its volumes: use --volume GUEST=HOST[:ro]"),
}
#: Options that only a route cell uses.
ROUTE_ONLY: dict = {"entrypoint": "_start", "argv": None, "volume": [], "request": None, "preview": False}


def check_cell_options(args) -> None:
    """Refuse options the cell would silently ignore: run-only ones with --route, route-only ones
    without it. (``--no-run``, ``--stdin``, ``--timeout`` and ``--max-output`` apply to both: on a
    route cell they shape the preview request.)"""
    if args.route:
        for dest, (flag, instead) in NOT_FOR_ROUTES.items():
            if getattr(args, dest):
                raise WagiNbError(f"{flag} has no effect on a route cell (--route): {instead}.")
        return
    given = [dest for dest, default in ROUTE_ONLY.items() if getattr(args, dest) != default]
    if given:
        flags = ", ".join(f"--{dest}" for dest in given)
        raise WagiNbError(f"{flags} only {'mean' if len(given) > 1 else 'means'} something on a "
                          "route cell: add --route ROUTE (a plain run takes --args, --env, --stdin "
                          "and --dir).")


#: ``%wasm_cargo``: a crate's folder (or --new NAME) and, as for a cell, profile, run and route options.
CARGO = (
    (("path",), dict(nargs="?", default=None, metavar="PATH",
                     help="The crate's folder (holding its Cargo.toml).")),
    (("--new",), dict(default=None, metavar="NAME",
                      help="Make a new crate NAME, as `cargo new NAME`, its src/main.rs a Wagi handler.")),
    (("--bin",), dict(default=None, metavar="NAME",
                      help="Which binary of the crate to build (when it has several).")),
) + BUILD[:1] + PROFILES + BUILD[2:] + RUN + ROUTE


def cell_options(toolchain) -> tuple:
    """Every option of a language's magic, in the order ``%%wasm_rust?`` lists them."""
    return (BUILD[:1] + (PROFILES if toolchain.has_profiles else ()) + (FLAGS if toolchain.takes_flags else ())
            + (DEPENDENCIES if toolchain.takes_dependencies else ()) + BUILD[1:] + RUN + ROUTE)


#: ``%wagi_env`` (the magic, and the headless reader of a notebook's ``%wagi_env`` lines).
ENV_LINE = (
    (("pairs",), dict(nargs="*", metavar="KEY=VALUE", help="Global variables for every route.")),
    (("--env-file",), dict(action="append", default=[], metavar="FILE",
                           help="A file of KEY=VALUE lines (repeatable); KEY=VALUE arguments beat it.")),
    (("--clear",), dict(action="store_true", help="Forget the global env first.")),
)


class CellLineError(ValueError):
    """A magic line the headless reader cannot parse."""


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        raise CellLineError(message)


def parse_options(line: str, options) -> argparse.Namespace:
    """Parse a magic line against ``options`` as the magic would; raises CellLineError."""
    parser = _Parser(add_help=False)
    for names, kwargs in options:
        parser.add_argument(*names, **kwargs)
    try:
        return parser.parse_args(shlex.split(line))
    except ValueError as error:  # shlex: an unclosed quote
        raise CellLineError(str(error)) from None


def parse_cell_line(line: str, toolchain) -> argparse.Namespace:
    """Parse the options after ``%%wasm_<language>`` as the magic would."""
    args = parse_options(line, cell_options(toolchain))
    return fill_defaults(args)


def fill_defaults(args: argparse.Namespace) -> argparse.Namespace:
    """The options a language's magic does not have, at the value that means "not given"."""
    for dest, value in (("release", True), ("flags", ""), ("dep", []), ("update", False), ("force", False),
                        ("allowed_host", []), ("no_raise_error", False)):
        if not hasattr(args, dest):
            setattr(args, dest, value)
    return args


def split_flags(text: str) -> list:
    """``--flags "-O1 -g"`` → ``["-O1", "-g"]``; raises WagiNbError on an unclosed quote."""
    try:
        return shlex.split(text)
    except ValueError as error:
        raise WagiNbError(f"Cannot split --flags {text!r}: {error}. Close the quote.") from None


def parse_volumes(pairs) -> tuple:
    """``--volume GUEST=HOST[:ro]`` values → ({guest: host}, {guest paths mounted read-only})."""
    volumes, read_only = {}, set()
    for pair in pairs:
        guest, sep, host = pair.partition("=")
        if host.endswith(":ro"):
            host = host[:-3]
            read_only.add(guest)
        if not sep or not guest.startswith("/") or not host:
            raise WagiNbError(f"--volume expects GUEST=HOST[:ro] with an absolute guest path, got "
                              f"{pair!r}; e.g. --volume /static=./public:ro.")
        volumes[guest] = host
    return volumes, read_only
