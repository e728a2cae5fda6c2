/* A Wagi test module in C (wasi-libc): argv[1] (the first query word) picks what it does. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static void hdr(const char *ct) { printf("Content-Type: %s\n\n", ct); }

int main(int argc, char **argv) {
  const char *cmd = argc > 1 ? argv[1] : "env";
  const char *arg = argc > 2 ? argv[2] : "";
  if (!strcmp(cmd, "env")) {
    hdr("text/plain");
    for (int i = 0; i < argc; i++) printf("argv[%d]=%s\n", i, argv[i]);
    for (char **e = environ; *e; e++) printf("%s\n", *e);
  } else if (!strcmp(cmd, "echo")) { /* the body back, byte for byte */
    printf("Content-Type: application/octet-stream\n\n");
    fflush(stdout);
    static char buf[65536];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, stdin)) > 0) fwrite(buf, 1, n, stdout);
  } else if (!strcmp(cmd, "mecho")) { /* the body back, through one malloc'ed buffer */
    size_t cap = 4096, len = 0, n;
    char *buf = malloc(cap);
    while ((n = fread(buf + len, 1, cap - len, stdin)) > 0) {
      len += n;
      if (len == cap) buf = realloc(buf, cap *= 2);
    }
    printf("Content-Type: application/octet-stream\n\n");
    fwrite(buf, 1, len, stdout);
  } else if (!strcmp(cmd, "big")) { /* N bytes of a pattern */
    long n = atol(arg);
    hdr("application/octet-stream");
    for (long i = 0; i < n; i++) putchar('a' + i % 26);
  } else if (!strcmp(cmd, "exit")) {
    hdr("text/plain");
    printf("exiting with %s\n", arg);
    exit(atoi(arg));
  } else if (!strcmp(cmd, "status")) {
    printf("Status: %s Custom\nContent-Type: text/plain\n\nstatus %s\n", arg, arg);
  } else if (!strcmp(cmd, "location")) {
    printf("Location: /elsewhere\n\n");
  } else if (!strcmp(cmd, "locstatus")) {
    printf("Location: /elsewhere\nStatus: 201 Created\n\n");
  } else if (!strcmp(cmd, "noheader")) {
    printf("just text\n");
  } else if (!strcmp(cmd, "noblank")) {
    printf("Content-Type: text/plain\nfib(0)=0");
  } else if (!strcmp(cmd, "headers")) {
    printf("Content-Type: text/plain\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\nX-Thing: one\r\n"
           "Content-Type: text/html\r\nbad line\r\nBad Name: x\r\nX-Ctl: a\001b\r\n\r\nbody\r\nkept\r\n");
  } else if (!strcmp(cmd, "sleep")) {
    struct timespec ts = {0, atol(arg) * 1000000L};
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    nanosleep(&ts, 0);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    hdr("text/plain");
    printf("slept %ld ms\n", (long)((t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000));
    printf("time %ld\n", (long)time(0));
  } else if (!strcmp(cmd, "file")) {
    FILE *f = fopen(arg, "rb");
    if (!f) { printf("Status: 404\nContent-Type: text/plain\n\nno %s\n", arg); return 0; }
    hdr("application/octet-stream");
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0) fwrite(buf, 1, n, stdout);
    fseek(f, 0, SEEK_END);
    fprintf(stderr, "file %s size %ld\n", arg, ftell(f));
    fclose(f);
  } else if (!strcmp(cmd, "write")) { /* write "written\n" to the file (a volume: read-only under Spin) */
    FILE *f = fopen(arg, "w");
    if (!f || fputs("written\n", f) < 0 || fclose(f)) {
      printf("Status: 403\nContent-Type: text/plain\n\ncannot write %s\n", arg);
      return 0;
    }
    hdr("text/plain");
    printf("wrote %s\n", arg);
  } else if (!strcmp(cmd, "ls")) {
    DIR *d = opendir(arg);
    if (!d) { printf("Status: 404\nContent-Type: text/plain\n\nno dir %s\n", arg); return 0; }
    hdr("text/plain");
    struct dirent *e;
    while ((e = readdir(d))) printf("%s\n", e->d_name);
    closedir(d);
  } else if (!strcmp(cmd, "stderr")) {
    fprintf(stderr, "a line on stderr\n");
    hdr("text/plain");
    printf("see stderr\n");
  } else if (!strcmp(cmd, "trap")) {
    hdr("text/plain");
    printf("about to trap\n");
    fflush(stdout);
    __builtin_trap();
  } else if (!strcmp(cmd, "hello")) {
    hdr("text/plain");
    printf("hello\n");
  } else {
    hdr("text/plain");
    printf("unknown %s\n", cmd);
  }
  return 0;
}
