"""Where a request's microseconds go inside ``wagi-nb serve``'s pipeline, in a process of its own.

    python benchmarks/request_profile.py modules.toml PATH COUNT

Answers ``COUNT`` requests for ``PATH`` in process, as a server worker does (the route matched
without a file check, the module run on this thread within the inline budget, else as the pool
runs it), after a warm-up, and prints one JSON line: the CPU µs per request in all, and the wall
µs spent in each part (timers wrapped around wagi_nb's own functions before its runtime starts):

* ``instance``: the module instantiated from its ``InstancePre`` (the ``Store`` is in ``rest``);
* ``wasi:NAME``: the WASI functions wagi_nb defines (``fd_write``, ``fd_read``, ``path_open`` …,
  each with what it calls of wasmtime's own); wasmtime's other WASI functions are in ``guest``;
* ``guest``: the module's own code and wasmtime's WASI functions it calls directly (the call of
  its entrypoint, less the functions above);
* ``wasi set-up``: the WASI context (argv, environment, stdio files, volumes) and what the run
  printed collected;
* ``cgi``: the CGI environment made from the request, and the module's output parsed;
* ``rest``: everything else (the request object, matching, limits, deadline, result objects).
"""
from __future__ import annotations

import collections
import json
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

WALL: "collections.Counter[str]" = collections.Counter()


def timed(name: str, function):
    def wrapper(*args, **kwargs):
        start = time.perf_counter()
        try:
            return function(*args, **kwargs)
        finally:
            WALL[name] += time.perf_counter() - start
    return wrapper


def install() -> None:
    """Wrap wagi_nb's functions (before its runtime is made: host functions are defined then)."""
    from wagi_nb.runtime import engine, stdio, wasmtime_internals
    from wagi_nb.wagi import application

    define = wasmtime_internals.define_raw_function

    def define_timed(linker, module, name, ty, function):
        return define(linker, module, name, ty, timed(f"wasi:{name}", function))

    stdio.define_raw_function = define_timed
    engine.instantiate = timed("instantiate", engine.instantiate)
    engine._call = timed("call", engine._call)
    engine._wasi_config = timed("wasi set-up", engine._wasi_config)
    engine._collect = timed("wasi set-up", engine._collect)
    application.cgi_environment = timed("cgi", application.cgi_environment)
    application.parse_cgi_output = timed("cgi", application.parse_cgi_output)


def profile(config: str, path: str, count: int) -> dict:
    install()
    from wagi_nb import defaults
    from wagi_nb.wagi import Request, WagiApp

    app = WagiApp.from_config(config)

    def one():
        request = Request.make("GET", path)
        found = app.match(request.path, refresh=False)
        response = app.handle_within(request, found, defaults.INLINE_BUDGET)
        if response is None:
            response = app.handle(request, found)
        return response

    first = one()
    for _ in range(max(20, count // 10)):
        one()
    WALL.clear()
    cpu, wall = time.process_time(), time.perf_counter()
    for _ in range(count):
        one()
    cpu, wall = (time.process_time() - cpu) / count * 1e6, (time.perf_counter() - wall) / count * 1e6
    parts = {name: seconds / count * 1e6 for name, seconds in WALL.items()}
    host_calls = sum(value for name, value in parts.items() if name.startswith("wasi:"))
    made = parts.pop("instantiate", 0.0)  # (inside the call)
    parts["guest"] = max(0.0, parts.pop("call", 0.0) - host_calls - made)
    parts["instance"] = made
    parts["rest"] = max(0.0, wall - sum(parts.values()))
    return {"path": path, "status": first.status, "bytes": len(first.body), "cpu_us": cpu, "wall_us": wall,
            "parts_us": parts}


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    print(json.dumps(profile(sys.argv[1], sys.argv[2], int(sys.argv[3]))))
