"""Which notebook cell is running: the id JupyterLab and Notebook 7 send with each execution.

IPython hands it to ``pre_run_cell`` hooks (``info.cell_id``); a front end that sends none (the
classic Notebook, nbclient, a terminal) leaves it None. A live preview is keyed by it, so an edited
and re-run cell replaces its own preview whatever request it now sends.
"""
from __future__ import annotations

from typing import Optional


class RunningCell:
    cell_id: Optional[str] = None

    def pre_run_cell(self, info) -> None:
        self.cell_id = getattr(info, "cell_id", None) or None


running_cell = RunningCell()


def install(ipython) -> None:
    """Follow ``ipython``'s executions (again after ``%reload_ext``: the hook is registered once)."""
    try:
        ipython.events.unregister("pre_run_cell", running_cell.pre_run_cell)
    except ValueError:
        pass  # not registered yet
    ipython.events.register("pre_run_cell", running_cell.pre_run_cell)
