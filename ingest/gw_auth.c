#include "gw_auth.h"

#include <stdio.h>
#include <string.h>

#include "ing_ids.h"

ing_err_t gw_auth_check_listener(const gw_auth_conf_t *conf, bool listener_loopback, char *errstr,
                                 size_t errstr_size)
{
    if (!conf->trust_loopback) {
        snprintf(errstr, errstr_size,
                 "gateway.trust_loopback is false and no other authentication exists yet "
                 "(API keys and mTLS come with issue 3)");
        return ING_ERR_CONFIG;
    }
    if (!listener_loopback) {
        snprintf(errstr, errstr_size,
                 "gateway.trust_loopback = true requires gateway.listen on a loopback address");
        return ING_ERR_CONFIG;
    }
    return ING_OK;
}

ing_err_t gw_auth_org(const gw_auth_conf_t *conf, const gw_auth_peer_t *peer,
                      const gw_http_request_t *req, const char *claimed,
                      char org[ING_FINESS_LEN + 1], ing_problem_t *problem)
{
    org[0] = '\0';
    if (!conf->trust_loopback || !peer->listener_loopback)
        return ing_problem_set(problem, ING_ERR_SOURCE_MISMATCH, "",
                               "the caller is not authenticated");
    if (claimed) {
        /* Loopback trust: the body names the organisation. */
        snprintf(org, ING_FINESS_LEN + 1, "%s", claimed);
        return ING_OK;
    }
    const gw_slice_t *h = gw_http_header(req, "x-ing-org");
    if (!h)
        return ING_OK; /* any organisation */
    if (ing_finess_check(h->ptr, h->len) != ING_OK)
        return ing_problem_set(problem, ING_ERR_FINESS_INVALID, "",
                               "X-Ing-Org is not a valid FINESS");
    memcpy(org, h->ptr, h->len);
    org[h->len] = '\0';
    return ING_OK;
}
