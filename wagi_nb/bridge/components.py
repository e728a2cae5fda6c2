"""A Wagi module as a ``wasi:http/incoming-handler@0.2.0`` component, and the environment it reads.

``componentize`` runs ``wasm-tools component new`` on the unchanged module with this package's
adapters (``adapters.py``) in place of the standard preview1 adapter: ``wagi_adapter``, or
``wagi_adapter_entries`` when the component must call functions besides ``_start`` (then the module
gets its entry-slot exports first, ``entry_slots.py``), plus ``experimental_http`` when the module
imports ``wasi_experimental_http``. What cannot cross is refused before, with one paragraph saying
what and why (``refusal``). Components are kept in the cache by the module's hash, the entrypoints
and the adapters' key.

``component_environment`` is the route's configuration as the adapter reads it from the
component's environment (Spin's ``environment`` table, ``wasmtime serve --env``): every variable
named ``WAGI_NB_*``, which the module never sees.
"""
from __future__ import annotations

import functools
import hashlib
import json
import re
import subprocess
import tempfile
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

from .. import binary
from ..cache import atomic_write, cache_root
from . import tools
from .adapters import SOURCES, adapters
from .entry_slots import SLOTS, with_entry_slots
from .errors import BridgeUnavailable, CannotBridge

PREVIEW1 = "wasi_snapshot_preview1"
EXPERIMENTAL_HTTP = "wasi_experimental_http"
COMPONENT_HEADER = b"\0asm\x0d\x00\x01\x00"
#: At most this many routes per component (``_routes`` sub-routes and the route itself: state.h).
MAX_ROUTES = 32

__all__ = ["BridgeUnavailable", "CannotBridge", "refusal", "componentize", "component_environment"]


# -- what the adapters provide -------------------------------------------------------------------
@functools.lru_cache(maxsize=1)
def provided() -> Dict[str, frozenset]:
    """Import module → the functions the adapters export under it, read from their sources."""
    def exported(file: str, macro: str) -> frozenset:
        names = re.findall(macro + r'\("([a-z_]+)"\)', (SOURCES / file).read_text())
        return frozenset(names) - {"cabi_import_realloc"}
    return {PREVIEW1: exported("preview1.c", "P1"), EXPERIMENTAL_HTTP: exported("experimental_http.c", "EXPORT")}


# -- refusal ---------------------------------------------------------------------------------------
def refusal(module: bytes, entrypoints: Sequence[str] = ()) -> Optional[str]:
    """Why ``module`` cannot become a component that also calls ``entrypoints``, as one paragraph;
    None when it can."""
    if bytes(module[:8]) == COMPONENT_HEADER:
        return "This is already a WebAssembly component, not a Wagi module: it needs no bridge."
    try:
        parts = binary.sections(module)
        reasons = _import_reasons(parts) + _export_reasons(parts, entrypoints)
    except (binary.Malformed, IndexError) as error:
        return f"This is not a WebAssembly module the bridge can read ({error})."
    if not reasons:
        return None
    return f"This module cannot become a wasi:http component: {'; '.join(reasons)}."


def _import_reasons(parts: Sequence[binary.Section]) -> List[str]:
    known = provided()
    foreign, unknown = [], []
    for entry in binary.imports(parts):
        label = f"{entry.module}.{entry.name}"
        if entry.module not in known:
            foreign.append(label)
        elif entry.kind != binary.FUNC_KIND or entry.name not in known[entry.module]:
            unknown.append(label)
    reasons = []
    if foreign:
        reasons.append(f"it imports {_listed(foreign)}, from outside WASI preview 1 ({PREVIEW1}) and Wagi's "
                       f"outbound HTTP ({EXPERIMENTAL_HTTP}), the only two a Wagi host provides and the bridge's "
                       "adapters stand in for, so a component host would have nothing to link them to")
    if unknown:
        reasons.append(f"it imports {_listed(unknown)}, which the adapters do not provide (not a function of "
                       "WASI preview 1 or of Wagi's outbound HTTP)")
    return reasons


def _export_reasons(parts: Sequence[binary.Section], entrypoints: Sequence[str]) -> List[str]:
    section = binary.first(parts, binary.EXPORT)
    exports = binary.read_exports(section.body) if section is not None else []
    functions = {entry.name: entry.index for entry in exports if entry.kind == binary.FUNC_KIND}
    reasons = []
    if not any(entry.name == "memory" and entry.kind == binary.MEMORY_KIND for entry in exports):
        reasons.append("it exports no memory named `memory`, which the adapter must share (it keeps the "
                       "request, the response and its own state in the module's memory)")
    if len(entrypoints) > SLOTS:
        reasons.append(f"it needs {len(entrypoints)} entry slots (its entrypoint and the functions its "
                       f"_routes name) and the adapter has {SLOTS}, fixed when the adapter is built")
    for wanted in dict.fromkeys(["_start", *entrypoints]):
        if wanted not in functions:
            why = "the adapter calls it for every request" if wanted == "_start" else "a route calls it"
            reasons.append(f"it exports no function `{wanted}` ({why})")
        elif binary.function_signature(parts, functions[wanted]) != (b"", b""):
            reasons.append(f"its `{wanted}` takes or returns values (an entrypoint takes and returns nothing)")
    return reasons


def _listed(names: Sequence[str], most: int = 6) -> str:
    unique = list(dict.fromkeys(names))
    shown = ", ".join(f"`{name}`" for name in unique[:most])
    return shown + (f" and {len(unique) - most} more" if len(unique) > most else "")


# -- componentize ------------------------------------------------------------------------------------
def componentize(module: bytes, *, entrypoints: Sequence[str] = ()) -> bytes:
    """``module`` as a component exporting ``wasi:http/incoming-handler@0.2.0``.

    ``entrypoints`` are the functions other than ``_start`` the component must be able to call:
    entry slot ``k + 1`` is ``entrypoints[k]`` (slot 0 is ``_start``), as
    :func:`component_environment`'s ``entry`` and ``subroutes`` name them. Raises
    :class:`CannotBridge` for a module that cannot cross, :class:`BridgeUnavailable` when this
    machine lacks what the bridge needs.
    """
    why = refusal(module, entrypoints)
    if why:
        raise CannotBridge(why)
    built = adapters()
    key = _component_key(module, entrypoints, built.key)
    kept = cache_root() / "bridge" / "components" / key[:2] / f"{key}.wasm"
    if kept.is_file():
        return kept.read_bytes()
    main = with_entry_slots(module, entrypoints) if entrypoints else module
    adapt = [(PREVIEW1, built.entries if entrypoints else built.plain)]
    if any(entry.module == EXPERIMENTAL_HTTP for entry in binary.imports(binary.sections(module))):
        adapt.append((EXPERIMENTAL_HTTP, built.http))
    component = _component_new(main, adapt)
    atomic_write(kept, component)
    return component


def _component_key(module: bytes, entrypoints: Sequence[str], adapters_key: str) -> str:
    record = {"module": hashlib.sha256(module).hexdigest(), "entrypoints": list(entrypoints),
              "adapters": adapters_key, "names": "the module's only"}
    return hashlib.sha256(json.dumps(record, sort_keys=True).encode()).hexdigest()


def _component_new(main: bytes, adapt: Sequence[Tuple[str, Path]]) -> bytes:
    with tempfile.TemporaryDirectory(prefix="wagi-nb-component-") as work:
        source, output = Path(work) / "module.wasm", Path(work) / "component.wasm"
        source.write_bytes(main)
        # The component's own debug names (wit-component's, ~9 KB) are left out; the module's name
        # section, which names the functions of a trap's backtrace, is kept.
        argv = [str(tools.wasm_tools()), "component", "new", str(source), "-o", str(output),
                "--debug-names=false"]
        for name, adapter in adapt:
            argv += ["--adapt", f"{name}={adapter}"]
        _wasm_tools(argv)
        _wasm_tools([argv[0], "strip", "--delete", "^component-name$", str(output), "-o", str(output)])
        return output.read_bytes()


def _wasm_tools(argv: Sequence[str]) -> None:
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=300)
    except OSError as error:
        raise BridgeUnavailable(f"Could not run {argv[0]}: {error}. Run `{tools.INSTALL}`.") from None
    if done.returncode != 0:
        raise CannotBridge("wasm-tools could not make a wasi:http component of this module: "
                           f"{_one_paragraph(done.stderr or done.stdout)}.")


def _one_paragraph(report: str) -> str:
    """wasm-tools' error and its causes (``Caused by: 0: ... 1: ...``) on one line."""
    lines = [re.sub(r"^(error:|\d+:)\s*", "", line.strip()) for line in report.splitlines()]
    return ": ".join(line for line in lines if line and line != "Caused by:").rstrip(".")


# -- the environment ---------------------------------------------------------------------------------
def component_environment(*, route: str, entry: int = 0, subroutes: Sequence[Tuple[str, int]] = (),
                          argv: Optional[str] = None, hostname: Optional[str] = None,
                          allowed_hosts: Optional[Sequence[str]] = None) -> Dict[str, str]:
    """The ``WAGI_NB_*`` variables the adapters read, for a component serving ``route``.

    ``entry`` is the route's entry slot (0: ``_start``; ``k``: ``entrypoints[k - 1]`` of
    :func:`componentize`); ``subroutes`` the ``_routes`` sub-routes as (full route, slot), in the
    order they are tried; ``argv`` Wagi's argv template (None: Wagi's default argv); ``hostname``
    Wagi's ``--hostname`` (None: ``localhost:3000``); ``allowed_hosts`` the route's
    ``allowed_hosts`` (None: the host decides, as Spin's ``allowed_outbound_hosts`` says; an empty
    list allows nothing, as in Wagi). Raises :class:`CannotBridge` for what the adapter cannot hold.
    """
    for text in [route, *(sub for sub, _ in subroutes)]:
        if not text.startswith("/") or re.search(r"\s", text):
            raise CannotBridge(f"The route {text!r} cannot be given to the adapter: a route starts with / and "
                               "has no white space (the adapter reads its sub-routes as `ROUTE SLOT` lines).")
    if len(subroutes) + 1 > MAX_ROUTES:
        raise CannotBridge(f"{route} has {len(subroutes)} _routes sub-routes; the adapter holds at most "
                           f"{MAX_ROUTES - 1} (and the route itself).")
    for slot in [entry, *(slot for _, slot in subroutes)]:
        if not 0 <= slot <= SLOTS:
            raise ValueError(f"entry slot {slot} is not 0..{SLOTS}")
    env = {"WAGI_NB_ROUTE": route}
    if entry:
        env["WAGI_NB_ENTRY"] = str(entry)
    if subroutes:
        env["WAGI_NB_ROUTES"] = "\n".join(f"{sub} {slot}" for sub, slot in subroutes)
    if argv is not None:
        env["WAGI_NB_ARGV"] = argv
    if hostname is not None:
        env["WAGI_NB_HOSTNAME"] = hostname
    if allowed_hosts is not None:
        env["WAGI_NB_ALLOWED_HOSTS"] = ",".join(_allowed_host(entry) for entry in allowed_hosts)
    return env


def _allowed_host(entry: str) -> str:
    """An ``allowed_hosts`` entry as the adapter compares it: a URL, whose host is what counts (a bare
    host name is read as that host, as wagi-nb serve reads it)."""
    entry = entry.strip()
    if "," in entry:
        raise CannotBridge(f"The allowed_hosts entry {entry!r} has a comma, which the adapter reads as a "
                           "separator.")
    return entry if "://" in entry or entry == "insecure:allow-all" else f"http://{entry}"
