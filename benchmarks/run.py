"""Run wagi_nb's benchmarks, print a table and (re)write docs/benchmarks.md.

    python benchmarks/run.py            # everything, full repetitions (a minute or two)
    python benchmarks/run.py --quick    # fewer repetitions
    python benchmarks/run.py --only per_run --only rerun   # some; docs are not rewritten
    python benchmarks/run.py server     # one module's benchmarks (same as --only server)
    python benchmarks/run.py --only components --merge   # some, put into docs/benchmarks.md in place

Benchmarks run against a private, initially empty wagi_nb cache (WAGI_NB_CACHE_DIR) and
IPython folder (IPYTHONDIR) in a temporary folder that is removed afterwards. Missing a
target is a result, not a failure: the exit status is 1 only when a benchmark could not run
(or, with --strict, when a target was missed).
"""
from __future__ import annotations

import argparse
import datetime
import os
import shutil
import sys
import tempfile
import time
import traceback
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from benchmarks import cargo, compile_and_run, components, languages, peers, scale, server  # noqa: E402
from benchmarks import notebook_latency  # noqa: E402
from benchmarks.common import Context, Section, machine_info  # noqa: E402
from benchmarks.report import console, markdown, merge  # noqa: E402

#: Benchmark modules, in report order; each has BENCHMARKS, a list of (Context) -> Section.
MODULES = [compile_and_run, notebook_latency, languages, cargo, server, scale, components, peers]

DOC = REPO / "docs" / "benchmarks.md"


def registered() -> list:
    return [bench for module in MODULES for bench in module.BENCHMARKS]


def module_name(bench) -> str:
    return bench.__module__.rsplit(".", 1)[-1]


def main(argv=None) -> int:
    names = [bench.__name__ for bench in registered()]
    names += sorted({module_name(bench) for bench in registered()})
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer repetitions (a rough look)")
    parser.add_argument("--only", action="append", choices=names, metavar="NAME",
                        help=f"run only this benchmark or module (repeatable): {', '.join(names)}")
    parser.add_argument("names", nargs="*", metavar="NAME", help="same as --only NAME")
    parser.add_argument("--output", type=Path, default=None,
                        help=f"where to write the report (default {DOC.relative_to(REPO)}; "
                             "with --only, nothing is written unless this is given)")
    parser.add_argument("--strict", action="store_true", help="exit with status 1 if a target is missed")
    parser.add_argument("--merge", action="store_true",
                        help="put the sections run into the report (default docs/benchmarks.md) in place: one of "
                             "the same title is replaced, a new one appended, the rest kept; each says which "
                             "run, machine and load it comes from")
    args = parser.parse_args(argv)
    for name in args.names:  # (choices= on a nargs="*" positional rejects an empty list)
        if name not in names:
            parser.error(f"unknown benchmark {name!r} (choose from {', '.join(names)})")
    args.only = (args.only or []) + args.names
    output = args.output or (None if args.only and not args.merge else DOC)

    scratch = Path(tempfile.mkdtemp(prefix="wagi_nb-bench-"))
    os.environ["WAGI_NB_CACHE_DIR"] = str(scratch / "cache")
    os.environ["IPYTHONDIR"] = str(scratch / "ipython")
    ctx = Context(quick=args.quick, scratch=scratch)
    command = " ".join(["python", "benchmarks/run.py", *(argv if argv is not None else sys.argv[1:])])
    date = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    started = time.perf_counter()
    sections = []
    try:
        machine = machine_info()
        for bench in registered():
            if args.only and bench.__name__ not in args.only and module_name(bench) not in args.only:
                continue
            print(f"running {bench.__name__} …", file=sys.stderr, flush=True)
            start = time.perf_counter()
            try:
                section = bench(ctx)
            except Exception:
                section = Section(bench.__name__, bench.__name__.replace("_", " "),
                                  (bench.__doc__ or "").strip(), error=traceback.format_exc())
            section.seconds = time.perf_counter() - start
            sections.append(section)
    finally:
        for folder in [*ctx.elsewhere, scratch]:
            shutil.rmtree(folder, ignore_errors=True)
    wall = time.perf_counter() - started

    print(console(sections))
    if output:
        output.parent.mkdir(parents=True, exist_ok=True)
        if args.merge and output.is_file():
            load = " / ".join(f"{x:.2f}" for x in os.getloadavg())
            text = merge(output.read_text(encoding="utf-8"), sections, machine, command, date, wall, args.quick,
                         load)
        else:
            text = markdown(sections, machine, command, date, wall, args.quick)
        output.write_text(text, encoding="utf-8")
        print(f"\nwrote {output}")
    if any(section.error for section in sections):
        return 1
    if args.strict and any(row.status == "MISS" for s in sections for row in s.rows):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
