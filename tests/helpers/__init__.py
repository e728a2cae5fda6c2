"""What the tests share that is not a fixture: real modules to build, servers and clients, kernels,
subprocesses, and what to do when something is missing. Fixtures are in ``tests/conftest.py``
(and in ``browser/`` and ``peers/``, for their own tests).

The tests import these as ``from helpers import servers as ss``: ``tests/`` is on ``sys.path``
because the root ``conftest.py`` lives there (pytest's default "prepend" import mode). The
per-layer test folders have no ``__init__.py``, so a test file's basename must be unique.
"""
from pathlib import Path

#: The checkout: ``tests/helpers/__init__.py`` is two folders below it.
REPO = Path(__file__).resolve().parents[2]
