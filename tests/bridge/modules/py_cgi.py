# A Wagi test script for %%wasm_python: CPython for WASI runs it from /app (a volume of the component).
import os
import sys

print("Content-Type: text/plain")
print("X-Lang: python")
print()
print("args:", " ".join(sys.argv[1:]))
print("method:", os.environ.get("REQUEST_METHOD"))
