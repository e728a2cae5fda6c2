"""Files in read-only volumes and stdin are read by wagi_nb (``volume_files.py``, ``stdio.py``):
the bytes, positions and errors a module sees are wasmtime's own.

wasmtime-py 50 hands every file read to a thread of its own runtime (~58 µs per 4 KiB); wagi_nb
reads a read-only volume's files and the request body itself. The same operations on the same
file in a read-write volume (still wasmtime's) are the reference: a differential property test
drives both with the same random script of reads, seeks, tells and positioned reads.
"""
from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

import wagi_nb

#: Runs a script of file operations given as arguments, one line of output per operation:
#: ``r N`` read(N), ``s WHENCE OFFSET`` lseek, ``t`` lseek(0, SEEK_CUR), ``p N OFFSET`` pread,
#: ``o PATH`` open (read-only), ``c`` close, ``x PATH`` open a second file, ``m`` renumber the
#: first file onto the second one's descriptor (closing that one, as WASI's ``fd_renumber`` does).
FILE_OPS_C = r"""
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <wasi/api.h>

static void show(const char *what, long n, const unsigned char *buf) {
    unsigned long sum = 0;
    for (long i = 0; i < n; i++) sum = sum * 31 + buf[i];
    printf("%s %ld %lu\n", what, n, sum);
}

int main(int argc, char **argv) {
    static unsigned char buf[1 << 17];
    int fd = -1, other = -1;
    for (int i = 1; i < argc; i++) {
        char op = argv[i][0];
        if (op == 'o') { fd = open(argv[++i], O_RDONLY); printf("o %d %d\n", fd >= 0, fd < 0 ? errno : 0); }
        else if (op == 'c') { printf("c %d\n", close(fd)); }
        else if (op == 'r') { long n = read(fd, buf, atol(argv[++i]));
                              if (n < 0) printf("r err %d\n", errno); else show("r", n, buf); }
        else if (op == 's') { int w = atoi(argv[++i]); long off = atol(argv[++i]);
                              long at = lseek(fd, off, w == 0 ? SEEK_SET : w == 1 ? SEEK_CUR : SEEK_END);
                              if (at < 0) printf("s err %d\n", errno); else printf("s %ld\n", at); }
        else if (op == 't') { printf("t %ld\n", (long)lseek(fd, 0, SEEK_CUR)); }
        else if (op == 'p') { long n = atol(argv[++i]); long off = atol(argv[++i]);
                              long got = pread(fd, buf, n, off);
                              if (got < 0) printf("p err %d\n", errno); else show("p", got, buf); }
        else if (op == 'x') { other = open(argv[++i], O_RDONLY); printf("x %d\n", other >= 0); }
        else if (op == 'm') { printf("m %d\n", __wasi_fd_renumber(fd, other)); fd = other; }
    }
    return 0;
}
"""


@pytest.fixture(scope="module")
def file_ops(need_toolchain):
    need_toolchain("c")
    return wagi_nb.build(FILE_OPS_C, "c", name="file_ops")


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    """The same file in a folder mounted read-only (wagi_nb reads it) and one mounted read-write
    (wasmtime reads it)."""
    data = bytes((i * 7 + i // 251) % 256 for i in range(150_000))
    made = {}
    for name in ("ro", "rw"):
        folder = tmp_path_factory.mktemp(name)
        (folder / "data.bin").write_bytes(data)
        (folder / "sub").mkdir()
        (folder / "sub" / "inner.txt").write_text("inner file\n")
        made[name] = folder
    return made


def run_both(file_ops, folders, ops):
    ro = file_ops.run(ops, dirs=[f"{folders['ro']}:/v:ro"])
    rw = file_ops.run(ops, dirs=[f"{folders['rw']}:/v"])
    assert ro.outcome == rw.outcome == "ok", (ro.stderr, rw.stderr, ro.trap, rw.trap)
    return ro.text, rw.text


def test_reads_seeks_and_tells_are_wasmtime_s(file_ops, folders):
    ops = ["o", "/v/data.bin", "r", "4096", "r", "4096", "t", "s", "1", "-100", "r", "300", "s", "2", "-10",
           "r", "4096", "r", "4096", "s", "0", "149990", "r", "50", "s", "0", "-1", "t", "p", "1000", "5",
           "t", "r", "131072", "c"]
    ours, theirs = run_both(file_ops, folders, ops)
    assert ours == theirs
    assert "r 4096 " in ours and "r 10 " in ours and "r 0 0" in ours and "s err 28" in ours  # EINVAL


def test_a_renumbered_file_keeps_its_position_and_a_folder_opened_in_the_volume_works(file_ops, folders):
    ops = ["o", "/v/data.bin", "r", "1000", "x", "/v/sub/inner.txt", "r", "3", "m", "r", "10", "t", "c",
           "o", "/v/sub/../sub/inner.txt", "r", "100", "c", "o", "/v/sub/missing", "o", "/v/../etc/passwd"]
    ours, theirs = run_both(file_ops, folders, ops)
    assert ours == theirs
    assert "m 0\nr 10 " in ours and "t 1013\n" in ours and "r 11 " in ours


def test_a_symlink_out_of_a_read_only_volume_is_refused_and_one_inside_is_followed(file_ops, tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("host secret\n")
    volume = tmp_path / "volume"
    volume.mkdir()
    (volume / "data.txt").write_text("in the volume\n")
    os.symlink(secret, volume / "out")
    os.symlink("data.txt", volume / "in")
    run = file_ops.run(["o", "/v/out", "r", "100", "o", "/v/in", "r", "100"], dirs=[f"{volume}:/v:ro"])
    lines = run.text.splitlines()
    assert lines[0].startswith("o 0 ") and lines[2] == "o 1 0", lines
    expected = sum(0 for _ in ())
    for byte in b"in the volume\n":
        expected = (expected * 31 + byte) % (1 << 32)  # (unsigned long: 32 bits on wasm32)
    assert lines[3] == f"r 14 {expected}", lines


def test_a_run_leaves_no_host_descriptor_open(file_ops, folders):
    before = len(os.listdir("/proc/self/fd"))
    for _ in range(30):  # the module never closes what it opened
        file_ops.run(["o", "/v/data.bin", "r", "10", "o", "/v/sub/inner.txt"], dirs=[f"{folders['ro']}:/v:ro"])
    assert len(os.listdir("/proc/self/fd")) <= before + 2


OPS = st.one_of(
    st.tuples(st.just("r"), st.integers(0, 70_000).map(str)),
    st.tuples(st.just("s"), st.sampled_from(["0", "1", "2"]), st.integers(-160_000, 160_000).map(str)),
    st.tuples(st.just("t")),
    st.tuples(st.just("p"), st.integers(0, 9000).map(str), st.integers(0, 160_000).map(str)),
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(OPS, max_size=20))
def test_any_script_of_reads_and_seeks_reads_what_wasmtime_reads(file_ops, folders, script):
    ops = ["o", "/v/data.bin", *(arg for op in script for arg in op), "c"]
    ours, theirs = run_both(file_ops, folders, ops)
    assert ours == theirs


# -- stdin, from memory ---------------------------------------------------------------------------------
STDIN_C = r"""
#include <stdio.h>
#include <unistd.h>
int main(void) {
    char buf[7000];
    long n, total = 0, calls = 0;
    while ((n = read(0, buf, sizeof buf)) > 0) { total += n; calls++; fwrite(buf, 1, n, stdout); }
    printf("\n%ld bytes in %ld reads, then %ld\n", total, calls, n);
    return 0;
}
"""


@pytest.mark.parametrize("size", [0, 1, 6999, 7000, 7001, 100_000])
def test_stdin_gives_the_whole_body_then_end_of_file(need_toolchain, size):
    need_toolchain("c")
    module = wagi_nb.build(STDIN_C, "c", name="stdin_reader")
    body = bytes((i * 13) % 256 for i in range(size))
    run = module.run(stdin=body)
    data, _, tail = run.stdout.rpartition(b"\n")[0].rpartition(b"\n")
    assert data == body
    assert tail.decode() == f"{size} bytes in {-(-size // 7000)} reads, then 0"
