"""Fuzz the parsers that read what modules and users write, and write the figures down.

    .venv/bin/python scripts/fuzz.py                 # 100,000 inputs per target; rewrites docs/fuzzing.md
    .venv/bin/python scripts/fuzz.py --inputs 5000   # a quick look; docs are not rewritten

Targets (the properties are in tests/helpers/fuzz_targets.py, which the test suite also runs, briefly):

* ``cgi-output``: module stdout → response → the bytes the server writes;
* ``modules-toml``: modules.toml text → entries or a ConfigError;
* ``env-file``: env file text → variables and skipped lines, as Wagi's env-file-reader 0.2 reads them.

Each input counts as a crash when its check raises anything. Exit status 1 if any target crashed.
"""
from __future__ import annotations

import argparse
import collections
import datetime
import os
import platform
import sys
import time
import traceback
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "tests")]

from hypothesis import HealthCheck, given, settings  # noqa: E402

from helpers import fuzz_targets  # noqa: E402

DOC = REPO / "docs" / "fuzzing.md"


def fuzz(name: str, strategy, check, inputs: int) -> dict:
    """Run ``check`` on ``inputs`` generated inputs; crashes are counted, not raised."""
    crashes: collections.Counter = collections.Counter()
    examples: dict = {}
    seen = [0]

    @settings(max_examples=inputs, deadline=None, database=None, derandomize=False,
              suppress_health_check=list(HealthCheck))
    @given(strategy)
    def target(value):
        seen[0] += 1
        try:
            check(value)
        except Exception as error:
            where = traceback.extract_tb(error.__traceback__)[-1]
            key = f"{type(error).__name__} at {Path(where.filename).name}:{where.lineno}"
            crashes[key] += 1
            examples.setdefault(key, repr(value)[:300])

    start = time.monotonic()
    target()
    return {"name": name, "inputs": seen[0], "seconds": time.monotonic() - start,
            "crashes": dict(crashes), "examples": examples}


def report(results: list, command: str) -> str:
    lines = ["# Fuzzing the parsers", "",
             "What modules and users write is read by three parsers that must never raise: the CGI "
             "output parser (with the server's header writing behind it), the `modules.toml` "
             "reader and the `--env-file` reader. `scripts/fuzz.py` feeds each of them generated inputs "
             "(hypothesis strategies in `tests/helpers/fuzz_targets.py`: header blocks like modules print, with "
             "obs-text, control characters, Unicode digits in `Status`, bare CRs, no blank line; raw "
             "bytes; TOML documents of every shape and type, nesting up to 2,000 deep, NULs; env files "
             "with `export`, quotes, comments, spaces around `=`, CRLF, a BOM, checked against a second "
             "reading of env-file-reader 0.2's rule) and counts every input whose check raised.", "",
             f"Command: `{command}`  ", f"Date: {datetime.date.today().isoformat()}  ",
             f"Machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
             "", "| target | inputs | crashes | seconds |", "|---|---|---|---|"]
    for result in results:
        lines.append(f"| {result['name']} | {result['inputs']:,} | {sum(result['crashes'].values())} | "
                     f"{result['seconds']:.0f} |")
    for result in results:
        for key, count in result["crashes"].items():
            lines += ["", f"- {result['name']}: {count} × {key}; e.g. `{result['examples'][key]}`"]
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--inputs", type=int, default=100_000, help="inputs per target (default 100,000)")
    parser.add_argument("--output", type=Path, default=None,
                        help=f"where to write the report (default {DOC.relative_to(REPO)} when "
                             "--inputs is at least 100,000)")
    args = parser.parse_args(argv)
    folder = fuzz_targets.config_folder()
    targets = [("cgi-output", fuzz_targets.cgi_outputs(), fuzz_targets.check_cgi_output),
               ("modules-toml", fuzz_targets.modules_tomls(),
                lambda text: fuzz_targets.check_modules_toml(text, folder)),
               ("env-file", fuzz_targets.env_files(), fuzz_targets.check_env_text)]
    results = []
    for name, strategy, check in targets:
        print(f"fuzzing {name} with {args.inputs:,} inputs …", flush=True)
        result = fuzz(name, strategy, check, args.inputs)
        crashed = sum(result["crashes"].values())
        print(f"  {result['inputs']:,} inputs, {crashed} crashes, {result['seconds']:.0f} s", flush=True)
        for key, count in result["crashes"].items():
            print(f"  {count} × {key}: {result['examples'][key]}")
        results.append(result)
    command = "python scripts/fuzz.py" + ("" if args.inputs == 100_000 else f" --inputs {args.inputs}")
    output = args.output or (DOC if args.inputs >= 100_000 else None)
    if output:
        output.write_text(report(results, command))
        print(f"wrote {output}")
    return 1 if any(result["crashes"] for result in results) else 0


if __name__ == "__main__":
    sys.exit(main())
