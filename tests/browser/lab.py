"""A page object for JupyterLab 4 driven by Playwright: what the browser tests do to a notebook.

The Lab these helpers drive is started by ``tests/browser/conftest.py`` (:func:`start_lab`) with
``--LabApp.expose_app_in_browser=True``, which puts the application on ``window.jupyterapp`` (any
JupyterLab 4 build, not only dev mode). Through it the helpers run JupyterLab's own commands
(``notebook:run-all-cells``, ``apputils:change-theme``, ``docmanager:save``) and set a cell's text on
its shared model, which is what typing in the editor ends up doing, without the slowness and
auto-indent/auto-close-bracket surprises of typing into CodeMirror 6. What the tests *check* is read
from the page as a person sees it: prompts, output areas, the frames of HTML bodies, colours.

Every wait is generous and, when it times out, fails with what the notebook shows (each cell's
output text, any open dialog) and the path of a screenshot of the whole page.

Cell indices count every cell of the notebook (Markdown ones too), as JupyterLab does;
:func:`cell_index` finds a cell by one of its tags (the tutorials tag their code cells).
"""
from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from itertools import count
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional, Sequence

if TYPE_CHECKING:  # Playwright itself is imported by the fixtures, which skip (CI: fail) without it
    from playwright.sync_api import FrameLocator, Locator, Page

#: Seconds to wait for the Lab server to answer, a notebook to open with an idle kernel, a cell
#: (or a notebook) to finish. Generous: a cold build cache compiles every Rust cell.
LAB_START_TIMEOUT = 120.0
OPEN_TIMEOUT = 90.0
CELL_TIMEOUT = 180.0
UI_TIMEOUT = 30.0

LIGHT_THEME = "JupyterLab Light"
DARK_THEME = "JupyterLab Dark"

#: Where failure screenshots go (conftest points it into pytest's temporary folder).
failure_dir = Path(os.environ.get("TMPDIR", "/tmp")) / "wagi-nb-browser-failures"

#: User settings every page of the Lab starts from (restored after each test by
#: :meth:`LabServer.reset_settings`): no news or update checks (they would reach the internet and
#: their "get notified about news?" toast covers the notebook), and every cell attached to the DOM
#: ("windowingMode": "none"; the default leaves cells outside the viewport unrendered or skipped,
#: so their outputs could not be read or screenshot).
BASE_SETTINGS = {
    "@jupyterlab/apputils-extension/notification": {"fetchNews": "false", "checkForUpdates": False},
    "@jupyterlab/notebook-extension/tracker": {"windowingMode": "none"},
    "@jupyterlab/extensionmanager-extension/plugin": {"enabled": False},
}

_shots = count(1)


def expect(target):
    """Playwright's ``expect`` (auto-waiting assertions on a Locator or Page)."""
    from playwright.sync_api import expect as playwright_expect
    return playwright_expect(target)


# -- the server -------------------------------------------------------------------------------------
@dataclass
class LabServer:
    """A running ``jupyter lab``: its address, token, served folder and process."""

    url: str  # http://127.0.0.1:PORT
    token: str
    root: Path  # the folder it serves (notebook paths are relative to it)
    settings_dir: Path
    log_path: Path
    process: subprocess.Popen = field(repr=False)

    def lab_url(self, path: str = "", reset: bool = True) -> str:
        """The address of ``/lab/tree/<path>``; ``reset`` opens it in a fresh workspace."""
        query = {"token": self.token}
        url = f"{self.url}/lab/tree/{urllib.parse.quote(path)}"
        return url + "?" + ("reset&" if reset else "") + urllib.parse.urlencode(query)

    def api(self, method: str, path: str, body: Any = None, timeout: float = 30) -> Any:
        """A REST call (token-authenticated, so no XSRF cookie is needed); the decoded JSON or None."""
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(f"{self.url}{path}", data=data, method=method,
                                         headers={"Authorization": f"token {self.token}",
                                                  "Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=timeout) as response:
            payload = response.read()
        return json.loads(payload) if payload else None

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def shutdown_kernels(self) -> None:
        """End every session and kernel, so the next test starts fresh (and no two kernels of
        the same tutorial compete for ``WAGI_NB_PORT``)."""
        for session in self.api("GET", "/api/sessions") or []:
            try:
                self.api("DELETE", f"/api/sessions/{session['id']}")
            except urllib.error.HTTPError:
                pass
        for kernel in self.api("GET", "/api/kernels") or []:
            try:
                self.api("DELETE", f"/api/kernels/{kernel['id']}")
            except urllib.error.HTTPError:
                pass

    def reset_settings(self) -> None:
        """Back to :data:`BASE_SETTINGS` (a test that switched the theme leaves none behind)."""
        shutil.rmtree(self.settings_dir, ignore_errors=True)
        write_settings(self.settings_dir, BASE_SETTINGS)

    def stop(self, timeout: float = 30) -> None:
        """Shut the server down with its kernels (``/api/shutdown``), then make sure it is gone."""
        if self.process.poll() is None:
            try:
                self.shutdown_kernels()
                self.api("POST", "/api/shutdown", timeout=10)
            except (OSError, urllib.error.URLError):
                pass
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.terminate()
                try:
                    self.process.wait(10)
                except subprocess.TimeoutExpired:
                    self.process.kill()
                    self.process.wait(10)
        try:  # anything the server left in its own process group
            os.killpg(self.process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


def write_settings(settings_dir: Path, settings: dict) -> None:
    """JupyterLab user settings files (``<plugin path>.jupyterlab-settings``) under ``settings_dir``."""
    for plugin, values in settings.items():
        path = settings_dir / f"{plugin}.jupyterlab-settings"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values, indent=2))


def start_lab(root: Path, work: Path, port: int, token: str, env: dict,
              timeout: float = LAB_START_TIMEOUT) -> LabServer:
    """Start ``jupyter lab`` serving ``root``; its settings, workspaces and log live in ``work``.

    Nothing reaches the internet: no news feed, no update check, a read-only extension manager.
    Returns once ``/api/status`` answers; fails with the server's log if it does not.
    """
    settings_dir, workspaces = work / "settings", work / "workspaces"
    workspaces.mkdir(parents=True, exist_ok=True)
    write_settings(settings_dir, BASE_SETTINGS)
    log_path = work / "jupyter-lab.log"
    command = [
        sys.executable, "-m", "jupyterlab", "--no-browser", "--allow-root",
        "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}", "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}",
        "--ServerApp.terminals_enabled=False",
        "--LabApp.expose_app_in_browser=True",
        "--LabApp.news_url=None",
        "--LabApp.check_for_updates_class=jupyterlab.handlers.announcements.NeverCheckForUpdate",
        "--LabApp.extension_manager=readonly",
        f"--LabApp.user_settings_dir={settings_dir}",
        f"--LabApp.workspaces_dir={workspaces}",
    ]
    with open(log_path, "wb") as log:
        process = subprocess.Popen(command, cwd=root, env=env, stdin=subprocess.DEVNULL, stdout=log,
                                   stderr=subprocess.STDOUT, start_new_session=True)
    server = LabServer(f"http://127.0.0.1:{port}", token, root, settings_dir, log_path, process)
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"jupyter lab exited with {process.returncode}:\n{server.log_tail()}")
        try:
            server.api("GET", "/api/status", timeout=5)
            return server
        except (OSError, urllib.error.URLError):
            pass
        if time.monotonic() > deadline:
            server.stop()
            raise RuntimeError(f"jupyter lab did not answer within {timeout:.0f} s:\n{server.log_tail()}")
        time.sleep(0.25)


def new_notebook(server: LabServer, path: str, sources: Sequence[str] = ()) -> str:
    """Write a notebook (python3 kernel; one code cell per source) into the served folder."""
    cells: list = [{"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [],
              "source": source} for source in sources]
    notebook = {"nbformat": 4, "nbformat_minor": 5, "cells": cells,
                "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3 (ipykernel)",
                                            "language": "python"},
                             "language_info": {"name": "python"}}}
    target = server.root / path
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(notebook, indent=1))
    return path


# -- failing with what the page shows -----------------------------------------------------------------
def _screenshot_for_failure(page: Page) -> str:
    failure_dir.mkdir(parents=True, exist_ok=True)
    path = failure_dir / f"failure-{os.getpid()}-{next(_shots)}.png"
    try:
        page.screenshot(path=str(path), full_page=True)
    except Exception as error:  # the page may be gone
        return f"(no screenshot: {error})"
    return str(path)


def describe(page: Page) -> str:
    """What the notebook shows: each cell's prompt and output text, and any open dialog."""
    try:
        state = page.evaluate("""() => {
            const panel = window.jupyterapp && window.jupyterapp.shell.currentWidget;
            const dialogs = [...document.querySelectorAll('.jp-Dialog')].map(d => d.innerText);
            if (!panel || !panel.content || !panel.content.widgets) {
                return {title: panel ? panel.title.label : '(no widget)', cells: [], dialogs};
            }
            const cells = panel.content.widgets.map((cell, index) => {
                const prompt = cell.node.querySelector('.jp-InputPrompt');
                const outputs = [...cell.node.querySelectorAll('.jp-OutputArea-output')];
                return {index, type: cell.model.type, prompt: prompt ? prompt.textContent : '',
                        source: cell.model.sharedModel.getSource().split('\\n')[0],
                        output: outputs.map(o => o.innerText).join('\\n')};
            });
            return {title: panel.title.label, cells, dialogs};
        }""")
    except Exception as error:
        return f"(could not read the page: {error})"
    lines = [f"notebook: {state['title']}"]
    for cell in state["cells"]:
        if cell["type"] != "code":
            continue
        lines.append(f"--- cell {cell['index']} {cell['prompt']} {cell['source'][:70]}")
        if cell["output"].strip():
            lines.append(cell["output"].rstrip()[:2000])
    lines += [f"dialog: {text.strip()}" for text in state["dialogs"]]
    return "\n".join(lines)


def fail(page: Page, message: str) -> None:
    """Raise AssertionError: ``message``, what the notebook shows, and a screenshot's path."""
    __tracebackhide__ = True
    shot = _screenshot_for_failure(page)
    raise AssertionError(f"{message}\nscreenshot: {shot}\n{describe(page)}")


def wait_until(page: Page, script: str, arg: Any = None, *, timeout: float, what: str,
               interval: float = 0.2, stable: int = 1) -> Any:
    """Poll the JavaScript function ``script(arg)`` until it returns something truthy ``stable``
    times in a row; returns that value. On timeout: :func:`fail` saying ``what`` was awaited."""
    __tracebackhide__ = True
    deadline = time.monotonic() + timeout
    seen, last = 0, None
    while True:
        try:
            last = page.evaluate(script, arg)
        except Exception as error:  # a navigation in progress, a page not ready yet
            last = None
            if time.monotonic() > deadline:
                fail(page, f"timed out after {timeout:.0f} s waiting for {what} ({error})")
        seen = seen + 1 if last else 0
        if seen >= stable:
            return last
        if time.monotonic() > deadline:
            fail(page, f"timed out after {timeout:.0f} s waiting for {what}")
        page.wait_for_timeout(interval * 1000)


# -- notebooks --------------------------------------------------------------------------------------
_KERNEL_IDLE = """() => {
    const panel = window.jupyterapp && window.jupyterapp.shell.currentWidget;
    if (!panel || !panel.sessionContext || !panel.content || !panel.content.model) return false;
    const context = panel.sessionContext;
    const kernel = context.session && context.session.kernel;
    return context.isReady && !!kernel && kernel.status === 'idle' && !context.pendingInput;
}"""


def open_notebook(page: Page, server: LabServer, path: str, timeout: float = OPEN_TIMEOUT) -> None:
    """Open ``/lab/tree/<path>`` in a fresh workspace and wait until its kernel is idle."""
    page.goto(server.lab_url(path), wait_until="domcontentloaded")
    wait_until(page, """(path) => {
        const app = window.jupyterapp;
        const panel = app && app.shell.currentWidget;
        return !!panel && !!panel.context && panel.context.path === path && panel.context.isReady
            && !!panel.content && !!panel.content.model;
    }""", path, timeout=timeout, what=f"JupyterLab to open {path}")
    wait_for_kernel_idle(page, timeout)


def wait_for_kernel_idle(page: Page, timeout: float = OPEN_TIMEOUT) -> None:
    """Wait until the current notebook's kernel has started and is idle."""
    wait_until(page, _KERNEL_IDLE, timeout=timeout, what="the notebook's kernel to be idle", stable=2)


def notebook(page: Page) -> Locator:
    """The current notebook's panel (toolbar, cells)."""
    panel_id = page.evaluate("() => window.jupyterapp.shell.currentWidget.id")
    return page.locator(f'[id="{panel_id}"]')


def cell(page: Page, index: int) -> Locator:
    """Cell ``index`` (every cell counts) of the current notebook."""
    return notebook(page).locator(".jp-Notebook .jp-Notebook-cell").nth(index)


def cell_index(page: Page, tag: str) -> int:
    """The index of the cell tagged ``tag``."""
    index = page.evaluate("""(tag) => window.jupyterapp.shell.currentWidget.content.widgets
        .findIndex(cell => (cell.model.getMetadata('tags') || []).includes(tag))""", tag)
    if index < 0:
        fail(page, f"no cell is tagged {tag!r}")
    return index


def output_area(page: Page, index: int) -> Locator:
    """The output area of cell ``index`` (all its outputs, without the input)."""
    return cell(page, index).locator(".jp-Cell-outputArea")


def output_text(page: Page, index: int) -> str:
    """The text cell ``index``'s outputs show (prompts left out; HTML bodies in frames too)."""
    return page.evaluate("""(index) => {
        const node = window.jupyterapp.shell.currentWidget.content.widgets[index].node;
        return [...node.querySelectorAll('.jp-OutputArea-output')].map(output => {
            const frames = [...output.querySelectorAll('iframe')].map(frame => {
                try { return frame.contentDocument ? frame.contentDocument.body.innerText : ''; }
                catch (e) { return ''; }  // sandboxed: read it with body_frame() instead
            });
            return [output.innerText, ...frames].join('\\n');
        }).join('\\n');
    }""", index)


def body_frame(page: Page, index: int, nth: int = 0) -> FrameLocator:
    """The sandboxed ``<iframe srcdoc>`` of an HTML body in cell ``index``'s output, as a
    FrameLocator: ``body_frame(page, i).locator("h1")``."""
    return output_area(page, index).locator("iframe").nth(nth).content_frame


def prompts(page: Page) -> list:
    """``[(index, prompt text, execution count or None)]`` for every code cell."""
    return page.evaluate("""() => window.jupyterapp.shell.currentWidget.content.widgets
        .map((cell, index) => [index, cell.model.type, cell.node.querySelector('.jp-InputPrompt')])
        .filter(([index, type]) => type === 'code')
        .map(([index, type, prompt]) => [index, prompt ? prompt.textContent.trim() : '',
            window.jupyterapp.shell.currentWidget.content.widgets[index].model.executionCount])""")


def _max_count(page: Page) -> int:
    return max([c for _, _, c in prompts(page) if c is not None] or [0])


def _command(page: Page, command: str, args: Optional[dict] = None) -> None:
    """Start a JupyterLab command without waiting for it (a run may take minutes); a command
    that fails is reported by the next :func:`wait_until` through ``window.__wagiError``."""
    page.evaluate("""([command, args]) => {
        window.__wagiError = null;
        window.jupyterapp.commands.execute(command, args || {}).catch(error => {
            window.__wagiError = `${command}: ${error}`;
        });
    }""", [command, args])


def _check_command_error(page: Page) -> None:
    error = page.evaluate("() => window.__wagiError")
    if error:
        fail(page, f"JupyterLab command failed: {error}")


_ALL_DONE = """(baseline) => {
    const panel = window.jupyterapp.shell.currentWidget;
    if (window.__wagiError) return 'error';
    const cells = panel.content.widgets.filter(cell => cell.model.type === 'code');
    const texts = cells.map(cell => (cell.node.querySelector('.jp-InputPrompt') || {}).textContent || '');
    if (texts.some(text => text.includes('*'))) return false;
    const kernel = panel.sessionContext.session && panel.sessionContext.session.kernel;
    if (!kernel || kernel.status !== 'idle') return false;
    return cells.some(cell => (cell.model.executionCount || 0) > baseline);
}"""


def run_all_cells(page: Page, timeout: float = CELL_TIMEOUT, allow_errors: bool = False) -> None:
    """Run every cell (``notebook:run-all-cells``) and wait until each one has run: its prompt
    shows ``[n]:``, none ``[*]:``, and the kernel is idle. Fails if a cell did not run (a cell
    that raised stops a run-all) unless ``allow_errors``."""
    baseline = _max_count(page)
    _command(page, "notebook:run-all-cells")
    wait_for_all_cells_run(page, baseline, timeout, allow_errors)


def wait_for_all_cells_run(page: Page, baseline: int = 0, timeout: float = CELL_TIMEOUT,
                           allow_errors: bool = False) -> None:
    """Wait until no cell is running or queued and every code cell has an execution count above
    ``baseline`` (the highest count before the run)."""
    wait_until(page, _ALL_DONE, baseline, timeout=timeout, stable=2,
               what="every cell to run (no [*] prompt left, the kernel idle)")
    _check_command_error(page)
    not_run = [(index, text) for index, text, c in prompts(page) if (c or 0) <= baseline]
    if not_run and not allow_errors:
        fail(page, f"these cells did not run (an earlier cell failed?): {not_run}")
    bad = [(index, text) for index, text, _ in prompts(page) if not re.fullmatch(r"\[\s*\d*\s*\]:", text)]
    if bad:
        fail(page, f"prompts that do not read [n]: {bad}")


def set_cell_source(page: Page, index: int, source: str) -> None:
    """Replace the text of cell ``index`` (on its shared model: the editor shows it at once)."""
    page.evaluate("""([index, source]) => window.jupyterapp.shell.currentWidget.content
        .widgets[index].model.sharedModel.setSource(source)""", [index, source])


def run_cell(page: Page, index: int, timeout: float = CELL_TIMEOUT) -> None:
    """Run cell ``index`` (``notebook:run-cell``) and wait until it has run and the kernel is idle."""
    baseline = _max_count(page)
    page.evaluate("(index) => { window.jupyterapp.shell.currentWidget.content.activeCellIndex = index; }",
                  index)
    _command(page, "notebook:run-cell")
    wait_until(page, """([index, baseline]) => {
        if (window.__wagiError) return 'error';
        const panel = window.jupyterapp.shell.currentWidget;
        const cell = panel.content.widgets[index];
        const prompt = (cell.node.querySelector('.jp-InputPrompt') || {}).textContent || '';
        const kernel = panel.sessionContext.session && panel.sessionContext.session.kernel;
        return !prompt.includes('*') && (cell.model.executionCount || 0) > baseline
            && !!kernel && kernel.status === 'idle';
    }""", [index, baseline], timeout=timeout, stable=2, what=f"cell {index} to run")
    _check_command_error(page)


def append_cell(page: Page, source: str, cell_type: str = "code") -> int:
    """Add a cell with ``source`` at the end of the notebook; returns its index."""
    return page.evaluate("""([source, type]) => {
        const notebook = window.jupyterapp.shell.currentWidget.content;
        const index = notebook.model.cells.length;
        notebook.model.sharedModel.insertCell(index, {cell_type: type, source});
        notebook.activeCellIndex = index;
        return index;
    }""", [source, cell_type])


def run_new_cell(page: Page, source: str, timeout: float = CELL_TIMEOUT) -> int:
    """Append a code cell with ``source``, run it, wait until it has run; returns its index."""
    index = append_cell(page, source)
    run_cell(page, index, timeout)
    return index


def save_notebook(page: Page, timeout: float = UI_TIMEOUT) -> None:
    """Save the current notebook (``docmanager:save``) and wait until it is no longer dirty."""
    _command(page, "docmanager:save")
    wait_until(page, """() => window.__wagiError ? 'error'
        : !window.jupyterapp.shell.currentWidget.context.model.dirty""",
               timeout=timeout, what="the notebook to be saved")
    _check_command_error(page)


def reopen_notebook(page: Page, server: LabServer, path: str, timeout: float = OPEN_TIMEOUT) -> None:
    """Load the notebook again from the server in a fresh page load (what a person sees after
    closing the browser tab and opening the file again); its kernel keeps running."""
    open_notebook(page, server, path, timeout)


# -- looks ------------------------------------------------------------------------------------------
def set_theme(page: Page, theme: str = DARK_THEME, timeout: float = UI_TIMEOUT) -> None:
    """Switch JupyterLab's theme (``apputils:change-theme``) and wait until its CSS applies."""
    _command(page, "apputils:change-theme", {"theme": theme})
    light = theme != DARK_THEME
    wait_until(page, """([theme, light]) => {
        if (window.__wagiError) return 'error';
        const body = document.body.dataset;
        if (body.jpThemeName !== theme || body.jpThemeLight !== String(light)) return false;
        // the theme's stylesheet is in: the page background follows its colour variable
        const root = getComputedStyle(document.body);
        const layout = root.getPropertyValue('--jp-layout-color0').trim();
        return layout !== '' && getComputedStyle(document.querySelector('.jp-LabShell') || document.body)
            .backgroundColor !== 'rgba(0, 0, 0, 0)';
    }""", [theme, light], timeout=timeout, what=f"the theme {theme!r} to apply", stable=2)
    _check_command_error(page)


def computed_style(locator: Locator, *properties: str) -> dict:
    """``getComputedStyle`` of the element: ``{property: value}`` (CSS names: ``background-color``)."""
    return locator.evaluate("""(element, properties) => {
        const style = getComputedStyle(element);
        return Object.fromEntries(properties.map(name => [name, style.getPropertyValue(name)]));
    }""", list(properties))


def colours(locator: Locator) -> dict:
    """The colours a person sees: the element's text colour and the background it is drawn on,
    each as an opaque ``"rgb(r, g, b)"`` (translucent backgrounds of the element and its ancestors
    composited down to the first opaque one, a translucent text colour over that), plus the
    element's own computed ``raw_color`` and ``raw_background``. Feed them to :func:`contrast_ratio`."""
    return locator.evaluate("""(element) => {
        const parse = (text) => {
            const n = (text.match(/[\\d.]+/g) || []).map(Number);
            return [n[0] || 0, n[1] || 0, n[2] || 0, n.length > 3 ? n[3] : 1];
        };
        const over = ([r, g, b, a], base) => [r * a + base[0] * (1 - a), g * a + base[1] * (1 - a),
                                              b * a + base[2] * (1 - a)];
        const layers = [];
        for (let node = element; node && node.nodeType === 1; node = node.parentElement) {
            const layer = parse(getComputedStyle(node).backgroundColor);
            if (layer[3] > 0) layers.push(layer);
            if (layer[3] >= 1) break;
        }
        let base = [255, 255, 255];  // the canvas under everything
        for (const layer of layers.reverse()) base = over(layer, base);
        const style = getComputedStyle(element);
        const text = over(parse(style.color), base);
        const css = (c) => `rgb(${c.map(Math.round).join(', ')})`;
        return {color: css(text), background: css(base), raw_color: style.color,
                raw_background: style.backgroundColor};
    }""")


def parse_rgb(colour: str) -> tuple:
    """``"rgb(12, 34, 56)"`` / ``"rgba(…)"`` → ``(12, 34, 56)``."""
    numbers = re.findall(r"[\d.]+", colour)
    if len(numbers) < 3:
        raise ValueError(f"not an rgb() colour: {colour!r}")
    return tuple(round(float(n)) for n in numbers[:3])


def contrast_ratio(foreground: str, background: str) -> float:
    """WCAG contrast ratio of two CSS ``rgb()`` colours (1 … 21; 4.5 is the bar for body text)."""
    def luminance(colour: str) -> float:
        channels = []
        for value in parse_rgb(colour):
            c = value / 255
            channels.append(c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4)
        r, g, b = channels
        return 0.2126 * r + 0.7152 * g + 0.0722 * b
    high, low = sorted((luminance(foreground), luminance(background)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def screenshot(locator: Locator, path, padding: int = 0) -> Path:
    """A PNG of just this element (scrolled into view first) at ``path``; returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    locator.scroll_into_view_if_needed()
    if padding:
        box = locator.bounding_box()
        if box is None:
            raise AssertionError(f"{locator} is not visible: no screenshot")
        page = locator.page
        page.screenshot(path=str(path), clip={
            "x": max(box["x"] - padding, 0), "y": max(box["y"] - padding, 0),
            "width": box["width"] + 2 * padding, "height": box["height"] + 2 * padding})
    else:
        locator.screenshot(path=str(path))
    return path
