"""The component bridge (``wagi_nb.bridge``): its API, its tools, and its components under the real
``wasmtime serve`` and Spin 3.6.3."""
