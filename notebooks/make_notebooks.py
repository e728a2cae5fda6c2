"""Write the four tutorial notebooks of this folder, without outputs.

    python notebooks/make_notebooks.py            # rewrite notebooks/0*.ipynb
    python notebooks/make_notebooks.py --out DIR  # write them somewhere else

The notebooks are generated so that they are reproducible and reviewable as
plain Python: edit the text here, run the script, commit both. Code cells
carry ``tags`` (cell metadata) that tests/test_notebooks.py uses to find the
outputs it checks, so keep a tag when you reword a cell.
"""
from __future__ import annotations

import argparse
import re
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

HERE = Path(__file__).resolve().parent

KERNELSPEC = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}

SETUP = '''\
%load_ext wagi_nb
import os
import wagi_nb
'''

PORT = '''\
# The port %wagi_serve listens on: 3000 as in Wagi, unless WAGI_NB_PORT says otherwise.
port = int(os.environ.get("WAGI_NB_PORT", 3000))
'''


def unwrap(text: str) -> str:
    """Join hard-wrapped lines: one line per paragraph or list item (code blocks and tables kept).

    The source here is wrapped for reading; a notebook renders either way, and text tools (the
    README's headless walk-through) wrap single-line paragraphs better than pre-wrapped ones.
    """
    lines, fenced = [], False
    for line in text.strip("\n").split("\n"):
        starts_block = (not line.strip() or line.startswith(("#", "|", "- ", "```"))
                        or re.match(r"\d+\. ", line))
        if line.startswith("```"):
            fenced = not fenced
        if lines and lines[-1].strip() and not lines[-1].startswith(("#", "|", "```")) \
                and not fenced and not starts_block:
            lines[-1] += " " + line.strip()
        else:
            lines.append(line)
    return "\n".join(lines)


def md(text: str):
    return new_markdown_cell(unwrap(text))


def code(source: str, tag: str = ""):
    cell = new_code_cell(source.strip("\n"))
    if tag:
        cell.metadata["tags"] = [tag]
    return cell


def notebook(stem: str, cells: list):
    nb = new_notebook(cells=cells)
    nb.metadata["kernelspec"] = dict(KERNELSPEC)
    nb.metadata["language_info"] = {"name": "python"}
    # Stable cell ids, so that regenerating an unchanged notebook changes nothing.
    for number, cell in enumerate(nb.cells, start=1):
        cell["id"] = f"{stem[:2]}-{number:02d}"
    return nb


# ---------------------------------------------------------------------------------------------
# 01 — the seed's walk-through
# ---------------------------------------------------------------------------------------------
HELLO_RUST = '''\
fn main() {
    println!("Hello, world!");
}
'''

HELLO_WAGI_RUST = '''\
fn main() {
    println!("Content-Type: text/plain");
    println!();
    println!("Hello, world!");
}
'''


def hello_wasm():
    return notebook("01", [
        md('''
# Hello, WebAssembly on the server

Ask people about WebAssembly (Wasm for short) and the first thing they want to know is whether it runs in
the browser. It does: it was made for browsers, and every major one runs it. This notebook is about the
other place Wasm is good for: the **server**, where it answers a wish list that virtual machines and
containers only partly meet:

1. **Fast start.** A VM boots in minutes, a container starts in seconds; a Wasm module is ready in
   milliseconds or less, so it can be started *per request*.
2. **A sandbox by default.** A module can touch nothing outside itself — no files, no network, no
   environment — unless the host hands it over explicitly.
3. **Build once, run anywhere.** One `.wasm` file runs on Linux, macOS or Windows, on Intel or ARM: no
   image per operating system and architecture.
4. **Any language.** Rust, C, C++, Zig, Go and many more compile to Wasm.

We follow Fermyon's *Introduction to WebAssembly on the Cloud* step by step: a Rust "Hello, world!"
compiled to Wasm and run, the same program turned into a web handler by a two-line change, a route
file, a web server, and `curl` against it. Everything below happens for real — a real `rustc`, a real
Wasm runtime ([wasmtime](https://wasmtime.dev)) and a real HTTP server — inside this notebook.

First, load the extension that adds the `%%wasm_*` and `%wagi_*` commands:
'''),
        code(SETUP + PORT, "setup"),
        md('''
## What is WebAssembly, practically?

Think of Wasm as one more **binary executable format**. A C compiler normally targets an operating system
and a processor ("Linux on ARM", "Windows on Intel"); with Wasm we target the `wasm32-wasi` format instead
(WASI is the system interface: how a module reads its arguments, environment, files and standard output).

Such a binary needs a runtime to execute it, much as Java needs a JVM or JavaScript needs Node.js. Our
runtime is **wasmtime**. In a terminal, the round trip looks like this:

```console
$ cargo build --target wasm32-wasi
$ wasmtime target/wasm32-wasi/debug/hello-wasm.wasm
Hello, world!
```

In this notebook one cell does both: `%%wasm_rust` compiles the cell with `rustc --target wasm32-wasi`
and runs the module on a fresh wasmtime instance. `-n hello` keeps the module under the name `hello`.
'''),
        code("%%wasm_rust -n hello\n" + HELLO_RUST, "hello-run"),
        md('''
Under the output you see how the module ended (exit status 0), how long it ran and how big it is. The
module is an ordinary file — the same bytes would run on any machine with a Wasm runtime:
'''),
        code('''
hello = wagi_nb.modules["hello"]
print(hello.wasm_path)
print(f"{hello.size:,} bytes of wasm32-wasi code")
''', "hello-file"),
        md('''
## To the cloud

A program that prints to a terminal is nice, but we wanted a web service. That is where **Wagi** comes
in, the *WebAssembly Gateway Interface*. Wagi runs a module once for every HTTP request, the way CGI ran
scripts in the early web: the request goes in through environment variables, arguments and standard
input, and whatever the module prints becomes the response.

There is one rule: before the body, the module prints a few headers, then an empty line. So our change
to the program is two lines — a `Content-Type` header and an empty line. It is still plain Rust, and
it still runs on its own:
'''),
        code("%%wasm_rust -n hello_wagi\n" + HELLO_WAGI_RUST, "wagi-raw"),
        md('''
Run on its own, the header is just more text on standard output. Under Wagi it becomes an instruction:
Wagi takes everything up to the empty line, turns it into HTTP headers, and sends the rest as the body.

We can see what Wagi will make of it before any server exists. `--route /` maps the cell's module to the
path `/` and shows the response a `GET /` would get. The source is the same as above, so the build
cache answers and no compiler runs:
'''),
        code("%%wasm_rust -n hello_wagi --route /\n" + HELLO_WAGI_RUST, "route-preview"),
        md('''
Status `200 OK`, a real `content-type: text/plain` header, and a body of just `Hello, world!`.

## Map the module to a route: `modules.toml`

A Wagi server learns its routes from a TOML file. Each `[[module]]` entry needs two lines: the `module`
file to run, and the `route` it answers. Let us put a copy of our module next to the file:
'''),
        code('''
import shutil
shutil.copy(wagi_nb.modules["hello_wagi"].wasm_path, "hello.wasm")
''', "copy-wasm"),
        md('''
and write the file itself. It says: when a request comes in for `/`, run `hello.wasm`.
'''),
        code('''
%%writefile modules.toml
[[module]]
module = "hello.wasm"
route = "/"
''', "modules-toml"),
        md('''
`%wagi_load` reads the file the way `wagi -c modules.toml` does: every module is loaded and compiled,
every route checked, and module paths are taken relative to the file. The table shows the notebook's
routes (the route from the cell above is replaced by the one from the file):
'''),
        code("%wagi_load modules.toml", "wagi-load"),
        md('''
`%wagi_request` sends a request to these routes inside the kernel, without any network — handy to check
a route before serving it:
'''),
        code("%wagi_request GET /", "request"),
        md('''
## Start the server

`%wagi_serve` is our `wagi -c ./modules.toml`: a real HTTP server, on a background thread of this kernel,
serving the notebook's routes while you keep working. Wagi listens on port 3000; `port` was set in the
first cell.
'''),
        code("%wagi_serve --port $port", "serve"),
        md('''
Now any HTTP client can reach it. `curl` is a web browser for the command line (`!` runs a shell command
from a cell, and `$port` passes the Python variable):
'''),
        code("!curl -s http://127.0.0.1:$port/", "curl"),
        md('''
That is our Wasm module answering a web request.

Where did the `Content-Type: text/plain` line go? Wagi used it for the HTTP headers, which a browser does
not show. `curl -v` shows the whole HTTP conversation: lines starting with `>` are our request, lines
starting with `<` are the response's status and headers — and there is our `Content-Type`.
'''),
        code("!curl -sv http://127.0.0.1:$port/ 2>&1", "curl-v"),
        md('''
## What happened

With a few lines of code we wrote a Rust program, compiled it to a `wasm32-wasi` binary, ran it under
wasmtime, taught it to print one header, mapped it to a route in a two-line TOML entry, and served it over
HTTP. The server started a fresh, sandboxed instance of the module for each request; the server's log
shows both requests `curl` made:
'''),
        code("%wagi_log", "log"),
        md('''
This example is small on purpose. The point is how short the path is from your own tools to a service in
the cloud: no container image to build, no manifest to write, no buildpack to pick — build the binary,
map it to a route, serve it.

### Try next

- Change the greeting in the `--route /` cell and re-run it: the running server answers with the new module
  at once (then run the `curl` cell again). `%wagi_routes` lists what is being served.
- [`02-wagi-routes.ipynb`](02-wagi-routes.ipynb): the rest of the Wagi contract — query strings, request
  bodies, the CGI environment, redirects, wildcard routes, static files.
- [`03-any-language.ipynb`](03-any-language.ipynb): the same handler in Rust, C, C++, Zig and WebAssembly
  text.
- [`04-serve-and-share.ipynb`](04-serve-and-share.ipynb): live previews while you edit, limits, and saving
  your routes for a real server.

The server stops with the kernel, or with `%wagi_stop`.
'''),
    ])


# ---------------------------------------------------------------------------------------------
# 02 — the Wagi contract by example
# ---------------------------------------------------------------------------------------------
ARGS_RUST = '''\
%%wasm_rust -n args --route /args --request "GET /args?name=wasm&lang=rust"
use std::env;

fn main() {
    println!("Content-Type: text/plain");
    println!();
    let argv: Vec<String> = env::args().collect();
    println!("argv:         {:?}", argv);
    println!("QUERY_STRING: {}", env::var("QUERY_STRING").unwrap_or_default());
}
'''

SHOUT_RUST = '''\
%%wasm_rust -n shout --route /shout
use std::io::Read;

fn main() {
    let mut body = String::new();
    std::io::stdin().read_to_string(&mut body).unwrap();
    println!("Content-Type: text/plain");
    println!();
    println!("{} bytes on stdin: {}", body.len(), body.trim().to_uppercase());
}
'''

ENV_RUST = '''\
%%wasm_rust -n env --route /env
fn main() {
    println!("Content-Type: text/plain");
    println!();
    let mut vars: Vec<(String, String)> = std::env::vars().collect();
    vars.sort();
    for (key, value) in vars {
        println!("{}={}", key, value);
    }
}
'''

ENV_TABLE = '''\
from html import escape
from IPython.display import HTML

def env_table(text):
    """KEY=VALUE lines as an HTML table."""
    rows = "".join(f"<tr><td><code>{escape(key)}</code></td><td><code>{escape(value)}</code></td></tr>"
                   for key, _, value in (line.partition("=") for line in text.splitlines()))
    return HTML(f"<table><tr><th>variable</th><th>value</th></tr>{rows}</table>")

env_table(seen.text)
'''

LOCATION_RUST = '''\
%%wasm_rust --route /old-page
fn main() {
    println!("Location: /new-page");
    println!();
}
'''

STATUS_RUST = '''\
%%wasm_rust --route /teapot
fn main() {
    println!("Status: 418 I'm a teapot");
    println!("Content-Type: text/plain");
    println!();
    println!("Short and stout; no coffee here.");
}
'''

FORGOT_RUST = '''\
%%wasm_rust --route /forgot
fn main() {
    println!("Hello, world!");
}
'''

FILES_RUST = '''\
%%wasm_rust -n files --route /files/... --request "GET /files/docs/read%20me.txt"
fn main() {
    println!("Content-Type: text/plain");
    println!();
    for key in ["X_MATCHED_ROUTE", "SCRIPT_NAME", "PATH_INFO", "X_RAW_PATH_INFO"] {
        println!("{}={}", key, std::env::var(key).unwrap_or_default());
    }
}
'''

WILDCARD_LOOP = '''\
for path in ["/files", "/files/", "/files/a/b", "/files/docs/read%20me.txt", "/filesystem"]:
    response = wagi_nb.app.request("GET", path)
    info = dict(line.partition("=")[::2] for line in response.text.splitlines())
    print(f"{path:28} {response.status}   PATH_INFO={info.get('PATH_INFO', '-')!r}")
'''

API_RUST = '''\
%%wasm_rust -n api --route /api/...
// Wagi calls `_routes` once, when the module is loaded: each line is "path entrypoint".
#[no_mangle]
pub extern "C" fn _routes() {
    println!("/hello hello");
    println!("/goodbye/... goodbye");
}

#[no_mangle]
pub extern "C" fn hello() {
    println!("Content-Type: text/plain");
    println!();
    println!("Hello from the `hello` export");
}

#[no_mangle]
pub extern "C" fn goodbye() {
    println!("Content-Type: text/plain");
    println!();
    println!("Goodbye, {}", std::env::var("PATH_INFO").unwrap_or_default().trim_start_matches('/'));
}

fn main() {
    println!("Content-Type: text/plain");
    println!();
    println!("main answers everything else under /api (PATH_INFO={})",
             std::env::var("PATH_INFO").unwrap_or_default());
}
'''

PUBLIC_FILES = '''\
from pathlib import Path

public = Path("public")
public.mkdir(exist_ok=True)
(public / "index.html").write_text("<h1>Hello from a volume</h1>\\n<p>This page is a file on the host.</p>\\n")
(public / "notes.txt").write_text("Plain text, read from disk by a Wasm module.\\n")
sorted(p.name for p in public.iterdir())
'''

STATIC_RUST = '''\
%%wasm_rust -n static --route /static/... --volume /static=./public --request "GET /static/index.html"
use std::io::Write;

fn main() {
    let path = std::env::var("PATH_INFO").unwrap_or_default();
    match std::fs::read(format!("/static{}", path)) {
        Ok(bytes) => {
            let kind = if path.ends_with(".html") { "text/html" } else { "text/plain" };
            println!("Content-Type: {}", kind);
            println!();
            std::io::stdout().write_all(&bytes).unwrap();
        }
        Err(error) => {
            println!("Status: 404 Not Found");
            println!("Content-Type: text/plain");
            println!();
            println!("cannot read {}: {}", path, error);
        }
    }
}
'''


def wagi_routes():
    return notebook("02", [
        md('''
# The Wagi contract, by example

In [01-hello-wasm](01-hello-wasm.ipynb) a module printed a header, an empty line and a body, and Wagi made
an HTTP response of it. That is half of the contract. The whole of it fits in a few lines:

| direction | how |
|---|---|
| request → module | **environment variables** (the CGI variables: method, query, path, headers...), **arguments** (the path, then the query's `&`-separated pairs) and **standard input** (the request body) |
| module → response | **standard output**: header lines (`Content-Type`, `Status`, `Location`, anything else), an empty line, the body |

Each request gets a fresh instance of the module: nothing is shared between requests, and a module sees
only what the request and the route give it.

Every example below is a Rust cell with `--route`, which maps the module to a route and previews a
request to it inside the kernel — no server needed. `%wagi_request` sends further requests.
'''),
        code(SETUP, "setup"),
        md('''
## 1. Query strings and arguments

The query string arrives twice: raw in the `QUERY_STRING` variable, and split at `&` into the module's
arguments, after the request path (which is `argv[0]`, the program name). `--request` picks the request the
preview sends:
'''),
        code(ARGS_RUST, "argv"),
        md('''
Nothing is decoded for you: `%20` stays `%20`, so the module decides how to read its query. (A route can
also rearrange the arguments with an `argv` template, e.g. `--argv "${SCRIPT_NAME} ${ARGS}"`.)
'''),
        code("%wagi_request GET /args?city=S%C3%A3o%20Paulo&lang=rust", "argv-raw"),
        md('''
## 2. Request bodies on standard input

A `POST` or `PUT` body is the module's standard input. The route preview sends a `GET` without a body:
'''),
        code(SHOUT_RUST, "shout"),
        md('''
`%%wagi_request` as a cell magic takes a whole raw HTTP request — request line, headers, an empty line, the
body:
'''),
        code('''
%%wagi_request
POST /shout
Content-Type: text/plain

hello from the request body
''', "post"),
        md("The one-line form takes the body with `-d` and headers with `-H`:"),
        code('%wagi_request POST /shout -H "Content-Type: text/plain" -d "short and sweet"', "post-line"),
        md('''
## 3. The CGI environment

This module prints every environment variable it gets. Wagi passes none of the host's own variables —
only what describes the request:
'''),
        code(ENV_RUST, "env"),
        md('''
A `%wagi_request` returns the response too (`.status`, `.headers`, `.text`, `.json()`), so Python can
work with it. Here is the environment of a request with a query and an extra header, as a table:
'''),
        code('seen = %wagi_request GET /env?lang=rust&answer=42 -H "Accept-Language: fr"', "env-request"),
        code(ENV_TABLE, "env-table"),
        md('''
Request headers appear as `HTTP_<NAME>` (`Accept-Language` → `HTTP_ACCEPT_LANGUAGE`), `CONTENT_LENGTH` and
`CONTENT_TYPE` describe the body, `SERVER_NAME`/`SERVER_PORT` come from the `Host` header, and
`X_FULL_URL` is the whole URL.

## 4. `Status` and `Location`

Two headers are special. `Location` redirects: the status becomes `302 Found` unless the module says
otherwise.
'''),
        code(LOCATION_RUST, "location"),
        md("`Status` sets the status code and reason:"),
        code(STATUS_RUST, "status"),
        md('''
And a module that forgets the header block altogether — the original "Hello, world!" — gets a `500`
explaining what Wagi expected:
'''),
        code(FORGOT_RUST, "no-header"),
        md('''
## 5. Wildcard routes and `PATH_INFO`

A route ending in `/...` answers a whole subtree. `SCRIPT_NAME` is the route's own part of the path and
`PATH_INFO` the rest, percent-decoded (`X_RAW_PATH_INFO` keeps it raw):
'''),
        code(FILES_RUST, "path-info"),
        md('''
`/files/...` matches `/files` itself and everything below it, but not `/filesystem` — that gets a `404`
because no route matches it:
'''),
        code(WILDCARD_LOOP, "wildcard"),
        md('''
## 6. `_routes` and entrypoints

A module can serve several routes from one file. If it exports a function `_routes`, Wagi calls it once
when the module is loaded; each line it prints is a sub-route (joined to the module's own route) and the
exported function that answers it, its **entrypoint**. Any other path under the route runs `main` (the
`_start` entrypoint) as usual. (`--entrypoint NAME` picks the function for the route itself.)
'''),
        code(API_RUST, "api"),
        md("The route table shows the sub-routes under the route that declared them:"),
        code("%wagi_routes", "routes"),
        code("%wagi_request GET /api/hello", "entry-hello"),
        code("%wagi_request GET /api/goodbye/moon", "entry-goodbye"),
        code("%wagi_request GET /api/anything/else", "entry-main"),
        md('''
## 7. Volumes: serving static files

A module sees no files at all, unless the route mounts a host folder into it: `--volume /static=./public`
shows the host folder `public` to the module as `/static`. First, some files to serve:
'''),
        code(PUBLIC_FILES, "public"),
        md('''
The module reads the file named by `PATH_INFO` from `/static`. HTML responses are previewed in a sandboxed
frame:
'''),
        code(STATIC_RUST, "static"),
        code("%wagi_request GET /static/notes.txt", "static-text"),
        md('''
The mount is the only part of the host the module can reach. Climbing out of it with `..` is refused by
the runtime, not by our code:
'''),
        code("%wagi_request GET /static/../../etc/passwd", "sandbox"),
        md('''
## 8. Global environment variables

Settings every module should see — an API base URL, a greeting, a feature flag — go in the global
environment: `%wagi_env` (like `wagi -e KEY=VALUE`; `--env-file FILE` reads a file of them). The CGI
variables always win, so a global `REQUEST_METHOD` cannot lie to a module:
'''),
        code("%wagi_env GREETING=Bonjour REQUEST_METHOD=DELETE", "wagi-env"),
        code('env_table(wagi_nb.app.request("GET", "/env").text)', "env-global"),
        md('''
`GREETING` arrived; `REQUEST_METHOD` is still the request's real `GET`. (A single route can get its own
variables with `--env KEY=VALUE` on its cell.)

## Recap

- in: CGI variables in the environment, the query's pairs as arguments, the body on standard input,
  host folders only where a volume mounts them;
- out: headers (`Content-Type`, `Status`, `Location`, ...), an empty line, the body;
- routes: exact (`/env`) or wildcard (`/files/...`), more of them from a module's `_routes`.

Next: [the same handler in five languages](03-any-language.ipynb).
'''),
    ])


# ---------------------------------------------------------------------------------------------
# 03 — any language
# ---------------------------------------------------------------------------------------------
GREET = {
    "rust": ("Rust", '''\
fn main() {
    let query = std::env::var("QUERY_STRING").unwrap_or_default();
    let name = query.split('&').find_map(|pair| pair.strip_prefix("name=")).unwrap_or("world");
    println!("Content-Type: application/json");
    println!();
    println!("{{\\"greeting\\": \\"Hello, {}!\\", \\"language\\": \\"rust\\"}}", name);
}
'''),
    "c": ("C", '''\
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(void) {
    const char *query = getenv("QUERY_STRING");
    const char *name = "world";
    char pairs[256];
    snprintf(pairs, sizeof pairs, "%s", query ? query : "");
    for (char *pair = strtok(pairs, "&"); pair; pair = strtok(NULL, "&"))
        if (strncmp(pair, "name=", 5) == 0) name = pair + 5;
    printf("Content-Type: application/json\\n\\n");
    printf("{\\"greeting\\": \\"Hello, %s!\\", \\"language\\": \\"c\\"}\\n", name);
    return 0;
}
'''),
    "cpp": ("C++", '''\
#include <cstdlib>
#include <iostream>
#include <sstream>
#include <string>

int main() {
    const char *query = std::getenv("QUERY_STRING");
    std::istringstream pairs(query ? query : "");
    std::string pair, name = "world";
    while (std::getline(pairs, pair, '&'))
        if (pair.rfind("name=", 0) == 0) name = pair.substr(5);
    std::cout << "Content-Type: application/json\\n\\n"
              << "{\\"greeting\\": \\"Hello, " << name << "!\\", \\"language\\": \\"cpp\\"}\\n";
}
'''),
    "zig": ("Zig", '''\
const std = @import("std");

pub fn main(init: std.process.Init) !void {
    const query = init.environ_map.get("QUERY_STRING") orelse "";
    var name: []const u8 = "world";
    var pairs = std.mem.tokenizeScalar(u8, query, '&');
    while (pairs.next()) |pair| {
        if (std.mem.startsWith(u8, pair, "name=")) name = pair[5..];
    }
    var buf: [256]u8 = undefined;
    var out: std.Io.File.Writer = .init(.stdout(), init.io, &buf);
    try out.interface.print("Content-Type: application/json\\n\\n", .{});
    try out.interface.print("{{\\"greeting\\": \\"Hello, {s}!\\", \\"language\\": \\"zig\\"}}\\n", .{name});
    try out.interface.flush();
}
'''),
    "wat": ("WebAssembly text", '''\
;; Wagi passes the query's pairs as arguments: argv = [path, "name=wasm", ...].
(module
  (import "wasi_snapshot_preview1" "args_sizes_get" (func $args_sizes_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "args_get" (func $args_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 100) "Content-Type: application/json\\0a\\0a{\\"greeting\\": \\"Hello, ")  ;; 53 bytes
  (data (i32.const 200) "!\\", \\"language\\": \\"wat\\"}\\0a")                                 ;; 23 bytes
  (data (i32.const 240) "world")
  ;; print len bytes at ptr on stdout (the iovec lives at address 0)
  (func $print (param $ptr i32) (param $len i32)
    (i32.store (i32.const 0) (local.get $ptr))
    (i32.store (i32.const 4) (local.get $len))
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8))))
  (func (export "_start")
    (local $i i32) (local $arg i32) (local $name i32) (local $len i32)
    (local.set $name (i32.const 240))
    (local.set $len (i32.const 5))
    ;; argc at 16, argument pointers from 1024, argument bytes from 2048
    (drop (call $args_sizes_get (i32.const 16) (i32.const 20)))
    (drop (call $args_get (i32.const 1024) (i32.const 2048)))
    (local.set $i (i32.const 1))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $i) (i32.load (i32.const 16))))
        (local.set $arg (i32.load (i32.add (i32.const 1024) (i32.shl (local.get $i) (i32.const 2)))))
        ;; does the argument start with "name=" ("name" read as a little-endian i32)?
        (if (i32.and (i32.eq (i32.load (local.get $arg)) (i32.const 0x656d616e))
                     (i32.eq (i32.load8_u offset=4 (local.get $arg)) (i32.const 0x3d)))
          (then
            (local.set $name (i32.add (local.get $arg) (i32.const 5)))
            (local.set $len (i32.const 0))
            (block $end
              (loop $count
                (br_if $end (i32.eqz (i32.load8_u (i32.add (local.get $name) (local.get $len)))))
                (local.set $len (i32.add (local.get $len) (i32.const 1)))
                (br $count)))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $next)))
    (call $print (i32.const 100) (i32.const 53))
    (call $print (local.get $name) (local.get $len))
    (call $print (i32.const 200) (i32.const 23))))
'''),
}

GREET_NOTES = {
    "rust": "The standard library reads the environment; `strip_prefix` finds the `name=` pair.",
    "c": "Plain C and `wasi-libc`: `getenv`, `strtok`, `printf` — nothing Wasm-specific in the source.",
    "cpp": "The C++ standard library (`libc++` built for WASI): streams and `std::string`.",
    "zig": "Zig 0.17 hands `main` its environment and an I/O interface in `std.process.Init`; output is "
           "buffered and flushed explicitly.",
    "wat": "WebAssembly text, by hand: no standard library, so it calls the WASI functions itself. Parsing "
           "`QUERY_STRING` here would be long; Wagi also passes the query's pairs as arguments, so this "
           "version looks for an argument starting with `name=`.",
}

SIZES = '''\
import statistics
from IPython.display import HTML

def median_ms(route, runs=25):
    """Median time of a request to route, as measured around the module's run (fresh instance each time)."""
    return statistics.median(wagi_nb.app.request("GET", route).duration for _ in range(runs)) * 1000

rows = []
for lang, label in LANGUAGES.items():
    module = wagi_nb.modules[f"greet_{lang}"]
    rows.append(f"<tr><td>{label}</td><td style='text-align:right'>{module.size:,}</td>"
                f"<td style='text-align:right'>{median_ms(f'/{lang}?name=wasm'):.2f}</td></tr>")
HTML("<table><tr><th>language</th><th>module size (bytes)</th><th>median request (ms)</th></tr>"
     + "".join(rows) + "</table>")
'''


def any_language():
    cells = [
        md('''
# Any language

The fourth wish on the list in [01-hello-wasm](01-hello-wasm.ipynb) was *any language*: Wasm is a compile
target, so the host does not care what the module was written in. Here is one small handler — a JSON
greeting for the `name` in the query string — in **Rust, C, C++, Zig and WebAssembly text (WAT)**, each
compiled to `wasm32-wasi`, mapped to its own route and previewed. At the end, a table compares their
sizes and run times.
'''),
        code(SETUP, "setup"),
        md('''
`%wasm_toolchains` shows the compiler each language cell uses on this machine (or how to install a missing
one):
'''),
        code("%wasm_toolchains", "toolchains"),
    ]
    for lang, (label, source) in GREET.items():
        magic = f'%%wasm_{lang} -n greet_{lang} --route /{lang} --request "GET /{lang}?name=wasm"'
        cells += [md(f"## {label}\n\n{GREET_NOTES[lang]}"), code(f"{magic}\n{source}", f"greet-{lang}")]
    cells += [
        md('''
## Side by side

Five languages, one contract: each module reads the request the Wagi way and prints a header block and a
body. The same request to every route:
'''),
        code('''
LANGUAGES = {"rust": "Rust", "c": "C", "cpp": "C++", "zig": "Zig", "wat": "WAT"}
for lang in LANGUAGES:
    response = wagi_nb.app.request("GET", f"/{lang}?name=notebook")
    print(f"/{lang:5} {response.status}  {response.json()}")
''', "side-by-side"),
        md('''
## Size and speed

Each module's size on disk, and the median time of a request to it (a fresh instance of the module per
request, as on a Wagi server; the module is compiled to native code once, when it is loaded):
'''),
        code(SIZES, "sizes"),
        md('''
What the table tends to show:

- **WAT** is tiny: it contains exactly the instructions written above and nothing else.
- **Zig** and **Rust** bring in only the parts of their standard libraries they use; Rust's formatting
  machinery and panic handling account for most of its size.
- **C** and **C++** link the WASI C library (and C++ also `libc++` with its streams); the Debian builds of
  those libraries carry debug sections, which end up in the modules too.
- Whatever the language, a request takes about a millisecond or (much) less: starting a fresh Wasm
  instance is cheap, which is what makes one-instance-per-request servers like Wagi practical.

Numbers vary from machine to machine; re-run the cell to measure yours.

Next: [serving, live previews, limits and sharing](04-serve-and-share.ipynb).
'''),
    ]
    return notebook("03", cells)


# ---------------------------------------------------------------------------------------------
# 04 — serve and share
# ---------------------------------------------------------------------------------------------
def live_page(version: int, colour: str, magic: str) -> str:
    return f'''\
{magic}
fn main() {{
    println!("Content-Type: text/html");
    println!();
    println!("<h1 style='color:{colour}'>Live page, version {version}</h1>");
}}
'''


SPIN_RUST = '''\
%%wasm_rust --route /spin
fn main() {
    // A bug: this loop never ends.
    let mut n: u64 = 0;
    loop {
        n = n.wrapping_add(1);
    }
}
'''

OOPS_RUST = '''\
%%wasm_rust --route /oops
fn main() {
    let colours = vec!["red", "green", "blue"];
    let pick = std::env::args().count() + 5; // a bug: past the end of the list
    println!("Content-Type: text/plain");
    println!();
    println!("Your colour: {}", colours[pick]);
}
'''


def serve_and_share():
    return notebook("04", [
        md('''
# Serve, watch, share

So far we mostly previewed routes inside the kernel. This notebook keeps the real server running in the
background while we work: a live preview that follows your edits, what happens when a module misbehaves,
the server's log, and how to take the routes elsewhere.
'''),
        code(SETUP + PORT, "setup"),
        md('''
## The background server

`%wagi_serve` starts an HTTP server on a background thread of the kernel. It serves the notebook's routes
as they are *now*: a route added or re-run later is served at once, with no restart.
'''),
        code("%wagi_serve --port $port", "serve"),
        md('''
## Hot reload, with a live preview

`--preview` shows a small request form instead of a static preview: method, path, headers, body and a
**Send** button, with the response underneath. Whenever the route's cell runs again, every preview of that
route re-sends its request — edit the Rust, run the cell, watch the page change.
'''),
        code(live_page(1, "steelblue", "%%wasm_rust --route /live --preview"), "live-v1"),
        code("!curl -s http://127.0.0.1:$port/live", "curl-v1"),
        md('''
`%wagi_preview ROUTE` opens a live preview of any route without touching its cell, for instance to try
another request. We keep this one in a variable, to look at it from code after the edit:
'''),
        code('live = %wagi_preview /live --request "GET /live?from=preview"\nlive', "preview-magic"),
        md('''
Now the edit. In a live session you would change the first `/live` cell and run it again; in this
notebook a second cell for the same route stands for that edit. The route's module is replaced:
'''),
        code(live_page(2, "seagreen", "%%wasm_rust --route /live"), "live-v2"),
        md('''
Both previews above re-sent their requests on their own and now show version 2 (in a browser you see them
change; the status line counts the sends):
'''),
        code("print(live.status.value)\nprint(live.preview.response.text)", "live-status"),
        md("The running server answers with the new module too, without a restart:"),
        code("!curl -s http://127.0.0.1:$port/live", "curl-v2"),
        md('''
## Limits: runaway loops and crashes

Every request runs in a fresh sandbox with a time limit and a memory limit, so one bad module cannot take
the server down. The notebook's routes allow 10 seconds per request (`wagi-nb serve` 30); let us make it
one second, so the demonstration is quick:
'''),
        code("wagi_nb.app.timeout = 1  # seconds per request, for the preview and the server", "timeout"),
        md("A module that never finishes is stopped when its time is up, and the client gets `504 Gateway Timeout`:"),
        code(SPIN_RUST, "spin"),
        md('''
The same over HTTP, while the server keeps serving the other routes:
'''),
        code('''
!curl -s -o /dev/null -w "/spin answered %{{http_code}}\\n" http://127.0.0.1:$port/spin
!curl -s http://127.0.0.1:$port/live
''', "spin-curl"),
        md('''
A module that crashes — here a Rust panic, which in Wasm ends in a *trap* — gets `500 Internal Server
Error`. The preview shows the trap, where it happened, and what the module wrote to standard error:
'''),
        code(OOPS_RUST, "trap"),
        md('''
## The log

`%wagi_log` shows the server's access log (every request that came over HTTP) and, per route, what the
modules wrote to standard error:
'''),
        code("%wagi_log", "log"),
        md('''
## Share: save the routes

`%wagi_save` writes the notebook's routes to a `modules.toml`, with the modules built from cells copied
beside it — a folder you can copy to any machine and serve with `wagi-nb serve -c deploy/modules.toml`
(the same file format Wagi reads):
'''),
        code('''
%wagi_save deploy
print(open("deploy/modules.toml").read())
''', "save"),
        md("When you are done, stop the server to free its port:"),
        code("%wagi_stop", "stop"),
        md('''
## Where to go next

- **Serve it for real.** `wagi-nb serve -c deploy/modules.toml --listen 0.0.0.0:3000` serves the saved
  routes with the same limits (`--timeout`, `--memory-limit`, `--max-body`), an access log and several
  worker processes (`--workers`).
- **Export to Wagi and Spin.** `%wagi_save` writes just `modules.toml` and the modules. `%wagi_export
  FOLDER` (or `wagi-nb export NOTEBOOK.ipynb FOLDER` from a shell) writes a whole app folder: the modules,
  each cell's source, `modules.toml` for `wagi -c`, and a `spin.toml` for `spin up` — Fermyon's Spin runs
  the same modules with its Wagi executor — plus a README of anything a format cannot express.
- **Back to the start.** [01-hello-wasm](01-hello-wasm.ipynb) is the whole story from the beginning;
  [02-wagi-routes](02-wagi-routes.ipynb) the full contract; [03-any-language](03-any-language.ipynb) the
  same handler in five languages.
'''),
    ])


NOTEBOOKS = {
    "01-hello-wasm.ipynb": hello_wasm,
    "02-wagi-routes.ipynb": wagi_routes,
    "03-any-language.ipynb": any_language,
    "04-serve-and-share.ipynb": serve_and_share,
}


def write_all(out_dir: Path = HERE) -> list:
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, make in NOTEBOOKS.items():
        nb = make()
        nbformat.validate(nb)
        path = out_dir / name
        nbformat.write(nb, str(path))
        written.append(path)
    return written


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=HERE, help="folder to write to (default: this one)")
    args = parser.parse_args(argv)
    for path in write_all(args.out):
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
