"""The component bridge: a Wagi module as a ``wasi:http/incoming-handler@0.2.0`` component.

An unchanged Wagi module (a WASI preview 1 command that speaks CGI) becomes a component that any
``wasi:http`` host serves (Spin without its wagi executor, ``wasmtime serve -S cli``), through
wagi_nb's own preview1 adapter, written in C (``adapter/``) and built here with clang. The
component reads its route's configuration from its environment (:func:`component_environment`).
``wagi-nb install component`` fetches the tools it needs (``tools.py``); docs/component-bridge.md
has the design and its limits.
"""
from .components import BridgeUnavailable, CannotBridge, component_environment, componentize, refusal

__all__ = ["BridgeUnavailable", "CannotBridge", "refusal", "componentize", "component_environment"]
