"""Write a notebook's routes as a self-contained app folder for ``wagi -c`` and ``spin up``."""
from __future__ import annotations

import dataclasses
import os
import shlex
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional, Union

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

from .. import toolchains
from ..errors import WagiNbError
from ..wagi.cgi import CGI_VARIABLES
from ..wagi.config import dump_config
from .app_env import app_env
from .errors import ExportError
from .component_routes import (COMPONENT_LIMITS, component_entry, from_workdir, makes_requests,
                               wasmtime_command)
from .spin import check_manifest, component_id, manifest_text, outbound_host
from .spin_differences import SpinDifferences, spin_differences
from ..toolchains.base import CompileJob
from ..toolchains.cargo import paired_with
from ..toolchains.wasi_libc import unfixed_old_libc
from .module_copies import for_spin, for_wagi, repeated_imports
from .volumes import copy_volume
from .wagi_differences import GENERAL as WAGI_GENERAL, wagi_warnings

FORMATS = ("wagi", "spin", "both")
#: The options of ``%wagi_export`` and ``wagi-nb export`` (each adds its own folder argument).
OPTIONS = (
    (("--format",), dict(choices=FORMATS, default="both",
                         help="modules.toml for Wagi, spin.toml for Spin, or both (default).")),
    (("--name",), dict(default=None, help="The app's name (default: the folder's name).")),
    (("--force",), dict(action="store_true", help="Overwrite what an earlier export wrote in the folder.")),
    (("--component",), dict(action="store_true",
                            help="spin.toml runs every route as a wasi:http component made by wagi_nb's own "
                                 "adapter (components/), with no wagi executor: for Spin 4 and later, "
                                 "`wasmtime serve` and any wasi:http host.")),
)
GENERATED = ("modules", "src", "files", "components", "modules.toml", "spin.toml", "app.env", "README.md")


@dataclass(kw_only=True)
class ExportedRoute:
    route: str
    id: str
    module: str
    source: Optional[str]
    build: Optional[str]
    #: Where the build command runs (a project folder under src/), or None: the app's folder.
    workdir: Optional[str] = None
    #: What the target formats cannot express for this route.
    notes: list = field(default_factory=list)
    #: How a peer gets a module it can run (a copy made for it), one sentence each.
    adapted: list = field(default_factory=list)
    #: The language of the route's module ("" for a module file of unknown origin).
    language: str = ""
    #: Not in spin.toml: Spin cannot load the module, and would then start none of the app's routes.
    spin_left_out: bool = False


@dataclass(kw_only=True)
class ExportReport:
    folder: Path
    name: str
    format: str
    routes: list
    #: Where Spin's wagi executor changes this app's answers (empty for a Wagi-only export).
    spin_warnings: list = field(default_factory=list)
    #: Where the real Wagi 0.8.1 changes this app's answers (empty for a Spin-only export).
    wagi_warnings: list = field(default_factory=list)
    #: Global variables app.env cannot hold (``app_env.LeftOut``; empty for a Spin-only export).
    env_left_out: list = field(default_factory=list)
    #: spin.toml's components as written, when every route is a wasi:http component (``--component``).
    components: list = field(default_factory=list)

    @property
    def component(self) -> bool:
        return bool(self.components)

    @property
    def env_flags(self) -> str:
        """The ``-e`` arguments (shell-quoted) that give wagi-nb serve and Wagi what app.env cannot."""
        return " ".join(v.flag for v in self.env_left_out if v.flag)

    def env_advice(self) -> list:
        """A sentence per variable app.env leaves out: which, why, and what to do."""
        return [v.advice(in_spin=self.format == "both" and v.name not in CGI_VARIABLES)
                for v in self.env_left_out]

    @property
    def notes(self) -> list:
        return [(r.route, note) for r in self.routes for note in r.notes]

    def __str__(self) -> str:
        lines = [f"Exported {len(self.routes)} route(s) of app {self.name!r} to {self.folder} "
                 f"({self.format})."]
        lines += [f"  {r.route:24} -> {r.module}" for r in self.routes]
        for peer, warnings in (("Wagi 0.8.1", self.wagi_warnings), ("Spin", self.spin_warnings)):
            if warnings:
                lines.append(f"Under {peer} this app answers differently (README.md has the details):")
                lines += [f"  ! {warning}" for warning in warnings]
        if self.env_left_out:
            lines.append(f"app.env LEAVES OUT {len(self.env_left_out)} global variable(s) (README.md has the "
                         "details):")
            lines += [f"  ! {advice}" for advice in self.env_advice()]
        if self.notes:
            lines.append("Not expressible, see README.md:")
            lines += [f"  {route}: {note}" for route, note in self.notes]
        lines.append(run_hint(self))
        if self.format in ("spin", "both"):
            lines.append(COMPONENT_HOSTS if self.component else SPIN_VERSIONS)
        return "\n".join(lines)


SPIN_LEFT_OUT = ("`{route}` is not in spin.toml: its module calls Wagi's `wasi_experimental_http`, which Spin "
                 "does not offer, and Spin then refuses to start the whole app; under Spin it is a 404.")
#: Which Spin runs an export's spin.toml (its wagi executor), and what to do with the others.
SPIN_VERSIONS = ("spin.toml runs Wagi modules with Spin's wagi executor: Spin 2 and 3 run it as exported "
                 "(checked with Spin 3.6.3). Spin is retiring that executor (spinframework/spin#3520, "
                 "#3652): Spin 4.1 and later show a deprecation alert, 5.0 is planned to refuse it unless "
                 "you opt in, 6.0 to remove it. For those, run the app with wagi-nb serve (or Wagi), or "
                 "pin Spin 3, or export with --component.")
#: Where an export's components run (``--component``).
COMPONENT_HOSTS = ("spin.toml runs every route as a wasi:http component (components/, made by wagi_nb's own "
                   "adapter from the unchanged Wagi module), with no wagi executor: any Spin from 2.0 on "
                   "(checked with Spin 3.6.3), and `wasmtime serve -S cli`, one component per address "
                   "(README.md gives each route's command).")


def run_hint(report: ExportReport) -> str:
    hints = []
    if report.format in ("wagi", "both"):
        hints.append(f"cd {report.folder} && {wagi_command(report, 'wagi-nb serve')}")
    if report.format in ("spin", "both"):
        hints.append(f"cd {report.folder} && spin up")
    return "Run it: " + "   or   ".join(hints)


def wagi_command(report: ExportReport, program: str) -> str:
    """The command that serves the export with Wagi's flags: the manifest, app.env, and ``-e`` for
    the variables app.env cannot hold."""
    return " ".join(filter(None, [f"{program} -c modules.toml --env-file app.env", report.env_flags]))


def route_ids(app) -> list:
    """(handler, component id) for every route: the one naming of exported files and components."""
    taken: set = set()
    named = []
    for handler in app.handlers:
        cid = component_id(handler.artifact.name or handler.route.text, taken)
        taken.add(cid)
        named.append((handler, cid))
    return named


def _copy_module(handler, cid: str, folder: Path) -> str:
    """Copy the route's module to ``modules/<id>.wasm`` in ``folder``; returns that relative path.

    An interpreter is copied once, under its own name, for every route that runs it.
    """
    artifact = handler.artifact
    module = f"modules/{Path(artifact.wasm_path).name if artifact.script_dir else cid + '.wasm'}"
    (folder / "modules").mkdir(exist_ok=True)
    if not (artifact.script_dir and (folder / module).is_file()):
        shutil.copyfile(artifact.wasm_path, folder / module)
    return module


def save_config(app, path: Union[str, Path]) -> Path:
    """Write ``app``'s routes to a modules.toml (``path`` is the file, or a folder to put it in).

    Unlike :func:`export_app`, modules built from cells are copied beside it (into ``modules/``,
    named as an export names them) but module files and volume folders are referred to where
    they are, with paths relative to the file.
    """
    path = Path(path)
    if path.is_dir() or not path.suffix:
        path = path / "modules.toml"
    folder = path.resolve().parent
    if not app.handlers:
        raise WagiNbError("There are no routes to save. Add one with a language magic's --route, "
                          "or %wagi_load a modules.toml.")
    folder.mkdir(parents=True, exist_ok=True)
    entries = []
    for handler, cid in route_ids(app):
        entry = handler.entry()
        if handler.artifact.key:  # built from source: it lives in the build cache
            entry = dataclasses.replace(entry, module=folder / _copy_module(handler, cid, folder))
        entries.append(entry)
    path.write_text(dump_config(entries, folder, header="Written by wagi_nb; serve with "
                                                        "`wagi-nb serve -c` or `wagi -c`."))
    return path


def export_app(app, folder: Union[str, Path], *, format: str = "both", name: Optional[str] = None,
               force: bool = False, component: bool = False) -> ExportReport:
    """Write ``app``'s routes to ``folder``: modules/, src/, modules.toml, spin.toml, README.md;
    with ``component``, spin.toml's routes are wasi:http components (components/)."""
    if format not in FORMATS:
        raise ExportError(f"Unknown export format {format!r}: use wagi, spin or both.")
    if not app.handlers:
        raise ExportError("There are no routes to export. Add one with a language magic's --route "
                          "(or %wagi_load a modules.toml) first.")
    folder = Path(folder)
    if folder.exists() and any(folder.iterdir()):
        if not force:
            raise ExportError(f"The folder '{folder}' already exists and is not empty. Pick a new "
                              "folder, or pass --force to overwrite what an earlier export wrote there.")
        for item in GENERATED:
            target = folder / item
            shutil.rmtree(target) if target.is_dir() else target.unlink(missing_ok=True)
    folder.mkdir(parents=True, exist_ok=True)
    name = component_id(name or folder.resolve().name or "wagi-app")
    routes: list = []
    entries: list = []
    env_left_out: list = []
    components: list = []
    as_components = component and format in ("spin", "both")
    for handler, cid in route_ids(app):
        routes.append(_write_route(folder, cid, handler, app.global_env, entries, components,
                                   hostname=app.hostname if as_components else None))
    if format in ("wagi", "both"):
        text, env_left_out = app_env(app.global_env)
        (folder / "app.env").write_text(text)
        (folder / "modules.toml").write_text(dump_config(entries, folder, header=(
            "Written by wagi_nb export. Serve with:\n"
            "  wagi-nb serve -c modules.toml --env-file app.env   (or: wagi -c modules.toml --env-file app.env)"
            + ("\nplus the -e flags README.md gives for the global variables app.env cannot hold."
               if env_left_out else ""))))
    spin = None
    if format in ("spin", "both") and components:
        text = manifest_text(name, components)
        problems = check_manifest(tomllib.loads(text))
        if problems:  # a bug in the exporter, not the user's input
            raise ExportError("The generated spin.toml breaks Spin's manifest rules: " + "; ".join(problems))
        (folder / "spin.toml").write_text(text)
        if not as_components:  # (a component answers as wagi-nb serve does: no wagi executor)
            in_spin = {c["route"] for c in components}
            spin = spin_differences([h for h in app.handlers if h.route.text in in_spin])
    left_out = [r for r in routes if r.spin_left_out] if format in ("spin", "both") else []
    report = ExportReport(folder=folder, name=name, format=format, routes=routes,
                          spin_warnings=[SPIN_LEFT_OUT.format(route=r.route) for r in left_out]
                          + (list(spin.warnings) if spin else []),
                          wagi_warnings=wagi_warnings(routes) if format in ("wagi", "both") else [],
                          env_left_out=env_left_out, components=components if as_components else [])
    (folder / "README.md").write_text(readme(report, app, spin))
    return report


def _write_route(folder: Path, cid: str, handler, global_env: dict, entries: list,
                 components: list, hostname: Optional[str] = None) -> ExportedRoute:
    """Write one route: its module, source, volumes; its modules.toml entry and its spin.toml component
    (a wasi:http component when ``hostname`` is given, else a Wagi module for the wagi executor)."""
    module = _copy_module(handler, cid, folder)
    source, build, workdir = _write_source(folder, cid, handler, module)
    artifact = handler.artifact
    if build and artifact.toolchain.get("old_libc"):
        build += f" && wagi-nb rewrite {from_workdir(workdir, module)} --fix-heap"
    exported = ExportedRoute(route=handler.route.text, id=cid, module=module, source=source, build=build,
                             workdir=workdir, language=artifact.language if artifact.key else "")
    files, volumes = _write_volumes(folder, cid, handler, exported.notes)
    _route_notes(handler, module, folder, exported, component=hostname is not None)
    wagi_module = _wagi_module(folder, module, exported)
    if wagi_module is not None:
        entries.append(dataclasses.replace(handler.entry(), module=folder / wagi_module, volumes=volumes))
    if hostname is not None:
        components.append(component_entry(folder, cid, handler, module, build=build, workdir=workdir,
                                          source=source, files=files, global_env=global_env,
                                          hostname=hostname))
        return exported
    if exported.spin_left_out:
        return exported
    spin_source, spin_build = _spin_module(folder, handler, module, build, workdir, exported)
    executor = {"type": "wagi"}
    if handler.argv is not None:
        executor["argv"] = handler.argv
    components.append({
        "id": cid, "route": handler.route.text, "source": spin_source, "executor": executor,
        "files": files, "environment": spin_environment({**global_env, **handler.env}),
        "hosts": [outbound_host(h) for h in handler.allowed_hosts], "build": spin_build,
        "workdir": workdir, "watch": [source] if source else [],
    })
    return exported


def spin_environment(env: dict) -> dict:
    """A component's ``environment``: the global and route variables but those named as CGI variables.
    Wagi and wagi-nb let the CGI variable win; Spin would give the module both (measured: a global
    ``REQUEST_METHOD=DELETE`` came first in its environment, so ``getenv`` found it)."""
    return {name: value for name, value in env.items() if name not in CGI_VARIABLES}


def _write_volumes(folder: Path, cid: str, handler, notes: list) -> tuple:
    """Copy the route's volumes under files/; (Spin's files entries, guest → copied folder)."""
    files, volumes = [], {}
    for guest, host in handler.volumes.items():
        copy = f"files/{cid}{guest.rstrip('/') or '/root'}"
        for link in copy_volume(host, folder / copy):
            notes.append(f"volume {guest}: left out the symlink {link}, which points outside the "
                         "volume (a module could have planted it to copy a host file out)")
        files.append({"source": copy, "destination": guest})
        volumes[guest] = str(folder / copy)
        if guest not in handler.read_only:
            notes.append(f"spin: volume {guest} is read-write here (as in Wagi), but Spin's `files` "
                         "are read-only: writes to it fail under Spin")
    return files, volumes


def _route_notes(handler, module: str, folder: Path, exported: ExportedRoute, component: bool = False) -> None:
    """What Spin or modules.toml cannot express for this route (a component, made by wagi_nb's adapter,
    has none of the wagi executor's gaps: sub-routes, outbound HTTP and the heap are the adapter's)."""
    notes = exported.notes
    if handler.env:
        notes.append("wagi: this route's own env (" + ", ".join(handler.env) + ") cannot be written "
                     "in modules.toml; it is in spin.toml, and must be passed with -e for wagi")
    if handler.http_max_concurrency is not None:
        notes.append("spin: http_max_concurrency has no Spin equivalent and is left out")
    if component:
        return
    if handler.subroutes:
        subs = ", ".join(f"{r.text} -> {e}" for r, e in handler.subroutes)
        notes.append(f"spin: `_routes` sub-routes are not called by Spin ({subs}); only {handler.route} "
                     "is served there")
    if makes_requests(handler):
        exported.spin_left_out = True
        notes.append("spin: LEFT OUT of spin.toml: the module makes HTTP requests with Wagi's "
                     "`wasi_experimental_http`, which Spin's wagi executor does not offer (Spin's outbound HTTP "
                     "is its SDK's, `wasi:http` underneath), and Spin refuses to start an app with such a "
                     "module; export with --component (the adapter carries it onto wasi:http), or rebuild it "
                     "against the Spin SDK")
    old = unfixed_old_libc((folder / module).read_bytes())
    if old:
        notes.append(f"spin: the module was linked by {old} against a wasi-libc from before its PR 377, "
                     "whose allocator takes memory Spin's WASI adapter uses: under Spin it can corrupt its "
                     f"heap. `wagi-nb rewrite {module} --fix-heap` fixes a module that has its function "
                     "names (else rebuild it with wasi-sdk 19 or later, or zig cc)")


def _wagi_module(folder: Path, module: str, exported: ExportedRoute) -> Optional[str]:
    """The module modules.toml names: ``module``, or a copy Wagi 0.8.1 can load (``.wagi.wasm``);
    None when no copy can be made (the route is then left out of modules.toml)."""
    try:
        copy = for_wagi((folder / module).read_bytes())
    except ValueError as error:
        exported.notes.append(f"wagi: LEFT OUT of modules.toml: the module imports {error} more than once, "
                              "which Wagi 0.8.1 refuses (and then starts no route of the app) and wagi-nb "
                              "cannot rename; serve this route with wagi-nb serve or Spin")
        return None
    if copy is None:
        return module
    path = module[:-len(".wasm")] + ".wagi.wasm"
    (folder / path).write_bytes(copy)
    exported.adapted.append(f"Wagi 0.8.1 refuses a module that imports a function twice, as Go's do "
                            f"({', '.join(repeated_imports((folder / module).read_bytes()))}): modules.toml "
                            f"names `{path}`, a copy that imports the repeat from `wasi_unstable` (WASI's "
                            "snapshot 0, the same function).")
    return path


def _spin_module(folder: Path, handler, module: str, build: Optional[str], workdir: Optional[str],
                 exported: ExportedRoute) -> tuple:
    """The module spin.toml names, and the build command that makes it: ``module``, or for a route
    whose entrypoint is not ``_start`` a copy whose ``_start`` is that export (``.spin.wasm``)."""
    if handler.entrypoint == "_start":
        return module, build
    path = module[:-len(".wasm")] + ".spin.wasm"
    (folder / path).write_bytes(for_spin((folder / module).read_bytes(), handler.entrypoint))
    exported.adapted.append(f"Spin 3 refuses an `entrypoint` key (and then starts no route of the app): "
                            f"spin.toml names `{path}`, a copy whose `_start` is `{handler.entrypoint}`.")
    if build:
        build += (f" && wagi-nb rewrite {from_workdir(workdir, module)} --start {handler.entrypoint} "
                  f"-o {from_workdir(workdir, path)}")
    return path, build


def _write_source(folder: Path, cid: str, handler, module: str) -> tuple:
    """Write a cell's source (and the project files that rebuild it); returns (source path, build
    command or None, the folder the command runs in or None for the app's own)."""
    artifact = handler.artifact
    if artifact.crate is not None:
        return _write_crate(folder, cid, artifact, module)
    if not (handler.source and artifact.key):
        return None, None, None
    tool = toolchains.get_toolchain(artifact.language)
    # The compiler that built the cell, by its full path: on machines with several (rustup's and
    # Debian's rustc), a bare name may pick one without the wasm target.
    info = toolchains.discover(artifact.language)
    release, flags = artifact.flags.get("release", True), tuple(artifact.flags.get("flags", ()))
    dependencies = artifact.flags.get("dependencies", {})
    workdir = None
    if artifact.project_files:  # a project folder: the source and the files that rebuild it alike
        workdir = f"src/{cid}"
        for name, text in artifact.project_files.items():
            (folder / workdir / name).parent.mkdir(parents=True, exist_ok=True)
            (folder / workdir / name).write_text(text)
        source = f"{workdir}/{artifact.project_main or tool.source_name}"
        job = CompileJob(source=tool.source_name, output=os.path.relpath(module, workdir),
                         release=release, flags=flags, dependencies=dependencies)
    else:
        source = f"src/{cid}.{tool.extension}"
        (folder / "src").mkdir(exist_ok=True)
        job = CompileJob(source=source, output=module, release=release, flags=flags)
    if not artifact.project_main:  # (a project's own source is among its files, as it was built)
        (folder / source).write_text(handler.source)
    command = tool.export_command(info, job)
    if command is None:
        return source, None, None
    return source, command if isinstance(command, str) else shlex.join(command), workdir


def _write_crate(folder: Path, cid: str, artifact, module: str) -> tuple:
    """An existing crate (``%wasm_cargo``): copied without its target/ and .git/, rebuilt with its
    cargo (the one paired with the rustc that built it), its module copied where the manifests say.
    A crate without a ``.cargo/config.toml`` gets wagi_nb's (the rustc, the crates' source), so its
    build command is a plain ``cargo build``; one with its own keeps it and the command says the rest."""
    workdir = f"src/{cid}"
    shutil.copytree(artifact.crate, folder / workdir, dirs_exist_ok=True, symlinks=True,
                    ignore=lambda where, names: [n for n in names if n in ("target", ".git")]
                    if Path(where) == artifact.crate else [])
    info = toolchains.discover("rust")
    setup = paired_with(info)
    config = folder / workdir / ".cargo" / "config.toml"
    configured = not config.exists() and not config.with_suffix("").exists()
    if configured:
        config.parent.mkdir(exist_ok=True)
        config.write_text(setup.config_file())
    command = setup.export_command(artifact.flags.get("release", True), artifact.flags.get("bin", "main"),
                                   os.path.relpath(module, workdir), configured=configured,
                                   profile=artifact.flags.get("profile"))
    main = f"{workdir}/src/main.rs"
    return (main if (folder / main).is_file() else f"{workdir}/Cargo.toml"), command, workdir


def readme(report: ExportReport, app, spin: Optional[SpinDifferences] = None) -> str:
    lines = [f"# {report.name}", "", "Exported from a notebook by wagi_nb: every route's compiled module "
             "(`modules/`), the source of its cell (`src/`), and the manifests to run it.", ""]
    for peer, warnings, where in (("Wagi 0.8.1", report.wagi_warnings, "Differences from Wagi 0.8.1"),
                                  ("Spin", report.spin_warnings, "Running under Spin")):
        if warnings:
            lines += [f"**Under {peer} this app answers differently:**", ""]
            lines += [f"- {warning}" for warning in warnings]
            lines += ["", f"(Details: \"{where}\", below.)", ""]
    if report.env_left_out:
        lines += [f"**app.env leaves out {len(report.env_left_out)} global variable(s)**, which its one "
                  "`NAME=VALUE` line per variable cannot hold as they are:", ""]
        lines += [f"- {advice}" for advice in report.env_advice()]
        lines += [""]
    lines += ["## Run it", ""]
    if report.format in ("wagi", "both"):
        lines += ["```sh", wagi_command(report, "wagi-nb serve"), "# or, with Wagi itself:",
                  wagi_command(report, "wagi"), "```", ""]
    if report.component:
        lines += ["```sh", "spin build   # rebuilds modules/ and components/ from src/ with the commands in "
                  "spin.toml", "spin up", "```", "", COMPONENT_HOSTS, "",
                  "With `wasmtime serve` (wasmtime 20 or later; one component per address, so one command per "
                  "route; run them from this folder):", "", "```sh"]
        lines += [f"{wasmtime_command(entry, 3001 + n)} &" for n, entry in enumerate(report.components)]
        lines += ["```", "", "How a component differs from the Wagi module it was made from:", ""]
        lines += [f"- {text}" for text in COMPONENT_LIMITS]
        lines += [""]
    elif report.format in ("spin", "both"):
        lines += ["```sh", "spin build   # rebuilds modules/ from src/ with the commands in spin.toml",
                  "spin up", "```", "", SPIN_VERSIONS, ""]
    lines += ["## Routes", "", "| route | module | source | build command |", "|---|---|---|---|"]
    for r in report.routes:
        build = f"`{r.build}`" + (f" (in `{r.workdir}`)" if r.workdir else "") if r.build else "—"
        lines.append(f"| `{r.route}` | `{r.module}` | {f'`{r.source}`' if r.source else '—'} | {build} |")
    if app.global_env:
        lines += ["", "Global environment (`app.env`, and each Spin component's `environment`): "
                  + ", ".join(f"`{k}`" for k in app.global_env)]
        if report.env_left_out:
            lines[-1] += (". Not in app.env (see above): "
                          + ", ".join(f"`{v.name}`" for v in report.env_left_out))
        shadowed = sorted(set(app.global_env) & CGI_VARIABLES)
        if shadowed and report.format in ("spin", "both"):
            lines[-1] += (f". Left out of spin.toml: {', '.join(f'`{k}`' for k in shadowed)}, named as CGI "
                          "variables, which win over them under Wagi and wagi-nb (Spin would give the module "
                          "both).")
    adapted = [(r.route, text) for r in report.routes for text in r.adapted]
    if adapted:
        lines += ["", "## Copies made for a peer", ""]
        lines += [f"- `{route}` — {text}" for route, text in adapted]
    lines += ["", "## What the formats cannot express", ""]
    lines += [f"- `{route}` — {note}" for route, note in report.notes] or ["Nothing: every route "
                                                                           "exports as it is."]
    if report.format in ("wagi", "both"):
        lines += ["", "## Differences from Wagi 0.8.1", "",
                  "Measured with the real Wagi 0.8.1; wagi-nb keeps the Wagi contract's choices:", ""]
        lines += [f"- {text}" for text in WAGI_GENERAL]
    if spin:
        lines += ["", "## Running under Spin: differences, per route", "",
                  "Measured with Spin 3.6.3's wagi executor; wagi-nb keeps Wagi's behaviour. For every route:", ""]
        lines += [f"- {text}" for text in spin.general]
        for route, texts in spin.routes.items():
            lines += ["", f"`{route}`:", ""]
            lines += [f"- {text}" for text in texts] or ["- nothing more."]
    return "\n".join(lines) + "\n"
