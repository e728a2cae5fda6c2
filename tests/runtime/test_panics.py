"""A failed run says its panic first, at the cell's line: real modules in each language that give up
the way programs do (an index past the end, an exception, a failed assert), built with the real
toolchains, their stderr read back by the runtime and the route's 500."""
import pytest

import wagi_nb
from wagi_nb.runtime.panics import panic_in
from wagi_nb.wagi.application import WagiApp

#: language → (a cell whose line 4 fails, counting the magic's line as 1, what the panic must say).
FAILING = {
    "rust": ('fn main() {\n    let v: Vec<u32> = Vec::new();\n'
             '    println!("{}", v[std::env::args().count() + 6]);\n}\n',
             "panicked at cell line 4: index out of bounds: the len is 0 but the index is 7"),
    "go": ('package main\nimport "os"\nfunc main() { v := []int{}; println(v[len(os.Args)+6]) }\n',
           "panicked at cell line 4: runtime error: index out of range [7] with length 0"),
    "c": ('#include <assert.h>\nint main(int argc, char **argv) {\n    assert(argc == 7);\n}\n',
          "failed an assertion at cell line 4: argc == 7"),
    # (a release build passes abort no place: "in (0:0)")
    "assemblyscript": ('let n: i32 = 3;\nif (n > 2)\n  abort("n is too large");\n', "aborted: n is too large"),
    "python": ('import sys\nprint("Content-Type: text/plain\\n")\nprint(1 / (len(sys.argv) - 1))\n',
               "raised at cell line 4: ZeroDivisionError: division by zero"),
    "javascript": ('let x = null;\nconsole.log("Content-Type: text/plain\\n");\nx.colour();\n',
                   "raised at cell line 4: TypeError: cannot read property 'colour' of null"),
    "zig": ('const std = @import("std");\npub fn main() void {\n    @panic("no colour left");\n}\n',
            "panicked: no colour left"),
}


@pytest.fixture(params=sorted(FAILING))
def failing(request, need_toolchain):
    need_toolchain(request.param)
    source, said = FAILING[request.param]
    return wagi_nb.build(source, language=request.param, line_offset=1), said


def test_a_failed_run_says_its_panic_first(failing):
    artifact, said = failing
    result = artifact.run()
    assert not result.ok
    assert result.status.startswith(said), result.status
    assert str(result.panic) == said


def test_a_failed_route_answers_500_with_the_panic_first(failing):
    artifact, said = failing
    app = WagiApp()
    app.add_route("/oops", artifact)
    response = app.request("GET", "/oops")
    assert response.status == 500
    first, second = response.text.split("\n")[:2]
    assert first == f"The module {said}."
    assert second.startswith(("It trapped: ", "It exited with code"))
    # The backtrace is the response's own field (folded in the view) and comes after the message.
    assert response.error == f"{first}\n{second}"


def test_a_trap_without_a_panic_reads_as_before(need_toolchain):
    need_toolchain("c")
    result = wagi_nb.build("int main(void) { __builtin_trap(); }\n", language="c").run()
    assert result.panic is None
    assert result.status == "trap: wasm trap: wasm `unreachable` instruction executed"


@pytest.mark.parametrize("stderr, said", [
    # Rust 1.73 and later put the place first and the message on the next line.
    (b"thread 'main' panicked at cell.rs:7:33:\nindex out of bounds: the len is 3 but the index is 6\nnote: run",
     "panicked at cell line 7: index out of bounds: the len is 3 but the index is 6"),
    # A panic in a dependency names its file, not a cell line.
    (b"thread 'main' panicked at 'called `Option::unwrap()` on a `None` value', src/lib.rs:12:5\n",
     "panicked at lib.rs:12: called `Option::unwrap()` on a `None` value"),
    (b"abort: Index out of range in ~lib/array.ts(114:42)\n", "aborted at array.ts:114: Index out of range"),
    # Python's last frame is the line that raised; the exception is the traceback's last line.
    (b'Traceback (most recent call last):\n  File "/app/cell.py", line 9, in <module>\n    f()\n'
     b'  File "/app/cell.py", line 3, in f\n    raise KeyError("colour")\nKeyError: \'colour\'\n',
     "raised at cell line 3: KeyError: 'colour'"),
])
def test_panic_formats_of_other_versions(stderr, said):
    assert str(panic_in(stderr)) == said


@pytest.mark.parametrize("stderr", [b"", b"hello\n", b"panicked\n", b"Traceback (most recent call last):\n"])
def test_stderr_without_a_panic(stderr):
    assert panic_in(stderr) is None
