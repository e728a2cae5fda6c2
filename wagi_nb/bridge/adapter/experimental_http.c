/* The second adapter: Wagi's `wasi_experimental_http` host functions (req,
 * close, header_get, headers_get_all, body_read; ABI and error codes of
 * deislabs/wasi-experimental-http's witx) on `wasi:http/outgoing-handler`.
 *
 * wit-component allows one adapter per import module name, so this is its
 * own core module with its own state. It keeps no shadow stack (every
 * return area is in its state block, which it takes with memory.grow on the
 * first call): a stack would be given to it when the component is
 * instantiated, in the pages that an old allocator claims (see adapter.c).
 *
 * Redirects are followed as Wagi's client and wagi-nb follow them (up to 10; a
 * 301/302/303 turns a method other than GET or HEAD into a GET without a
 * body; credentials dropped when the origin changes; every hop allowed).
 *
 * Allowed hosts: with WAGI_NB_ALLOWED_HOSTS in the component environment
 * (comma-separated URLs, or insecure:allow-all), a URL whose host is not the
 * host of one of them is refused with destination_not_allowed, as Wagi does
 * (scheme and port not compared). Without it the host decides (Spin's
 * allowed_outbound_hosts; `wasmtime serve` allows everything).
 */
#include "common.h"
#include "wasi02.h"

IMPORT(CLI_ENV, "get-environment") void w_get_environment(void *ret);

int wagi_get_state(void);
void wagi_set_state(int);

enum {
  OK = 0, INVALID_HANDLE = 1, BUFFER_TOO_SMALL = 4, HEADER_NOT_FOUND = 5,
  DESTINATION_NOT_ALLOWED = 7, INVALID_METHOD = 8, INVALID_ENCODING = 9, INVALID_URL = 10,
  REQUEST_ERROR = 11, RUNTIME_ERROR = 12, TOO_MANY_SESSIONS = 13,
};

#define MAX_RESP 16
#define PAGE 65536u
#define MAX_REDIRECTS 10
#define URL_CAP 8192u
#define ORIGIN_CAP 512u

typedef struct {
  u32 used, handle, resp, headers, body, stream;
} response;

typedef struct {
  u64 ret[8];          /* return area for every import call (56 bytes needed) */
  u8 *scratch;         /* lists the host returns land here */
  u32 scratch_len, scratch_cap;
  u8 *target;          /* or in the caller's buffer */
  u32 target_cap;
  int allow_checked, allow_all;
  u8 *allowed;         /* WAGI_NB_ALLOWED_HOSTS value */
  u32 allowed_len;
  response resp[MAX_RESP];
  u32 next_handle;     /* handles count from 0, as Wagi's and wagi-nb's do */
  u32 u_sep, u_al, u_pl; /* split(): the URL's parts */
  u32 got;             /* exchange(): the response */
  int strip_credentials, strip_content;
  u8 get[8];           /* "GET", for a redirect that changes the method */
  u8 origins[2 * ORIGIN_CAP]; /* two origins compared */
  u8 *urls;            /* two URL_CAP buffers: a redirect's target, while the last one is read */
  u8 name[256];        /* header name, lower-cased */
  u8 lit[32];          /* literals are written here to be compared (no stack) */
} xstate;

_Static_assert(sizeof(xstate) <= 4096, "the state block is the first 4 KiB of the adapter's pages");

static xstate *xs(void) {
  xstate *s = (xstate *)wagi_get_state();
  if (!s) {
    int old = __builtin_wasm_memory_grow(0, 5); /* state + 256 KiB of scratch + guard */
    if (old < 0) __builtin_trap();
    s = (xstate *)((usize)old * PAGE);
    wagi_set_state((int)s);
    s->scratch = (u8 *)s + 4096;
    s->scratch_cap = 4 * PAGE - 4096 - 2 * URL_CAP;
    s->urls = s->scratch + s->scratch_cap;
  }
  return s;
}

int eq_n(const u8 *p, u32 len, const u8 *lit, u32 n, int ci) {
  if (len != n) return 0;
  for (u32 i = 0; i < n; i++) {
    u8 c = p[i];
    if (ci && c >= 'A' && c <= 'Z') c += 32;
    if (c != lit[i]) return 0;
  }
  return 1;
}

/* Host-returned lists go to the caller's buffer if one is set and fits,
 * else to the scratch area (reset by every call into this adapter). */
EXPORT("cabi_import_realloc")
void *cabi_import_realloc(void *old, u32 old_size, u32 align, u32 size) {
  (void)old;
  (void)old_size;
  xstate *s = xs();
  if (s->target && size <= s->target_cap) {
    void *p = s->target;
    s->target = NULL;
    return p;
  }
  u32 at = (s->scratch_len + align - 1) & ~(align - 1);
  if (at + size > s->scratch_cap) {
    /* a bigger list than the scratch area: take fresh pages */
    int old_pages = __builtin_wasm_memory_grow(0, (size + PAGE - 1) / PAGE + 1);
    if (old_pages < 0) __builtin_trap();
    return (void *)((usize)old_pages * PAGE);
  }
  s->scratch_len = at + size;
  return s->scratch + at;
}

/* Compare with a literal written into the state (EQ_LIT would put it on a
 * stack, which this adapter does not have). */
#define XEQ(p, n, L, ci) (PUT(xs()->lit, L), eq_n((const u8 *)(p), (n), xs()->lit, sizeof(L) - 1, (ci)))

static u32 find(const u8 *p, u32 n, u8 c) {
  u32 i = 0;
  while (i < n && p[i] != c) i++;
  return i;
}

/* Wagi's allowed_hosts rule: the URL's host must be the host of an allowed
 * URL (scheme and port ignored). */
INLINE int host_of(const u8 *url, u32 n, const u8 **h, u32 *hn) {
  u32 i = 0;
  while (i + 2 < n && !(url[i] == ':' && url[i + 1] == '/' && url[i + 2] == '/')) i++;
  if (i + 2 >= n) return 0;
  const u8 *a = url + i + 3;
  u32 an = n - i - 3, e = 0;
  while (e < an && a[e] != '/' && a[e] != '?' && a[e] != '#') e++;
  u32 at = find(a, e, '@'); /* userinfo */
  if (at < e) { a += at + 1; e -= at + 1; }
  u32 hl = e;
  if (e && a[0] == '[') hl = find(a, e, ']') + 1;
  else hl = find(a, e, ':');
  *h = a;
  *hn = hl > e ? e : hl;
  return 1;
}

static int allowed(xstate *s, const u8 *url, u32 n) {
  if (!s->allow_checked) {
    s->allow_checked = 1;
    w_get_environment(s->ret);
    u8 *list = (u8 *)(u32)s->ret[0];
    u32 cnt = (u32)(s->ret[0] >> 32);
    s->allow_all = 1; /* no variable: the host's own rules */
    for (u32 i = 0; i < cnt; i++) {
      const u8 *k = (const u8 *)LD32(list, i * 16);
      if (XEQ(k, LD32(list, i * 16 + 4), "WAGI_NB_ALLOWED_HOSTS", 0)) {
        u32 vn = LD32(list, i * 16 + 12);
        s->allowed = (u8 *)LD32(list, i * 16 + 8);
        s->allowed_len = vn;
        s->allow_all = 0;
        /* keep the value: move it out of the scratch area */
        u8 *keep = s->scratch + s->scratch_cap - vn;
        COPY(keep, s->allowed, vn);
        s->allowed = keep;
        s->scratch_cap -= vn;
      }
    }
  }
  if (s->allow_all) return 1;
  const u8 *h, *ah;
  u32 hn, ahn;
  if (!host_of(url, n, &h, &hn)) return 0;
  const u8 *p = s->allowed;
  u32 left = s->allowed_len;
  while (left) {
    u32 e = find(p, left, ',');
    const u8 *item = p;
    u32 il = e;
    while (il && *item == ' ') { item++; il--; }
    while (il && item[il - 1] == ' ') il--;
    if (XEQ(item, il, "insecure:allow-all", 0)) return 1;
    if (host_of(item, il, &ah, &ahn) && ahn == hn && eq_ci_bytes(ah, h, hn)) return 1;
    if (e == left) break;
    p += e + 1;
    left -= e + 1;
  }
  return 0;
}

static u32 method_tag(const u8 *m, u32 n) {
  if (XEQ(m, n, "GET", 0)) return 0;
  if (XEQ(m, n, "HEAD", 0)) return 1;
  if (XEQ(m, n, "POST", 0)) return 2;
  if (XEQ(m, n, "PUT", 0)) return 3;
  if (XEQ(m, n, "DELETE", 0)) return 4;
  if (XEQ(m, n, "CONNECT", 0)) return 5;
  if (XEQ(m, n, "OPTIONS", 0)) return 6;
  if (XEQ(m, n, "TRACE", 0)) return 7;
  if (XEQ(m, n, "PATCH", 0)) return 8;
  return 9; /* other(string) */
}

static int tchar(u8 c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return 1;
  return c == '!' || c == '#' || c == '$' || c == '%' || c == '&' || c == '\'' || c == '*' || c == '+' ||
         c == '-' || c == '.' || c == '^' || c == '_' || c == '`' || c == '|' || c == '~';
}

/* wasi:http error-code -> http_error: a refusal by the host's own allow-list
 * (HTTP-request-denied) is destination_not_allowed, anything else a
 * request_error. */
static u32 map_error(u8 code) { return code == 15 ? DESTINATION_NOT_ALLOWED : REQUEST_ERROR; }

static int write_all(xstate *s, u32 stream, const u8 *p, u32 n) {
  while (n) {
    w_out_check_write(stream, s->ret);
    if ((u8)s->ret[0]) return -1;
    u64 room = s->ret[1];
    if (!room) {
      u32 pol = w_out_subscribe(stream);
      w_pollable_block(pol);
      w_pollable_drop(pol);
      continue;
    }
    u32 k = n < room ? n : (u32)room;
    w_out_write(stream, p, k, s->ret);
    if ((u8)s->ret[0]) return -1;
    p += k;
    n -= k;
  }
  w_out_blocking_flush(stream, s->ret);
  return 0;
}

/* Where a URL's parts are: scheme [0, sep), authority [auth, auth + al), path and query after it
 * (up to a fragment). Zero if it is not scheme://authority... */
static u32 split(xstate *s, const u8 *url, u32 n) {
  u32 sep = 0;
  while (sep + 2 < n && !(url[sep] == ':' && url[sep + 1] == '/' && url[sep + 2] == '/')) sep++;
  if (sep == 0 || sep + 2 >= n) return 0;
  u32 al = 0, rest = n - sep - 3;
  const u8 *auth = url + sep + 3;
  while (al < rest && auth[al] != '/' && auth[al] != '?' && auth[al] != '#') al++;
  if (!al) return 0;
  u32 pl = 0;
  while (al + pl < rest && auth[al + pl] != '#') pl++;
  s->u_sep = sep;
  s->u_al = al;
  s->u_pl = pl;
  return 1;
}

/* Send one request and wait for its response (in s->got); an error code, or OK. */
static u32 exchange(xstate *s, const u8 *url, u32 url_len, const u8 *method, u32 method_len, const u8 *hdrs,
                    u32 hdrs_len, const u8 *body, u32 body_len) {
  if (!split(s, url, url_len)) return INVALID_URL;
  u32 sep = s->u_sep, al = s->u_al, pl = s->u_pl;
  const u8 *auth = url + sep + 3;
  u32 fields = w_fields_new();
  int accept = 0;
  while (hdrs_len) { /* "name:value\n" lines */
    u32 e = find(hdrs, hdrs_len, '\n');
    u32 ll = e;
    if (ll && hdrs[ll - 1] == '\r') ll--;
    if (ll) {
      u32 c = find(hdrs, ll, ':');
      if (c == ll) { w_fields_drop(fields); return INVALID_ENCODING; }
      u32 vb = c + 1;
      while (vb < ll && hdrs[vb] == ' ') vb++;
      int keep = 1;
      if (s->strip_credentials && (XEQ(hdrs, c, "authorization", 1) || XEQ(hdrs, c, "cookie", 1) ||
                                   XEQ(hdrs, c, "proxy-authorization", 1) || XEQ(hdrs, c, "www-authenticate", 1)))
        keep = 0;
      if (s->strip_content && (XEQ(hdrs, c, "content-type", 1) || XEQ(hdrs, c, "content-encoding", 1))) keep = 0;
      if (XEQ(hdrs, c, "accept", 1)) accept = 1;
      if (keep) w_fields_append(fields, hdrs, c, hdrs + vb, ll - vb, s->ret);
    }
    if (e == hdrs_len) break;
    hdrs += e + 1;
    hdrs_len -= e + 1;
  }
  if (!accept) { /* an Accept of any type unless the module sends its own, as Wagi's client (reqwest) does */
    PUT(s->name, "accept");
    PUT(s->name + 32, "*/*");
    w_fields_append(fields, s->name, 6, s->name + 32, 3, s->ret);
  }
  if (body_len) { /* a known length, as Wagi's client sends it (not chunked) */
    u8 *v = s->name + 32, *e = put_u64(v, body_len);
    PUT(s->name, "content-length");
    w_fields_append(fields, s->name, 14, v, (u32)(e - v), s->ret);
  }
  u32 req = w_oreq_new(fields);
  u32 mt = method_tag(method, method_len);
  w_oreq_set_method(req, mt, method, mt == 9 ? method_len : 0);
  if (XEQ(url, sep, "http", 1)) w_oreq_set_scheme(req, 1, 0, 0, 0);
  else if (XEQ(url, sep, "https", 1)) w_oreq_set_scheme(req, 1, 1, 0, 0);
  else w_oreq_set_scheme(req, 1, 2, url, sep);
  w_oreq_set_authority(req, 1, auth, al);
  if (pl) w_oreq_set_path(req, 1, auth + al, pl);
  else w_oreq_set_path(req, 1, url, 0);
  w_oreq_body(req, s->ret);
  u32 obody = (u32)(s->ret[0] >> 32);
  w_http_handle(req, 0, 0, s->ret);
  if ((u8)s->ret[0]) {
    w_outbody_drop(obody);
    return map_error((u8)s->ret[1]);
  }
  u32 fut = (u32)s->ret[1];
  w_outbody_write(obody, s->ret);
  if (!(u8)s->ret[0]) {
    u32 stream = (u32)(s->ret[0] >> 32);
    write_all(s, stream, body, body_len);
    w_out_drop(stream);
  }
  w_outbody_finish(obody, 0, 0, s->ret);
  u32 pol = w_fut_subscribe(fut);
  w_pollable_block(pol);
  w_pollable_drop(pol);
  w_fut_get(fut, s->ret);
  w_fut_drop(fut);
  /* option tag @0, outer result @8, inner result @16, response / error-code @24 */
  if (!(u8)s->ret[0] || (u8)s->ret[1]) return RUNTIME_ERROR;
  if ((u8)s->ret[2]) return map_error((u8)s->ret[3]);
  s->got = (u32)s->ret[3];
  return OK;
}

static int is_alpha(u8 c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

/* Scheme, host (lower-cased) and port of a URL, for comparing origins: written at out (ORIGIN_CAP
 * bytes); 0 when it does not fit. */
static u32 origin(xstate *s, const u8 *url, u32 n, u8 *out) {
  if (!split(s, url, n)) return 0;
  u32 sep = s->u_sep, al = s->u_al, k = 0;
  if (sep + al + 8 > ORIGIN_CAP) return 0;
  for (u32 i = 0; i < sep; i++) out[k++] = lower(url[i]);
  out[k++] = ' ';
  const u8 *h;
  u32 hn;
  host_of(url, n, &h, &hn);
  for (u32 i = 0; i < hn; i++) out[k++] = lower(h[i]);
  out[k++] = ' ';
  const u8 *end = url + sep + 3 + al;
  const u8 *port = h + hn;
  if (port < end && *port == ':' && port + 1 < end) {
    for (port++; port < end; port++) out[k++] = *port;
  } else if (XEQ(url, sep, "https", 1)) {
    k = (u32)(PUT(out + k, "443") - out);
  } else if (XEQ(url, sep, "http", 1)) {
    k = (u32)(PUT(out + k, "80") - out);
  }
  return k;
}

/* Where a redirect from url leads (its Location resolved as a relative reference), written at out;
 * 0 when it has no Location or leads to no http(s) host (the answer is then the module's), more
 * than cap when it does not fit. */
static u32 redirect_target(xstate *s, u32 resp, const u8 *url, u32 n, u8 *out, u32 cap) {
  u32 headers = w_iresp_headers(resp);
  w_fields_entries(headers, s->ret);
  w_fields_drop(headers);
  u8 *list = (u8 *)(u32)s->ret[0];
  u32 cnt = (u32)(s->ret[0] >> 32);
  const u8 *loc = NULL;
  u32 ln = 0;
  for (u32 i = 0; i < cnt && !loc; i++) {
    if (XEQ((const u8 *)LD32(list, i * 16), LD32(list, i * 16 + 4), "location", 1)) {
      loc = (const u8 *)LD32(list, i * 16 + 8);
      ln = LD32(list, i * 16 + 12);
    }
  }
  if (!loc) return 0;
  while (ln && (loc[0] == ' ' || loc[0] == '\t')) { loc++; ln--; }
  while (ln && (loc[ln - 1] == ' ' || loc[ln - 1] == '\t')) ln--;
  u32 c = 0; /* a scheme of its own? */
  if (ln && is_alpha(loc[0])) {
    c = 1;
    while (c < ln && (is_alpha(loc[c]) || (loc[c] >= '0' && loc[c] <= '9') || loc[c] == '+' || loc[c] == '-' ||
                      loc[c] == '.'))
      c++;
    if (c == ln || loc[c] != ':') c = 0;
  }
  if (!split(s, url, n)) return 0;
  u32 sep = s->u_sep, al = s->u_al, pl = s->u_pl;
  const u8 *path = url + sep + 3 + al;
  u32 k = 0;
  if (c) { /* absolute */
    if (ln > cap) return cap + 1;
    COPY(out, loc, ln);
    k = ln;
  } else if (ln >= 2 && loc[0] == '/' && loc[1] == '/') { /* scheme-relative */
    if (sep + 1 + ln > cap) return cap + 1;
    COPY(out, url, sep + 1);
    COPY(out + sep + 1, loc, ln);
    k = sep + 1 + ln;
  } else {
    u32 keep = sep + 3 + al; /* scheme://authority, then the path this Location keeps */
    if (ln && loc[0] == '/') {
    } else if (!ln || loc[0] == '#') {
      keep += pl;
    } else if (loc[0] == '?') {
      u32 q = find(path, pl, '?');
      keep += q;
    } else { /* a relative path: the base's up to its last '/' */
      u32 q = find(path, pl, '?'), slash = q;
      while (slash && path[slash - 1] != '/') slash--;
      keep += slash;
      if (!slash) {
        if (keep + 1 > cap) return cap + 1;
        COPY(out, url, keep);
        out[keep++] = '/';
        if (keep + ln > cap) return cap + 1;
        COPY(out + keep, loc, ln);
        k = keep + ln;
        goto resolved;
      }
    }
    if (keep + ln > cap) return cap + 1;
    COPY(out, url, keep);
    COPY(out + keep, loc, ln);
    k = keep + ln;
  }
resolved:
  if (!split(s, out, k)) return 0;
  if (!XEQ(out, s->u_sep, "http", 1) && !XEQ(out, s->u_sep, "https", 1)) return 0;
  return k;
}

EXPORT("req")
u32 x_req(const u8 *url, u32 url_len, const u8 *method, u32 method_len, const u8 *hdrs, u32 hdrs_len,
          const u8 *body, u32 body_len, u16 *status_out, u32 *handle_out) {
  xstate *s = xs();
  s->scratch_len = 0;
  u32 slot = 0;
  while (slot < MAX_RESP && s->resp[slot].used) slot++;
  if (slot == MAX_RESP) return TOO_MANY_SESSIONS;
  if (!split(s, url, url_len)) return INVALID_URL;
  if (!allowed(s, url, url_len)) return DESTINATION_NOT_ALLOWED;
  if (!method_len) return INVALID_METHOD;
  for (u32 i = 0; i < method_len; i++)
    if (!tchar(method[i])) return INVALID_METHOD;
  /* Redirects are followed as Wagi's client (reqwest) and wagi-nb follow them: up to 10, 301/302/303
   * turning another method into a GET without a body, credentials dropped when the origin changes;
   * every hop must be an allowed host, as under wagi-nb. */
  s->strip_credentials = s->strip_content = 0;
  u32 resp = 0;
  for (u32 hop = 0;; hop++) {
    s->scratch_len = 0;
    u32 code = exchange(s, url, url_len, method, method_len, hdrs, hdrs_len, body, body_len);
    if (code) return code;
    resp = s->got;
    u32 status = w_iresp_status(resp);
    if (status != 301 && status != 302 && status != 303 && status != 307 && status != 308) break;
    u8 *next = s->urls + (hop & 1) * URL_CAP;
    u32 n = redirect_target(s, resp, url, url_len, next, URL_CAP);
    if (!n) break;
    w_iresp_drop(resp);
    if (n > URL_CAP || hop == MAX_REDIRECTS || !allowed(s, next, n)) return REQUEST_ERROR;
    if (status <= 303 && !XEQ(method, method_len, "GET", 0) && !XEQ(method, method_len, "HEAD", 0)) {
      PUT(s->get, "GET");
      method = s->get;
      method_len = 3;
      body_len = 0;
      s->strip_content = 1;
    }
    u32 a = origin(s, url, url_len, s->origins), b = origin(s, next, n, s->origins + ORIGIN_CAP);
    if (!a || a != b || !eq_n(s->origins, a, s->origins + ORIGIN_CAP, b, 0)) s->strip_credentials = 1;
    url = next;
    url_len = n;
  }
  response *r = &s->resp[slot];
  r->used = 1;
  r->resp = resp;
  r->headers = w_iresp_headers(resp);
  w_iresp_consume(resp, s->ret);
  r->body = (u8)s->ret[0] ? 0 : (u32)(s->ret[0] >> 32);
  if (r->body) {
    w_inbody_stream(r->body, s->ret);
    r->stream = (u8)s->ret[0] ? 0 : (u32)(s->ret[0] >> 32);
  }
  *status_out = (u16)w_iresp_status(resp);
  r->handle = s->next_handle++;
  *handle_out = r->handle;
  return OK;
}

static response *lookup(xstate *s, u32 h) {
  for (u32 i = 0; i < MAX_RESP; i++)
    if (s->resp[i].used && s->resp[i].handle == h) return &s->resp[i];
  return NULL;
}

EXPORT("close")
u32 x_close(u32 h) {
  xstate *s = xs();
  response *r = lookup(s, h);
  if (!r) return INVALID_HANDLE;
  if (r->stream) w_in_drop(r->stream);
  if (r->body) w_inbody_drop(r->body);
  w_fields_drop(r->headers);
  w_iresp_drop(r->resp);
  ZERO(r, sizeof(*r));
  return OK;
}

EXPORT("header_get")
u32 x_header_get(u32 h, const u8 *name, u32 name_len, u8 *buf, u32 buf_len, u32 *written) {
  xstate *s = xs();
  s->scratch_len = 0;
  response *r = lookup(s, h);
  if (!r) return INVALID_HANDLE;
  if (name_len > sizeof(s->name)) return HEADER_NOT_FOUND;
  for (u32 i = 0; i < name_len; i++) s->name[i] = lower(name[i]);
  w_fields_entries(r->headers, s->ret);
  u8 *list = (u8 *)(u32)s->ret[0];
  u32 n = (u32)(s->ret[0] >> 32);
  for (u32 i = 0; i < n; i++) {
    const u8 *k = (const u8 *)LD32(list, i * 16);
    u32 kn = LD32(list, i * 16 + 4);
    if (kn == name_len && eq_ci_bytes(k, s->name, kn)) {
      u32 vn = LD32(list, i * 16 + 12);
      if (vn > buf_len) return BUFFER_TOO_SMALL;
      COPY(buf, (const u8 *)LD32(list, i * 16 + 8), vn);
      *written = vn;
      return OK;
    }
  }
  return HEADER_NOT_FOUND;
}

/* "name:value\n" for every header */
static u32 all_headers(u32 h, u8 *buf, u32 buf_len, u32 *written) {
  xstate *s = xs();
  s->scratch_len = 0;
  response *r = lookup(s, h);
  if (!r) return INVALID_HANDLE;
  w_fields_entries(r->headers, s->ret);
  u8 *list = (u8 *)(u32)s->ret[0];
  u32 n = (u32)(s->ret[0] >> 32), pos = 0;
  for (u32 i = 0; i < n; i++) {
    u32 kn = LD32(list, i * 16 + 4), vn = LD32(list, i * 16 + 12);
    if (pos + kn + vn + 2 > buf_len) return BUFFER_TOO_SMALL;
    COPY(buf + pos, (const u8 *)LD32(list, i * 16), kn);
    pos += kn;
    buf[pos++] = ':';
    COPY(buf + pos, (const u8 *)LD32(list, i * 16 + 8), vn);
    pos += vn;
    buf[pos++] = '\n';
  }
  *written = pos;
  return OK;
}
EXPORT("headers_get_all") u32 x_headers_get_all(u32 h, u8 *b, u32 n, u32 *w) { return all_headers(h, b, n, w); }
/* the name used by some versions of the guest crate */
EXPORT("header_get_all") u32 x_header_get_all(u32 h, u8 *b, u32 n, u32 *w) { return all_headers(h, b, n, w); }

EXPORT("body_read")
u32 x_body_read(u32 h, u8 *buf, u32 buf_len, u32 *written) {
  xstate *s = xs();
  s->scratch_len = 0;
  response *r = lookup(s, h);
  if (!r) return INVALID_HANDLE;
  *written = 0;
  if (!r->stream || !buf_len) return OK;
  s->target = buf;
  s->target_cap = buf_len;
  w_in_blocking_read(r->stream, buf_len, s->ret);
  s->target = NULL;
  if ((u8)s->ret[0]) { /* closed: end of body (an error ends it too) */
    if (!(u8)(s->ret[0] >> 32)) w_error_drop((u32)s->ret[1]);
    w_in_drop(r->stream);
    r->stream = 0;
    return OK;
  }
  u8 *got = (u8 *)(u32)(s->ret[0] >> 32);
  u32 n = (u32)s->ret[1];
  if (n > buf_len) n = buf_len;
  if (got != buf && n) COPY(buf, got, n);
  *written = n;
  return OK;
}
