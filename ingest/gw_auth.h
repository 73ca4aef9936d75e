/*
 * gw_auth: who is calling. Every request goes through gw_auth_org, which names the
 * authenticated organisation (FINESS); the API then refuses a body whose source.finess
 * differs (403 source_mismatch) and shows a submission only to the organisation that sent it.
 *
 * Walking skeleton: the only mode is "trust loopback" — on a listener bound to a loopback
 * address, with gateway.trust_loopback = true, the caller is whoever the body or the
 * X-Ing-Org header says it is. gw_auth_check_listener refuses that mode on any other address.
 * Issue 3 replaces the inside of gw_auth_org with API keys and mTLS (the peer carries the TLS
 * session then); its callers do not change.
 */
#ifndef GW_AUTH_H
#define GW_AUTH_H

#include <stdbool.h>
#include <stddef.h>

#include "gw_http.h"
#include "ing_envelope.h"

typedef struct gw_auth_conf {
    bool trust_loopback;
} gw_auth_conf_t;

/** What the connection knows about its peer (issue 3: TLS session, client certificate). */
typedef struct gw_auth_peer {
    bool listener_loopback; /* the listening socket is bound to a loopback address */
} gw_auth_peer_t;

/**
 * Checks at start-up that the configured authentication fits the listener.
 * @returns ING_OK, or ING_ERR_CONFIG with a reason in errstr.
 */
ing_err_t gw_auth_check_listener(const gw_auth_conf_t *conf, bool listener_loopback, char *errstr,
                                 size_t errstr_size) ING_MUST_CHECK;

/**
 * The organisation the request is authenticated as.
 * @param claimed the body's source.finess for a submission, NULL for a read.
 * @param org out: the FINESS, or "" meaning "any organisation" (loopback trust, a read
 *        without X-Ing-Org).
 * @returns ING_OK; ING_ERR_SOURCE_MISMATCH when claimed is not the authenticated
 *          organisation; ING_ERR_FINESS_INVALID for a malformed X-Ing-Org.
 * @locality the connection's I/O thread.
 */
ing_err_t gw_auth_org(const gw_auth_conf_t *conf, const gw_auth_peer_t *peer,
                      const gw_http_request_t *req, const char *claimed,
                      char org[ING_FINESS_LEN + 1], ing_problem_t *problem) ING_MUST_CHECK;

#endif
