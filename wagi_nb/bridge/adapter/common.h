/* Basic types and helpers shared by the adapters.
 *
 * An adapter may not have data sections (wit-component places it in the main
 * module's memory, where it owns no fixed addresses). So:
 *  - no string literals may end up in memory: constant text is written with
 *    PUT()/compared with EQ_LIT(), which the compiler fully unrolls into
 *    immediate stores and compares (wagi_nb/bridge/adapters.py refuses a
 *    build with a data section);
 *  - no initialised or zero-initialised statics: all state is in a block of
 *    pages the adapter grows itself, reached through a wasm global (globals.s);
 *  - no function pointers (no table).
 */
#ifndef WAGI_COMMON_H
#define WAGI_COMMON_H

typedef unsigned char u8;
typedef unsigned short u16;
typedef unsigned int u32;
typedef unsigned long long u64;
typedef int i32;
typedef long long i64;
typedef unsigned long usize;

#define NULL ((void *)0)
#define INLINE static inline __attribute__((always_inline))
#define NOINLINE __attribute__((noinline))
#define EXPORT(name) __attribute__((export_name(name)))

#define LOAD8(p, off) (*(volatile u8 *)((u8 *)(p) + (off)))
#define LD8(p, off) (*(u8 *)((u8 *)(p) + (off)))
#define LD16(p, off) (*(u16 *)((u8 *)(p) + (off)))
#define LD32(p, off) (*(u32 *)((u8 *)(p) + (off)))
#define LD64(p, off) (*(u64 *)((u8 *)(p) + (off)))
#define ST8(p, off, v) (*(u8 *)((u8 *)(p) + (off)) = (u8)(v))
#define ST16(p, off, v) (*(u16 *)((u8 *)(p) + (off)) = (u16)(v))
#define ST32(p, off, v) (*(u32 *)((u8 *)(p) + (off)) = (u32)(v))
#define ST64(p, off, v) (*(u64 *)((u8 *)(p) + (off)) = (u64)(v))

/* memcpy/memset become memory.copy/memory.fill (-mbulk-memory). */
#define COPY(d, s, n) __builtin_memcpy((d), (s), (n))
#define ZERO(d, n) __builtin_memset((d), 0, (n))

/* Write a string literal as immediates; returns the end. The literal is
 * packed into 8-byte words at compile time (the loops are fully unrolled and
 * the loads from the literal folded), so it costs one i64 store per 8 bytes
 * and never needs a data section. */
INLINE u64 lit_word(const char *s, u32 i) {
  u64 w = 0;
#pragma clang loop unroll(full)
  for (u32 k = 0; k < 8; k++) w |= (u64)(u8)s[i + k] << (8 * k);
  return w;
}
INLINE u8 *put_lit(u8 *p, const char *s, u32 n) {
  u32 i = 0;
#pragma clang loop unroll(full)
  for (; i + 8 <= n; i += 8) {
    u64 w = lit_word(s, i);
    __builtin_memcpy(p + i, &w, 8);
  }
  if (i < n && n >= 8) { /* the tail: one more word, overlapping the last one */
    u64 w = lit_word(s, n - 8);
    __builtin_memcpy(p + n - 8, &w, 8);
  } else {
#pragma clang loop unroll(full)
    for (; i < n; i++) p[i] = (u8)s[i];
  }
  return p + n;
}
#define PUT(p, lit) put_lit((p), (lit), sizeof(lit) - 1)

/* Comparisons with a literal: the literal is first written to the stack with
 * immediate stores (PUT), then compared by one shared function. (A compare
 * loop over the literal itself is not always unrolled by clang, and would then
 * read the literal from a data section; this form is also smaller.) */
__attribute__((noinline)) int eq_n(const u8 *p, u32 len, const u8 *lit, u32 n, int ci);
#define EQ_LIT_(p, len, lit, ci)                                  \
  ({                                                              \
    u8 _lit[sizeof(lit)];                                         \
    PUT(_lit, lit);                                               \
    eq_n((const u8 *)(p), (len), _lit, sizeof(lit) - 1, (ci));    \
  })
/* ASCII case-insensitive; the literal in lower case */
#define EQ_LIT_CI(p, len, lit) EQ_LIT_(p, len, lit, 1)
#define EQ_LIT(p, len, lit) EQ_LIT_(p, len, lit, 0)
/* Does p[0..len) start with the literal? */
#define STARTS_LIT(p, len, lit) ((len) >= sizeof(lit) - 1 && EQ_LIT(p, sizeof(lit) - 1, lit))

INLINE int bytes_eq(const u8 *a, u32 an, const u8 *b, u32 bn) {
  if (an != bn) return 0;
  for (u32 i = 0; i < an; i++)
    if (a[i] != b[i]) return 0;
  return 1;
}

/* ASCII case-insensitive comparison of two byte strings of length n. */
INLINE int eq_ci_bytes(const u8 *a, const u8 *b, u32 n) {
  for (u32 i = 0; i < n; i++) {
    u8 x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x += 32;
    if (y >= 'A' && y <= 'Z') y += 32;
    if (x != y) return 0;
  }
  return 1;
}

INLINE u8 lower(u8 c) { return (c >= 'A' && c <= 'Z') ? c + 32 : c; }

/* Decimal text of v at p; returns the end. (No temporary array: the
 * experimental_http adapter must not need a stack.) */
INLINE u8 *put_u64(u8 *p, u64 v) {
  u32 n = 1;
  for (u64 t = v; t >= 10; t /= 10) n++;
  for (u32 i = n; i; i--) {
    p[i - 1] = (u8)('0' + v % 10);
    v /= 10;
  }
  return p + n;
}

/* Preview 1 errno values used here. */
enum {
  E_SUCCESS = 0, E_ACCES = 2, E_AGAIN = 6, E_BADF = 8, E_EXIST = 20, E_FAULT = 21,
  E_INVAL = 28, E_IO = 29, E_ISDIR = 31, E_NOENT = 44, E_NOMEM = 48, E_NOSYS = 52,
  E_NOTDIR = 54, E_NOTSUP = 58, E_OVERFLOW = 61, E_PIPE = 64, E_ROFS = 69, E_SPIPE = 70,
};

#endif
