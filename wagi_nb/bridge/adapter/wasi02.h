/* The WASI 0.2.0 functions the adapters call, as core wasm imports in the
 * canonical ABI (the "legacy" names that `wasm-tools component embed
 * --dummy-names legacy` prints for wit/world.wit).
 *
 * Rules of the lowering that matter here:
 *  - resources are i32 handles; `own` handles we receive must be dropped with
 *    the matching [resource-drop] import;
 *  - results, options and variants that do not fit in one flat value come back
 *    through a "return area" whose address is the last parameter (`ret`); the
 *    offsets used by the callers are documented at each use;
 *  - lists and strings returned by the host are written into memory that the
 *    host asks for by calling our `cabi_import_realloc` export.
 */
#ifndef WAGI_WASI02_H
#define WAGI_WASI02_H

#include "common.h"

#define IMPORT(module, name) __attribute__((import_module(module), import_name(name)))

#define IO_POLL "wasi:io/poll@0.2.0"
#define IO_STREAMS "wasi:io/streams@0.2.0"
#define IO_ERROR "wasi:io/error@0.2.0"
#define CLOCK_MONO "wasi:clocks/monotonic-clock@0.2.0"
#define CLOCK_WALL "wasi:clocks/wall-clock@0.2.0"
#define RANDOM "wasi:random/random@0.2.0"
#define CLI_ENV "wasi:cli/environment@0.2.0"
#define CLI_STDERR "wasi:cli/stderr@0.2.0"
#define FS_TYPES "wasi:filesystem/types@0.2.0"
#define FS_PREOPENS "wasi:filesystem/preopens@0.2.0"
#define HTTP_TYPES "wasi:http/types@0.2.0"
#define HTTP_OUT "wasi:http/outgoing-handler@0.2.0"

/* wasi:io */
IMPORT(IO_POLL, "[method]pollable.block") void w_pollable_block(u32 p);
IMPORT(IO_POLL, "poll") void w_poll(const u32 *list, u32 n, void *ret); /* ret: list<u32> ptr@0 len@4 */
IMPORT(IO_POLL, "[resource-drop]pollable") void w_pollable_drop(u32 p);
IMPORT(IO_ERROR, "[resource-drop]error") void w_error_drop(u32 e);

/* input-stream.blocking-read / read: ret: tag@0 (0 ok), ok: list ptr@4 len@8;
 * err: stream-error tag@4 (0 last-operation-failed(error@8), 1 closed). */
IMPORT(IO_STREAMS, "[method]input-stream.blocking-read") void w_in_blocking_read(u32 s, u64 len, void *ret);
IMPORT(IO_STREAMS, "[method]input-stream.read") void w_in_read(u32 s, u64 len, void *ret);
IMPORT(IO_STREAMS, "[method]input-stream.subscribe") u32 w_in_subscribe(u32 s);
IMPORT(IO_STREAMS, "[resource-drop]input-stream") void w_in_drop(u32 s);
/* check-write: ret: tag@0, ok: u64@8, err: tag@8 error@12 */
IMPORT(IO_STREAMS, "[method]output-stream.check-write") void w_out_check_write(u32 s, void *ret);
/* write / blocking-write-and-flush / blocking-flush: ret: tag@0, err: tag@4 error@8 */
IMPORT(IO_STREAMS, "[method]output-stream.write") void w_out_write(u32 s, const void *p, u32 n, void *ret);
IMPORT(IO_STREAMS, "[method]output-stream.blocking-write-and-flush") void w_out_blocking_write_flush(u32 s, const void *p, u32 n, void *ret);
IMPORT(IO_STREAMS, "[method]output-stream.blocking-flush") void w_out_blocking_flush(u32 s, void *ret);
IMPORT(IO_STREAMS, "[method]output-stream.subscribe") u32 w_out_subscribe(u32 s);
IMPORT(IO_STREAMS, "[resource-drop]output-stream") void w_out_drop(u32 s);

/* clocks, random, cli */
IMPORT(CLOCK_MONO, "now") u64 w_mono_now(void);
IMPORT(CLOCK_MONO, "resolution") u64 w_mono_resolution(void);
IMPORT(CLOCK_MONO, "subscribe-instant") u32 w_mono_subscribe_instant(u64 when);
IMPORT(CLOCK_MONO, "subscribe-duration") u32 w_mono_subscribe_duration(u64 ns);
IMPORT(CLOCK_WALL, "now") void w_wall_now(void *ret);        /* seconds u64@0, nanoseconds u32@8 */
IMPORT(CLOCK_WALL, "resolution") void w_wall_resolution(void *ret);
IMPORT(RANDOM, "get-random-bytes") void w_random_bytes(u64 len, void *ret); /* list ptr@0 len@4 */
IMPORT(CLI_ENV, "get-environment") void w_get_environment(void *ret);    /* list<tuple<string,string>> */
IMPORT(CLI_STDERR, "get-stderr") u32 w_get_stderr(void);

/* wasi:filesystem. Error results: tag@0 = 1, error-code (u8 enum) at the
 * payload offset (4 for handles/u8 payloads, 8 for 8-aligned payloads). */
IMPORT(FS_PREOPENS, "get-directories") void w_get_directories(void *ret); /* list<tuple<descriptor,string>>, 12-byte items */
IMPORT(FS_TYPES, "[method]descriptor.read") void w_fs_read(u32 d, u64 len, u64 off, void *ret); /* ok: ptr@4 len@8 eof@12 */
IMPORT(FS_TYPES, "[method]descriptor.write") void w_fs_write(u32 d, const void *p, u32 n, u64 off, void *ret); /* ok: u64@8 */
IMPORT(FS_TYPES, "[method]descriptor.get-type") void w_fs_get_type(u32 d, void *ret);      /* ok: u8@1 */
IMPORT(FS_TYPES, "[method]descriptor.stat") void w_fs_stat(u32 d, void *ret);              /* ok: stat@8 */
IMPORT(FS_TYPES, "[method]descriptor.stat-at") void w_fs_stat_at(u32 d, u32 pflags, const void *p, u32 n, void *ret);
IMPORT(FS_TYPES, "[method]descriptor.open-at") void w_fs_open_at(u32 d, u32 pflags, const void *p, u32 n, u32 oflags, u32 dflags, void *ret); /* ok: handle@4 */
IMPORT(FS_TYPES, "[method]descriptor.read-directory") void w_fs_read_directory(u32 d, void *ret); /* ok: handle@4 */
IMPORT(FS_TYPES, "[method]directory-entry-stream.read-directory-entry") void w_fs_read_dir_entry(u32 s, void *ret);
IMPORT(FS_TYPES, "[method]descriptor.create-directory-at") void w_fs_mkdir_at(u32 d, const void *p, u32 n, void *ret);
IMPORT(FS_TYPES, "[method]descriptor.remove-directory-at") void w_fs_rmdir_at(u32 d, const void *p, u32 n, void *ret);
IMPORT(FS_TYPES, "[method]descriptor.unlink-file-at") void w_fs_unlink_at(u32 d, const void *p, u32 n, void *ret);
IMPORT(FS_TYPES, "[method]descriptor.set-size") void w_fs_set_size(u32 d, u64 size, void *ret);
IMPORT(FS_TYPES, "[resource-drop]descriptor") void w_fs_drop(u32 d);
IMPORT(FS_TYPES, "[resource-drop]directory-entry-stream") void w_fs_dir_stream_drop(u32 s);

/* wasi:http/types */
IMPORT(HTTP_TYPES, "[constructor]fields") u32 w_fields_new(void);
IMPORT(HTTP_TYPES, "[method]fields.append") void w_fields_append(u32 f, const void *name, u32 nlen, const void *val, u32 vlen, void *ret); /* tag@0 */
IMPORT(HTTP_TYPES, "[method]fields.entries") void w_fields_entries(u32 f, void *ret); /* list ptr@0 len@4, 16-byte items */
IMPORT(HTTP_TYPES, "[resource-drop]fields") void w_fields_drop(u32 f);
IMPORT(HTTP_TYPES, "[method]incoming-request.method") void w_req_method(u32 r, void *ret);      /* tag@0, other: string@4 */
IMPORT(HTTP_TYPES, "[method]incoming-request.path-with-query") void w_req_path(u32 r, void *ret); /* option<string>: tag@0 ptr@4 len@8 */
IMPORT(HTTP_TYPES, "[method]incoming-request.scheme") void w_req_scheme(u32 r, void *ret);    /* option tag@0, scheme tag@4, other: string@8 */
IMPORT(HTTP_TYPES, "[method]incoming-request.authority") void w_req_authority(u32 r, void *ret);
IMPORT(HTTP_TYPES, "[method]incoming-request.headers") u32 w_req_headers(u32 r);
IMPORT(HTTP_TYPES, "[method]incoming-request.consume") void w_req_consume(u32 r, void *ret);   /* tag@0 body@4 */
IMPORT(HTTP_TYPES, "[resource-drop]incoming-request") void w_req_drop(u32 r);
IMPORT(HTTP_TYPES, "[method]incoming-body.stream") void w_inbody_stream(u32 b, void *ret);     /* tag@0 stream@4 */
IMPORT(HTTP_TYPES, "[resource-drop]incoming-body") void w_inbody_drop(u32 b);
IMPORT(HTTP_TYPES, "[constructor]outgoing-response") u32 w_resp_new(u32 headers);
IMPORT(HTTP_TYPES, "[method]outgoing-response.set-status-code") u32 w_resp_set_status(u32 r, u32 code);
IMPORT(HTTP_TYPES, "[method]outgoing-response.body") void w_resp_body(u32 r, void *ret);       /* tag@0 body@4 */
IMPORT(HTTP_TYPES, "[method]outgoing-body.write") void w_outbody_write(u32 b, void *ret);      /* tag@0 stream@4 */
IMPORT(HTTP_TYPES, "[static]outgoing-body.finish") void w_outbody_finish(u32 b, u32 has_trailers, u32 trailers, void *ret);
IMPORT(HTTP_TYPES, "[resource-drop]outgoing-body") void w_outbody_drop(u32 b);
/* response-outparam.set(param, result<outgoing-response, error-code>), flattened:
 * param, result tag, then the error-code payload (i32 i32 i64 i32 i32 i32 i32);
 * for ok the response handle is the first payload slot. */
IMPORT(HTTP_TYPES, "[static]response-outparam.set") void w_outparam_set(u32 param, u32 tag, u32 a, u32 b, u64 c, u32 d, u32 e, u32 f, u32 g);

/* used by the wasi_experimental_http adapter */
IMPORT(HTTP_TYPES, "[constructor]outgoing-request") u32 w_oreq_new(u32 headers);
IMPORT(HTTP_TYPES, "[method]outgoing-request.set-method") u32 w_oreq_set_method(u32 r, u32 tag, const void *p, u32 n);
IMPORT(HTTP_TYPES, "[method]outgoing-request.set-path-with-query") u32 w_oreq_set_path(u32 r, u32 some, const void *p, u32 n);
IMPORT(HTTP_TYPES, "[method]outgoing-request.set-scheme") u32 w_oreq_set_scheme(u32 r, u32 some, u32 tag, const void *p, u32 n);
IMPORT(HTTP_TYPES, "[method]outgoing-request.set-authority") u32 w_oreq_set_authority(u32 r, u32 some, const void *p, u32 n);
IMPORT(HTTP_TYPES, "[method]outgoing-request.body") void w_oreq_body(u32 r, void *ret);        /* tag@0 body@4 */
IMPORT(HTTP_TYPES, "[method]future-incoming-response.subscribe") u32 w_fut_subscribe(u32 f);
/* get: option tag@0; result<result<incoming-response, error-code>> tag@8; inner tag@16; response@24 */
IMPORT(HTTP_TYPES, "[method]future-incoming-response.get") void w_fut_get(u32 f, void *ret);
IMPORT(HTTP_TYPES, "[resource-drop]future-incoming-response") void w_fut_drop(u32 f);
IMPORT(HTTP_TYPES, "[method]incoming-response.status") u32 w_iresp_status(u32 r);
IMPORT(HTTP_TYPES, "[method]incoming-response.headers") u32 w_iresp_headers(u32 r);
IMPORT(HTTP_TYPES, "[method]incoming-response.consume") void w_iresp_consume(u32 r, void *ret); /* tag@0 body@4 */
IMPORT(HTTP_TYPES, "[resource-drop]incoming-response") void w_iresp_drop(u32 r);
/* outgoing-handler.handle(request, option<request-options>) -> result<future, error-code>:
 * ret: tag@0, ok: future@8 */
IMPORT(HTTP_OUT, "handle") void w_http_handle(u32 req, u32 has_opts, u32 opts, void *ret);

#endif
