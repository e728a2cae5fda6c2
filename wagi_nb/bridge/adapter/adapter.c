/* wagi_nb's preview1 adapter: runs an unchanged Wagi module (a WASI preview 1
 * command that speaks CGI) as the handler of a `wasi:http/incoming-handler`
 * component.
 *
 * Per request (one instance per request, as Spin and `wasmtime serve` do):
 *  1. read the configuration from the component's environment (WAGI_NB_*,
 *     see read_config) and the request: method, path, authority, headers and
 *     the whole body;
 *  2. pick the route (the module's own, or a `_routes` sub-route), build the
 *     CGI environment and argv exactly as wagi_nb does (docs/wagi.md, Requests);
 *  3. call the module's entrypoint; its preview1 calls land in preview1.c,
 *     its stdout in cgi.c, which turns the CGI output into the response.
 *
 * This file: memory, configuration, request -> environment/argv, `handle`.
 */
#include "common.h"
#include "state.h"
#include "wasi02.h"

int wagi_get_state(void);
void wagi_set_state(int);

/* ---- memory ------------------------------------------------------------ */

/* The adapter has no memory of its own: it takes pages of the module's memory
 * with memory.grow. Where they lie matters, because some allocators claim all
 * the memory that exists when they start (wasi-libc before its PR 377 takes
 * everything up to memory.size as its first heap; Go's runtime does the
 * same) and hand it out from the bottom up, and this adapter must take its
 * pages before the module starts. So the first grow leaves a gap of
 * WAGI_GAP_MIB untouched pages (virtual memory: no host memory is used until
 * touched) below the adapter's region: such a module can allocate about that
 * much before it reaches the adapter's pages. The top page of every run of
 * pages taken is left unused: old dlmalloc writes its top fencepost there.
 * Allocators that respect memory grown by others (wasi-libc since 2023,
 * Rust's and Zig's) just see a larger memory. */
#ifndef WAGI_GAP_MIB
#define WAGI_GAP_MIB 64
#endif
#define STACK_SIZE (64u * 1024)
#define SCRATCH (512u * 1024)

/* Grow by `bytes` (rounded up to pages) plus one guard page; returns the
 * base of the new pages. */
static u8 *grow_pages(u32 bytes, u32 extra_pages) {
  u32 pages = (bytes + PAGE - 1) / PAGE + 1;
  int old = __builtin_wasm_memory_grow(0, pages + extra_pages);
  if (old < 0 && extra_pages) old = __builtin_wasm_memory_grow(0, pages); /* no room for the gap */
  else if (old >= 0) old += extra_pages;
  if (old < 0) __builtin_trap();
  return (u8 *)((usize)old * PAGE);
}

state *st(void) { return (state *)wagi_get_state(); }

void *arena_alloc(u32 n) {
  state *s = st();
  n = (n + 7) & ~7u;
  if ((u32)(s->arena_end - s->arena_cur) < n) {
    u32 want = n < 4 * PAGE ? 4 * PAGE : n;
    u8 *fresh = grow_pages(want, 0);
    u8 *top = fresh + (want + PAGE - 1) / PAGE * PAGE; /* the new guard page starts here */
    if (fresh == s->arena_end + PAGE) {
      s->arena_end = top; /* contiguous: the old guard page joins the run */
    } else {
      s->arena_run = s->arena_cur = fresh;
      s->arena_end = top;
    }
  }
  u8 *p = s->arena_cur;
  s->arena_cur += n;
  return p;
}

/* Temporary allocations: take a mark, release back to it (ignored if the
 * arena moved to a fresh run of pages in between). */
u8 *arena_mark(void) { return st()->arena_cur; }
void arena_release(u8 *mark) {
  state *s = st();
  if (mark >= s->arena_run && mark <= s->arena_cur) s->arena_cur = mark;
}

void set_rtarget(void *p, u32 cap) {
  state *s = st();
  s->rtarget = (u8 *)p;
  s->rtarget_cap = cap;
}

/* The canonical ABI asks for memory here whenever an import returns a list or
 * a string. A caller that wants the bytes in a particular place (the module's
 * own buffer, for fd_read/random_get) sets a target first; everything else
 * comes from the arena. */
EXPORT("cabi_import_realloc")
void *cabi_import_realloc(void *old, u32 old_size, u32 align, u32 new_size) {
  (void)old;
  (void)old_size;
  (void)align;
  state *s = st();
  if (s->rtarget && new_size <= s->rtarget_cap) {
    void *p = s->rtarget;
    s->rtarget = NULL;
    return p;
  }
  s->rtarget = NULL;
  return arena_alloc(new_size ? new_size : 1);
}

/* First thing on entry (called by wagi_enter in globals.s, still on
 * wit-component's stack): take the adapter's region, set up the state, and
 * return the top of the new stack. Layout: [gap][stack][state][arena][guard].
 * Everything the module's run may need is taken now (the body buffer for
 * stdout, scratch space), so that memory does not grow under the module
 * while it runs unless it must: Go does not tolerate that. */
u32 wagi_setup(void) {
  state *s = (state *)wagi_get_state();
  if (s) return s->stack_top;
  u32 ssize = (sizeof(state) + 7) & ~7u;
  u32 region = STACK_SIZE + ssize + LINE_MAX + BODY_BUFFER_MAX + SCRATCH;
  u8 *base = grow_pages(region, WAGI_GAP_MIB * 16);
  s = (state *)(base + STACK_SIZE);
  wagi_set_state((int)s);
  s->stack_top = (u32)(usize)(base + STACK_SIZE);
  s->arena_run = s->arena_cur = (u8 *)s + ssize;
  s->arena_end = base + (region + PAGE - 1) / PAGE * PAGE;
  s->line = arena_alloc(LINE_MAX);
  s->obuf = arena_alloc(BODY_BUFFER_MAX);
  s->obuf_cap = BODY_BUFFER_MAX;
  fds_init();
  return s->stack_top;
}
/* ---- small byte helpers ------------------------------------------------ */

int eq_n(const u8 *p, u32 len, const u8 *lit, u32 n, int ci) {
  if (len != n) return 0;
  for (u32 i = 0; i < n; i++) {
    u8 c = p[i];
    if (ci && c >= 'A' && c <= 'Z') c += 32;
    if (c != lit[i]) return 0;
  }
  return 1;
}

/* Position of c in p[0..n), or n. */
static u32 find(const u8 *p, u32 n, u8 c) {
  u32 i = 0;
  while (i < n && p[i] != c) i++;
  return i;
}

static u32 parse_u32(const u8 *p, u32 n, u32 *out) {
  u32 v = 0, i = 0;
  while (i < n && p[i] >= '0' && p[i] <= '9') v = v * 10 + (p[i++] - '0');
  *out = v;
  return i;
}

static bytes dup(const u8 *p, u32 n) {
  u8 *d = arena_alloc(n);
  COPY(d, p, n);
  return (bytes){d, n};
}

/* ---- configuration ----------------------------------------------------- */

/* The component environment carries the route configuration (wagi_nb writes
 * it into spin.toml's `environment` or `wasmtime serve --env`):
 *   WAGI_NB_ROUTE     the route as configured ("/hello/..."), default "/..."
 *   WAGI_NB_ENTRY     entry slot of that route: 0 = _start, k = wagi-entry-(k-1)
 *   WAGI_NB_ROUTES    `_routes` sub-routes, one "ROUTE SLOT" per line, already
 *                     joined to the parent, in the order they are tried
 *   WAGI_NB_ARGV      argv template ("${SCRIPT_NAME} ${ARGS}")
 *   WAGI_NB_HOSTNAME  --hostname (SERVER_NAME/PORT when Host has none)
 * Every other variable is the module's global environment and is passed on;
 * no WAGI_NB_* variable reaches the module. */
typedef struct {
  bytes *kv; /* module's global env: "K=V" */
  u32 n;
} globals_t;

static void add_route(state *s, const u8 *p, u32 n, u32 entry) {
  if (s->nroutes < MAX_ROUTES) s->routes[s->nroutes++] = (route){dup(p, n), entry};
}

static void parse_routes(state *s, const u8 *p, u32 n) {
  while (n) {
    u32 l = find(p, n, '\n');
    const u8 *line = p;
    u32 len = l;
    p += l < n ? l + 1 : l;
    n -= l < n ? l + 1 : l;
    while (len && (line[len - 1] == '\r' || line[len - 1] == ' ')) len--;
    u32 sp = find(line, len, ' ');
    if (!len || sp == len) continue;
    u32 slot = 0;
    u32 i = sp;
    while (i < len && line[i] == ' ') i++;
    parse_u32(line + i, len - i, &slot);
    add_route(s, line, sp, slot);
  }
}

static NOINLINE void read_config(state *s, globals_t *g, bytes *route_text, u32 *entry) {
  u32 ret[2];
  w_get_environment(ret);
  u8 *list = (u8 *)ret[0];
  u32 n = ret[1];
  g->kv = arena_alloc(n * sizeof(bytes));
  g->n = 0;
  bytes routes = {0, 0};
  for (u32 i = 0; i < n; i++) {
    const u8 *k = (const u8 *)LD32(list, i * 16);
    u32 kn = LD32(list, i * 16 + 4);
    const u8 *v = (const u8 *)LD32(list, i * 16 + 8);
    u32 vn = LD32(list, i * 16 + 12);
    if (STARTS_LIT(k, kn, "WAGI_NB_")) {
      if (EQ_LIT(k, kn, "WAGI_NB_ROUTE")) *route_text = (bytes){v, vn};
      else if (EQ_LIT(k, kn, "WAGI_NB_ENTRY")) parse_u32(v, vn, entry);
      else if (EQ_LIT(k, kn, "WAGI_NB_ROUTES")) routes = (bytes){v, vn};
      else if (EQ_LIT(k, kn, "WAGI_NB_ARGV")) { s->argv_template = (bytes){v, vn}; s->has_argv_template = 1; }
      else if (EQ_LIT(k, kn, "WAGI_NB_HOSTNAME")) s->hostname = (bytes){v, vn};
      continue;
    }
    u8 *e = arena_alloc(kn + 1 + vn);
    COPY(e, k, kn);
    e[kn] = '=';
    COPY(e + kn + 1, v, vn);
    g->kv[g->n++] = (bytes){e, kn + 1 + vn};
  }
  if (routes.n) parse_routes(s, routes.p, routes.n);
}

/* ---- routing ----------------------------------------------------------- */

/* Does the raw path (no query) match the route? "/x/..." is a prefix route:
 * it matches /x, /x/ and /x/a, never /xa; "/..." matches everything. */
static int route_match(bytes r, const u8 *path, u32 plen, u32 *script_len) {
  if (r.n >= 4 && EQ_LIT(r.p + r.n - 4, 4, "/...")) {
    u32 bl = r.n - 4; /* base without "/..." */
    if (plen < bl || !bytes_eq(r.p, bl, path, bl)) return 0;
    if (plen > bl && path[bl] != '/') return 0;
    *script_len = bl;
    return 1;
  }
  if (!bytes_eq(r.p, r.n, path, plen)) return 0;
  *script_len = r.n;
  return 1;
}

/* ---- the CGI environment ----------------------------------------------- */

typedef struct {
  bytes *v;
  u32 n, cap;
  u32 total; /* bytes incl. NULs */
} strlist;

static void sl_add(strlist *l, const u8 *p, u32 n) {
  if (l->n == l->cap) {
    u32 cap = l->cap ? l->cap * 2 : 64;
    bytes *nv = arena_alloc(cap * sizeof(bytes));
    if (l->n) COPY(nv, l->v, l->n * sizeof(bytes));
    l->v = nv;
    l->cap = cap;
  }
  l->v[l->n++] = (bytes){p, n};
  l->total += n + 1;
}

/* Add "NAME=value"; name is a literal. */
static void env_add(strlist *l, const u8 *name, u32 nn, const u8 *v, u32 vn) {
  u8 *e = arena_alloc(nn + 1 + vn);
  COPY(e, name, nn);
  e[nn] = '=';
  if (vn) COPY(e + nn + 1, v, vn);
  sl_add(l, e, nn + 1 + vn);
}
/* The name literal is built on the stack with immediates, then copied. */
#define ENV(l, lit, v, vn)                          \
  do {                                              \
    u8 _nm[sizeof(lit)];                            \
    PUT(_nm, lit);                                  \
    env_add((l), _nm, sizeof(lit) - 1, (v), (vn));  \
  } while (0)

static int hexval(u8 c) {
  if (c >= '0' && c <= '9') return c - '0';
  c = lower(c);
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

/* Percent-decode ("+" stays "+"); returns -1 for an encoded NUL. */
static i32 pct_decode(const u8 *p, u32 n, u8 *out) {
  u32 o = 0;
  for (u32 i = 0; i < n; i++) {
    if (p[i] == '%' && i + 2 < n) {
      int h = hexval(p[i + 1]), l = hexval(p[i + 2]);
      if (h >= 0 && l >= 0) {
        u8 c = (u8)(h * 16 + l);
        if (!c) return -1;
        out[o++] = c;
        i += 2;
        continue;
      }
    }
    out[o++] = p[i];
  }
  return (i32)o;
}

/* Split host[:port] (IPv6 literals in brackets). */
static void split_host(bytes hp, bytes *host, bytes *port) {
  u32 i = hp.n;
  if (hp.n && hp.p[0] == '[') {
    u32 close = find(hp.p, hp.n, ']');
    i = (close < hp.n && close + 1 < hp.n && hp.p[close + 1] == ':') ? close + 1 : hp.n;
  } else {
    while (i && hp.p[i - 1] != ':') i--;
    i = i ? i - 1 : hp.n;
  }
  *host = (bytes){hp.p, i};
  *port = i < hp.n ? (bytes){hp.p + i + 1, hp.n - i - 1} : (bytes){0, 0};
}

typedef struct {
  u32 req;
  bytes method, path, query, authority, scheme;
  int has_query;
  u8 *hdrs; /* fields.entries list: 16-byte items */
  u32 nhdrs;
} request;

static NOINLINE void read_request(request *r, u32 req) {
  u32 ret[4] __attribute__((aligned(8)));
  r->req = req;
  w_req_method(req, ret);
  u8 tag = (u8)ret[0];
  /* method variant: get head post put delete connect options trace patch other(string) */
  u8 *m = arena_alloc(16);
  switch (tag) {
    case 0: r->method = (bytes){m, (u32)(PUT(m, "GET") - m)}; break;
    case 1: r->method = (bytes){m, (u32)(PUT(m, "HEAD") - m)}; break;
    case 2: r->method = (bytes){m, (u32)(PUT(m, "POST") - m)}; break;
    case 3: r->method = (bytes){m, (u32)(PUT(m, "PUT") - m)}; break;
    case 4: r->method = (bytes){m, (u32)(PUT(m, "DELETE") - m)}; break;
    case 5: r->method = (bytes){m, (u32)(PUT(m, "CONNECT") - m)}; break;
    case 6: r->method = (bytes){m, (u32)(PUT(m, "OPTIONS") - m)}; break;
    case 7: r->method = (bytes){m, (u32)(PUT(m, "TRACE") - m)}; break;
    case 8: r->method = (bytes){m, (u32)(PUT(m, "PATCH") - m)}; break;
    default: r->method = (bytes){(u8 *)ret[1], ret[2]}; break;
  }
  w_req_path(req, ret);
  bytes pq = (u8)ret[0] ? (bytes){(u8 *)ret[1], ret[2]} : (bytes){0, 0};
  if (!pq.n) {
    u8 *slash = arena_alloc(1);
    slash[0] = '/';
    pq = (bytes){slash, 1};
  }
  u32 q = find(pq.p, pq.n, '?');
  r->path = (bytes){pq.p, q};
  r->has_query = q < pq.n;
  r->query = r->has_query ? (bytes){pq.p + q + 1, pq.n - q - 1} : (bytes){pq.p, 0};
  w_req_authority(req, ret);
  r->authority = (u8)ret[0] ? (bytes){(u8 *)ret[1], ret[2]} : (bytes){0, 0};
  w_req_scheme(req, ret);
  u8 *sc = arena_alloc(8);
  if ((u8)ret[0] && (u8)ret[1] == 2) r->scheme = (bytes){(u8 *)ret[2], ret[3]};
  else if ((u8)ret[0] && (u8)ret[1] == 1) r->scheme = (bytes){sc, (u32)(PUT(sc, "https") - sc)};
  else r->scheme = (bytes){sc, (u32)(PUT(sc, "http") - sc)};
  u32 h = w_req_headers(req);
  w_fields_entries(h, ret);
  r->hdrs = (u8 *)ret[0];
  r->nhdrs = ret[1];
  w_fields_drop(h);
}

#define HNAME(r, i) ((const u8 *)LD32((r)->hdrs, (i) * 16))
#define HNLEN(r, i) LD32((r)->hdrs, (i) * 16 + 4)
#define HVAL(r, i) ((const u8 *)LD32((r)->hdrs, (i) * 16 + 8))
#define HVLEN(r, i) LD32((r)->hdrs, (i) * 16 + 12)

/* First value of a request header (name given in lower case). */
static int header_get(request *r, const u8 *name, u32 nn, bytes *out) {
  for (u32 i = 0; i < r->nhdrs; i++)
    if (HNLEN(r, i) == nn && eq_ci_bytes(HNAME(r, i), name, nn)) {
      *out = (bytes){HVAL(r, i), HVLEN(r, i)};
      return 1;
    }
  return 0;
}
#define HEADER_GET(r, lit, out)                            \
  ({                                                       \
    u8 _hn[sizeof(lit)];                                   \
    PUT(_hn, lit);                                         \
    header_get((r), _hn, sizeof(lit) - 1, (out));          \
  })

/* Read the whole request body into the arena (before the module runs). */
static NOINLINE void read_body(state *s, request *r) {
  u32 ret[4] __attribute__((aligned(8)));
  bytes cl;
  u32 cap = 0;
  if (HEADER_GET(r, "content-length", &cl)) parse_u32(cl.p, cl.n, &cap);
  w_req_consume(r->req, ret);
  if ((u8)ret[0]) return;
  u32 body = ret[1];
  w_inbody_stream(body, ret);
  if ((u8)ret[0]) { w_inbody_drop(body); return; }
  u32 in = ret[1];
  /* Content-Length is a hint for the first buffer, not trusted beyond 16 MiB
   * (the host limits bodies; the buffer doubles as needed). */
  if (cap < 4096) cap = 4096;
  if (cap > (16u << 20)) cap = 16u << 20;
  u8 *buf = arena_alloc(cap);
  u64 len = 0;
  for (;;) {
    if (len == cap) {
      /* grow: contiguous growth keeps the buffer in place */
      u32 ncap = cap * 2;
      u8 *nb;
      if (s->arena_cur == buf + cap && (u32)(s->arena_end - s->arena_cur) >= cap) {
        s->arena_cur += cap;
        nb = buf;
      } else {
        nb = arena_alloc(ncap);
        COPY(nb, buf, len);
      }
      buf = nb;
      cap = ncap;
    }
    set_rtarget(buf + len, (u32)(cap - len));
    w_in_blocking_read(in, cap - len, ret);
    if ((u8)ret[0]) {
      if ((u8)ret[1] == 0) w_error_drop(ret[2]);
      break; /* closed (or failed): end of body */
    }
    u8 *got = (u8 *)ret[1];
    if (got != buf + len && ret[2]) COPY(buf + len, got, ret[2]); /* did not fit the target */
    len += ret[2];
  }
  s->rtarget = NULL;
  w_in_drop(in);
  w_inbody_drop(body);
  s->body = buf;
  s->body_len = len;
}

static NOINLINE void build_env(state *s, request *r, globals_t *g, bytes route_text, u32 script_len) {
  strlist cgi = {0};
  const u8 *path = r->path.p;
  u32 plen = r->path.n;
  int prefix = route_text.n >= 4 && EQ_LIT(route_text.p + route_text.n - 4, 4, "/...");

  ENV(&cgi, "REQUEST_METHOD", r->method.p, r->method.n);
  ENV(&cgi, "QUERY_STRING", r->query.p, r->query.n);
  /* SCRIPT_NAME: exact route: the route; prefix: without "/..." ("/..." -> "/") */
  if (prefix && script_len == 0) {
    u8 sl = '/';
    ENV(&cgi, "SCRIPT_NAME", &sl, 1);
  } else {
    ENV(&cgi, "SCRIPT_NAME", route_text.p, prefix ? route_text.n - 4 : route_text.n);
  }
  ENV(&cgi, "X_MATCHED_ROUTE", route_text.p, route_text.n);
  bytes raw = prefix ? (bytes){path + script_len, plen - script_len} : (bytes){path, 0};
  ENV(&cgi, "X_RAW_PATH_INFO", raw.p, raw.n);
  u8 *dec = arena_alloc(raw.n + 1);
  i32 dn = pct_decode(raw.p, raw.n, dec);
  if (dn < 0) { /* an encoded NUL cannot be passed in PATH_INFO (wagi_nb: 400) */
    respond_simple(400, 0, 0);
    s->finished = 1;
    return;
  }
  ENV(&cgi, "PATH_INFO", dec, (u32)dn);
  ENV(&cgi, "PATH_TRANSLATED", dec, (u32)dn);

  /* Host: wasi:http keeps it out of the headers; the authority carries it. */
  bytes hosthdr = r->authority;
  bytes hv;
  if (HEADER_GET(r, "host", &hv)) hosthdr = hv;
  bytes hostname = s->hostname.n ? s->hostname : (bytes){0, 0};
  u8 *deflt = arena_alloc(16);
  if (!hostname.n) hostname = (bytes){deflt, (u32)(PUT(deflt, "localhost:3000") - deflt)};
  bytes sname, sport, dname, dport;
  split_host(hostname, &dname, &dport);
  if (!dport.n) {
    u8 *e = arena_alloc(2);
    dport = (bytes){e, (u32)(PUT(e, "80") - e)};
  }
  if (hosthdr.n) {
    split_host(hosthdr, &sname, &sport);
    if (!sport.n) sport = dport;
  } else {
    sname = dname;
    sport = dport;
  }
  {
    u32 n = r->scheme.n + 3 + sname.n + 1 + sport.n + plen + 1 + r->query.n;
    u8 *u = arena_alloc(n), *p = u;
    COPY(p, r->scheme.p, r->scheme.n); p += r->scheme.n;
    p = PUT(p, "://");
    COPY(p, sname.p, sname.n); p += sname.n;
    *p++ = ':';
    COPY(p, sport.p, sport.n); p += sport.n;
    COPY(p, path, plen); p += plen;
    if (r->has_query) { *p++ = '?'; COPY(p, r->query.p, r->query.n); p += r->query.n; }
    ENV(&cgi, "X_FULL_URL", u, (u32)(p - u));
  }
  ENV(&cgi, "SERVER_NAME", sname.p, sname.n);
  ENV(&cgi, "SERVER_PORT", sport.p, sport.n);
  {
    u8 v[16];
    /* wasi:http does not tell the HTTP version. */
    ENV(&cgi, "SERVER_PROTOCOL", v, (u32)(PUT(v, "HTTP/1.1") - v));
    ENV(&cgi, "SERVER_SOFTWARE", v, (u32)(PUT(v, "WAGI/1") - v));
    ENV(&cgi, "GATEWAY_INTERFACE", v, (u32)(PUT(v, "CGI/1.1") - v));
  }
  /* The client address: only Spin tells it (spin-client-addr: ip:port). */
  bytes ca = {0, 0};
  if (HEADER_GET(r, "spin-client-addr", &hv)) {
    bytes port;
    split_host(hv, &ca, &port);
    if (ca.n >= 2 && ca.p[0] == '[') ca = (bytes){ca.p + 1, ca.n - 2};
  }
  ENV(&cgi, "REMOTE_ADDR", ca.p, ca.n);
  ENV(&cgi, "REMOTE_HOST", ca.p, ca.n);
  ENV(&cgi, "AUTH_TYPE", 0, 0);
  ENV(&cgi, "REMOTE_USER", 0, 0);
  {
    u8 v[24];
    ENV(&cgi, "CONTENT_LENGTH", v, (u32)(put_u64(v, s->body_len) - v));
  }
  bytes ct = {0, 0};
  HEADER_GET(r, "content-type", &ct);
  ENV(&cgi, "CONTENT_TYPE", ct.p, ct.n);

  /* HTTP_*: every header but Authorization and Connection (and the spin-*
   * headers Spin adds, which wagi_nb does not send); a repeated header once,
   * its values joined with ", ". Host comes from the authority if absent. */
  int host_seen = 0;
  for (u32 i = 0; i < r->nhdrs; i++) {
    const u8 *nm = HNAME(r, i);
    u32 nn = HNLEN(r, i);
    if (EQ_LIT_CI(nm, nn, "authorization") || EQ_LIT_CI(nm, nn, "connection") || (nn > 5 && EQ_LIT_CI(nm, 5, "spin-")))
      continue;
    u32 first = 0;
    while (first < i && !(HNLEN(r, first) == nn && eq_ci_bytes(HNAME(r, first), nm, nn))) first++;
    if (first < i) continue; /* joined already */
    if (EQ_LIT_CI(nm, nn, "host")) host_seen = 1;
    u32 total = 5 + nn + 1;
    for (u32 j = i; j < r->nhdrs; j++)
      if (HNLEN(r, j) == nn && eq_ci_bytes(HNAME(r, j), nm, nn)) total += HVLEN(r, j) + 2;
    u8 *e = arena_alloc(total), *p = e;
    p = PUT(p, "HTTP_");
    for (u32 k = 0; k < nn; k++) {
      u8 c = nm[k];
      if (c >= 'a' && c <= 'z') c -= 32;
      if (c == '-') c = '_';
      *p++ = c;
    }
    *p++ = '=';
    int firstv = 1;
    for (u32 j = i; j < r->nhdrs; j++)
      if (HNLEN(r, j) == nn && eq_ci_bytes(HNAME(r, j), nm, nn)) {
        if (!firstv) { *p++ = ','; *p++ = ' '; }
        firstv = 0;
        COPY(p, HVAL(r, j), HVLEN(r, j));
        p += HVLEN(r, j);
      }
    sl_add(&cgi, e, (u32)(p - e));
  }
  if (!host_seen && r->authority.n) ENV(&cgi, "HTTP_HOST", r->authority.p, r->authority.n);

  /* Global variables first (in their order), then the CGI ones, which no
   * global variable can override. */
  strlist all = {0};
  for (u32 i = 0; i < g->n; i++) {
    u32 kn = find(g->kv[i].p, g->kv[i].n, '=');
    int shadowed = 0;
    for (u32 j = 0; j < cgi.n && !shadowed; j++) {
      u32 cn = find(cgi.v[j].p, cgi.v[j].n, '=');
      shadowed = bytes_eq(g->kv[i].p, kn, cgi.v[j].p, cn);
    }
    if (!shadowed) sl_add(&all, g->kv[i].p, g->kv[i].n);
  }
  for (u32 j = 0; j < cgi.n; j++) sl_add(&all, cgi.v[j].p, cgi.v[j].n);
  s->env = all.v;
  s->nenv = all.n;
  s->env_bytes = all.total;
}

static int is_space(u8 c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

static NOINLINE void build_argv(state *s, request *r) {
  strlist a = {0};
  if (!s->has_argv_template) {
    /* [raw path] + query.split("&") */
    sl_add(&a, r->path.p, r->path.n);
    if (r->query.n) {
      const u8 *p = r->query.p;
      u32 n = r->query.n;
      for (;;) {
        u32 k = find(p, n, '&');
        sl_add(&a, p, k);
        if (k == n) break;
        p += k + 1;
        n -= k + 1;
      }
    }
  } else {
    /* ${SCRIPT_NAME} -> raw path, ${ARGS} -> query with & as spaces; then
     * split on whitespace. */
    bytes t = s->argv_template;
    u32 cap = t.n, i;
    for (i = 0; i < t.n; i++) cap += r->path.n + r->query.n;
    u8 *out = arena_alloc(cap + 1), *o = out;
    for (i = 0; i < t.n;) {
      if (t.n - i >= 14 && EQ_LIT(t.p + i, 14, "${SCRIPT_NAME}")) {
        COPY(o, r->path.p, r->path.n);
        o += r->path.n;
        i += 14;
      } else if (t.n - i >= 7 && EQ_LIT(t.p + i, 7, "${ARGS}")) {
        for (u32 k = 0; k < r->query.n; k++) *o++ = r->query.p[k] == '&' ? ' ' : r->query.p[k];
        i += 7;
      } else {
        *o++ = t.p[i++];
      }
    }
    u32 n = (u32)(o - out);
    for (i = 0; i < n;) {
      while (i < n && is_space(out[i])) i++;
      u32 b = i;
      while (i < n && !is_space(out[i])) i++;
      if (i > b) sl_add(&a, out + b, i - b);
    }
  }
  s->args = a.v;
  s->nargs = a.n;
  s->args_bytes = a.total;
}

/* ---- the entrypoints ------------------------------------------------------ */

#define MAIN(name) __attribute__((import_module("__main_module__"), import_name(name)))
MAIN("_start") void main_start(void);

#ifdef WAGI_ENTRIES
/* Built with -DWAGI_ENTRIES: the module must export these (entry_slots.py
 * adds them as aliases; unused ones alias _start). */
MAIN("wagi-entry-0") void main_entry0(void);
MAIN("wagi-entry-1") void main_entry1(void);
MAIN("wagi-entry-2") void main_entry2(void);
MAIN("wagi-entry-3") void main_entry3(void);
MAIN("wagi-entry-4") void main_entry4(void);
MAIN("wagi-entry-5") void main_entry5(void);
MAIN("wagi-entry-6") void main_entry6(void);
MAIN("wagi-entry-7") void main_entry7(void);
#endif

static void call_entry(u32 slot) {
  switch (slot) {
#ifdef WAGI_ENTRIES
    case 1: main_entry0(); return;
    case 2: main_entry1(); return;
    case 3: main_entry2(); return;
    case 4: main_entry3(); return;
    case 5: main_entry4(); return;
    case 6: main_entry5(); return;
    case 7: main_entry6(); return;
    case 8: main_entry7(); return;
#endif
    default: main_start(); return;
  }
}

void wagi_enter(u32 req, u32 response_out); /* globals.s */

EXPORT("wasi:http/incoming-handler@0.2.0#handle")
void wagi_handle(u32 req, u32 response_out) { wagi_enter(req, response_out); }

void wagi_handle_inner(u32 req, u32 response_out) {
  state *s = st();
  s->response_out = response_out;
  globals_t g;
  bytes route_text = {0, 0};
  u32 entry = 0;
  read_config(s, &g, &route_text, &entry);

  request r;
  read_request(&r, req);

  /* The route list: the sub-routes first, then the module's own route. Without
   * WAGI_NB_ROUTE, Spin's spin-raw-component-route, else "/...". */
  if (!route_text.n) {
    bytes h;
    if (HEADER_GET(&r, "spin-raw-component-route", &h)) route_text = h;
  }
  if (!route_text.n) {
    u8 *d = arena_alloc(4);
    route_text = (bytes){d, (u32)(PUT(d, "/...") - d)};
  }
  add_route(s, route_text.p, route_text.n, entry);
  u32 script_len = 0, i;
  for (i = 0; i < s->nroutes; i++)
    if (route_match(s->routes[i].text, r.path.p, r.path.n, &script_len)) break;
  if (i == s->nroutes) { /* no route: 404 with an empty body, module not run */
    respond_simple(404, 0, 0);
    w_req_drop(req);
    return;
  }
  route chosen = s->routes[i];

  read_body(s, &r);
  build_env(s, &r, &g, chosen.text, script_len);
  if (s->finished) { w_req_drop(req); return; }
  build_argv(s, &r);
  w_req_drop(req);

  call_entry(chosen.entry);
  cgi_finish(0);
}
