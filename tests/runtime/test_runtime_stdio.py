"""A run's standard streams are pipes, as Wagi's and Spin's are, and its wasm stack is Wagi's.

Measured with the real peers: Wagi 0.8.1 writes every iovec of an ``fd_write`` to stdout, where
wasmtime-py's own writes only the first (a short write), so a module that writes a line as two
iovecs and ignores the count it gets back answered 500 under wagi-nb and 200 under Wagi. Its
stdio cannot be seeked. Real modules: WAT for exact system calls, C for files in a volume.
"""
from __future__ import annotations

import pytest
from hypothesis import given, settings, strategies as st

import wagi_nb
from wagi_nb.runtime.exports import CallError
from wagi_nb.wagi import WagiApp

ESPIPE, EBADF = 70, 8


def iovec_module(*pieces: bytes, fd: int = 1) -> str:
    """A module that writes ``pieces`` as one ``fd_write`` of that many iovecs, ignoring the count
    written, then ends."""
    data, iovecs, offset = [], [], 256
    for index, piece in enumerate(pieces):
        escaped = "".join("\\%02x" % byte for byte in piece)
        data.append(f'  (data (i32.const {offset}) "{escaped}")')
        iovecs.append(f"    (i32.store (i32.const {8 * index}) (i32.const {offset}))\n"
                      f"    (i32.store (i32.const {8 * index + 4}) (i32.const {len(piece)}))")
        offset += len(piece)
    return ("(module\n"
            '  (import "wasi_snapshot_preview1" "fd_write" (func $w (param i32 i32 i32 i32) (result i32)))\n'
            '  (memory (export "memory") 1)\n' + "\n".join(data) + "\n"
            '  (func (export "_start")\n' + "\n".join(iovecs) + "\n"
            f"    (drop (call $w (i32.const {fd}) (i32.const 0) (i32.const {len(pieces)}) (i32.const 200)))))\n")


def test_every_iovec_of_a_write_reaches_stdout():
    module = wagi_nb.build(iovec_module(b"Content-Type: text/plain", b"\n", b"\n", b"", b"whole body\n"), "wat")
    assert module.run().stdout == b"Content-Type: text/plain\n\nwhole body\n"
    app = WagiApp()
    app.add_route("/lines", module)
    response = app.request("GET", "/lines")
    assert (response.status, response.body) == (200, b"whole body\n")


def test_every_iovec_of_a_write_reaches_stderr():
    module = wagi_nb.build(iovec_module(b"one ", b"two ", b"three\n", fd=2), "wat")
    assert module.run().stderr == b"one two three\n"


#: Reports (on stdout, as decimal-free bytes) the errno of fd_seek, fd_tell and fd_pwrite on stdout,
#: and of a write to stdout after fd_close(1).
PIPE_PROBE = r"""(module
  (import "wasi_snapshot_preview1" "fd_write" (func $write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_seek" (func $seek (param i32 i64 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_tell" (func $tell (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_pwrite" (func $pwrite (param i32 i32 i32 i64 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_close" (func $close (param i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 100) "x")
  (func $report (param $errno i32)
    (i32.store8 (i32.const 300) (local.get $errno))
    (i32.store (i32.const 0) (i32.const 300)) (i32.store (i32.const 4) (i32.const 1))
    (drop (call $write (i32.const 2) (i32.const 0) (i32.const 1) (i32.const 8))))
  (func (export "_start")
    (i32.store (i32.const 16) (i32.const 100)) (i32.store (i32.const 20) (i32.const 1))
    (call $report (call $seek (i32.const 1) (i64.const 0) (i32.const 0) (i32.const 40)))
    (call $report (call $tell (i32.const 1) (i32.const 40)))
    (call $report (call $pwrite (i32.const 1) (i32.const 16) (i32.const 1) (i64.const 0) (i32.const 40)))
    (call $report (call $seek (i32.const 0) (i64.const 0) (i32.const 0) (i32.const 40)))
    (call $report (call $write (i32.const 1) (i32.const 16) (i32.const 1) (i32.const 40)))
    (call $report (call $close (i32.const 1)))
    (call $report (call $write (i32.const 1) (i32.const 16) (i32.const 1) (i32.const 40)))))
"""


def test_stdio_cannot_be_seeked_and_a_closed_stdout_is_closed():
    result = wagi_nb.build(PIPE_PROBE, "wat").run(stdin=b"input")
    # seek, tell, pwrite on stdout and seek on stdin: ESPIPE, as on a pipe; a write: done; close:
    # done; a write to the closed stdout: EBADF.
    assert list(result.stderr) == [ESPIPE, ESPIPE, ESPIPE, ESPIPE, 0, 0, EBADF]
    assert result.stdout == b"x"


FILE_WRITER = r"""#include <stdio.h>
#include <fcntl.h>
#include <unistd.h>
#include <sys/uio.h>
#include <wasi/api.h>

int main(void) {
    int fd = open("/data/out.txt", O_CREAT | O_WRONLY | O_TRUNC, 0644);
    struct iovec pieces[3] = {{"one ", 4}, {"two ", 4}, {"three\n", 6}};
    size_t written = 0;
    __wasi_ciovec_t raw[3] = {{(const uint8_t *)"one ", 4}, {(const uint8_t *)"two ", 4},
                              {(const uint8_t *)"three\n", 6}};
    __wasi_fd_write(fd, raw, 3, &written);                 /* the raw call: no libc loop */
    ssize_t again = writev(fd, pieces, 3);
    long position = (long)lseek(fd, 0, SEEK_CUR);
    int copy = open("/data/copy.txt", O_CREAT | O_WRONLY | O_TRUNC, 0644);
    __wasi_fd_renumber(copy, 1);                           /* stdout is now the file */
    printf("into the file\n");
    fflush(stdout);
    fprintf(stderr, "raw %zu writev %zd position %ld\n", written, again, position);
    return 0;
}
"""


def test_files_in_a_volume_get_every_iovec_and_keep_seeking(tmp_path, need_toolchain):
    need_toolchain("c")
    result = wagi_nb.build(FILE_WRITER, "c").run(dirs=[(tmp_path, "/data")])
    assert result.ok, result.status
    assert result.stderr == b"raw 14 writev 14 position 28\n"
    assert (tmp_path / "out.txt").read_bytes() == b"one two three\n" * 2
    assert (tmp_path / "copy.txt").read_bytes() == b"into the file\n"
    assert result.stdout == b""


def recursion(depth: int) -> str:
    """A module whose `_start` recurses ``depth`` calls deep (about 30 bytes of wasm stack each)."""
    return f"""(module
  (func $down (param $n i32) (result i64) (local i64 i64 i64 i64 i64 i64 i64 i64)
    (if (result i64) (i32.eqz (local.get $n)) (then (i64.const 1))
      (else (i64.add (call $down (i32.sub (local.get $n) (i32.const 1))) (i64.extend_i32_u (local.get $n))))))
  (func (export "_start") (drop (call $down (i32.const {depth})))))"""


def test_the_wasm_stack_is_wagis_one_mib():
    # 16,000 calls overflow wasmtime-py's default 512 KiB stack (~11,000 fit), and fit in Wagi's 1 MiB (~21,000).
    assert wagi_nb.build(recursion(16_000), "wat").run().ok
    deeper = wagi_nb.build(recursion(100_000), "wat").run()
    assert deeper.outcome == "trap" and "call stack exhausted" in deeper.trap


@pytest.mark.parametrize("inherit", [False, True])
def test_a_module_that_writes_nothing_leaves_nothing(inherit, capfd):
    result = wagi_nb.build(iovec_module(b"", b""), "wat").run(inherit_stdio=inherit)
    assert result.stdout == b"" and result.ok
    assert capfd.readouterr().out == ""


#: fd_write(fd, iovs, count, nwritten) with an iovec (pointer, length) stored at address 0 first; the
#: errno is the export's result. A hostile module names any address it likes.
HOSTILE_WRITE = r"""(module
  (import "wasi_snapshot_preview1" "fd_write" (func $write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 1024) "payload")
  (func (export "attempt") (param $fd i32) (param $iovs i32) (param $count i32) (param $nwritten i32)
                           (param $pointer i32) (param $length i32) (result i32)
    (i32.store (i32.const 0) (local.get $pointer))
    (i32.store (i32.const 4) (local.get $length))
    (call $write (local.get $fd) (local.get $iovs) (local.get $count) (local.get $nwritten)))
  (func (export "_start")))
"""


@settings(max_examples=300, deadline=None)
@given(fd=st.sampled_from([1, 2, 7]), iovs=st.sampled_from([0, 65528, 65532, 65536, 2 ** 31, 2 ** 32 - 8]),
       count=st.sampled_from([0, 1, 2, 8191, 2 ** 29]), nwritten=st.sampled_from([16, 65532, 65533, 2 ** 32 - 1]),
       pointer=st.sampled_from([1024, 65535, 65536, 2 ** 32 - 1]), length=st.sampled_from([0, 7, 64512, 2 ** 31]))
def test_a_hostile_write_traps_as_wasmtime_does_never_a_crash(hostile_write, fd, iovs, count, nwritten,
                                                                pointer, length):
    """Pointers outside the memory trap (wasmtime's own WASI functions, and Wagi's, trap too); the
    process is never at risk. Descriptor 7 is none of the run's: wasmtime's own function answers."""
    try:
        errno = hostile_write.exports.attempt(fd, iovs, count, nwritten, pointer, length)
    except CallError as error:  # (an iovec past the first may point anywhere: the memory is all iovecs)
        assert "out of bounds" in error.trap.lower(), error.trap
        assert fd == 7 or iovs + 8 * count > 65536 or nwritten + 4 > 65536 or count > 1 or \
            pointer + length > 65536, (fd, iovs, count, nwritten, pointer, length)
    else:
        assert errno == 0 if fd in (1, 2) else 0 <= errno <= 76, errno


@pytest.fixture(scope="module")
def hostile_write():
    return wagi_nb.build(HOSTILE_WRITE, "wat")


@pytest.fixture(scope="module")
def hostile_read():
    return wagi_nb.build(HOSTILE_WRITE.replace('"fd_write"', '"fd_read"'), "wat")


@settings(max_examples=200, deadline=None)
@given(fd=st.sampled_from([0, 7]), iovs=st.sampled_from([0, 65528, 65532, 65536, 2 ** 31, 2 ** 32 - 8]),
       count=st.sampled_from([0, 1, 2, 8191, 2 ** 29]), nread=st.sampled_from([16, 65532, 65533, 2 ** 32 - 1]),
       pointer=st.sampled_from([1024, 65535, 65536, 2 ** 32 - 1]), length=st.sampled_from([0, 7, 64512, 2 ** 31]))
def test_a_hostile_read_of_stdin_traps_as_wasmtime_does_never_a_crash(hostile_read, fd, iovs, count, nread,
                                                                        pointer, length):
    """stdin is read from memory by wagi_nb (stdio.py): pointers outside the memory trap as for a
    write; descriptor 7 is none of the run's, and wasmtime's own function answers."""
    try:
        errno = hostile_read.exports.attempt(fd, iovs, count, nread, pointer, length)
    except CallError as error:
        assert "out of bounds" in error.trap.lower(), error.trap
        assert fd == 7 or iovs + 8 * count > 65536 or nread + 4 > 65536 or count > 1 or \
            pointer + length > 65536, (fd, iovs, count, nread, pointer, length)
    else:
        assert errno == 0 if fd == 0 else 0 <= errno <= 76, errno
