"""``modules.toml`` in and out (spec section 1)."""
from __future__ import annotations

import os
import re
import sys
import warnings
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import FrozenSet, Mapping, Optional, Sequence, Tuple
from urllib.parse import unquote, urlparse

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

import tomli_w

from ..errors import WagiNbError
from .routes import BadRoute, check_route


class ConfigError(WagiNbError):
    """A ``modules.toml`` that cannot be served as it is."""


class ConfigWarning(UserWarning):
    """Something in a ``modules.toml`` that is accepted but ignored."""


def config_warning(message: str, name: str, line: int = 0) -> None:
    """Warn about the config file ``name`` (at ``line``, when known): shown as that file's warning,
    not as one of wagi_nb's source lines; ``wagi-nb serve`` prints it as one plain line."""
    warnings.warn_explicit(message, ConfigWarning, filename=name, lineno=line, module=__name__)


#: key → (type, description) of every key a ``[[module]]`` entry may have.
KEYS = {
    "route": (str, "a string such as \"/hello\""),
    "module": (str, "a string: the path of a .wasm or .wat file"),
    "entrypoint": (str, "a string: the exported function to call"),
    "volumes": (dict, "a table of guest path = host folder, e.g. { \"/data\" = \"static\" }"),
    "argv": (str, "a string such as \"${SCRIPT_NAME} ${ARGS}\""),
    "allowed_hosts": (list, "a list of strings such as [\"https://api.example.com\"]"),
    "http_max_concurrency": (int, "a whole number of at least 1"),
    # wagi_nb's own (Wagi ignores unknown keys, so the file stays a Wagi file): volumes the
    # module may only read.
    "read_only_volumes": (list, "a list of guest paths of this entry's volumes, e.g. [\"/data\"]"),
}

EXAMPLE = "[[module]]\nroute = \"/\"\nmodule = \"hello.wasm\""


@dataclass(frozen=True, kw_only=True)
class RouteOptions:
    """How a route runs its module, beyond which route and which module: what a ``[[module]]``
    entry says, and what a route cell's options say."""

    entrypoint: str = "_start"
    #: guest path → host folder
    volumes: Mapping[str, str] = field(default_factory=dict)
    argv: Optional[str] = None
    allowed_hosts: Tuple[str, ...] = ()
    http_max_concurrency: Optional[int] = None
    #: Guest paths of ``volumes`` the module may only read.
    read_only: FrozenSet[str] = frozenset()

    def route_options(self) -> dict:
        """These fields alone, as keyword arguments (for another kind of route)."""
        return {item.name: getattr(self, item.name) for item in fields(RouteOptions)}


@dataclass(frozen=True, kw_only=True)
class ModuleEntry(RouteOptions):
    """One ``[[module]]`` of a ``modules.toml``, with paths resolved."""

    route: str
    module: Path


def load_config(path) -> list:
    """Read and check a ``modules.toml``; relative paths resolve against its folder."""
    path = Path(path)
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise ConfigError(f"No such config file: '{path}'. Give the path of a modules.toml.") from None
    except (OSError, UnicodeDecodeError, ValueError) as error:
        raise ConfigError(f"Cannot read the config file '{path}': {error}.") from None
    return parse_config(text, path.resolve().parent, name=str(path))


def parse_config(text: str, folder: Path, name: str = "modules.toml") -> list:
    """Every entry of a modules.toml's text; any problem is a :class:`ConfigError` naming the entry."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{name} is not valid TOML: {error}. Fix that line; each entry looks like\n"
                          f"{EXAMPLE}") from None
    except RecursionError:
        raise ConfigError(f"{name} nests arrays or tables too deeply to read. A modules.toml needs "
                          f"no nesting beyond `volumes = {{ ... }}`; each entry looks like\n{EXAMPLE}") from None
    modules = data.get("module")
    if modules is None:
        raise ConfigError(f"{name} has no [[module]] entries. Add one per route:\n{EXAMPLE}")
    if isinstance(modules, str):
        # The two-line form the seed article shows (`module = ...`, `route = ...`, no header):
        # one entry. Wagi itself wants the [[module]] header, so say so, but serve it.
        if not isinstance(data.get("route"), str):
            raise ConfigError(f"In {name}, `module = {_short(modules)}` has no `route` beside it. "
                              "Add route = \"/\" (and, for more than one module, a [[module]] line "
                              "above each entry).")
        config_warning(f"{name} has `module` and `route` at the top level; read as one [[module]] "
                       "entry. Wagi itself needs a [[module]] line above them.", name, _key_line(text, 0, "module"))
        modules = [{key: value for key, value in data.items() if key in KEYS}]
    if not isinstance(modules, list):
        raise ConfigError(f"In {name}, `module` must be an array of tables: write [[module]] "
                          "(two brackets) above each entry, not [module] or module = ....")
    return [_entry(raw, index, folder, name, text) for index, raw in enumerate(modules, start=1)]


def _key_line(text: str, index: int, key: str) -> int:
    """The line of ``key`` in the ``index``-th ``[[module]]`` section (0: at the top level), or 0 when
    it cannot be told (inline tables, or a key written in another way)."""
    pattern = re.compile(rf"\s*(?:{re.escape(key)}|\"{re.escape(key)}\"|'{re.escape(key)}')\s*=")
    section = 0
    for number, line in enumerate(text.splitlines(), start=1):
        if re.match(r"\s*\[\[\s*module\s*\]\]", line):
            section += 1
        elif re.match(r"\s*\[", line):
            section = -1  # another table: its keys are not this entry's
        elif section == index and pattern.match(line):
            return number
    return 0


def _entry(raw, index: int, folder: Path, name: str, text: str = "") -> ModuleEntry:
    if not isinstance(raw, dict):
        raise ConfigError(f"{name}, [[module]] #{index} is {_toml_type(raw)}, not a table. Write each "
                          f"entry as a [[module]] section:\n{EXAMPLE}")
    route = raw.get("route")
    where = f"{name}, [[module]] #{index}" + (f" (route {_short(route)})" if isinstance(route, str) else "")
    for key in ("route", "module"):
        if key not in raw:
            raise ConfigError(f"{where} has no `{key}`. Every [[module]] needs `route` and `module`.")
    for key, value in raw.items():
        if key not in KEYS:
            shown = f"`{key}`" if key.isprintable() and "`" not in key else _short(key)
            config_warning(f"{where}: unknown key {shown} is ignored.", name, _key_line(text, index, key))
            continue
        kind, description = KEYS[key]
        if not isinstance(value, kind) or isinstance(value, bool):
            raise ConfigError(f"{where}: `{key}` must be {description}, not {_toml_type(value)}.")
    for key in ("route", "module", "entrypoint", "argv"):
        if "\x00" in raw.get(key, ""):
            raise ConfigError(f"{where}: `{key}` holds a NUL character (\\u0000). Remove it.")
    if raw.get("http_max_concurrency", 1) < 1:
        raise ConfigError(f"{where}: `http_max_concurrency` must be {KEYS['http_max_concurrency'][1]}, "
                          f"not {raw['http_max_concurrency']}.")
    try:
        check_route(raw["route"])
    except BadRoute as error:
        raise ConfigError(f"{where}: {error}") from None
    volumes = raw.get("volumes", {})
    for guest, host in volumes.items():
        if not isinstance(host, str):
            raise ConfigError(f"{where}: volume {_short(guest)} must map to a host folder (a string), "
                              f"not {_toml_type(host)}.")
        # A guest path without a leading "/" ("content/", as Bartholomew writes them) is passed to
        # wasmtime as it is, as Wagi passes it; wasi-libc finds "content/x" and "/content/x" in it.
        if not guest:
            raise ConfigError(f"{where}: a volume has an empty guest path. Give the path the module "
                              "sees, e.g. \"/data\" or \"content/\".")
        if ".." in guest.split("/"):
            raise ConfigError(f"{where}: volume {_short(guest)} has a `..` in its guest path. Give the path "
                              "the module sees without `..`, e.g. \"/data\".")
        if "\x00" in guest + host:
            raise ConfigError(f"{where}: volume {_short(guest)} holds a NUL character. Remove it.")
    for key in ("allowed_hosts", "read_only_volumes"):
        if not all(isinstance(item, str) for item in raw.get(key, [])):
            raise ConfigError(f"{where}: `{key}` must be {KEYS[key][1]}.")
    read_only = raw.get("read_only_volumes", [])
    unknown = [guest for guest in read_only if guest not in volumes]
    if unknown:
        raise ConfigError(f"{where}: `read_only_volumes` names {_short(unknown[0])}, which is not one "
                          "of this entry's `volumes`.")
    module = resolve_module(raw["module"], folder, where)
    resolved_volumes = {}
    for guest, host in volumes.items():
        try:
            host_path = (folder / host).resolve()
            exists = host_path.is_dir()
        except (OSError, ValueError) as error:
            raise ConfigError(f"{where}: the host folder {_short(host)} of volume {_short(guest)} "
                              f"cannot be used: {error}.") from None
        if not exists:
            raise ConfigError(f"{where}: the host folder {_short(host)} of volume {_short(guest)} does "
                              f"not exist (looked for {host_path}).")
        resolved_volumes[guest] = str(host_path)
    return ModuleEntry(route=raw["route"], module=module, entrypoint=raw.get("entrypoint", "_start"),
                       volumes=resolved_volumes, argv=raw.get("argv"),
                       allowed_hosts=tuple(raw.get("allowed_hosts", ())),
                       http_max_concurrency=raw.get("http_max_concurrency"), read_only=frozenset(read_only))


def resolve_module(reference: str, folder: Path, where: str) -> Path:
    scheme = reference.split(":", 1)[0] if ":" in reference else ""
    if scheme in ("oci", "bindle"):
        raise ConfigError(f"{where}: module {_short(reference)} is a {scheme}: reference, which wagi_nb "
                          "does not support. Download the .wasm and point `module` at the file.")
    try:
        if scheme == "file":
            reference = unquote(urlparse(reference).path)
        elif scheme and len(scheme) > 1:
            raise ConfigError(f"{where}: module {_short(reference)} is not a file path. Give a .wasm or "
                              ".wat path (relative to the config file) or a file: URL.")
        path = (folder / reference).resolve()
        exists = path.is_file()
    except (OSError, ValueError) as error:
        raise ConfigError(f"{where}: the module path {_short(reference)} cannot be used: {error}.") from None
    if not exists:
        raise ConfigError(f"{where}: the module file {_short(reference)} does not exist (looked for {path}). "
                          "Paths are relative to the folder of the config file.")
    return path


def _short(value, limit: int = 80) -> str:
    """``repr`` of a value from the file, cut so that one bad value cannot flood the message."""
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "…"


def _toml_type(value) -> str:
    names = {str: "a string", bool: "a boolean", int: "a number", float: "a number", list: "a list",
             dict: "a table"}
    return names.get(type(value), "a date or time") + f" ({_short(value)})"


# -- writing -------------------------------------------------------------------------------------
def dump_config(entries: Sequence[ModuleEntry], folder: Path, header: str = "") -> str:
    """The text of a modules.toml in ``folder``, with paths written relative to it."""
    tables = []
    for entry in entries:
        table: dict = {"route": entry.route, "module": _relative(entry.module, folder)}
        if entry.entrypoint != "_start":
            table["entrypoint"] = entry.entrypoint
        if entry.volumes:
            table["volumes"] = {guest: _relative(host, folder) for guest, host in entry.volumes.items()}
        if entry.argv is not None:
            table["argv"] = entry.argv
        if entry.allowed_hosts:
            table["allowed_hosts"] = list(entry.allowed_hosts)
        if entry.http_max_concurrency is not None:
            table["http_max_concurrency"] = entry.http_max_concurrency
        if entry.read_only:
            table["read_only_volumes"] = sorted(entry.read_only)
        tables.append(table)
    comments = "".join(f"# {line}\n" for line in header.splitlines())
    return comments + ("\n" if comments else "") + tomli_w.dumps({"module": tables})


def _relative(path, folder: Path) -> str:
    return Path(os.path.relpath(Path(path).resolve(), Path(folder).resolve())).as_posix()
