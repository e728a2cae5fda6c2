/* A Wagi module that uses Wagi's outbound HTTP (wasi_experimental_http):
 * GET (or POST the request body to) the URL given in the query string. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define IMP(name) __attribute__((import_module("wasi_experimental_http"), import_name(name)))
IMP("req") uint32_t x_req(const char *url, size_t url_len, const char *method, size_t method_len,
                          const char *hdrs, size_t hdrs_len, const char *body, size_t body_len,
                          uint16_t *status, uint32_t *handle);
IMP("close") uint32_t x_close(uint32_t handle);
IMP("header_get") uint32_t x_header_get(uint32_t handle, const char *name, size_t name_len, char *buf,
                                        size_t buf_len, size_t *written);
IMP("headers_get_all") uint32_t x_headers_get_all(uint32_t handle, char *buf, size_t buf_len, size_t *written);
IMP("body_read") uint32_t x_body_read(uint32_t handle, char *buf, size_t buf_len, size_t *written);

int main(int argc, char **argv) {
  const char *url = argc > 1 ? argv[1] : "http://127.0.0.1:3907/hello.txt";
  const char *method = getenv("REQUEST_METHOD");
  static char body[1 << 16];
  size_t blen = fread(body, 1, sizeof body, stdin);
  const char *hdrs = "x-from:wagi\nx-two:2\n";
  uint16_t status = 0;
  uint32_t h = 0;
  uint32_t err = x_req(url, strlen(url), method, strlen(method), hdrs, strlen(hdrs), body, blen, &status, &h);
  printf("Content-Type: text/plain\n\n");
  printf("req err=%u status=%u handle=%u\n", err, status, h);
  if (err) return 0;
  char buf[4096];
  size_t n = 0;
  err = x_header_get(h, "Content-Type", 12, buf, sizeof buf, &n);
  printf("header_get content-type err=%u value=%.*s\n", err, (int)n, buf);
  err = x_header_get(h, "x-missing", 9, buf, sizeof buf, &n);
  printf("header_get x-missing err=%u\n", err);
  err = x_headers_get_all(h, buf, 4, &n);
  printf("headers_get_all small err=%u\n", err);
  err = x_headers_get_all(h, buf, sizeof buf, &n);
  printf("headers_get_all err=%u has-content-length=%d\n", err, strstr(buf, "content-length:") != 0);
  size_t total = 0;
  printf("body: ");
  while ((err = x_body_read(h, buf, 7, &n)) == 0 && n) { /* small reads on purpose */
    fwrite(buf, 1, n, stdout);
    total += n;
  }
  printf("\nbody_read end err=%u total=%zu\n", err, total);
  printf("close err=%u, close again err=%u\n", x_close(h), x_close(h));
  return 0;
}
