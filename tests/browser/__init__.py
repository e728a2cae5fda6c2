"""Browser tests: a real JupyterLab 4 in headless Chromium (see conftest.py and lab.py)."""
