"""WAT test modules written byte for byte: a command that writes given bytes to given fds (and may
exit), the hello world built from it, and a module that never ends. The ``wat`` fixture of
``conftest.py`` hands ``program`` and ``LOOP`` to the tests."""
from __future__ import annotations


def escape(data: bytes) -> str:
    """``data`` as the body of a WAT string, every byte spelt as a ``\\xx`` escape."""
    return "".join(f"\\{byte:02x}" for byte in data)


def program(*writes, exit_code=None, exports_start=True, extra="", then_loop=False) -> str:
    """A WAT command that writes ``(fd, bytes)`` pairs, then optionally calls ``proc_exit`` or
    spins forever (``then_loop``).

    Byte-exact: every byte is spelt as a ``\\xx`` escape, so non-UTF-8 output is easy.
    """
    data, body, offset = [], [], 64
    for fd, payload in writes:
        data.append(f'  (data (i32.const {offset}) "{escape(payload)}")')
        body.append(f"    (i32.store (i32.const 0) (i32.const {offset}))\n"
                    f"    (i32.store (i32.const 4) (i32.const {len(payload)}))\n"
                    f"    (drop (call $fd_write (i32.const {fd}) (i32.const 0) (i32.const 1)"
                    f" (i32.const 8)))")
        offset += len(payload) + 8
    if exit_code is not None:
        body.append(f"    (call $proc_exit (i32.const {exit_code}))")
    if then_loop:
        body.append("    (loop $forever (br $forever))")
    export = '(export "_start")' if exports_start else ""
    return ("(module\n"
            '  (import "wasi_snapshot_preview1" "fd_write"\n'
            "    (func $fd_write (param i32 i32 i32 i32) (result i32)))\n"
            '  (import "wasi_snapshot_preview1" "proc_exit" (func $proc_exit (param i32)))\n'
            f'  (memory (export "memory") {offset // 65536 + 1})\n'
            + "\n".join(data) + "\n"
            f"  (func $main {export}\n" + "\n".join(body) + ")\n"
            + extra + ")\n")


#: Prints ``Hello, world!`` and a newline.
HELLO = program((1, b"Hello, world!\n"))

#: A module that never ends (a tight loop: only epoch interruption can stop it).
LOOP = '(module\n  (func (export "_start")\n    (loop $forever (br $forever))))\n'
