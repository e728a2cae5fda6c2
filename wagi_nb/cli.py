"""The ``wagi-nb`` command line (also ``python -m wagi_nb``)."""
from __future__ import annotations

import argparse
import sys

from . import __version__, defaults
from .errors import WagiNbError

#: Exit codes for runs that did not end with an exit code of their own (as `timeout` and shells do).
EXIT_TRAP = 134
EXIT_TIMEOUT = 124
EXIT_INTERRUPTED = 130


def cmd_toolchains(args) -> int:
    from .display import ToolchainsView
    from .toolchains import all_toolchains, refresh
    refresh()  # ask every compiler again, as %wasm_toolchains does (and rewrite the kept results)
    infos = all_toolchains()
    print(repr(ToolchainsView(infos)))
    return 0 if all(info.found for info in infos) else 1


#: `wagi-nb install component`: what `export --component` needs (wasm-tools, the WASI 0.2.0 WIT files).
COMPONENT = "component"


def cmd_install(args) -> int:
    from . import toolchains
    everything = [name for name, tc in toolchains.TOOLCHAINS.items() if tc.installable] + [COMPONENT]
    names = args.languages or everything
    chosen = [toolchains.get_toolchain(name) for name in names if name != COMPONENT]
    can = ", ".join(everything)
    for toolchain in chosen:
        if not toolchain.installable:
            info = toolchains.discover(toolchain.language)
            now = f"it uses {info.path} ({info.label})" if info.found else f"install it with: {info.install}"
            raise WagiNbError(f"wagi-nb does not install {toolchain.title} itself; {now}. "
                              f"wagi-nb install fetches: {can}.")
    for toolchain in chosen:
        toolchain.install(log=lambda line: print(line, flush=True))
    if chosen:
        toolchains.refresh()
    missing = [toolchain.title for toolchain in chosen if not toolchains.discover(toolchain.language).found]
    if COMPONENT in names:
        install_component()
    if missing:
        raise WagiNbError(f"Installed, but still not usable: {', '.join(missing)} (see wagi-nb toolchains).")
    return 0


def install_component() -> None:
    """Fetch what the component bridge needs, then build its adapters (clang), so that the first
    export is quick; raises BridgeUnavailable saying what is missing."""
    from .bridge import tools
    from .bridge.adapters import adapters
    tools.install(log=lambda line: print(line, flush=True))
    print(f"component: adapters ready in {adapters().plain.parent}", flush=True)


def cmd_run(args) -> int:
    from .artifacts import load
    from .envvars import parse_env_pairs
    artifact = load(args.module)
    sys.stdout.flush()
    result = artifact.run(args.args, env=parse_env_pairs(args.env), timeout=args.timeout,
                          memory_limit_mib=args.memory_limit, dirs=args.dir,
                          entrypoint=args.invoke, inherit_stdio=True)
    if result.outcome in ("ok", "exit"):
        return result.exit_code or 0
    print(f"wagi-nb: {result.status}", file=sys.stderr)
    for frame in result.backtrace:
        print(f"    {frame}", file=sys.stderr)
    return {"timeout": EXIT_TIMEOUT, "interrupted": EXIT_INTERRUPTED}.get(result.outcome, EXIT_TRAP)


class Parser(argparse.ArgumentParser):
    """Bad flags are one line on stderr and exit code 2, like every other start-up error."""

    def error(self, message):
        self.exit(2, f"{self.prog}: {message} (see {self.prog} --help)\n")


def number(kind, minimum, what: str, inclusive: bool = True):
    """An argparse type: a ``kind`` (int or float) of at least (or above) ``minimum``."""
    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a {'whole ' if kind is int else ''}"
                                             "number") from None
        if value != value or value in (float("inf"), float("-inf")) or \
                (value < minimum if inclusive else value <= minimum):
            bound = f"at least {minimum:g}" if inclusive else f"more than {minimum:g}"
            raise argparse.ArgumentTypeError(f"{text} is not allowed: it must be {bound} ({what})")
        return value
    parse.__name__ = kind.__name__  # argparse names the type in its messages
    return parse


POSITIVE_SECONDS = number(float, 0, "there is no unlimited: give a large number instead",
                          inclusive=False)
MEMORY_MIB = number(int, 1, "MiB per instance; there is no unlimited")


def cmd_build(args) -> int:
    from .notebook import build_every_cell, load_notebook_routes
    from .wagi import WagiApp
    if args.every_cell:
        for notebook in args.notebook:
            for cell, artifact in build_every_cell(notebook):
                print(f"{notebook} cell {cell.number}: {cell.language}, {artifact.size:,} bytes, "
                      f"{artifact.how_built}", flush=True)
        return 0
    if len(args.notebook) != 1:
        print("wagi-nb build: give one notebook (or --every-cell with several).", file=sys.stderr)
        return 2

    def report(built):
        a = built.handler.artifact
        print(f"{built.handler.route.text:24} {built.cell.language:5} {a.size:>10,} bytes  "
              f"{a.how_built}  (cell {built.cell.number})", flush=True)

    app = WagiApp()
    built = load_notebook_routes(app, args.notebook[0], progress=report)
    print(f"{len(built)} route cell{'s' * (len(built) != 1)} built; {len(app.handlers)} routes.")
    return 0


def cmd_export(args) -> int:
    from .export import export_app
    from .notebook import load_notebook_routes
    from .wagi import WagiApp
    app = WagiApp()
    load_notebook_routes(app, args.notebook)
    print(export_app(app, args.folder, format=args.format, name=args.name, force=args.force,
                     component=args.component))
    return 0


def add_export_options(parser) -> None:
    from .export import OPTIONS
    for names, kwargs in OPTIONS:
        parser.add_argument(*names, **kwargs)


#: Wagi's flags that wagi-nb cannot honour, and the environment variables Wagi reads for them:
#: (flags, variables, help, what to do instead).
WAGI_ONLY = (
    (("--tls-cert", "--tls-key"), ("WAGI_TLS_CERT", "WAGI_TLS_KEY"), "refused: put a TLS-terminating proxy in front",
     "wagi-nb serve speaks plain HTTP only, so it cannot serve HTTPS itself. Put a TLS-terminating proxy "
     "in front of it (Caddy, nginx, Traefik or your platform's load balancer, holding the certificate and "
     "key) that forwards plain HTTP to wagi-nb's --listen address, and start wagi-nb without "
     "--tls-cert/--tls-key (and with WAGI_TLS_CERT/WAGI_TLS_KEY unset)."),
    (("-b/--bindle", "--bindle-path", "--bindle-url", "--bindle-server", "--bindle-http-user",
      "--bindle-http-password", "-k/--bindle-insecure"), (), "refused: list the modules in a modules.toml",
     "wagi-nb does not load apps from Bindle (retired; Wagi 0.8 already deprecated it). Download the "
     "app's modules (the `bindle` CLI fetches parcels), list each in a modules.toml ([[module]] with "
     "`route` and `module = \"name.wasm\"`), and serve that with -c modules.toml."),
)


def refuse_wagi_only(args) -> None:
    """A Wagi flag wagi-nb cannot honour is a start-up error saying what to do instead."""
    import os
    for flags, variables, _, advice in WAGI_ONLY:
        given = [flag for flag in flags if getattr(args, _dest(flag)) not in (None, False)]
        given += [f"{name} is set (Wagi reads it as {flags[index]})" for index, name in enumerate(variables)
                  if os.environ.get(name)]
        if given:
            raise WagiNbError(f"{', '.join(given)}: {advice}")


def _dest(flag: str) -> str:
    return flag.split("/")[-1].lstrip("-").replace("-", "_")


def serve_options(args):
    """``wagi-nb serve``'s argparse result as the typed options the server takes."""
    import os
    from pathlib import Path

    from .server.serve_command import ServeOptions
    log_dir = args.log_dir or os.environ.get("WAGI_LOG_DIR")  # the flag wins, as in Wagi
    return ServeOptions(
        config=Path(args.config) if args.config else None,
        notebooks=tuple(Path(path) for path in args.notebook), listen=args.listen,
        hostname=args.hostname, env=tuple(args.env), env_files=tuple(Path(p) for p in args.env_file),
        log_dir=Path(log_dir) if log_dir else None, timeout=args.timeout,
        memory_limit_mib=args.memory_limit, max_output_mib=args.max_output, max_body_mib=args.max_body,
        max_outbound_mib=args.max_outbound, workers=args.workers, max_concurrency=args.max_concurrency,
        inline_budget=args.inline_budget,
        module_cache=Path(args.module_cache) if args.module_cache else None,
        cache_config=Path(args.cache) if args.cache else None, worker_fd=args.worker_fd,
        parent_pid=args.parent_pid, ready_fd=args.ready_fd, argv=tuple(args.raw_argv))


def serve_app(options):
    """The routes ``wagi-nb serve`` serves: modules.toml and notebooks, with -e over --env-file."""
    from .envvars import parse_env_pairs
    from .notebook import load_notebook_routes
    from .wagi import WagiApp
    app = WagiApp(hostname=options.hostname, timeout=options.timeout,
                  memory_limit_mib=options.memory_limit_mib, max_output_mib=options.max_output_mib,
                  max_body_mib=options.max_body_mib, max_outbound_mib=options.max_outbound_mib,
                  log_dir=options.log_dir)
    for path in options.env_files:
        app.add_env_file(path)
    flags = parse_env_pairs(options.env, where="-e/--env")
    app.set_env(flags)
    if options.config:
        app.load_config(options.config)
    for notebook in options.notebooks:
        load_notebook_routes(app, notebook)
    app.set_env(flags)  # a flag beats the notebooks' %wagi_env lines too
    return app


def _read_module(path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as error:
        raise WagiNbError(f"Cannot read {path}: {error.strerror}.") from None


def cmd_component(args) -> int:
    """Make a Wagi module a wasi:http component (what an exported app's build commands run)."""
    from pathlib import Path

    from .bridge import componentize
    wasm = _read_module(Path(args.module))
    Path(args.output).write_bytes(componentize(wasm, entrypoints=args.entrypoint))
    return 0


def cmd_rewrite(args) -> int:
    """Rewrite a built module as an export does (what an exported app's build commands run)."""
    from pathlib import Path

    from .binary import Malformed, function_names, sections
    from .export.module_copies import for_spin, for_wagi
    from .toolchains.wasi_libc import fix_heap
    path = Path(args.module)
    wasm = _read_module(path)
    try:
        if args.fix_heap:
            fixed = fix_heap(wasm)
            if fixed is None and not function_names(sections(wasm)):
                raise WagiNbError(f"{path} has no function names (a name section), so its sbrk cannot be "
                                  "found. Build it without stripping its names.")
            wasm = fixed or wasm  # (a module without sbrk does not use wasi-libc's allocator)
        if args.start:
            wasm = for_spin(wasm, args.start)
        if args.for_wagi:
            wasm = for_wagi(wasm) or wasm
    except (Malformed, ValueError) as error:
        raise WagiNbError(f"Cannot rewrite {path}: {error}.") from None
    Path(args.output or path).write_bytes(wasm)
    return 0


def cmd_serve(args) -> int:
    import dataclasses
    import shutil
    import tempfile
    from pathlib import Path

    from .server.serve_command import (check_log_dir, open_sockets, serve, unused_cache_config, use_instance_pool,
                                       use_module_cache)
    from .server.workers import end_with_parent
    refuse_wagi_only(args)
    options = serve_options(args)
    if not options.config and not options.notebooks:
        raise WagiNbError("Nothing to serve: give -c modules.toml (or --notebook NOTEBOOK.ipynb).")
    if options.parent_pid is not None:
        end_with_parent(options.parent_pid)
    if options.worker_fd is not None:
        _quiet_file_warnings()  # the parent has shown them once
    temporary = options.log_dir is None
    if temporary:
        options = dataclasses.replace(options, log_dir=Path(tempfile.mkdtemp(prefix="wagi-nb-logs-")))
    try:
        check_log_dir(options.log_dir)
        if options.module_cache:
            use_module_cache(options.module_cache)
        use_instance_pool(options)
        if options.cache_config and options.worker_fd is None:
            print(f"wagi-nb: note: {unused_cache_config(options.cache_config)}", file=sys.stderr, flush=True)
        app = serve_app(options)
        sockets = open_sockets(options)
    except WagiNbError:
        # A start-up error is one line on stderr: no "Module stderr goes to" line before it, and
        # no empty temporary folder left behind.
        if temporary:
            shutil.rmtree(options.log_dir, ignore_errors=True)
        raise
    if temporary and options.worker_fd is None:
        print(f"Module stderr goes to {options.log_dir}", file=sys.stderr, flush=True)
    return serve(app, options, sockets)


def add_serve(commands) -> None:
    serve = commands.add_parser(
        "serve", help="Serve modules.toml routes over HTTP, as `wagi -c` does.",
        description="Serve the routes of a modules.toml the Wagi way: one fresh wasm instance per "
                    "request. Flags have wagi's names and defaults.")
    serve.add_argument("-c", "--config", metavar="FILE", help="The modules.toml to serve.")
    serve.add_argument("--notebook", action="append", default=[], metavar="NOTEBOOK.ipynb",
                       help="Serve the route cells of a notebook (built without a kernel; repeatable).")
    serve.add_argument("-l", "--listen", default=defaults.LISTEN, metavar="IP:PORT",
                       help=f"Address to listen on (default {defaults.LISTEN}).")
    serve.add_argument("--hostname", default=defaults.HOSTNAME, metavar="HOST[:PORT]",
                       help=f"SERVER_NAME/SERVER_PORT when a request has no Host (default {defaults.HOSTNAME}).")
    # As Wagi's: one flag may take several values (-e A=1 B=2), and may be repeated.
    serve.add_argument("-e", "--env", action="extend", nargs="+", default=[], metavar="KEY=VALUE",
                       help="Variables every module sees (repeatable; a value may be quoted with \" or '); "
                            "beats --env-file.")
    serve.add_argument("--env-file", action="extend", nargs="+", default=[], metavar="FILE",
                       help="Files of KEY=VALUE lines, read as Wagi reads them (repeatable; other lines are "
                            "skipped with a warning).")
    serve.add_argument("--log-dir", default=None, metavar="DIR",
                       help="Where module stderr goes, one folder per route (default: $WAGI_LOG_DIR, else a "
                            "temporary folder).")
    serve.add_argument("--module-cache", default=None, metavar="DIR",
                       help="Where compiled native code is kept (default: the cache folder's native/).")
    serve.add_argument("--cache", default=None, metavar="FILE",
                       help="Wagi's wasmtime cache.toml: accepted and not read (native code is always cached).")
    serve.add_argument("--timeout", type=POSITIVE_SECONDS, default=defaults.SERVE_TIMEOUT,
                       metavar="SECONDS",
                       help="Wall-clock limit per request, whatever the module is doing (computing or "
                            f"sleeping); past it the client gets 504 (default {defaults.SERVE_TIMEOUT:g}).")
    serve.add_argument("--memory-limit", type=MEMORY_MIB, default=defaults.MEMORY_MIB, metavar="MIB",
                       help="What one instance may allocate: its linear memory and tables "
                            f"(default {defaults.MEMORY_MIB}).")
    serve.add_argument("--max-output", type=number(float, 0, "MiB", inclusive=False),
                       default=defaults.MAX_OUTPUT_MIB, metavar="MIB",
                       help="Largest stdout (and stderr) of one run; past it the module is stopped and "
                            f"the client gets 500 (default {defaults.MAX_OUTPUT_MIB:g}).")
    serve.add_argument("--max-body", type=number(float, 0, "MiB; 0 accepts only empty bodies"),
                       default=defaults.MAX_BODY_MIB, metavar="MIB",
                       help=f"Largest request body; larger gets 413 (default {defaults.MAX_BODY_MIB:g}).")
    serve.add_argument("--max-outbound", type=number(float, 0, "MiB", inclusive=False),
                       default=defaults.MAX_OUTBOUND_MIB, metavar="MIB",
                       help="Largest total of outbound HTTP answers (wasi_experimental_http) one run "
                            f"holds at once; past it the module gets an error (default "
                            f"{defaults.MAX_OUTBOUND_MIB:g}).")
    serve.add_argument("--workers", type=number(int, 1, "processes"), default=None, metavar="N",
                       help="Processes sharing the port, each pinned to a CPU (default: one per "
                            f"usable CPU, here {defaults.serve_workers()}).")
    serve.add_argument("--max-concurrency", type=number(int, 1, "modules at once"), default=None,
                       metavar="N", help="Modules running at once per process (default: 4 per core, at "
                                         "least 8; no route may take the last quarter); more requests "
                                         "queue, then get 503.")
    serve.add_argument("--inline-budget", type=number(float, 0, "seconds of CPU"), default=defaults.INLINE_BUDGET,
                       metavar="SECONDS", help=argparse.SUPPRESS)  # (0: every module on the pool; benchmarks)
    refused = serve.add_argument_group("Wagi flags wagi-nb cannot honour (refused, with what to do instead)")
    for flags, _, text, _ in WAGI_ONLY:
        for flag in flags:
            takes = {"action": "store_true"} if flag.endswith("insecure") else {"metavar": "VALUE"}
            refused.add_argument(*flag.split("/"), dest=_dest(flag), default=None, help=text, **takes)
    serve.add_argument("--worker-fd", type=int, default=None, help=argparse.SUPPRESS)
    serve.add_argument("--parent-pid", type=int, default=None, help=argparse.SUPPRESS)
    serve.add_argument("--ready-fd", type=int, default=None, help=argparse.SUPPRESS)
    serve.set_defaults(func=cmd_serve)


def parser() -> argparse.ArgumentParser:
    top = Parser(prog="wagi-nb", description="Server-side WebAssembly, the Wagi way.")
    top.add_argument("--version", action="version", version=f"wagi-nb {__version__}")
    commands = top.add_subparsers(dest="command", required=True, metavar="COMMAND",
                                  parser_class=Parser)

    tc = commands.add_parser("toolchains", help="Show the compiler chosen per language, or how to "
                                                "install a missing one.")
    tc.set_defaults(func=cmd_toolchains)
    install = commands.add_parser("install", help="Fetch what a language needs that wagi-nb can fetch "
                                                  "itself (AssemblyScript, JavaScript, Python), and what "
                                                  "`export --component` needs (component), pinned.")
    install.add_argument("languages", nargs="*", metavar="LANGUAGE",
                         help="e.g. js python assemblyscript, or component (wasm-tools, built from crates.io, "
                              "and the WASI 0.2.0 WIT files); default: all of them")
    install.set_defaults(func=cmd_install)

    run = commands.add_parser("run", help="Run a .wasm (or .wat) module: stdout/stderr passed "
                                          "through, exit code kept.",
                              usage="wagi-nb run [options] FILE.wasm [-- ARGS...]")
    run.add_argument("module", metavar="FILE.wasm")
    run.add_argument("-e", "--env", action="append", default=[], metavar="KEY=VALUE",
                     help="Environment variable for the module (repeatable); nothing is inherited.")
    run.add_argument("--dir", action="append", default=[], metavar="HOST[:GUEST][:ro]",
                     help="Preopen a host folder (repeatable).")
    run.add_argument("--timeout", type=POSITIVE_SECONDS, default=None, metavar="SECONDS",
                     help="Stop the module after this long (default: no limit).")
    run.add_argument("--memory-limit", type=MEMORY_MIB, default=defaults.MEMORY_MIB, metavar="MIB",
                     help=f"What the instance may allocate: linear memory and tables (default {defaults.MEMORY_MIB}).")
    run.add_argument("--invoke", default="_start", metavar="EXPORT",
                     help="Call this exported function instead of _start.")
    run.set_defaults(func=cmd_run)
    add_serve(commands)
    nb = commands.add_parser("build", help="Compile every route cell of a notebook, without a kernel.")
    nb.add_argument("notebook", metavar="NOTEBOOK.ipynb", nargs="+")
    nb.add_argument("--every-cell", action="store_true",
                    help="Compile every %%%%wasm_* cell, not only route cells, to warm the build cache.")
    nb.set_defaults(func=cmd_build)
    export = commands.add_parser("export", help="Write a notebook's routes as an app folder for "
                                                "`wagi -c` and `spin up`.")
    export.add_argument("notebook", metavar="NOTEBOOK.ipynb")
    export.add_argument("folder", metavar="FOLDER")
    add_export_options(export)
    export.set_defaults(func=cmd_export)
    rewrite = commands.add_parser("rewrite", help="Rewrite a built module as an export does (its build "
                                                  "commands run this).")
    rewrite.add_argument("module", metavar="MODULE.wasm")
    rewrite.add_argument("-o", "--output", metavar="OUT.wasm", help="Write here (default: in place).")
    rewrite.add_argument("--fix-heap", action="store_true",
                         help="Fix the sbrk of a wasi-libc from before its PR 377, so that Spin's WASI "
                              "adapter cannot corrupt the module's heap.")
    rewrite.add_argument("--start", metavar="EXPORT",
                         help="Make `_start` the function EXPORT (Spin 3 has no `entrypoint`).")
    rewrite.add_argument("--for-wagi", action="store_true",
                         help="Import a function imported twice (Go) the second time from `wasi_unstable`, "
                              "which Wagi 0.8.1 needs.")
    rewrite.set_defaults(func=cmd_rewrite)
    component = commands.add_parser("component", help="Make a Wagi module a wasi:http component with wagi_nb's "
                                                      "adapter (what `export --component` writes).")
    component.add_argument("module", metavar="MODULE.wasm")
    component.add_argument("-o", "--output", metavar="OUT.wasm", required=True, help="Write the component here.")
    component.add_argument("--entrypoint", action="append", default=[], metavar="EXPORT",
                           help="A function besides _start the component calls (an entrypoint or a `_routes` "
                                "sub-route's), in slot order; repeatable.")
    component.set_defaults(func=cmd_component)
    return top


def _plain_warnings() -> None:
    """Warnings (a modules.toml key that is ignored, a repeated route, an env file line that is
    skipped) as one plain line each."""
    import warnings

    def show(message, category, filename, lineno, file=None, line=None):
        print(f"wagi-nb: warning: {' '.join(str(message).split())}", file=file or sys.stderr, flush=True)
    warnings.showwarning = show


def _quiet_file_warnings() -> None:
    import warnings

    from .envvars import EnvFileWarning
    from .wagi.config import ConfigWarning
    for category in (ConfigWarning, EnvFileWarning):
        warnings.filterwarnings("ignore", category=category)


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    _plain_warnings()
    # Everything after `--` belongs to the module, so options may come before or after FILE.wasm.
    module_args = argv[argv.index("--") + 1:] if "--" in argv else []
    args = parser().parse_args(argv[:len(argv) - len(module_args) - (1 if "--" in argv else 0)])
    args.args = module_args
    args.raw_argv = argv
    try:
        return args.func(args)
    except WagiNbError as error:
        # `serve` start-up errors are one line (spec section 6); others may carry diagnostics.
        message = " ".join(str(error).split()) if args.command == "serve" else str(error)
        print(f"wagi-nb: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
