"""C++: clang++ with a WASI sysroot and libc++, else ``zig c++``; discovery and flags are C's."""
from __future__ import annotations

from .c import C


class Cpp(C):
    language = "cpp"
    title = "C++"
    aliases = ("c++", "cxx")
    extension = "cpp"
    order = 30
    setting = "cpp_compiler"
    summary = "Compile the cell as C++ to wasm32-wasi with clang++ or zig c++, and run it."
    example = ('#include <iostream>\n\nint main() {\n    std::cout << "Hello, world!" << std::endl;\n'
               '}')
    cxx = True
    driver = "clang++"
    apt = "apt-get install clang lld wasi-libc libclang-rt-dev-wasm32 libc++-dev-wasm32"


TOOLCHAIN = Cpp()
