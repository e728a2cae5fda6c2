/* The module's stdout as a CGI response (docs/wagi.md, Responses).
 *
 * stdout is parsed as it is written: header lines until the first empty one
 * (carriage returns ignored there), then the body. The body is held back up
 * to BODY_BUFFER_MAX so that the status can still become 500 if the module
 * then fails (a trap, a non-zero exit); past that the response is committed
 * with the status its headers ask for and the rest is streamed out as written,
 * straight from the module's buffers, without a copy.
 */
#include "common.h"
#include "state.h"
#include "wasi02.h"

/* ---- streams ------------------------------------------------------------- */

int stream_write_all(u32 stream, const u8 *p, u64 n) {
  u64 ret[3];
  while (n) {
    w_out_check_write(stream, ret);
    if ((u8)ret[0]) return -1;
    u64 room = ret[1];
    if (!room) {
      u32 pol = w_out_subscribe(stream);
      w_pollable_block(pol);
      w_pollable_drop(pol);
      continue;
    }
    u32 k = (u32)(n < room ? n : room);
    w_out_write(stream, p, k, ret);
    if ((u8)ret[0]) return -1;
    p += k;
    n -= k;
  }
  return 0;
}

void stderr_write(const u8 *p, u32 n) {
  state *s = st();
  u32 ret[3];
  if (!s->stderr_stream) s->stderr_stream = w_get_stderr();
  while (n) {
    u32 k = n < 4096 ? n : 4096; /* blocking-write-and-flush takes at most 4096 bytes */
    w_out_blocking_write_flush(s->stderr_stream, p, k, ret);
    if ((u8)ret[0]) return;
    p += k;
    n -= k;
  }
}

/* ---- building the response --------------------------------------------- */

static void fields_add(u32 f, const u8 *n, u32 nl, const u8 *v, u32 vl) {
  u32 ret[2];
  w_fields_append(f, n, nl, v, vl, ret); /* a name or value the host refuses is dropped */
}

/* Send status and headers; leaves the body stream open in the state.
 * content_length < 0: unknown (the host sends the body chunked). */
static int commit(u32 status, const u8 *hdrs, u32 nhdrs, i64 content_length, int text_plain) {
  state *s = st();
  u32 ret[3];
  u32 f = w_fields_new();
  const u8 *h = hdrs;
  for (u32 i = 0; i < nhdrs; i++) {
    u32 nl = LD32(h, 0), vl = LD32(h, 4);
    fields_add(f, h + 8, nl, h + 8 + nl, vl);
    h += (8 + nl + vl + 3) & ~3u;
  }
  u8 tmp[24];
  if (text_plain) {
    u8 nm[16];
    fields_add(f, nm, (u32)(PUT(nm, "content-type") - nm), tmp, (u32)(PUT(tmp, "text/plain") - tmp));
  }
  if (content_length >= 0) {
    u8 nm[16];
    fields_add(f, nm, (u32)(PUT(nm, "content-length") - nm), tmp, (u32)(put_u64(tmp, (u64)content_length) - tmp));
  }
  u32 resp = w_resp_new(f);
  w_resp_set_status(resp, status);
  w_resp_body(resp, ret);
  if ((u8)ret[0]) return -1;
  s->out_body = ret[1];
  w_outbody_write(s->out_body, ret);
  if ((u8)ret[0]) return -1;
  s->out_stream = ret[1];
  w_outparam_set(s->response_out, 0, resp, 0, 0, 0, 0, 0, 0);
  return 0;
}

static void finish_body(int ok) {
  state *s = st();
  u64 ret[6];
  if (s->out_stream) {
    if (ok) w_out_blocking_flush(s->out_stream, ret);
    w_out_drop(s->out_stream);
    s->out_stream = 0;
  }
  if (s->out_body) {
    if (ok) w_outbody_finish(s->out_body, 0, 0, ret);
    else w_outbody_drop(s->out_body); /* unfinished: the host reports a broken body */
    s->out_body = 0;
  }
}

void respond_simple(u32 status, const u8 *body, u32 len) {
  if (commit(status, 0, 0, len, len != 0) == 0) {
    if (len) stream_write_all(st()->out_stream, body, len);
    finish_body(1);
  }
  st()->out_phase = OUT_DONE;
}

/* ---- parsing the header block ---------------------------------------------- */

static int tchar(u8 c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return 1;
  return c == '!' || c == '#' || c == '$' || c == '%' || c == '&' || c == '\'' || c == '*' || c == '+' ||
         c == '-' || c == '.' || c == '^' || c == '_' || c == '`' || c == '|' || c == '~';
}

static void store_header(state *s, const u8 *n, u32 nl, const u8 *v, u32 vl) {
  u32 need = (8 + nl + vl + 3) & ~3u;
  if (s->hdr_len + need > s->hdr_cap) {
    u32 cap = s->hdr_cap ? s->hdr_cap * 2 : 4096;
    while (cap < s->hdr_len + need) cap *= 2;
    u8 *nb = arena_alloc(cap);
    if (s->hdr_len) COPY(nb, s->hdr_buf, s->hdr_len);
    s->hdr_buf = nb;
    s->hdr_cap = cap;
  }
  u8 *h = s->hdr_buf + s->hdr_len;
  ST32(h, 0, nl);
  ST32(h, 4, vl);
  COPY(h + 8, n, nl);
  COPY(h + 8 + nl, v, vl);
  s->hdr_len += need;
  s->nhdrs++;
}

/* One header line (without CR/LF). Invalid lines are dropped (and noted on
 * stderr), never fatal. */
static void header_line(state *s, const u8 *l, u32 len) {
  u32 c = 0;
  while (c < len && l[c] != ':') c++;
  int ok = c < len && c > 0;
  for (u32 i = 0; ok && i < c; i++) ok = tchar(l[i]);
  u32 vb = c + 1, ve = len;
  while (vb < ve && (l[vb] == ' ' || l[vb] == '\t')) vb++;
  while (ve > vb && (l[ve - 1] == ' ' || l[ve - 1] == '\t')) ve--;
  for (u32 i = vb; ok && i < ve; i++) ok = !((l[i] < 0x20 && l[i] != '\t') || l[i] == 0x7f);
  if (!ok) {
    u8 m[64];
    stderr_write(m, (u32)(PUT(m, "wagi: dropped an invalid CGI header line\n") - m));
    return;
  }
  const u8 *v = l + vb;
  u32 vl = ve - vb;
  if (EQ_LIT_CI(l, c, "status")) {
    if (s->have_status) return; /* singletons: the first one counts */
    s->have_status = 1;
    u32 k = 0, code = 0;
    while (k < vl && v[k] != ' ') k++;
    int good = k > 0 && k <= 3;
    for (u32 i = 0; good && i < k; i++) {
      good = v[i] >= '0' && v[i] <= '9';
      code = code * 10 + (v[i] - '0');
    }
    if (!good || code < 100 || code > 599) s->bad_status = 1;
    s->status = code;
    return;
  }
  if (EQ_LIT_CI(l, c, "content-type")) {
    if (s->have_ct) return;
    s->have_ct = 1;
  } else if (EQ_LIT_CI(l, c, "location")) {
    if (s->have_loc) return;
    s->have_loc = 1;
  } else if (EQ_LIT_CI(l, c, "content-length") || EQ_LIT_CI(l, c, "transfer-encoding") ||
             EQ_LIT_CI(l, c, "connection")) {
    return; /* the server frames the body itself */
  }
  store_header(s, l, c, v, vl);
}

static u32 final_status(state *s) {
  if (s->have_status) return s->status;
  return s->have_loc ? 302 : 200;
}

/* Switch from holding the body back to streaming it. */
static int start_streaming(state *s) {
  if (commit(final_status(s), s->hdr_buf, s->nhdrs, -1, 0)) {
    s->out_phase = OUT_DONE;
    return -1;
  }
  s->out_phase = OUT_BODY_STREAMING;
  if (s->obuf_len) stream_write_all(s->out_stream, s->obuf, s->obuf_len);
  s->obuf_len = 0;
  return 0;
}

static void body_bytes(state *s, const u8 *p, u32 n) {
  if (s->out_phase == OUT_BODY_BUFFERED) {
    /* A response that will be an error anyway (no header, bad Status) keeps
     * nothing of the body. */
    if (s->bad_status || !(s->have_ct || s->have_loc || s->have_status)) return;
    if (s->obuf_len + n <= BODY_BUFFER_MAX) {
      COPY(s->obuf + s->obuf_len, p, n);
      s->obuf_len += n;
      return;
    }
    if (start_streaming(s)) return;
  }
  if (s->out_phase == OUT_BODY_STREAMING) stream_write_all(s->out_stream, p, n);
}

void cgi_stdout_write(const u8 *p, u32 n) {
  state *s = st();
  while (n && s->out_phase == OUT_HEADERS) {
    u8 c = *p++;
    n--;
    if (c == '\r') continue;
    if (c != '\n') {
      if (s->line_len < LINE_MAX) s->line[s->line_len++] = c;
      else s->line_overflow = 1;
      continue;
    }
    if (s->line_len == 0 && !s->line_overflow) {
      s->out_phase = OUT_BODY_BUFFERED;
      break;
    }
    if (!s->line_overflow) header_line(s, s->line, s->line_len);
    s->line_len = 0;
    s->line_overflow = 0;
  }
  if (n && s->out_phase != OUT_HEADERS && s->out_phase != OUT_DONE) body_bytes(s, p, n);
}

/* ---- the end of the run ---------------------------------------------------- */

static void error_response(u32 status, u8 *msg, u32 len) {
  stderr_write(msg, len);
  respond_simple(status, msg, len);
}

/* Called when the entrypoint returns (code 0) or the module calls proc_exit. */
void cgi_finish(u32 code) {
  state *s = st();
  if (s->finished) return;
  s->finished = 1;
  u8 *m = arena_alloc(512), *p = m;
  if (code) {
    if (s->out_phase == OUT_BODY_STREAMING) { /* too late for a 500 */
      finish_body(0);
      return;
    }
    p = PUT(p, "wagi: the module exited with status ");
    p = put_u64(p, code);
    p = PUT(p, ": no response.\n");
    error_response(500, m, (u32)(p - m));
    return;
  }
  if (s->out_phase == OUT_BODY_STREAMING) {
    finish_body(1);
    s->out_phase = OUT_DONE;
    return;
  }
  if (s->out_phase == OUT_DONE) return;
  int have = s->have_ct || s->have_loc || s->have_status;
  int blank = s->out_phase == OUT_BODY_BUFFERED;
  if (!have || !blank) {
    p = PUT(p, "wagi: the module's output is not a CGI response: it must print a Content-Type or "
               "Location header, then a blank line, before the body. ");
    if (!have && !blank) p = PUT(p, "It printed neither.\n");
    else if (!have) p = PUT(p, "It printed no Content-Type, Location or Status header.\n");
    else p = PUT(p, "It printed no blank line after its headers.\n");
    error_response(500, m, (u32)(p - m));
    return;
  }
  if (s->bad_status) {
    p = PUT(p, "wagi: the module printed a Status header that is not a number from 100 to 599.\n");
    error_response(502, m, (u32)(p - m));
    return;
  }
  if (commit(final_status(s), s->hdr_buf, s->nhdrs, (i64)s->obuf_len, 0) == 0) {
    if (s->obuf_len) stream_write_all(s->out_stream, s->obuf, s->obuf_len);
    finish_body(1);
  }
  s->out_phase = OUT_DONE;
}
