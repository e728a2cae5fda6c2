/* A Wagi test module in C built with zig cc (zig's own wasi-libc). */
#include <stdio.h>
#include <stdlib.h>
extern char **environ;
int main(int argc, char **argv) {
  printf("Content-Type: text/plain\nX-Lang: zig-cc\n\n");
  for (int i = 0; i < argc; i++) printf("argv[%d]=%s\n", i, argv[i]);
  for (char **e = environ; *e; e++) printf("%s\n", *e);
  return 0;
}
