"""Calling a module's exported functions from Python: ``wagi_nb.modules["m"].exports.add(2, 3)``.

Real toolchains, real wasmtime: C (clang or zig cc), Rust, Zig and WAT modules, each call on a fresh
instance or on a kept one, numbers in and out, bytes through the module's memory, and the errors a
caller can act on (wrong arguments, traps, timeouts).
"""
from __future__ import annotations

import pytest
from IPython.core.completer import provisionalcompleter

import wagi_nb
from wagi_nb.runtime.exports import ArgumentError, CallError, ExportError, NoSuchExport

C_MATH = r'''
#include <stdint.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>

static int counter;

__attribute__((export_name("add"))) int add(int a, int b) { return a + b; }
__attribute__((export_name("mul64"))) int64_t mul64(int64_t a, int64_t b) { return a * b; }
__attribute__((export_name("hypot2"))) double hypot2(double a, double b) { return a * a + b * b; }
__attribute__((export_name("bump"))) int bump(void) { return ++counter; }
__attribute__((export_name("say"))) void say(int n) { printf("said %d\n", n); }
__attribute__((export_name("divide"))) int divide(int a, int b) { return a / b; }
__attribute__((export_name("spin"))) void spin(void) { for (volatile int i = 0; ; i++) {} }
__attribute__((export_name("quit"))) void quit(int code) { exit(code); }
__attribute__((export_name("count_vowels")))
int count_vowels(const char *text, size_t length) {
    int count = 0;
    for (size_t i = 0; i < length; i++)
        switch (text[i]) { case 'a': case 'e': case 'i': case 'o': case 'u': count++; }
    return count;
}
__attribute__((export_name("shout")))
void shout(char *text, size_t length) {
    for (size_t i = 0; i < length; i++) if (text[i] >= 'a' && text[i] <= 'z') text[i] -= 32;
}

int main(void) {
    printf("main ran\n");
    return 0;
}
'''
#: malloc and free are libc's: a C cell exports them with linker flags.
C_FLAGS = ["-Wl,--export=malloc", "-Wl,--export=free"]

WAT = r'''
(module
  (memory (export "memory") 1)
  (global $count (mut i32) (i32.const 0))
  (func (export "add") (param i32 i32) (result i32) (i32.add (local.get 0) (local.get 1)))
  (func (export "add64") (param i64 i64) (result i64) (i64.add (local.get 0) (local.get 1)))
  (func (export "scale") (param f32) (result f32) (f32.mul (local.get 0) (f32.const 2)))
  (func (export "swap") (param i32 i64) (result i64 i32) (local.get 1) (local.get 0))
  (func (export "bump") (result i32)
    (global.set $count (i32.add (global.get $count) (i32.const 1))) (global.get $count))
  (func (export "nothing"))
  (func (export "boom") (unreachable))
  (func (export "spin") (loop $forever (br $forever)))
  (func (export "kebab-name") (result i32) (i32.const 7)))
'''


@pytest.fixture(scope="module")
def c_math(need_toolchain):
    need_toolchain("c")
    return wagi_nb.build(C_MATH, "c", name="exports_c", flags=C_FLAGS)


@pytest.fixture(scope="module")
def wat_module():
    return wagi_nb.build(WAT, "wat", name="exports_wat")


def one_paragraph(message: str) -> None:
    assert "\n" not in message and "Traceback" not in message, message


# -- numbers in and out, fresh instances -----------------------------------------------------------
def test_c_cell_exports_add_by_its_name(c_math):
    assert wagi_nb.modules["exports_c"] is c_math
    assert wagi_nb.modules["exports_c"].exports.add(2, 3) == 5
    assert c_math.exports.add(-7, 2) == -5


def test_c_i64_and_f64_functions(c_math):
    assert c_math.exports.mul64(2**40, 3) == 3 * 2**40
    assert c_math.exports.mul64(-(2**62), 2) == -(2**63)
    assert c_math.exports.hypot2(3, 4.0) == 25.0
    assert isinstance(c_math.exports.hypot2(3, 4), float)


def test_dir_lists_the_functions_and_a_missing_name_lists_them_too(c_math):
    names = dir(c_math.exports)
    assert {"add", "mul64", "hypot2", "count_vowels", "malloc", "free"} <= set(names)
    assert "_start" not in names and "memory" not in names
    assert str(c_math.exports.add.signature) == "add(i32, i32) -> i32"
    assert str(c_math.exports.hypot2.signature) == "hypot2(f64, f64) -> f64"
    assert str(c_math.exports.say.signature) == "say(i32)"
    with pytest.raises(AttributeError) as missing:
        c_math.exports.subtract(3, 2)
    assert isinstance(missing.value, NoSuchExport)
    assert "'subtract'" in str(missing.value) and "add(i32, i32) -> i32" in str(missing.value)
    one_paragraph(str(missing.value))
    assert not hasattr(c_math.exports, "subtract")
    with pytest.raises(NoSuchExport, match="entry point"):
        c_math.exports._start()


def test_calling_an_export_does_not_run_main_and_forwards_printf(c_math, capsys):
    assert c_math.exports.say(42) is None
    out = capsys.readouterr().out
    assert out == "said 42\n"  # main's "main ran" is not there: _start never ran
    kept = c_math.instantiate()
    kept.exports.say(1)
    kept.exports.say(2)
    assert capsys.readouterr().out == "said 1\nsaid 2\n"


def test_wat_types_multi_value_and_odd_names(wat_module):
    exports = wat_module.exports
    assert exports.add(2, 3) == 5
    assert exports.add(2**31 - 1, 1) == -(2**31)          # wraps as wasm does; results are signed
    assert exports.add(2**32 - 1, 0) == -1                # an unsigned value passes as its bits
    assert exports.add64(2**62, 2**62) == -(2**63)
    assert exports.scale(1.25) == 2.5
    assert exports.swap(1, 2) == (2, 1)
    assert exports.nothing() is None
    assert exports["kebab-name"]() == 7
    assert "kebab-name" in exports and "_start" not in exports
    assert str(exports.swap.signature) == "swap(i32, i64) -> (i64, i32)"


# -- fresh versus kept -----------------------------------------------------------------------------
@pytest.mark.parametrize("module", ["c_math", "wat_module"])
def test_a_kept_instance_keeps_state_and_fresh_calls_do_not(module, request):
    artifact = request.getfixturevalue(module)
    assert [artifact.exports.bump() for _ in range(3)] == [1, 1, 1]
    inst = artifact.instantiate()
    assert [inst.exports.bump() for _ in range(3)] == [1, 2, 3]
    other = artifact.instantiate()
    assert other.exports.bump() == 1
    assert inst.exports.bump() == 4


def test_a_closed_instance_says_so(wat_module):
    with wat_module.instantiate() as inst:
        assert inst.exports.bump() == 1
    with pytest.raises(ExportError, match="closed"):
        inst.exports.bump()


# -- bytes through memory -----------------------------------------------------------------------------
def test_bytes_through_the_modules_memory(c_math):
    inst = c_math.instantiate()
    assert inst.call_with_bytes("count_vowels", b"hello world") == 3
    assert inst.call_with_bytes("count_vowels", b"") == 0
    ptr, length = inst.write_bytes(b"make me loud")
    assert length == 12 and ptr > 0
    inst.exports.shout(ptr, length)
    assert inst.read_bytes(ptr, length) == b"MAKE ME LOUD"
    inst.free(ptr, length)
    # the freed block is reused: nothing leaks over many calls
    first = inst.write_bytes(b"x" * 100)[0]
    inst.free(first, 100)
    for _ in range(200):
        inst.call_with_bytes("count_vowels", b"aeiou" * 20)
    assert inst.write_bytes(b"x" * 100)[0] == first


def test_bytes_are_not_passed_implicitly_and_memory_is_bounds_checked(c_math, wat_module):
    with pytest.raises(ArgumentError, match="call_with_bytes") as wrong:
        c_math.exports.count_vowels(b"hello", 5)
    one_paragraph(str(wrong.value))
    inst = wat_module.instantiate()
    with pytest.raises(ExportError, match="no allocator"):
        inst.write_bytes(b"abc")
    assert inst.write_bytes(b"abc", ptr=100) == (100, 3)
    assert inst.read_bytes(100, 3) == b"abc"
    with pytest.raises(ExportError, match="65,536 bytes"):
        inst.read_bytes(65535, 2)
    with pytest.raises(ArgumentError, match="encode"):
        inst.write_bytes("text", ptr=0)  # type: ignore[arg-type]


# -- errors: arguments, traps, exit, timeouts --------------------------------------------------------
@pytest.mark.parametrize("args, kwargs, expected", [
    ((1,), {}, "takes 2 arguments, but 1 was given"),
    ((1, 2, 3), {}, "takes 2 arguments, but 3 were given"),
    (("2", 3), {}, "argument 1 is a str"),
    ((2, 3.0), {}, "argument 2 is a float (3.0); an i32 takes a Python int"),
    ((2**32, 0), {}, "does not fit an i32"),
    ((-(2**31) - 1, 0), {}, "does not fit an i32"),
    ((None, 0), {}, "argument 1 is a NoneType"),
    ((1,), {"b": 2}, "positional arguments only"),
])
def test_wrong_arguments_name_the_signature(c_math, args, kwargs, expected):
    with pytest.raises(ArgumentError) as wrong:
        c_math.exports.add(*args, **kwargs)
    message = str(wrong.value)
    assert "`add(i32, i32) -> i32`" in message and expected in message
    assert isinstance(wrong.value, TypeError)
    one_paragraph(message)


def test_a_float_argument_takes_python_numbers_only(c_math):
    with pytest.raises(ArgumentError, match=r"hypot2\(f64, f64\) -> f64`: argument 1 is a str"):
        c_math.exports.hypot2("3", 4)
    with pytest.raises(ArgumentError, match="too large"):
        c_math.exports.hypot2(10**400, 1)


def test_a_trap_is_one_paragraph_and_the_kept_instance_goes_on(c_math, wat_module):
    with pytest.raises(CallError) as trapped:
        c_math.exports.divide(1, 0)
    error = trapped.value
    assert error.outcome == "trap" and "divide by zero" in error.trap
    assert str(error).startswith("`divide(i32, i32) -> i32` trapped: wasm trap: integer divide by zero")
    one_paragraph(str(error))
    assert error.__cause__ is None and error.__context__ is None
    inst = wat_module.instantiate()
    assert inst.exports.bump() == 1
    with pytest.raises(CallError, match="unreachable") as unreachable:
        inst.exports.boom()
    one_paragraph(str(unreachable.value))
    assert inst.exports.bump() == 2


def test_exit_in_an_export_is_an_error(c_math):
    with pytest.raises(CallError, match=r"called exit\(3\)") as ended:
        c_math.exports.quit(3)
    assert ended.value.outcome == "exit" and ended.value.exit_code == 3


@pytest.mark.parametrize("module", ["c_math", "wat_module"])
def test_a_function_that_never_returns_is_stopped_by_the_timeout(module, request, fails_if_hung):
    artifact = request.getfixturevalue(module)
    with fails_if_hung(20):
        with pytest.raises(CallError, match=r"stopped after 0\.3 s \(the timeout\)") as fresh:
            artifact.exports_with(timeout=0.3).spin()
        assert fresh.value.outcome == "timeout"
        inst = artifact.instantiate(timeout=0.3)
        assert inst.exports.bump() == 1
        with pytest.raises(CallError, match="timeout"):
            inst.exports.spin()
        assert inst.exports.bump() == 2  # each call has its own deadline


def test_the_memory_limit_holds(wat_module):
    big = wagi_nb.build('(module (memory (export "memory") 64) (func (export "f") (result i32) (i32.const 1)))',
                        "wat")
    assert big.exports.f() == 1  # 4 MiB fits the default 256 MiB
    with pytest.raises(CallError, match="could not be instantiated") as refused:
        big.exports_with(memory_limit_mib=1).f()
    assert "1 MiB" in str(refused.value)
    with pytest.raises(CallError, match="could not be instantiated"):
        big.instantiate(memory_limit_mib=1)


# -- other languages --------------------------------------------------------------------------------
RUST = r'''
static mut COUNTER: i64 = 0;

#[no_mangle]
pub extern "C" fn add(a: i32, b: i32) -> i32 { a + b }

#[no_mangle]
pub extern "C" fn half(x: f64) -> f64 { x / 2.0 }

#[no_mangle]
pub extern "C" fn bump() -> i64 { unsafe { COUNTER += 1; COUNTER } }

#[no_mangle]
pub extern "C" fn alloc(len: usize) -> *mut u8 {
    let mut buffer = Vec::with_capacity(len);
    let ptr = buffer.as_mut_ptr();
    std::mem::forget(buffer);
    ptr
}

#[no_mangle]
pub unsafe extern "C" fn dealloc(ptr: *mut u8, len: usize) { drop(Vec::from_raw_parts(ptr, 0, len)) }

#[no_mangle]
pub unsafe extern "C" fn uppercase(ptr: *const u8, len: usize) -> u32 {
    std::slice::from_raw_parts(ptr, len).iter().filter(|c| c.is_ascii_uppercase()).count() as u32
}

fn main() {}
'''


def test_a_rust_cell_exports_functions(need_toolchain):
    need_toolchain("rust")
    artifact = wagi_nb.build(RUST, "rust", name="exports_rust")
    exports = wagi_nb.modules["exports_rust"].exports
    assert exports.add(2, 3) == 5
    assert exports.half(5) == 2.5
    assert str(exports.bump.signature) == "bump() -> i64"
    assert [exports.bump(), exports.bump()] == [1, 1]
    inst = artifact.instantiate()
    assert [inst.exports.bump(), inst.exports.bump()] == [1, 2]
    assert inst.call_with_bytes("uppercase", b"Hello WASM") == 5   # through alloc/dealloc


ZIG = '''
var counter: i32 = 0;
export fn add(a: i32, b: i32) i32 { return a + b; }
export fn mul(a: i64, b: i64) i64 { return a * b; }
export fn bump() i32 { counter += 1; return counter; }
pub fn main() void {}
'''


def test_a_zig_cell_exports_functions(need_toolchain):
    need_toolchain("zig")
    # zig build-exe keeps `export fn`s only with -rdynamic.
    artifact = wagi_nb.build(ZIG, "zig", name="exports_zig", flags=["-rdynamic"])
    assert artifact.exports.add(2, 3) == 5
    assert artifact.exports.mul(-(2**31), 4) == -(2**33)
    inst = artifact.instantiate()
    assert [inst.exports.bump(), inst.exports.bump(), artifact.exports.bump()] == [1, 2, 1]


C_CONSTRUCTED = r'''
#include <stdlib.h>
static int *counter;
static volatile int constructed;
__attribute__((constructor)) static void setup(void) {
    constructed++;
    counter = malloc(sizeof *counter);
    *counter = 100;
}
__attribute__((export_name("bump"))) int bump(void) { return ++*counter; }
__attribute__((export_name("constructed"))) int times_constructed(void) { return constructed; }
'''


def test_a_c_reactor_runs_its_constructors_once(need_toolchain):
    need_toolchain("c")
    # No main: a reactor (wasi-libc's crt1-reactor, exporting _initialize).
    reactor = wagi_nb.build(C_CONSTRUCTED, "c", flags=["-mexec-model=reactor"])
    assert "_initialize" in reactor.load().functions and "_start" not in reactor.load().functions
    inst = reactor.instantiate()
    assert [inst.exports.bump(), inst.exports.bump()] == [101, 102]
    assert inst.exports.constructed() == 1


def test_a_c_command_runs_its_constructors_around_every_export(need_toolchain):
    """What wasm-ld does for a command: documented, so a change in the toolchain shows here."""
    need_toolchain("c")
    command = wagi_nb.build(C_CONSTRUCTED + "int main(void) { return 0; }\n", "c")
    inst = command.instantiate()
    assert [inst.exports.bump(), inst.exports.bump()] == [101, 101]


def test_an_interpreted_cell_has_no_exports_to_call(tmp_path):
    script = wagi_nb.Artifact(language="python", wasm_path=tmp_path / "python.wasm", script_dir=tmp_path)
    with pytest.raises(ExportError, match="no exported functions"):
        script.instantiate()
    with pytest.raises(ExportError, match="no exported functions"):
        script.exports  # noqa: B018


def test_a_named_magic_cell_is_callable_from_python(ipython_shell, need_toolchain):
    need_toolchain("c")
    source = ('__attribute__((export_name("add"))) int add(int a, int b) { return a + b; }\n'
              'int main(void) { return 0; }\n')
    ipython_shell.run_cell_magic("wasm_c", "-n exports_magic --no-run", source)
    assert wagi_nb.modules["exports_magic"].exports.add(20, 22) == 42


RUST_COMMAND = r'''
#[no_mangle]
pub extern "C" fn add(a: i32, b: i32) -> i32 { a + b }

fn main() { println!("main ran"); }
'''


def test_a_command_s_main_is_not_listed_but_stays_callable_by_name(ipython_shell, need_toolchain, capsys):
    """A Rust command exports `main(i32, i32)` beside `_start`: the runtime's, not a function the user
    wrote, so --no-run's listing, dir() and Tab completion leave it out."""
    need_toolchain("rust")
    built = ipython_shell.run_cell_magic("wasm_rust", "-n exports_command --no-run", RUST_COMMAND)
    exports = wagi_nb.modules["exports_command"].exports
    assert {"_start", "main", "add"} <= set(wagi_nb.modules["exports_command"].load().functions)
    listing = repr(built)
    assert "    add(i32, i32) -> i32" in listing
    assert "main" not in listing.split("Exported functions", 1)[1], listing
    assert list(exports) == ["add"] and dir(exports) == ["add"] and len(exports) == 1
    assert "main(" not in repr(exports)
    with pytest.raises(NoSuchExport) as missing:
        exports.nothing()
    assert "It exports: add(i32, i32) -> i32." in str(missing.value)
    ipython_shell.user_ns["listed_exports"] = exports
    with provisionalcompleter():
        offered = {c.text for c in ipython_shell.Completer.completions("listed_exports.", len("listed_exports."))}
    assert "add" in offered and not offered & {"main", "__main_argc_argv", "__main_void", "_start"}, offered
    capsys.readouterr()
    assert exports.main(0, 0) == 0  # asked for by name, it runs as before
    assert capsys.readouterr().out == "main ran\n"
