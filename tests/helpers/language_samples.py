"""The same three programs in every language of the registry, for toolchains/test_languages.py
(and the hello world of ``conftest.py``'s ``hello_sources``).

* ``HELLO``: prints ``Hello, world!`` and a newline.
* ``BROKEN``: (source, where): a cell with one error on its third line, and the location the
  compiler or interpreter must report for it once the magic's line is counted (line 4).
* ``HANDLER``: a Wagi handler that answers ``<language> query=Q agent=A body=B`` from
  ``QUERY_STRING``, the ``X-Agent`` request header (``HTTP_X_AGENT``) and the request body (stdin).
  WAT has no handler here: reading stdin and the environment by hand is what the other test
  modules (helpers/wagi_modules.py) already do.
"""
from __future__ import annotations

HELLO = {
    "rust": 'fn main() {\n    println!("Hello, world!");\n}\n',
    "c": '#include <stdio.h>\n\nint main(void) {\n    printf("Hello, world!\\n");\n    return 0;\n}\n',
    "cpp": '#include <iostream>\n\nint main() {\n    std::cout << "Hello, world!" << std::endl;\n}\n',
    "zig": ('const std = @import("std");\n'
            'pub fn main(init: std.process.Init) !void {\n'
            '    var buf: [256]u8 = undefined;\n'
            '    var out: std.Io.File.Writer = .initStreaming(.stdout(), init.io, &buf);\n'
            '    try out.interface.print("Hello, world!\\n", .{});\n'
            '    try out.interface.flush();\n'
            '}\n'),
    "go": 'package main\n\nimport "fmt"\n\nfunc main() {\n\tfmt.Println("Hello, world!")\n}\n',
    "assemblyscript": 'console.log("Hello, world!");\n',
    "wat": ('(module\n'
            '  (import "wasi_snapshot_preview1" "fd_write" (func $w (param i32 i32 i32 i32) (result i32)))\n'
            '  (memory (export "memory") 1)\n'
            '  (data (i32.const 16) "Hello, world!\\0a")\n'
            '  (func (export "_start")\n'
            '    (i32.store (i32.const 0) (i32.const 16))\n'
            '    (i32.store (i32.const 4) (i32.const 14))\n'
            '    (drop (call $w (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))))\n'),
    "python": 'print("Hello, world!")\n',
    "js": 'console.log("Hello, world!");\n',
}

BROKEN = {
    "rust": ('fn main() {\n    let x = 1;\n    let y: i32 = "two";\n}\n', "cell.rs:4:"),
    "c": ('int main(void) {\n    int x = 1;\n    return y;\n}\n', "cell.c:4:"),
    "cpp": ('int main() {\n    int x = 1;\n    return y;\n}\n', "cell.cpp:4:"),
    "zig": ('pub fn main() void {\n    const x: u8 = 1;\n    const y: u8 = "two";\n}\n', "cell.zig:4:"),
    "go": ('package main\n\nfunc main() { x := 1 }\n', "cell.go:4:"),
    "assemblyscript": ('let x: i32 = 1;\nx = x + 1;\nlet y: i32 = "two";\n', "cell.ts(4,"),
    "wat": ('(module\n  (func (export "_start")\n    (i32.bogus)))\n', "cell.wat:4:"),
    "python": ('x = 1\ny = 2\nz = (x +\n', 'File "cell.py", line 4'),
    "js": ('let x = 1;\nlet y = 2;\nlet z = ;\n', "cell.js:4:"),
}

HANDLER = {
    "rust": r'''use std::io::Read;

fn main() {
    let mut body = String::new();
    std::io::stdin().read_to_string(&mut body).unwrap();
    let var = |name: &str| std::env::var(name).unwrap_or_default();
    println!("Content-Type: text/plain\n");
    println!("rust query={} agent={} body={}", var("QUERY_STRING"), var("HTTP_X_AGENT"), body);
}
''',
    "c": r'''#include <stdio.h>
#include <stdlib.h>

static const char *var(const char *name) { const char *v = getenv(name); return v ? v : ""; }

int main(void) {
    char body[4096];
    size_t n = fread(body, 1, sizeof body - 1, stdin);
    body[n] = 0;
    printf("Content-Type: text/plain\n\n");
    printf("c query=%s agent=%s body=%s\n", var("QUERY_STRING"), var("HTTP_X_AGENT"), body);
    return 0;
}
''',
    "cpp": r'''#include <cstdlib>
#include <iostream>
#include <iterator>
#include <string>

static std::string var(const char *name) { const char *v = std::getenv(name); return v ? v : ""; }

int main() {
    std::string body((std::istreambuf_iterator<char>(std::cin)), std::istreambuf_iterator<char>());
    std::cout << "Content-Type: text/plain\n\n" << "cpp query=" << var("QUERY_STRING")
              << " agent=" << var("HTTP_X_AGENT") << " body=" << body << "\n";
}
''',
    "zig": r'''const std = @import("std");

pub fn main(init: std.process.Init) !void {
    const query = init.environ_map.get("QUERY_STRING") orelse "";
    const agent = init.environ_map.get("HTTP_X_AGENT") orelse "";
    var inbuf: [4096]u8 = undefined;
    var in: std.Io.File.Reader = .initStreaming(.stdin(), init.io, &inbuf);
    const body = try in.interface.allocRemaining(init.arena.allocator(), .unlimited);
    var buf: [4096]u8 = undefined;
    var out: std.Io.File.Writer = .initStreaming(.stdout(), init.io, &buf);
    try out.interface.print("Content-Type: text/plain\n\nzig query={s} agent={s} body={s}\n",
                            .{ query, agent, body });
    try out.interface.flush();
}
''',
    "go": '''package main

import (
\t"fmt"
\t"io"
\t"os"
)

func main() {
\tbody, _ := io.ReadAll(os.Stdin)
\tfmt.Print("Content-Type: text/plain\\n\\n")
\tfmt.Printf("go query=%s agent=%s body=%s\\n", os.Getenv("QUERY_STRING"), os.Getenv("HTTP_X_AGENT"), body)
}
''',
    "assemblyscript": r'''function env(name: string): string {
  return process.env.has(name) ? process.env.get(name) : "";
}

let body = "";
const buffer = new ArrayBuffer(4096);
for (let n = process.stdin.read(buffer); n > 0; n = process.stdin.read(buffer)) {
  body += String.UTF8.decode(buffer.slice(0, n));
}
console.log("Content-Type: text/plain\n");
console.log("assemblyscript query=" + env("QUERY_STRING") + " agent=" + env("HTTP_X_AGENT") + " body=" + body);
''',
    "python": '''import os
import sys

body = sys.stdin.read()
print("Content-Type: text/plain")
print()
print(f"python query={os.environ.get('QUERY_STRING', '')} agent={os.environ.get('HTTP_X_AGENT', '')} body={body}")
''',
    "js": r'''const env = std.getenviron();
const body = std.in.readAsString();
console.log("Content-Type: text/plain\n");
console.log(`js query=${env.QUERY_STRING || ""} agent=${env.HTTP_X_AGENT || ""} body=${body}`);
''',
}
