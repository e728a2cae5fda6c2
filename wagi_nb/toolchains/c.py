"""C: clang with a WASI sysroot, else ``zig cc`` (C++ extends this in ``cpp.py``)."""
from __future__ import annotations

import os
from typing import Optional

from .base import Toolchain, ToolchainInfo, capture, executables, resolve_override
from .discovery_cache import observe_file, which
from .wasi_libc import describe, has_heap_end
from .zig import find_zig

TARGETS = ("wasm32-wasip1", "wasm32-wasi")


def clang_candidates(cxx: bool) -> list:
    names = ("clang++",) if cxx else ("clang",)
    extra = []
    sdk = os.environ.get("WASI_SDK_PATH")
    if sdk:
        extra = [os.path.join(sdk, "bin", names[0])]
    return [*extra, *[path for name in names for path in executables(name)]]


def clang_setup(clang: str, cxx: bool) -> Optional[tuple]:
    """(version, target, extra args, libc.a) when this clang can link a WASI program, else None."""
    version = capture([clang, "--version"])
    if not version:
        return None
    for line in version.splitlines():  # the compiler a wrapper or a link leads to
        if line.startswith("InstalledDir:"):
            observe_file(os.path.join(line.partition(":")[2].strip(), os.path.basename(clang)))
    extra = []
    sdk = os.environ.get("WASI_SDK_PATH")
    if sdk and os.path.realpath(clang).startswith(os.path.realpath(sdk)):
        extra = [f"--sysroot={os.path.join(sdk, 'share', 'wasi-sysroot')}"]
    needed = ["libc.a", "libc++.a"] if cxx else ["libc.a"]
    for target in TARGETS:
        probe = [clang, f"--target={target}", *extra]
        if not all(_library(probe, lib) for lib in needed):
            continue
        linker = capture([*probe, "-print-prog-name=wasm-ld"]) or "wasm-ld"
        runtime = capture([*probe, "-print-libgcc-file-name"]) or ""
        observe_file(runtime)
        if os.sep in linker:
            observe_file(linker)
        if (os.path.isfile(linker) or which(linker)) and os.path.isfile(runtime):
            libc = capture([*probe, "-print-file-name=libc.a"]) or ""
            return version.splitlines()[0], target, (f"--target={target}", *extra), libc
    return None


def _library(probe: list, name: str) -> bool:
    """Whether clang finds the WASI library ``name`` (an absolute path is found; the result holds
    while that file does)."""
    path = capture([*probe, f"-print-file-name={name}"]) or ""
    if not os.path.isabs(path):
        return False
    observe_file(path)
    return True


class C(Toolchain):
    language = "c"
    title = "C"
    extension = "c"
    order = 20
    setting = "c_compiler"
    summary = "Compile the cell as C (an `int main`) to wasm32-wasi with clang or zig cc, and run it."
    example = ('#include <stdio.h>\n\nint main(void) {\n    printf("Hello, world!\\n");\n'
               '    return 0;\n}')
    #: The C++ toolchain (cpp.py) changes only these.
    cxx = False
    driver = "clang"
    apt = "apt-get install clang lld wasi-libc libclang-rt-dev-wasm32"

    def discover(self, override: Optional[str] = None) -> ToolchainInfo:
        """clang with a WASI sysroot (wasi-sdk's, whose wasi-libc has PR 377's fix, before an older one
        such as Debian 12's, whose modules get their sbrk fixed: ``wasi_libc.py``), else zig cc."""
        if override:
            return self.discover_override(override)
        passed, old = [], None
        for clang in clang_candidates(self.cxx):
            setup = clang_setup(clang, self.cxx)
            if not setup:
                passed.append(f"{clang} (no WASI sysroot)")
            elif has_heap_end(setup[3]):
                return self.clang_info(clang, setup, "clang with a WASI sysroot")
            else:
                old = old or (clang, setup)
        if old:
            return self.clang_info(*old, "clang with a WASI sysroot")
        zig = find_zig()
        version = capture([zig, "version"]) if zig else None
        if zig and version:
            note = "zig from the ziglang package" + (f"; passed over {', '.join(passed)}" if passed else "")
            return self.zig_info(zig, version, note)
        return self.missing(name=self.driver,
                            note="; ".join(passed) or f"no {self.driver} with a WASI sysroot and no zig found",
                            install=f"{self.apt}  (or: pip install ziglang)")

    def clang_info(self, clang: str, setup: tuple, note: str) -> ToolchainInfo:
        version, target, extra, libc = setup
        fixed = has_heap_end(libc)
        return self.found(name=os.path.basename(clang), path=clang, version=version, target=target,
                          extra_args=extra, note=note, libc=describe(libc, fixed), old_libc=not fixed)

    def discover_override(self, override: str) -> ToolchainInfo:
        path = resolve_override(override)
        if path and os.path.basename(path).startswith("zig"):
            version = capture([path, "version"])
            if version:
                return self.zig_info(path, version, "configured by the user")
        setup = clang_setup(path, self.cxx) if path else None
        if not path or not setup:
            return self.missing(name=self.driver, path=override,
                                note=f"The configured compiler {override!r} cannot build for WASI",
                                install=self.apt)
        return self.clang_info(path, setup, "configured by the user")

    def zig_info(self, zig: str, version: str, note: str) -> ToolchainInfo:
        sub = "c++" if self.cxx else "cc"
        return self.found(name=f"zig {sub}", path=zig, version=version, target="wasm32-wasi",
                          extra_args=(sub, "-target", "wasm32-wasi"), note=note,
                          libc=f"zig {version}'s own wasi-libc (has PR 377's fix: safe under Spin)")

    def command(self, info, job):
        # Debian's wasi-libc and libc++ archives carry DWARF; strip it from release builds.
        profile = ["-O2", "-Wl,--strip-debug"] if job.release else ["-O0", "-g"]
        cxx = ["-fno-exceptions"] if self.cxx else []
        return [info.path, *info.extra_args, *profile, *cxx, "-fno-color-diagnostics", *job.flags,
                job.source, "-o", job.output]


TOOLCHAIN = C()
