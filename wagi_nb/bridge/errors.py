"""The two ways the bridge says no: this machine cannot build components yet, or this module cannot
become one."""
from __future__ import annotations

from ..errors import WagiNbError


class BridgeUnavailable(WagiNbError):
    """What the bridge needs is not on this machine (wasm-tools 1.262.0, the WASI 0.2.0 WIT files,
    clang and wasm-ld for the adapter); the message says what is missing and names
    ``wagi-nb install component``."""


class CannotBridge(WagiNbError):
    """This module cannot become a ``wasi:http`` component; the message says what in it cannot cross,
    and why."""
