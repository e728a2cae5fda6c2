"""One JupyterLab and one headless Chromium for all the browser tests; a fresh page per test.

* ``lab_server``: ``jupyter lab`` (this interpreter's, so the kernel runs this Python and this
  wagi_nb) serving a temporary copy of ``notebooks/``, with the build cache the other tests use
  (``wagi_cache_dir``), a ``python3`` kernelspec that runs this interpreter (``kernelspec_dir``),
  a free ``WAGI_NB_PORT`` for ``%wagi_serve``, and nothing that reaches the internet (see
  :func:`lab.start_lab`). Stopped, with its kernels, after the last browser test.
* ``browser``: Debian's Chromium (``/usr/bin/chromium``, or ``WAGI_NB_CHROMIUM``) through
  Playwright's Python client, which never downloads a browser of its own here. Playwright gives
  the browser a fresh, temporary profile (user-data-dir) and removes it at the end.
* ``page``: a new browser context and page per test; afterwards every kernel is shut down and the
  Lab's user settings (the theme, say) go back to the base ones.

Without Chromium, Playwright or JupyterLab the tests are skipped, but fail when ``CI=true``: in CI a
missing browser is a broken environment (``scripts/setup.sh`` installs them), not a reason to pass.
"""
from __future__ import annotations

import importlib.util
import os
import secrets
import shutil

import pytest

from helpers import REPO
from helpers.ports import free_port
from helpers.unavailable import unavailable

from . import lab

NOTEBOOKS = REPO / "notebooks"
#: The README's pictures, rewritten by every run of the browser tests.
IMAGES = REPO / "docs" / "images"
CHROMIUM = os.environ.get("WAGI_NB_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",  # we run as root
    "--disable-gpu", "--disable-quic", "--no-first-run",
    # no calls home (there is no network but the registries: each would be a refused connection)
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    # a container's /dev/shm is small; a big page would crash the renderer
    "--disable-dev-shm-usage",
]
VIEWPORT = {"width": 1280, "height": 900}
#: Seconds an ``expect(...)`` assertion waits for the page to show what it asks for.
EXPECT_TIMEOUT = 20

# Playwright must never fetch a browser build (there is no network for it): it uses Debian's.
os.environ.setdefault("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")


@pytest.fixture(scope="package")
def lab_server(tmp_path_factory, wagi_cache_dir, kernelspec_dir, python_env):
    """The running JupyterLab (a :class:`lab.LabServer`); its root is a copy of ``notebooks/``."""
    for module, name in (("jupyterlab", "JupyterLab"), ("playwright", "Playwright")):
        if importlib.util.find_spec(module) is None:
            unavailable(f"{name} is not installed (pip install -e '.[test]')")
    work = tmp_path_factory.mktemp("jupyter-lab")
    root = work / "notebooks"
    # The notebooks only: the paired MyST texts stay behind, so jupytext does not compare their
    # timestamps with the copies'. Saving writes the text pair anew, in the copy.
    shutil.copytree(NOTEBOOKS, root, ignore=shutil.ignore_patterns(
        "*.md", "executed-*", ".ipynb_checkpoints", "modules.toml", "*.wasm", "public", "deploy"))
    lab.failure_dir = work / "failures"
    env = python_env(
        WAGI_NB_CACHE_DIR=wagi_cache_dir,  # the same build cache as the other tests
        WAGI_NB_PORT=free_port(),
        IPYTHONDIR=work / "ipython",
        # Jupyter's own folders: nothing of the user's configuration, data or kernels leaks in,
        # and our python3 kernelspec (this interpreter) comes first.
        JUPYTER_CONFIG_DIR=work / "config", JUPYTER_DATA_DIR=work / "data",
        JUPYTER_RUNTIME_DIR=work / "runtime", JUPYTER_PATH=kernelspec_dir,
        JUPYTER_PLATFORM_DIRS=1, PYDEVD_DISABLE_FILE_VALIDATION=1,
    )
    server = lab.start_lab(root, work, free_port(), secrets.token_hex(16), env)
    yield server
    server.stop()


@pytest.fixture(scope="package")
def browser():
    """Headless Chromium, one for all the browser tests."""
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        unavailable(f"no Chromium at {CHROMIUM} (apt-get install chromium chromium-driver)")
    from playwright.sync_api import expect, sync_playwright
    expect.set_options(timeout=EXPECT_TIMEOUT * 1000)  # Playwright's default of 5 s is tight on 2 cores
    playwright = sync_playwright().start()
    try:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
    except Exception as error:
        playwright.stop()
        unavailable(f"Chromium at {CHROMIUM} does not start under Playwright: {error}")
    yield chromium
    chromium.close()
    playwright.stop()


@pytest.fixture
def page(browser, lab_server):
    """A fresh page (own context: cookies, storage) on the Lab; kernels and settings reset after."""
    context = browser.new_context(viewport=VIEWPORT, device_scale_factor=1)
    context.set_default_timeout(30_000)
    page = context.new_page()
    yield page
    context.close()
    lab_server.shutdown_kernels()
    lab_server.reset_settings()


@pytest.fixture(scope="session")
def images_dir(tmp_path_factory):
    """Where the tests write the README's screenshots: ``docs/images/`` when WAGI_NB_SCREENSHOTS=1
    (they show timings, so every run would change them), else a temporary folder."""
    if os.environ.get("WAGI_NB_SCREENSHOTS") != "1":
        return tmp_path_factory.mktemp("screenshots")
    IMAGES.mkdir(parents=True, exist_ok=True)
    return IMAGES
