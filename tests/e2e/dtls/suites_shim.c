/* A DTLS peer with the cipher suites a test chooses, for the end-to-end tests only.
 *
 * GStreamer 1.22's DTLS fixes its suites ("ALL:!ADH:!LOW:!EXP:!MD5:@STRENGTH", gstdtlsagent.c)
 * and has no property to change them. Preloaded into `kioskctl doctor`, this replaces the list
 * with PRAXISKIOSK_TEST_SUITES (an OpenSSL cipher string) and writes each finished or failed
 * handshake step to PRAXISKIOSK_TEST_SUITES_LOG: "ok <version> <cipher>", "failed <reason>" or
 * "waiting" (for the other side's next datagram).
 * So `kioskctl doctor` stands in for an independent peer whose suites are limited, and the test
 * learns what was negotiated.
 *
 * GStreamer opens its DTLS plugin, and with it OpenSSL, privately (not in the global scope), so
 * the real functions are looked up in OpenSSL itself, not with RTLD_NEXT. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>

#define SSL_ERROR_SSL 1

static void *real(const char *name) {
  static void *ssl;
  if (!ssl)
    ssl = dlopen("libssl.so.3", RTLD_NOW | RTLD_GLOBAL);
  void *function = ssl ? dlsym(ssl, name) : NULL;
  if (!function) {
    fprintf(stderr, "suites shim: no %s in libssl.so.3\n", name);
    abort();
  }
  return function;
}

int SSL_CTX_set_cipher_list(void *ctx, const char *list) {
  int (*set)(void *, const char *) = real("SSL_CTX_set_cipher_list");
  const char *chosen = getenv("PRAXISKIOSK_TEST_SUITES");
  return set(ctx, chosen && *chosen ? chosen : list);
}

static void note(const char *what, const char *a, const char *b) {
  const char *path = getenv("PRAXISKIOSK_TEST_SUITES_LOG");
  FILE *log = path ? fopen(path, "a") : NULL;
  if (!log)
    return;
  fprintf(log, "%s %s %s\n", what, a ? a : "-", b ? b : "-");
  fclose(log);
}

int SSL_do_handshake(void *ssl) {
  int (*handshake)(void *) = real("SSL_do_handshake");
  int ret = handshake(ssl);
  if (ret == 1) {
    const void *(*cipher)(const void *) = real("SSL_get_current_cipher");
    const char *(*cipher_name)(const void *) = real("SSL_CIPHER_get_name");
    const char *(*version)(const void *) = real("SSL_get_version");
    note("ok", version(ssl), cipher_name(cipher(ssl)));
  } else {
    int (*get_error)(const void *, int) = real("SSL_get_error");
    int error = get_error(ssl, ret);
    /* Only a protocol error ends a handshake; GStreamer's memory BIO also reports the others
     * (waiting for the next datagram) while a handshake goes well. */
    if (error == SSL_ERROR_SSL) {
      unsigned long (*peek)(void) = real("ERR_peek_error");
      const char *(*reason)(unsigned long) = real("ERR_reason_error_string");
      note("failed", reason(peek()), NULL);
    } else {
      note("waiting", NULL, NULL);
    }
  }
  return ret;
}
