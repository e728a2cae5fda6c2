// A Wagi test module in Zig (wasm32-wasi). Zig's std I/O API changes between
// releases, so this one talks to WASI through std.os.wasi directly.
const std = @import("std");
const wasi = std.os.wasi;

fn write(s: []const u8) void {
    const iov = [_]wasi.ciovec_t{.{ .base = s.ptr, .len = s.len }};
    var n: usize = 0;
    _ = wasi.fd_write(1, &iov, 1, &n);
}

pub fn main() void {
    write("Content-Type: text/plain\nX-Lang: zig\n\n");
    var argc: usize = 0;
    var size: usize = 0;
    _ = wasi.args_sizes_get(&argc, &size);
    var ptrs: [64][*:0]u8 = undefined;
    var buf: [4096]u8 = undefined;
    if (argc <= 64 and size <= buf.len) {
        _ = wasi.args_get(&ptrs, &buf);
        for (ptrs[0..argc]) |a| {
            write("arg: ");
            write(std.mem.span(a));
            write("\n");
        }
    }
}
