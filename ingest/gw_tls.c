#include "gw_tls.h"

#include <errno.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Mozilla's "intermediate" TLS 1.2 suites (forward secrecy, AEAD only); TLS 1.3 keeps
 * OpenSSL's default suites, which are all AEAD. */
#define TLS12_CIPHERS                                                                              \
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"                                   \
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"                                   \
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305"
#define VERIFY_DEPTH 4

struct gw_tls {
    SSL_CTX *ctx;
    gw_tls_conf_t conf;
};

struct gw_tls_conn {
    SSL *ssl;
    bool failed; /* a fatal error: no close_notify may follow */
    char error[160];
};

bool gw_tls_client_auth_parse(const char *s, gw_tls_client_auth_t *out)
{
    static const struct {
        const char *name;
        gw_tls_client_auth_t value;
    } names[] = {{"none", GW_TLS_CLIENT_NONE},
                 {"optional", GW_TLS_CLIENT_OPTIONAL},
                 {"required", GW_TLS_CLIENT_REQUIRED}};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (strcmp(s, names[i].name) == 0) {
            *out = names[i].value;
            return true;
        }
    return false;
}

/* Appends OpenSSL's most recent error reason to errstr's message and clears the queue. */
static ing_err_t config_error(char *errstr, size_t errstr_size, const char *what, const char *path)
{
    char reason[200] = "";
    unsigned long e = ERR_peek_last_error();
    if (e)
        ERR_error_string_n(e, reason, sizeof(reason));
    ERR_clear_error();
    snprintf(errstr, errstr_size, "%s%s%s%s%s", what, path ? " " : "", path ? path : "",
             reason[0] ? ": " : "", reason);
    return ING_ERR_CONFIG;
}

/* "required": the leaf certificate must also be one of gateway.orgs, so that an unknown
 * certificate never completes a handshake. */
static int verify_registered(int preverify_ok, X509_STORE_CTX *store)
{
    if (!preverify_ok || X509_STORE_CTX_get_error_depth(store) != 0)
        return preverify_ok;
    SSL *ssl = X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx());
    const gw_tls_t *tls = ssl ? SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl)) : NULL;
    uint8_t fp[ING_SHA256_LEN];
    unsigned int n = 0;
    X509 *leaf = X509_STORE_CTX_get_current_cert(store);
    if (tls && leaf && X509_digest(leaf, EVP_sha256(), fp, &n) && n == sizeof(fp) &&
        gw_orgs_by_cert(tls->conf.orgs, fp))
        return 1;
    X509_STORE_CTX_set_error(store, X509_V_ERR_CERT_REJECTED);
    return 0;
}

ing_err_t gw_tls_create(const gw_tls_conf_t *conf, gw_tls_t **out, char *errstr, size_t errstr_size)
{
    ing_err_t err = ING_ERR_CONFIG;
    gw_tls_t *tls = calloc(1, sizeof(*tls));
    if (!tls) {
        snprintf(errstr, errstr_size, "TLS: out of memory");
        return ING_ERR_NOMEM;
    }
    tls->conf = *conf;
    ERR_clear_error();
    SSL_CTX *ctx = tls->ctx = SSL_CTX_new(TLS_server_method());
    if (!ctx) {
        err = config_error(errstr, errstr_size, "TLS: cannot create a context", NULL);
        goto fail;
    }
    SSL_CTX_set_app_data(ctx, tls);
    if (!SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) ||
        !SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION) ||
        !SSL_CTX_set_cipher_list(ctx, TLS12_CIPHERS)) {
        err = config_error(errstr, errstr_size, "TLS: protocol or cipher setup failed", NULL);
        goto fail;
    }
    SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_TICKET |
                                 SSL_OP_IGNORE_UNEXPECTED_EOF);
    SSL_CTX_set_num_tickets(ctx, 0);
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    /* The loop retries a partial write with the rest of its output buffer, which may have
     * moved; idle connections give their read and write buffers back. */
    SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
                              SSL_MODE_RELEASE_BUFFERS);
    if (SSL_CTX_use_certificate_chain_file(ctx, conf->cert) != 1) {
        err = config_error(errstr, errstr_size, "gateway.tls_cert: cannot load", conf->cert);
        goto fail;
    }
    if (SSL_CTX_use_PrivateKey_file(ctx, conf->key, SSL_FILETYPE_PEM) != 1) {
        err = config_error(errstr, errstr_size, "gateway.tls_key: cannot load", conf->key);
        goto fail;
    }
    if (SSL_CTX_check_private_key(ctx) != 1) {
        err = config_error(errstr, errstr_size,
                           "gateway.tls_key does not match gateway.tls_cert:", conf->key);
        goto fail;
    }
    if (conf->client_auth != GW_TLS_CLIENT_NONE) {
        if (!conf->client_ca || !conf->client_ca[0]) {
            snprintf(errstr, errstr_size,
                     "gateway.tls_client_auth = %s needs gateway.tls_client_ca",
                     conf->client_auth == GW_TLS_CLIENT_REQUIRED ? "required" : "optional");
            goto fail;
        }
        STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(conf->client_ca);
        if (!names || SSL_CTX_load_verify_locations(ctx, conf->client_ca, NULL) != 1) {
            sk_X509_NAME_pop_free(names, X509_NAME_free);
            err = config_error(errstr, errstr_size, "gateway.tls_client_ca: cannot load",
                               conf->client_ca);
            goto fail;
        }
        SSL_CTX_set_client_CA_list(ctx, names); /* takes names */
        if (conf->client_auth == GW_TLS_CLIENT_REQUIRED)
            SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT,
                               verify_registered);
        else
            SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
        SSL_CTX_set_verify_depth(ctx, VERIFY_DEPTH);
    } else if (conf->client_ca && conf->client_ca[0]) {
        snprintf(errstr, errstr_size,
                 "gateway.tls_client_ca is set but gateway.tls_client_auth is none");
        goto fail;
    }
    *out = tls;
    return ING_OK;
fail:
    gw_tls_destroy(tls);
    return err;
}

void gw_tls_destroy(gw_tls_t *tls)
{
    if (!tls)
        return;
    SSL_CTX_free(tls->ctx);
    free(tls);
}

gw_tls_conn_t *gw_tls_conn_create(gw_tls_t *tls, int fd)
{
    gw_tls_conn_t *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    ERR_clear_error();
    c->ssl = SSL_new(tls->ctx);
    if (!c->ssl || SSL_set_fd(c->ssl, fd) != 1) {
        ERR_clear_error();
        SSL_free(c->ssl);
        free(c);
        return NULL;
    }
    SSL_set_accept_state(c->ssl);
    return c;
}

void gw_tls_conn_destroy(gw_tls_conn_t *c, bool notify)
{
    if (!c)
        return;
    if (notify && !c->failed && SSL_is_init_finished(c->ssl)) {
        ERR_clear_error();
        (void)SSL_shutdown(c->ssl); /* one non-blocking attempt; no wait for the peer's */
    }
    ERR_clear_error();
    SSL_free(c->ssl);
    free(c);
}

/* Translates the result of an SSL call; rc <= 0. */
static int outcome(gw_tls_conn_t *c, int rc)
{
    int e = SSL_get_error(c->ssl, rc);
    switch (e) {
    case SSL_ERROR_WANT_READ:
        return GW_TLS_WANT_READ;
    case SSL_ERROR_WANT_WRITE:
        return GW_TLS_WANT_WRITE;
    case SSL_ERROR_ZERO_RETURN:
        return GW_TLS_CLOSED;
    case SSL_ERROR_SYSCALL:
        snprintf(c->error, sizeof(c->error), "%s", errno ? strerror(errno) : "EOF");
        break;
    default: {
        unsigned long le = ERR_peek_last_error();
        if (le)
            ERR_error_string_n(le, c->error, sizeof(c->error));
        else
            snprintf(c->error, sizeof(c->error), "SSL error %d", e);
        break;
    }
    }
    ERR_clear_error();
    c->failed = true;
    return GW_TLS_ERROR;
}

int gw_tls_handshake(gw_tls_conn_t *c)
{
    ERR_clear_error();
    errno = 0;
    int rc = SSL_do_handshake(c->ssl);
    if (rc == 1)
        return 1;
    rc = outcome(c, rc);
    if (rc == GW_TLS_CLOSED) { /* a close during the handshake is a failed handshake */
        snprintf(c->error, sizeof(c->error), "closed during the handshake");
        c->failed = true;
        return GW_TLS_ERROR;
    }
    return rc;
}

ssize_t gw_tls_read(gw_tls_conn_t *c, void *buf, size_t len)
{
    ERR_clear_error();
    errno = 0;
    size_t n = 0;
    int rc = SSL_read_ex(c->ssl, buf, len, &n);
    return rc == 1 ? (ssize_t)n : outcome(c, rc);
}

ssize_t gw_tls_write(gw_tls_conn_t *c, const void *buf, size_t len)
{
    ERR_clear_error();
    errno = 0;
    size_t n = 0;
    int rc = SSL_write_ex(c->ssl, buf, len, &n);
    if (rc == 1)
        return (ssize_t)n;
    rc = outcome(c, rc);
    if (rc == GW_TLS_CLOSED) { /* cannot happen on a write; treat as fatal */
        c->failed = true;
        return GW_TLS_ERROR;
    }
    return rc;
}

size_t gw_tls_pending(const gw_tls_conn_t *c)
{
    int n = SSL_pending(c->ssl);
    return n > 0 ? (size_t)n : 0;
}

bool gw_tls_peer_fingerprint(const gw_tls_conn_t *c, uint8_t out[ING_SHA256_LEN])
{
    X509 *x = SSL_get0_peer_certificate(c->ssl);
    unsigned int n = 0;
    return x && X509_digest(x, EVP_sha256(), out, &n) && n == ING_SHA256_LEN;
}

const char *gw_tls_version(const gw_tls_conn_t *c)
{
    return SSL_get_version(c->ssl);
}

const char *gw_tls_last_error(const gw_tls_conn_t *c)
{
    return c->error[0] ? c->error : "no error";
}
