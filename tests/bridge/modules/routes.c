/* A Wagi module with dynamic routes: `_routes` prints "path entrypoint" lines,
 * and each entrypoint is an export called instead of _start. */
#include <stdio.h>
#include <stdlib.h>

static void show(const char *who) {
  printf("Content-Type: text/plain\n\n%s\n", who);
  const char *vars[] = {"SCRIPT_NAME", "PATH_INFO", "X_MATCHED_ROUTE", 0};
  for (int i = 0; vars[i]; i++) printf("%s=%s\n", vars[i], getenv(vars[i]) ? getenv(vars[i]) : "(unset)");
  fflush(stdout);
}

__attribute__((export_name("_routes"))) void routes(void) {
  printf("/exact hello\n/wild/... wild\n");
  fflush(stdout);
}
__attribute__((export_name("hello"))) void hello(void) { show("entry hello"); }
__attribute__((export_name("wild"))) void wild(void) { show("entry wild"); }
__attribute__((export_name("other"))) void other(void) { show("entry other"); }

int main(void) {
  show("main (_start)");
  return 0;
}
