/* The wasi_snapshot_preview1 functions, on WASI 0.2.
 *
 * A Wagi module is a CGI program: stdin is the request body (held in memory),
 * stdout goes to the CGI parser (cgi.c), stderr to the host's stderr. Files
 * are the host's preopened directories (wasi:filesystem; Spin's `files`,
 * `wasmtime serve --dir`). Whatever a toolchain imports and a Wagi module has
 * no use for (sockets, signals, links) answers ENOSYS, so that every module
 * links.
 *
 * Struct layouts (offsets) are those of the preview1 witx; the WASI 0.2
 * return areas are described in wasi02.h.
 */
#include "common.h"
#include "state.h"
#include "wasi02.h"

#define P1 EXPORT

enum { FT_UNKNOWN = 0, FT_BLOCK = 1, FT_CHAR = 2, FT_DIR = 3, FT_FILE = 4, FT_SYMLINK = 7 };
#define RIGHT_FD_READ (1ull << 1)
#define RIGHT_FD_WRITE (1ull << 6)
#define RIGHT_FD_READDIR (1ull << 14)
#define ALL_RIGHTS 0x1fffffffull

/* ---- descriptors ----------------------------------------------------- */

void fds_init(void) {
  state *s = st();
  s->fds[0].kind = FD_STDIN;
  s->fds[1].kind = FD_STDOUT;
  s->fds[2].kind = FD_STDERR;
}

#ifndef WAGI_NO_FS
static void load_preopens(state *s) {
  if (s->preopens_loaded) return;
  s->preopens_loaded = 1;
  u32 ret[2];
  w_get_directories(ret);
  u8 *list = (u8 *)ret[0];
  for (u32 i = 0; i < ret[1] && 3 + i < MAX_FDS; i++) {
    fd_entry *e = &s->fds[3 + i];
    e->kind = FD_DIR;
    e->preopen = 1;
    e->filetype = FT_DIR;
    e->handle = LD32(list, i * 12);
    e->name = (bytes){(const u8 *)LD32(list, i * 12 + 4), LD32(list, i * 12 + 8)};
  }
}
#else
static void load_preopens(state *s) { s->preopens_loaded = 1; }
#endif

static fd_entry *get_fd(u32 fd) {
  state *s = st();
  if (fd >= 3) load_preopens(s);
  if (fd >= MAX_FDS || s->fds[fd].kind == FD_FREE) return NULL;
  return &s->fds[fd];
}

/* wasi:filesystem error-code -> errno. The table is indexed by the enum
 * order of wasi:filesystem 0.2.0 (access, would-block, already, bad-descriptor,
 * busy, deadlock, quota, exist, file-too-large, illegal-byte-sequence,
 * in-progress, interrupted, invalid, io, is-directory, loop, too-many-links,
 * message-size, name-too-long, no-device, no-entry, no-lock,
 * insufficient-memory, insufficient-space, not-directory, not-empty,
 * not-recoverable, unsupported, no-tty, no-such-device, overflow,
 * not-permitted, pipe, read-only, invalid-seek, text-file-busy, cross-device)
 * and packed one errno per byte into immediates (no data section). */
u32 fs_errno(u32 code) {
  u64 t[5] = {0x1413100a08070602ull, 0x201f1d1c1b1a1916ull, 0x33302e2c2b252322ull, 0x3f3d3c3b3a383736ull, 0x1d1d1d4b4a464540ull};
  return code < 37 ? (u32)(t[code / 8] >> (8 * (code % 8))) & 0xff : E_IO;
}

/* descriptor-type -> preview1 filetype */
static u8 filetype_of(u32 t) {
  switch (t) {
    case 1: return FT_BLOCK;
    case 2: return FT_CHAR;
    case 3: return FT_DIR;
    case 5: return FT_SYMLINK;
    case 6: return FT_FILE;
    default: return FT_UNKNOWN;
  }
}

/* ---- args and environment -------------------------------------------- */

static u32 put_strings(bytes *v, u32 n, u32 *ptrs, u8 *buf) {
  for (u32 i = 0; i < n; i++) {
    ptrs[i] = (u32)(usize)buf;
    COPY(buf, v[i].p, v[i].n);
    buf[v[i].n] = 0;
    buf += v[i].n + 1;
  }
  return 0;
}

P1("args_sizes_get") u32 args_sizes_get(u32 *argc, u32 *size) {
  *argc = st()->nargs;
  *size = st()->args_bytes;
  return 0;
}
P1("args_get") u32 args_get(u32 *argv, u8 *buf) { return put_strings(st()->args, st()->nargs, argv, buf); }
P1("environ_sizes_get") u32 environ_sizes_get(u32 *n, u32 *size) {
  *n = st()->nenv;
  *size = st()->env_bytes;
  return 0;
}
P1("environ_get") u32 environ_get(u32 *envp, u8 *buf) { return put_strings(st()->env, st()->nenv, envp, buf); }

/* ---- clocks, random, scheduling ------------------------------------------ */

static u64 wall_ns(void) {
  u64 ret[2];
  w_wall_now(ret);
  return ret[0] * 1000000000ull + (u32)ret[1];
}

P1("clock_time_get") u32 clock_time_get(u32 id, u64 precision, u64 *out) {
  (void)precision;
  if (id == 0) *out = wall_ns();
  else if (id <= 3) *out = w_mono_now(); /* cputime clocks: the monotonic clock */
  else return E_INVAL;
  return 0;
}

P1("clock_res_get") u32 clock_res_get(u32 id, u64 *out) {
  if (id == 0) {
    u64 ret[2];
    w_wall_resolution(ret);
    *out = ret[0] * 1000000000ull + (u32)ret[1];
  } else if (id <= 3) {
    *out = w_mono_resolution();
  } else {
    return E_INVAL;
  }
  return 0;
}

P1("random_get") u32 random_get(u8 *buf, u32 len) {
  u32 ret[2];
  while (len) {
    u32 k = len < 65536 ? len : 65536;
    set_rtarget(buf, k);
    w_random_bytes(k, ret);
    u32 got = ret[1] < k ? ret[1] : k;
    if ((u8 *)ret[0] != buf) COPY(buf, (u8 *)ret[0], got);
    if (!got) return E_IO;
    buf += got;
    len -= got;
  }
  return 0;
}

P1("sched_yield") u32 sched_yield(void) { return 0; }
P1("proc_raise") u32 proc_raise(u32 sig) { (void)sig; return E_NOSYS; }

/* proc_exit: there is no way back into `handle` but a trap, so the response is
 * finished first (the client gets all of it); the host then logs the trap. */
P1("proc_exit") void proc_exit(u32 code) {
  cgi_finish(code);
  __builtin_trap();
}

/* poll_oneoff: clock subscriptions wait on wasi:clocks pollables; descriptor
 * subscriptions are ready at once (stdin is in memory, stdout never blocks
 * the module, files are regular files). */
P1("poll_oneoff") u32 poll_oneoff(const u8 *in, u8 *out, u32 nsubs, u32 *nevents) {
  if (!nsubs) return E_INVAL;
  u32 nev = 0;
  for (u32 i = 0; i < nsubs; i++) {
    const u8 *sub = in + i * 48;
    u8 tag = LD8(sub, 8);
    if (tag == 0) continue;
    u8 *ev = out + nev++ * 32;
    ZERO(ev, 32);
    ST64(ev, 0, LD64(sub, 0));
    ST8(ev, 10, tag);
    u32 fd = LD32(sub, 16);
    fd_entry *e = get_fd(fd);
    if (!e) ST16(ev, 8, E_BADF);
    else if (e->kind == FD_STDIN) ST64(ev, 16, st()->body_len - st()->body_pos);
    else ST64(ev, 16, 1);
  }
  if (nev) {
    *nevents = nev;
    return 0;
  }
  u8 *mark = arena_mark();
  u32 *polls = arena_alloc(nsubs * 4);
  for (u32 i = 0; i < nsubs; i++) {
    const u8 *sub = in + i * 48;
    u32 id = LD32(sub, 16);
    u64 t = LD64(sub, 24);
    int abs = LD16(sub, 40) & 1;
    if (id == 1 && abs) {
      polls[i] = w_mono_subscribe_instant(t);
    } else {
      if (abs && id == 0) {
        u64 now = wall_ns();
        t = t > now ? t - now : 0;
      } else if (abs) {
        u64 now = w_mono_now();
        t = t > now ? t - now : 0;
      }
      polls[i] = w_mono_subscribe_duration(t);
    }
  }
  u32 ret[2];
  w_poll(polls, nsubs, ret);
  u32 *ready = (u32 *)ret[0];
  for (u32 k = 0; k < ret[1]; k++) {
    u8 *ev = out + nev++ * 32;
    ZERO(ev, 32);
    ST64(ev, 0, LD64(in + ready[k] * 48, 0));
    ST8(ev, 10, 0);
  }
  for (u32 i = 0; i < nsubs; i++) w_pollable_drop(polls[i]);
  arena_release(mark);
  *nevents = nev;
  return 0;
}

/* ---- reading and writing --------------------------------------------- */

static u32 file_read(fd_entry *e, u8 *buf, u32 len, u64 off, u32 *got) {
  u32 ret[4];
  set_rtarget(buf, len);
  w_fs_read(e->handle, len, off, ret);
  if ((u8)ret[0]) return fs_errno((u8)ret[1]);
  u32 n = ret[2] < len ? ret[2] : len;
  if ((u8 *)ret[1] != buf && n) COPY(buf, (u8 *)ret[1], n);
  *got = n;
  return 0;
}

static u32 file_write(fd_entry *e, const u8 *buf, u32 len, u64 off, u32 *put) {
  u64 ret[2];
  w_fs_write(e->handle, buf, len, off, ret);
  if ((u8)ret[0]) return fs_errno((u8)ret[1]);
  *put = (u32)ret[1];
  return 0;
}

static u32 file_size(fd_entry *e, u64 *size) {
  u64 ret[13];
  w_fs_stat(e->handle, ret);
  if ((u8)ret[0]) return fs_errno((u8)ret[1]);
  *size = ret[3];
  return 0;
}

P1("fd_write") u32 fd_write(u32 fd, const u32 *iovs, u32 n, u32 *nwritten) {
  fd_entry *e = get_fd(fd);
  if (!e) return E_BADF;
  u32 total = 0;
  for (u32 i = 0; i < n; i++) {
    const u8 *p = (const u8 *)iovs[2 * i];
    u32 len = iovs[2 * i + 1];
    if (!len) continue;
    if (e->kind == FD_STDOUT) {
      cgi_stdout_write(p, len);
    } else if (e->kind == FD_STDERR) {
      stderr_write(p, len);
    } else if (e->kind == FD_FILE) {
      u32 put = 0, err;
      if (e->append && (err = file_size(e, &e->pos))) return err;
      if ((err = file_write(e, p, len, e->pos, &put))) return total ? (*nwritten = total, 0) : err;
      e->pos += put;
      total += put;
      if (put < len) break;
      continue;
    } else {
      return E_BADF;
    }
    total += len;
  }
  *nwritten = total;
  return 0;
}

P1("fd_pwrite") u32 fd_pwrite(u32 fd, const u32 *iovs, u32 n, u64 off, u32 *nwritten) {
  fd_entry *e = get_fd(fd);
  if (!e) return E_BADF;
  if (e->kind != FD_FILE) return e->kind == FD_DIR ? E_ISDIR : E_SPIPE;
  u32 total = 0;
  for (u32 i = 0; i < n; i++) {
    u32 put = 0, len = iovs[2 * i + 1], err;
    if ((err = file_write(e, (const u8 *)iovs[2 * i], len, off + total, &put))) return total ? (*nwritten = total, 0) : err;
    total += put;
    if (put < len) break;
  }
  *nwritten = total;
  return 0;
}

P1("fd_read") u32 fd_read(u32 fd, const u32 *iovs, u32 n, u32 *nread) {
  fd_entry *e = get_fd(fd);
  state *s = st();
  if (!e) return E_BADF;
  u32 total = 0;
  for (u32 i = 0; i < n; i++) {
    u8 *p = (u8 *)iovs[2 * i];
    u32 len = iovs[2 * i + 1];
    if (e->kind == FD_STDIN) {
      u64 left = s->body_len - s->body_pos;
      u32 k = len < left ? len : (u32)left;
      COPY(p, s->body + s->body_pos, k);
      s->body_pos += k;
      total += k;
      if (k < len) break;
    } else if (e->kind == FD_FILE) {
      u32 got = 0, err = file_read(e, p, len, e->pos, &got);
      if (err) return total ? (*nread = total, 0) : err;
      e->pos += got;
      total += got;
      if (got < len) break;
    } else {
      return e->kind == FD_DIR ? E_ISDIR : E_BADF;
    }
  }
  *nread = total;
  return 0;
}

P1("fd_pread") u32 fd_pread(u32 fd, const u32 *iovs, u32 n, u64 off, u32 *nread) {
  fd_entry *e = get_fd(fd);
  if (!e) return E_BADF;
  if (e->kind != FD_FILE) return e->kind == FD_DIR ? E_ISDIR : E_SPIPE;
  u32 total = 0;
  for (u32 i = 0; i < n; i++) {
    u32 len = iovs[2 * i + 1], got = 0, err = file_read(e, (u8 *)iovs[2 * i], len, off + total, &got);
    if (err) return total ? (*nread = total, 0) : err;
    total += got;
    if (got < len) break;
  }
  *nread = total;
  return 0;
}

P1("fd_seek") u32 fd_seek(u32 fd, i64 off, u32 whence, u64 *newoff) {
  fd_entry *e = get_fd(fd);
  if (!e) return E_BADF;
  if (e->kind != FD_FILE) return e->kind == FD_DIR ? E_BADF : E_SPIPE;
  i64 base;
  if (whence == 0) base = 0;
  else if (whence == 1) base = (i64)e->pos;
  else if (whence == 2) {
    u64 size;
    u32 err = file_size(e, &size);
    if (err) return err;
    base = (i64)size;
  } else return E_INVAL;
  if (base + off < 0) return E_INVAL;
  e->pos = (u64)(base + off);
  *newoff = e->pos;
  return 0;
}

P1("fd_tell") u32 fd_tell(u32 fd, u64 *out) {
  fd_entry *e = get_fd(fd);
  if (!e) return E_BADF;
  if (e->kind != FD_FILE) return E_SPIPE;
  *out = e->pos;
  return 0;
}

P1("fd_close") u32 fd_close(u32 fd) {
  fd_entry *e = get_fd(fd);
  if (!e) return E_BADF;
#ifndef WAGI_NO_FS
  if (e->kind == FD_FILE || e->kind == FD_DIR) {
    if (e->dir_stream) w_fs_dir_stream_drop(e->dir_stream);
    w_fs_drop(e->handle);
  }
#endif
  if (e->kind >= FD_DIR) ZERO(e, sizeof(*e));
  return 0;
}

P1("fd_renumber") u32 fd_renumber(u32 from, u32 to) {
  fd_entry *a = get_fd(from);
  if (!a || to >= MAX_FDS) return E_BADF;
  if (from == to) return 0;
  if (get_fd(to)) fd_close(to);
  state *s = st();
  s->fds[to] = *a;
  ZERO(a, sizeof(*a));
  return 0;
}

P1("fd_fdstat_get") u32 fd_fdstat_get(u32 fd, u8 *buf) {
  fd_entry *e = get_fd(fd);
  if (!e) return E_BADF;
  ZERO(buf, 24);
  /* stdio: not a character device, so libc treats stdout as a pipe and
   * buffers it fully rather than by line. */
  ST8(buf, 0, e->kind <= FD_STDERR ? FT_UNKNOWN : e->filetype);
  ST16(buf, 2, e->append ? 1 : 0);
  ST64(buf, 8, ALL_RIGHTS);
  ST64(buf, 16, ALL_RIGHTS);
  return 0;
}

P1("fd_fdstat_set_flags") u32 fd_fdstat_set_flags(u32 fd, u32 flags) {
  fd_entry *e = get_fd(fd);
  if (!e) return E_BADF;
  if (e->kind == FD_FILE) e->append = flags & 1;
  return 0;
}
P1("fd_fdstat_set_rights") u32 fd_fdstat_set_rights(u32 fd, u64 a, u64 b) {
  (void)a; (void)b;
  return get_fd(fd) ? 0 : E_BADF;
}

static void put_filestat(u8 *buf, const u8 *stat /* descriptor-stat */) {
  ZERO(buf, 64);
  ST8(buf, 16, filetype_of(LD8(stat, 0)));
  ST64(buf, 24, LD64(stat, 8));
  ST64(buf, 32, LD64(stat, 16));
  if (LD8(stat, 24)) ST64(buf, 40, LD64(stat, 32) * 1000000000ull + LD32(stat, 40));
  if (LD8(stat, 48)) ST64(buf, 48, LD64(stat, 56) * 1000000000ull + LD32(stat, 64));
  if (LD8(stat, 72)) ST64(buf, 56, LD64(stat, 80) * 1000000000ull + LD32(stat, 88));
}

P1("fd_filestat_get") u32 fd_filestat_get(u32 fd, u8 *buf) {
  fd_entry *e = get_fd(fd);
  if (!e) return E_BADF;
  if (e->kind <= FD_STDERR) {
    ZERO(buf, 64);
    ST8(buf, 16, FT_UNKNOWN);
    return 0;
  }
  u64 ret[13];
  w_fs_stat(e->handle, ret);
  if ((u8)ret[0]) return fs_errno((u8)ret[1]);
  put_filestat(buf, (u8 *)ret + 8);
  return 0;
}

P1("path_filestat_get") u32 path_filestat_get(u32 fd, u32 flags, const u8 *path, u32 len, u8 *buf) {
  fd_entry *e = get_fd(fd);
  if (!e) return E_BADF;
  if (e->kind != FD_DIR) return E_NOTDIR;
  u64 ret[13];
  w_fs_stat_at(e->handle, flags & 1, path, len, ret);
  if ((u8)ret[0]) return fs_errno((u8)ret[1]);
  put_filestat(buf, (u8 *)ret + 8);
  return 0;
}

P1("fd_filestat_set_size") u32 fd_filestat_set_size(u32 fd, u64 size) {
  fd_entry *e = get_fd(fd);
  if (!e) return E_BADF;
  if (e->kind != FD_FILE) return E_INVAL;
  u8 ret[4];
  w_fs_set_size(e->handle, size, ret);
  return ret[0] ? fs_errno(ret[1]) : 0;
}

P1("fd_prestat_get") u32 fd_prestat_get(u32 fd, u8 *buf) {
  fd_entry *e = get_fd(fd);
  if (!e || !e->preopen) return E_BADF;
  ST8(buf, 0, 0);
  ST32(buf, 4, e->name.n);
  return 0;
}

P1("fd_prestat_dir_name") u32 fd_prestat_dir_name(u32 fd, u8 *path, u32 len) {
  fd_entry *e = get_fd(fd);
  if (!e || !e->preopen) return E_BADF;
  if (len < e->name.n) return E_INVAL;
  COPY(path, e->name.p, e->name.n);
  return 0;
}

P1("path_open") u32 path_open(u32 dirfd, u32 dirflags, const u8 *path, u32 len, u32 oflags, u64 rights,
                              u64 rights_inh, u32 fdflags, u32 *out) {
  (void)rights_inh;
  fd_entry *d = get_fd(dirfd);
  if (!d) return E_BADF;
  if (d->kind != FD_DIR) return E_NOTDIR;
  state *s = st();
  u32 fd = 3;
  while (fd < MAX_FDS && s->fds[fd].kind != FD_FREE) fd++;
  if (fd == MAX_FDS) return 33; /* EMFILE */
  u32 flags = 0;
  if (rights & (RIGHT_FD_READ | RIGHT_FD_READDIR)) flags |= 1;
  if (rights & RIGHT_FD_WRITE) flags |= 2;
  if (!flags) flags = 1;
  if (oflags & 2) flags &= ~2u; /* a directory is never opened for writing */
  u32 ret[2];
  w_fs_open_at(d->handle, dirflags & 1, path, len, oflags & 15, flags, ret);
  if ((u8)ret[0]) return fs_errno((u8)ret[1]);
  fd_entry *e = &s->fds[fd];
  ZERO(e, sizeof(*e));
  e->handle = ret[1];
  u8 tr[2];
  w_fs_get_type(e->handle, tr);
  e->filetype = tr[0] ? FT_UNKNOWN : filetype_of(tr[1]);
  e->kind = e->filetype == FT_DIR ? FD_DIR : FD_FILE;
  e->append = fdflags & 1;
  *out = fd;
  return 0;
}

/* fd_readdir: the cookie is the index of the next entry. The entry stream is
 * kept between calls; a cookie that is not where the stream stands reopens it
 * and skips ahead. No "." and ".." entries (WASI 0.2 has none). */
P1("fd_readdir") u32 fd_readdir(u32 fd, u8 *buf, u32 buf_len, u64 cookie, u32 *used) {
  fd_entry *e = get_fd(fd);
  if (!e) return E_BADF;
  if (e->kind != FD_DIR) return E_NOTDIR;
  u32 ret[5];
  if (!e->dir_stream || e->dir_cookie != cookie) {
    if (e->dir_stream) w_fs_dir_stream_drop(e->dir_stream);
    e->dir_stream = 0;
    w_fs_read_directory(e->handle, ret);
    if ((u8)ret[0]) return fs_errno((u8)ret[1]);
    e->dir_stream = ret[1];
    e->dir_cookie = 0;
  }
  u8 *mark = arena_mark();
  u32 pos = 0;
  for (;;) {
    w_fs_read_dir_entry(e->dir_stream, ret);
    if ((u8)ret[0]) { arena_release(mark); return fs_errno((u8)ret[1]); }
    if (!(u8)ret[1]) break; /* end of directory */
    e->dir_cookie++;
    if (e->dir_cookie <= cookie) continue; /* skipping to the cookie */
    u8 ent[24];
    u32 nlen = ret[4];
    ZERO(ent, 24);
    ST64(ent, 0, e->dir_cookie);
    ST32(ent, 16, nlen);
    ST8(ent, 20, filetype_of((u8)ret[2]));
    u32 k = buf_len - pos < 24 ? buf_len - pos : 24;
    COPY(buf + pos, ent, k);
    pos += k;
    k = buf_len - pos < nlen ? buf_len - pos : nlen;
    COPY(buf + pos, (u8 *)ret[3], k);
    pos += k;
    arena_release(mark);
    if (pos == buf_len) break; /* full: the caller comes back with this cookie */
  }
  arena_release(mark);
  *used = pos;
  return 0;
}

static u32 path_op(u32 fd, const u8 *path, u32 len, u32 op) {
  fd_entry *e = get_fd(fd);
  if (!e) return E_BADF;
  if (e->kind != FD_DIR) return E_NOTDIR;
  u8 ret[4];
  if (op == 0) w_fs_mkdir_at(e->handle, path, len, ret);
  else if (op == 1) w_fs_rmdir_at(e->handle, path, len, ret);
  else w_fs_unlink_at(e->handle, path, len, ret);
  return ret[0] ? fs_errno(ret[1]) : 0;
}
P1("path_create_directory") u32 path_create_directory(u32 fd, const u8 *p, u32 n) { return path_op(fd, p, n, 0); }
P1("path_remove_directory") u32 path_remove_directory(u32 fd, const u8 *p, u32 n) { return path_op(fd, p, n, 1); }
P1("path_unlink_file") u32 path_unlink_file(u32 fd, const u8 *p, u32 n) { return path_op(fd, p, n, 2); }

/* ---- accepted and refused ----------------------------------------------- */

P1("fd_advise") u32 fd_advise(u32 fd, u64 a, u64 b, u32 c) { (void)a; (void)b; (void)c; return get_fd(fd) ? 0 : E_BADF; }
P1("fd_allocate") u32 fd_allocate(u32 fd, u64 a, u64 b) { (void)fd; (void)a; (void)b; return E_NOTSUP; }
P1("fd_datasync") u32 fd_datasync(u32 fd) { return get_fd(fd) ? 0 : E_BADF; }
P1("fd_sync") u32 fd_sync(u32 fd) { return get_fd(fd) ? 0 : E_BADF; }
P1("fd_filestat_set_times") u32 fd_filestat_set_times(u32 fd, u64 a, u64 m, u32 f) { (void)fd; (void)a; (void)m; (void)f; return E_NOSYS; }
P1("path_filestat_set_times") u32 path_filestat_set_times(u32 fd, u32 fl, const u8 *p, u32 n, u64 a, u64 m, u32 f) {
  (void)fd; (void)fl; (void)p; (void)n; (void)a; (void)m; (void)f;
  return E_NOSYS;
}
P1("path_link") u32 path_link(u32 a, u32 b, const u8 *c, u32 d, u32 e, const u8 *f, u32 g) {
  (void)a; (void)b; (void)c; (void)d; (void)e; (void)f; (void)g;
  return E_NOSYS;
}
P1("path_readlink") u32 path_readlink(u32 a, const u8 *b, u32 c, u8 *d, u32 e, u32 *f) {
  (void)a; (void)b; (void)c; (void)d; (void)e; (void)f;
  return E_NOSYS;
}
P1("path_rename") u32 path_rename(u32 a, const u8 *b, u32 c, u32 d, const u8 *e, u32 f) {
  (void)a; (void)b; (void)c; (void)d; (void)e; (void)f;
  return E_NOSYS;
}
P1("path_symlink") u32 path_symlink(const u8 *a, u32 b, u32 c, const u8 *d, u32 e) {
  (void)a; (void)b; (void)c; (void)d; (void)e;
  return E_NOSYS;
}
P1("sock_accept") u32 sock_accept(u32 a, u32 b, u32 *c) { (void)a; (void)b; (void)c; return E_NOSYS; }
P1("sock_recv") u32 sock_recv(u32 a, u32 b, u32 c, u32 d, u32 *e, u32 *f) {
  (void)a; (void)b; (void)c; (void)d; (void)e; (void)f;
  return E_NOSYS;
}
P1("sock_send") u32 sock_send(u32 a, u32 b, u32 c, u32 d, u32 *e) { (void)a; (void)b; (void)c; (void)d; (void)e; return E_NOSYS; }
P1("sock_shutdown") u32 sock_shutdown(u32 a, u32 b) { (void)a; (void)b; return E_NOSYS; }
