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

    def post_run_cell(self, result) -> None:
        # Between cells no cell runs (a magic called from elsewhere is not the last cell).
        self.cell_id = None


running_cell = RunningCell()


def install(ipython) -> None:
    """Follow ``ipython``'s executions (again after ``%reload_ext``: the hook is registered once)."""
    for event, hook in (("pre_run_cell", running_cell.pre_run_cell), ("post_run_cell", running_cell.post_run_cell)):
        try:
            ipython.events.unregister(event, hook)
        except ValueError:
            pass  # not registered yet
        ipython.events.register(event, hook)
