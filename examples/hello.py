"""The seed's first half through the Python API: hello world in Rust, C and WAT, compiled to
wasm32-wasi and run under wasmtime. Run it with `make demo` (or `.venv/bin/python examples/hello.py`).
"""
import sys

import wagi_nb
from wagi_nb.errors import WagiNbError

HELLO = {
    "rust": 'fn main() {\n    println!("Hello, world!");\n}\n',
    "c": '#include <stdio.h>\n\nint main(void) {\n    printf("Hello, world!\\n");\n    return 0;\n}\n',
    "wat": """(module
  (import "wasi_snapshot_preview1" "fd_write"
    (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 8) "Hello, world!\\n")
  (func (export "_start")
    (i32.store (i32.const 0) (i32.const 8))    ;; iovec: pointer to the text
    (i32.store (i32.const 4) (i32.const 14))   ;; and its length
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 24)))))
""",
}


def main() -> int:
    failed = 0
    for language, source in HELLO.items():
        print(f"== {language}: hello world ==")
        print(source.rstrip())
        try:
            module = wagi_nb.build(source, language=language, name=f"hello-{language}")
        except WagiNbError as error:
            print(f"-> could not build: {error}\n")
            failed += 1
            continue
        how = "from the build cache" if module.cached else f"in {module.build_seconds:.2f} s"
        print(f"-> built {module.size:,} bytes of wasm32-wasi {how} with {module.toolchain['version']} "
              f"({module.toolchain['path']})")
        result = module.run()
        print(f"-> wasmtime ran it: {result.status}; stdout:")
        print("   " + result.text.rstrip().replace("\n", "\n   ") + "\n")
        failed += not (result.ok and result.text == "Hello, world!\n")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
