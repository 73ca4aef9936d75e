/*
 * gw_tls: the gateway's TLS (OpenSSL 3) for the epoll loops. One gw_tls_t (an SSL_CTX) is
 * built at start-up from the settings and shared read-only by every I/O thread; each
 * connection has its own gw_tls_conn_t (an SSL) over its non-blocking socket.
 *
 * Policy: TLS 1.2 and 1.3 only; TLS 1.2 limited to ECDHE with AES-GCM or ChaCha20-Poly1305;
 * no compression, no renegotiation, no session tickets or cache (connections are long-lived
 * keep-alive ones, and a fresh handshake always re-checks the client certificate).
 *
 * Client certificates (gateway.tls_client_auth): "none" asks for none; "optional" asks, and
 * a certificate that is sent must chain to gateway.tls_client_ca (the HTTP layer then maps its
 * fingerprint to an organisation, or answers 401); "required" also refuses the handshake
 * without a certificate, or with one whose fingerprint is not in gateway.orgs.
 *
 * Calls return like nginx's: bytes (> 0), or one of the GW_TLS_* codes below, so that the
 * loop keeps "call again when readable / writable" apart from errors. OpenSSL's error queue
 * is cleared before each call and read (into the debug log) where an error enters.
 */
#ifndef GW_TLS_H
#define GW_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "gw_orgs.h"
#include "ing_codec.h"
#include "ing_error.h"

typedef struct gw_tls gw_tls_t;
typedef struct gw_tls_conn gw_tls_conn_t;

typedef enum gw_tls_client_auth {
    GW_TLS_CLIENT_NONE,
    GW_TLS_CLIENT_OPTIONAL,
    GW_TLS_CLIENT_REQUIRED,
} gw_tls_client_auth_t;

/** Parses "none", "optional" or "required". @returns false for anything else. */
bool gw_tls_client_auth_parse(const char *s, gw_tls_client_auth_t *out);

typedef struct gw_tls_conf {
    const char *cert;      /* PEM: the server certificate, then its chain */
    const char *key;       /* PEM private key */
    const char *client_ca; /* PEM bundle the client certificates must chain to; "" = none */
    gw_tls_client_auth_t client_auth;
    const gw_orgs_t *orgs; /* @borrows, outlives the context: "required" checks fingerprints */
} gw_tls_conf_t;

/**
 * Builds the shared context: loads and checks the certificate, the key and the client CA.
 * @returns ING_OK and *out (@owns: gw_tls_destroy), or ING_ERR_CONFIG with a one-line reason
 *          (OpenSSL's included) in errstr.
 */
ing_err_t gw_tls_create(const gw_tls_conf_t *conf, gw_tls_t **out, char *errstr,
                        size_t errstr_size) ING_MUST_CHECK;

void gw_tls_destroy(gw_tls_t *tls);

/* Results besides a byte count. */
#define GW_TLS_CLOSED 0        /* the peer closed (close_notify or EOF) */
#define GW_TLS_ERROR (-1)      /* fatal: close the connection */
#define GW_TLS_WANT_READ (-2)  /* call again when the socket is readable */
#define GW_TLS_WANT_WRITE (-3) /* call again when the socket is writable */

/**
 * A session over fd (server side). @returns NULL on out-of-memory.
 * @locality the connection's I/O thread, like every call below.
 */
gw_tls_conn_t *gw_tls_conn_create(gw_tls_t *tls, int fd);

/** Frees the session; with notify, first sends close_notify if it can without waiting. */
void gw_tls_conn_destroy(gw_tls_conn_t *c, bool notify);

/** Advances the handshake. @returns 1 when done, or GW_TLS_ERROR / WANT_READ / WANT_WRITE. */
int gw_tls_handshake(gw_tls_conn_t *c);

/** Reads decrypted bytes. @returns > 0, or GW_TLS_CLOSED / ERROR / WANT_READ / WANT_WRITE. */
ssize_t gw_tls_read(gw_tls_conn_t *c, void *buf, size_t len);

/** Writes (possibly partially). @returns > 0, or GW_TLS_ERROR / WANT_READ / WANT_WRITE. */
ssize_t gw_tls_write(gw_tls_conn_t *c, const void *buf, size_t len);

/** Decrypted bytes OpenSSL holds that the socket will not signal again. */
size_t gw_tls_pending(const gw_tls_conn_t *c);

/**
 * The SHA-256 of the client certificate's DER (after a completed handshake).
 * @returns false when the client sent none.
 */
bool gw_tls_peer_fingerprint(const gw_tls_conn_t *c, uint8_t out[ING_SHA256_LEN]);

/** The negotiated protocol ("TLSv1.3"...) for logs. */
const char *gw_tls_version(const gw_tls_conn_t *c);

/** Why the last call failed (OpenSSL's reason), for a debug log line. Never NULL. */
const char *gw_tls_last_error(const gw_tls_conn_t *c);

#endif
