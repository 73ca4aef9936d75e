#include "gw_auth.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "ing_ids.h"

ing_err_t gw_auth_check_listener(const gw_auth_conf_t *conf, bool listener_loopback, char *errstr,
                                 size_t errstr_size)
{
    if (!conf->tls && !listener_loopback) {
        snprintf(errstr, errstr_size,
                 "plain HTTP is allowed only on a loopback address: set gateway.tls_cert and "
                 "gateway.tls_key, or listen on 127.0.0.1 / [::1]");
        return ING_ERR_CONFIG;
    }
    if (conf->trust_loopback && !listener_loopback) {
        snprintf(errstr, errstr_size,
                 "gateway.trust_loopback = true requires gateway.listen on a loopback address");
        return ING_ERR_CONFIG;
    }
    if (conf->trust_loopback && conf->tls) {
        snprintf(errstr, errstr_size,
                 "gateway.trust_loopback = true is for a plain-HTTP loopback listener: set it to "
                 "false when gateway.tls_cert is set");
        return ING_ERR_CONFIG;
    }
    if (!conf->trust_loopback && !conf->orgs) {
        snprintf(errstr, errstr_size,
                 "no organisation could authenticate: set gateway.orgs (API keys, client "
                 "certificates), or gateway.trust_loopback = true on a loopback listener");
        return ING_ERR_CONFIG;
    }
    return ING_OK;
}

void gw_auth_peer_set_cert(gw_auth_peer_t *peer, const gw_orgs_t *orgs,
                           const uint8_t fingerprint[ING_SHA256_LEN])
{
    peer->cert = fingerprint != NULL;
    const char *org = fingerprint ? gw_orgs_by_cert(orgs, fingerprint) : NULL;
    snprintf(peer->cert_org, sizeof(peer->cert_org), "%s", org ? org : "");
}

static bool unauthorized(gw_problem_t *p, const char *detail)
{
    gw_problem_http(p, 401, detail);
    return false;
}

/* "Bearer <token>": the scheme is case-insensitive (RFC 9110 section 11.1). */
static bool bearer_token(gw_slice_t v, gw_slice_t *token)
{
    static const char scheme[] = "bearer";
    size_t n = sizeof(scheme) - 1;
    if (v.len <= n || strncasecmp(v.ptr, scheme, n) != 0 || (v.ptr[n] != ' ' && v.ptr[n] != '\t'))
        return false;
    size_t i = n;
    while (i < v.len && (v.ptr[i] == ' ' || v.ptr[i] == '\t'))
        i++;
    *token = (gw_slice_t){v.ptr + i, v.len - i};
    for (size_t k = 0; k < token->len; k++)
        if (token->ptr[k] == ' ' || token->ptr[k] == '\t' || token->ptr[k] == ',')
            return false;
    return token->len > 0;
}

bool gw_auth_identify(const gw_auth_conf_t *conf, const gw_auth_peer_t *peer,
                      const gw_http_request_t *req, gw_auth_id_t *id, gw_problem_t *p)
{
    memset(id, 0, sizeof(*id));
    const gw_slice_t *h = gw_http_header(req, "authorization");
    if (h) {
        gw_slice_t key;
        if (!bearer_token(*h, &key))
            return unauthorized(p, "the Authorization header must be \"Bearer <API key>\"");
        const char *org = gw_orgs_by_key(conf->orgs, key.ptr, key.len);
        if (!org)
            return unauthorized(p, "unknown API key");
        if (peer->cert && peer->cert_org[0] && strcmp(peer->cert_org, org) != 0)
            return unauthorized(p, "the API key and the client certificate belong to different "
                                   "organisations");
        memcpy(id->org, org, sizeof(id->org));
        id->method = "api_key";
        return true;
    }
    if (peer->cert) {
        if (!peer->cert_org[0])
            return unauthorized(p, "the client certificate is not registered");
        memcpy(id->org, peer->cert_org, sizeof(id->org));
        id->method = "certificate";
        return true;
    }
    if (conf->trust_loopback && peer->listener_loopback && !peer->tls) {
        id->trusted = true;
        id->method = "loopback";
        h = gw_http_header(req, "x-ing-org");
        if (!h)
            return true; /* any organisation */
        if (ing_finess_check(h->ptr, h->len) != ING_OK) {
            gw_problem_from_err(p, ING_ERR_FINESS_INVALID, "", "X-Ing-Org is not a valid FINESS");
            return false;
        }
        memcpy(id->org, h->ptr, h->len);
        id->org[h->len] = '\0';
        return true;
    }
    return unauthorized(p, "no credentials: send Authorization: Bearer <API key>, or a client "
                           "certificate");
}

ing_err_t gw_auth_claim(const gw_auth_id_t *id, const char *claimed, char org[ING_FINESS_LEN + 1],
                        ing_problem_t *problem)
{
    /* Under loopback trust the body names its organisation, unless X-Ing-Org named one. */
    if ((!id->trusted || id->org[0]) && strcmp(id->org, claimed) != 0)
        return ing_problem_set(problem, ING_ERR_SOURCE_MISMATCH, "source.finess",
                               "source.finess is not the authenticated organisation (%s)", id->org);
    snprintf(org, ING_FINESS_LEN + 1, "%s", claimed);
    return ING_OK;
}
