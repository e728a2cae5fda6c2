"""Reading a notebook's route cells without a kernel (``wagi-nb build``, ``serve --notebook``, export)."""
from __future__ import annotations

import argparse
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Union

from .artifacts import build, build_crate
from .cell_options import (CARGO, ENV_LINE, CellLineError, check_cell_options, fill_defaults,
                           parse_cell_line, parse_options, parse_volumes, split_flags)
from .envvars import parse_env_pair
from .errors import CompileError, WagiNbError
from .toolchains import MAGICS

_LANGUAGE_MAGIC = re.compile(r"^%%(wasm_\w+)\b(.*)$")
_ENV_MAGIC = re.compile(r"^\s*%wagi_env\b(.*)$", re.MULTILINE)
_CARGO_MAGIC = re.compile(r"^\s*%wasm_cargo\b(.*)$", re.MULTILINE)


class NotebookError(WagiNbError):
    """A notebook whose routes cannot be built."""


@dataclass(kw_only=True)
class RouteCell:
    """A ``%%wasm_<language>`` cell as the notebook has it (a route cell when it has ``--route``)."""

    number: int          # 1-based position among the notebook's cells
    language: str
    line: str            # the options after the magic's name
    source: str          # the cell body, without the magic line
    options: argparse.Namespace  # the parsed options

    @property
    def where(self) -> str:
        return f"cell {self.number} (%%wasm_{self.language}{self.line})"


def read_notebook(path: Union[str, Path]):
    import nbformat
    path = Path(path)
    try:
        return nbformat.read(str(path), as_version=4)
    except FileNotFoundError:
        raise NotebookError(f"No such notebook: '{path}'. Give the path of an .ipynb file.") from None
    except Exception as error:  # nbformat raises several kinds for a broken file
        raise NotebookError(f"Cannot read '{path}' as a notebook: {error}.") from None


def route_cells(notebook, name: str = "") -> list:
    return [cell for cell in language_cells(notebook, name) if cell.options.route]


def language_cells(notebook, name: str = "") -> list:
    """Every ``%%wasm_<language>`` cell, parsed; ``name`` (the notebook's path) goes into errors."""
    cells = []
    for number, cell in enumerate(notebook.cells, start=1):
        if cell.cell_type != "code":
            continue
        # As IPython hands a cell magic its body: with a final newline (so the same source, the
        # same build-cache key and the same exported src/ file as in the kernel).
        text = cell.source.lstrip("\n")  # IPython skips blank lines before a cell magic's line
        text = text if text.endswith("\n") else text + "\n"
        first, _, body = text.partition("\n")
        cells += _cargo_lines(cell.source, number, name)
        match = _LANGUAGE_MAGIC.match(first.strip())
        if not match or match.group(1) not in MAGICS:
            continue
        toolchain, line = MAGICS[match.group(1)], match.group(2)
        language = toolchain.language
        where = f"{name + ', ' if name else ''}cell {number}"
        try:
            options = parse_cell_line(line, toolchain)
            check_cell_options(options)
        except CellLineError as error:
            raise NotebookError(f"{where}: cannot read `%%wasm_{language}{line}`: {error}.") from None
        except WagiNbError as error:
            raise NotebookError(f"{where} (`%%wasm_{language}{line}`): {error}") from None
        cells.append(RouteCell(number=number, language=language, line=line, source=body, options=options))
    return cells


def _cargo_lines(source: str, number: int, name: str) -> list:
    """The ``%wasm_cargo PATH ...`` lines of a code cell, read as the magic reads them."""
    found = []
    for match in _CARGO_MAGIC.finditer(source):
        line = match.group(1)
        try:
            options = fill_defaults(parse_options(line, CARGO))
            check_cell_options(options)
        except (CellLineError, WagiNbError) as error:
            raise NotebookError(f"{name + ', ' if name else ''}cell {number}: cannot read "
                                f"`%wasm_cargo{line}`: {error}") from None
        if options.path:  # (`--new NAME` makes a crate in the kernel; there is nothing to build)
            found.append(RouteCell(number=number, language="cargo", line=line, source="", options=options))
    return found


def build_cell(cell: RouteCell, path: Union[str, Path], name: Optional[str] = None):
    """Build a cell as its magic would (``WasmMagics`` settings are the kernel's and do not apply);
    a ``%wasm_cargo`` line's crate is found relative to the notebook's folder."""
    try:
        if cell.language == "cargo":
            crate = Path(path).resolve().parent / os.path.expanduser(cell.options.path)
            return build_crate(crate, release=cell.options.release, binary=cell.options.bin, name=name)
        return build(cell.source, cell.language, name=name, release=cell.options.release,
                     flags=split_flags(cell.options.flags), dependencies=cell.options.dep,
                     update=cell.options.update, line_offset=1)
    except CompileError as error:
        raise NotebookError(f"{path}, {cell.where} does not compile:\n{error.diagnostics}") from None
    except WagiNbError as error:
        raise NotebookError(f"{path}, {cell.where}: {error}") from None


def build_every_cell(path: Union[str, Path], progress=None) -> list:
    """Compile every language cell (not only routes) into the build cache: a warm first run."""
    built = []
    for cell in language_cells(read_notebook(path), str(path)):
        artifact = build_cell(cell, path)
        built.append((cell, artifact))
        if progress:
            progress(cell, artifact)
    return built


def global_env_lines(notebook) -> list:
    """The arguments of every ``%wagi_env`` line, in order."""
    return [m.group(1).strip() for cell in notebook.cells if cell.cell_type == "code"
            for m in _ENV_MAGIC.finditer(cell.source)]


@dataclass(kw_only=True)
class BuiltRoute:
    cell: RouteCell
    handler: object
    seconds: float


def load_notebook_routes(app, path: Union[str, Path], progress=None) -> list:
    """Build every route cell of a notebook into ``app``, in notebook order (a later cell wins)."""
    from .wagi import make_handler
    path = Path(path)
    notebook = read_notebook(path)
    folder = path.resolve().parent
    cells = route_cells(notebook, str(path))
    if not cells:
        raise NotebookError(f"'{path}' has no route cells: no %%wasm_<language> cell with --route. "
                            "Add --route /path to the magic line of the cells to serve.")
    for line in global_env_lines(notebook):
        args = _env_line(line, path)
        if args.clear:
            app.clear_env()
        for env_file in args.env_file:
            app.add_env_file(_resolve(env_file, folder))
        app.set_env(dict(parse_env_pair(pair, where=f"{path}, %wagi_env") for pair in args.pairs))
    built = []
    for cell in cells:
        opts = cell.options
        start = time.perf_counter()
        artifact = build_cell(cell, path, name=opts.name)
        env = dict(parse_env_pair(pair) for pair in opts.env)
        try:
            volumes, read_only = parse_volumes(opts.volume)
            volumes = {guest: _resolve(host, folder) for guest, host in volumes.items()}
            handler = make_handler(opts.route, artifact, entrypoint=opts.entrypoint, argv=opts.argv,
                                   volumes=volumes, read_only=read_only, notice=app.notice,
                                   env=env, origin=f"{path.name} cell {cell.number}",
                                   source=cell.source, allowed_hosts=opts.allowed_host)
        except WagiNbError as error:
            raise NotebookError(f"{path}, {cell.where}: {error}") from None
        app.add(handler)
        built.append(BuiltRoute(cell=cell, handler=handler, seconds=time.perf_counter() - start))
        if progress:
            progress(built[-1])
    return built


def _env_line(line: str, path: Path) -> argparse.Namespace:
    """A ``%wagi_env`` line read as the magic reads it (``--env-file=F``, ``--clear`` and pairs)."""
    try:
        return parse_options(line, ENV_LINE)
    except CellLineError as error:
        raise NotebookError(f"{path}: cannot read `%wagi_env {line}`: {error}.") from None


def _resolve(value: str, folder: Path) -> str:
    return str((folder / os.path.expanduser(value)).resolve())
