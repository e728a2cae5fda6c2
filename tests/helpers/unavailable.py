"""What a test does when something it needs is not on this machine: skip here, fail in CI."""
from __future__ import annotations

import os

import pytest


def unavailable(reason: str) -> None:
    """Skip with ``reason``; under CI (``CI=true``), where everything must be there, fail instead."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI=true and {reason}", pytrace=False)
    pytest.skip(reason)


def need_module(module: str) -> None:
    """:func:`unavailable` unless the test extra's ``module`` imports."""
    try:
        __import__(module)
    except ImportError:
        unavailable(f"{module} is not installed (pip install -e '.[test]')")
