/*
 * gw_auth: who is calling. The loop identifies each request once its head is complete
 * (gw_auth_identify, through gw_api_precheck), before reading its body; the API then checks a
 * body's source.finess against that identity (gw_auth_claim: 403 source_mismatch, per item in
 * a batch) and shows a submission only to the organisation that sent it.
 *
 * Credentials, in this order (gateway.orgs maps each to a FINESS, see gw_orgs):
 *   1. `Authorization: Bearer <API key>`: a known key, else 401. When the connection also
 *      carries a registered client certificate, both must name the same organisation.
 *   2. a TLS client certificate (gateway.tls_client_auth optional or required): registered by
 *      its fingerprint, else 401.
 *   3. loopback trust (gateway.trust_loopback, plain HTTP on a loopback listener only, for
 *      local stacks and tests): the body's source.finess, or X-Ing-Org for a read, is believed.
 *   Nothing of that: 401 with `WWW-Authenticate: Bearer`.
 */
#ifndef GW_AUTH_H
#define GW_AUTH_H

#include <stdbool.h>
#include <stddef.h>

#include "gw_http.h"
#include "gw_orgs.h"
#include "gw_response.h"
#include "ing_envelope.h"

typedef struct gw_auth_conf {
    bool trust_loopback;
    bool tls;              /* the listener speaks TLS */
    const gw_orgs_t *orgs; /* @borrows; NULL when gateway.orgs is not set */
} gw_auth_conf_t;

/** What the connection knows about its peer; set at accept and after the TLS handshake. */
typedef struct gw_auth_peer {
    bool listener_loopback;            /* the listening socket is bound to a loopback address */
    bool tls;                          /* the connection is a TLS one */
    bool cert;                         /* the client sent a certificate (it chained to the CA) */
    char cert_org[ING_FINESS_LEN + 1]; /* the certificate's organisation, "" if unregistered */
} gw_auth_peer_t;

/** Who a request is from. */
typedef struct gw_auth_id {
    char org[ING_FINESS_LEN + 1]; /* the FINESS; under loopback trust, X-Ing-Org's or "" (any) */
    bool trusted;                 /* loopback trust: without X-Ing-Org a body names its own */
    const char *method;           /* "api_key", "certificate" or "loopback", for logs */
} gw_auth_id_t;

/**
 * Checks at start-up that the configured authentication fits the listener: plain HTTP only on
 * a loopback address, loopback trust only there and without TLS, and some way to authenticate.
 * @returns ING_OK, or ING_ERR_CONFIG with a reason in errstr.
 */
ing_err_t gw_auth_check_listener(const gw_auth_conf_t *conf, bool listener_loopback, char *errstr,
                                 size_t errstr_size) ING_MUST_CHECK;

/** Records the client certificate's fingerprint (NULL: none sent) and its organisation. */
void gw_auth_peer_set_cert(gw_auth_peer_t *peer, const gw_orgs_t *orgs,
                           const uint8_t fingerprint[ING_SHA256_LEN]);

/**
 * Identifies the request from its head and its connection.
 * @returns true with *id, or false with *p: 401 unauthorized (WWW-Authenticate: Bearer), or
 *          422 finess_invalid for a malformed X-Ing-Org under loopback trust.
 * @locality the connection's I/O thread.
 */
bool gw_auth_identify(const gw_auth_conf_t *conf, const gw_auth_peer_t *peer,
                      const gw_http_request_t *req, gw_auth_id_t *id, gw_problem_t *p);

/**
 * Whether the identified caller may submit a document whose source.finess is claimed.
 * @param org out: the organisation the document is submitted as.
 * @returns ING_OK, or ING_ERR_SOURCE_MISMATCH (field source.finess) in *problem.
 */
ing_err_t gw_auth_claim(const gw_auth_id_t *id, const char *claimed, char org[ING_FINESS_LEN + 1],
                        ing_problem_t *problem) ING_MUST_CHECK;

#endif
