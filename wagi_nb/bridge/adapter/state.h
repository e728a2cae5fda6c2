/* The adapter's state block and the memory it takes from the main module. */
#ifndef WAGI_STATE_H
#define WAGI_STATE_H

#include "common.h"

#define PAGE 65536u
#define MAX_FDS 48
#define LINE_MAX 16384u          /* longest CGI header line kept; longer ones are dropped */
#define BODY_BUFFER_MAX (1u << 20) /* response body held back before streaming (see cgi.c) */
#define MAX_ROUTES 32

/* A byte string in adapter memory. */
typedef struct {
  const u8 *p;
  u32 n;
} bytes;

enum fd_kind { FD_FREE = 0, FD_STDIN, FD_STDOUT, FD_STDERR, FD_DIR, FD_FILE };

typedef struct {
  u8 kind;
  u8 preopen;    /* a preopened directory: fd_prestat_* answer for it */
  u8 append;
  u8 filetype;   /* preview1 filetype */
  u32 handle;    /* wasi:filesystem descriptor */
  u64 pos;       /* file position */
  u32 dir_stream;   /* readdir: open directory-entry-stream (0 = none) */
  u64 dir_cookie;   /* readdir: cookie of the next entry the stream yields */
  bytes name;    /* preopen's guest path */
} fd_entry;

typedef struct {
  bytes text;   /* route as configured: "/hello/..." or "/exact" */
  u32 entry;    /* 0 = _start, k = wagi-entry-(k-1) */
} route;

/* CGI output parser phases (cgi.c) */
enum { OUT_HEADERS = 0, OUT_BODY_BUFFERED, OUT_BODY_STREAMING, OUT_DONE };

typedef struct state {
  /* memory: a bump arena of pages taken with memory.grow */
  u32 stack_top;
  u8 *arena_run, *arena_cur, *arena_end; /* current run of pages: [run, end) */
  /* cabi_import_realloc: where the next host-returned list goes (if it fits) */
  u8 *rtarget;
  u32 rtarget_cap;

  /* configuration (component environment: WAGI_NB_*) */
  bytes argv_template;
  int has_argv_template;
  bytes hostname;
  route routes[MAX_ROUTES];
  u32 nroutes;

  /* what the module sees */
  bytes *env;     /* "K=V" strings */
  u32 nenv, env_bytes;
  bytes *args;
  u32 nargs, args_bytes;
  u8 *body;       /* request body (stdin) */
  u64 body_len, body_pos;

  /* the request */
  u32 response_out;   /* response-outparam handle */

  /* stdout parsing (cgi.c) */
  u32 out_phase;
  u8 *line;         /* current header line (LINE_MAX) */
  u32 line_len;
  int line_overflow;
  u8 *hdr_buf;      /* parsed headers: name\0value pairs, see cgi.c */
  u32 hdr_len, hdr_cap, nhdrs;
  int have_ct, have_loc, have_status, bad_status;
  u32 status;
  u8 *obuf;         /* buffered body */
  u64 obuf_len;
  u32 obuf_cap;
  u32 out_body, out_stream;   /* streaming: outgoing-body and its output-stream */

  u32 stderr_stream;

  fd_entry fds[MAX_FDS];
  int preopens_loaded;
  int finished;
} state;

state *st(void);
void *arena_alloc(u32 n);
u8 *arena_mark(void);
void arena_release(u8 *mark);
void set_rtarget(void *p, u32 cap);

/* cgi.c */
void cgi_stdout_write(const u8 *p, u32 n);
void cgi_finish(u32 exit_code);
void respond_simple(u32 status, const u8 *body, u32 len);

/* streams */
int stream_write_all(u32 stream, const u8 *p, u64 n);
void stderr_write(const u8 *p, u32 n);

/* preview1.c */
void fds_init(void);
u32 fs_errno(u32 code);

#endif
