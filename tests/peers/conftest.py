"""The peer suite: exported apps served by the real Wagi 0.8.1 and Spin 3.6.3 beside ``wagi-nb serve``.

The peers come from ``../shared/peers`` (unpacked into ``~/.cache/wagi-nb-peers``); without that
folder the suite says how to get it and skips, and fails in CI (``CI=true``), where it must run.
"""
from __future__ import annotations

import pytest

from .servers import peer_binaries as find_peers


@pytest.fixture(scope="session")
def peer_binaries():
    return find_peers()
