/*
 * gw_auth: the listener rules at start-up, who a request is from (API key, client
 * certificate, loopback trust, or 401), and whether it may submit for a source.finess (403
 * source_mismatch). One row per case.
 */
#include <stdio.h>
#include <string.h>

#include "gw_auth.h"
#include "gw_orgs.h"
#include "ing_codec.h"
#include "ing_test.h"

#define ORG_A "750712184"
#define ORG_B "010780054"
#define KEY_A "aaaa1111aaaa1111aaaa1111aaaa1111aaaa1111aaaa1111aaaa1111aaaa1111"
#define KEY_B "bbbb2222bbbb2222bbbb2222bbbb2222bbbb2222bbbb2222bbbb2222bbbb2222"
#define KEY_X "cccc3333cccc3333cccc3333cccc3333cccc3333cccc3333cccc3333cccc3333"

#include "gw_response.h"

static const gw_response_head_t KEEP = {.date = "Sun, 06 Nov 1994 08:49:37 GMT",
                                        .keep_alive = true};

static const uint8_t FP_A[ING_SHA256_LEN] = {0xa1};
static const uint8_t FP_B[ING_SHA256_LEN] = {0xb2};
static const uint8_t FP_X[ING_SHA256_LEN] = {0xc3}; /* chained to the CA, not registered */

static gw_orgs_t *make_orgs(void)
{
    char text[1024], h[4][ING_SHA256_HEX_LEN + 1];
    uint8_t d[ING_SHA256_LEN];
    ing_sha256(KEY_A, strlen(KEY_A), d);
    ing_hex_encode(d, sizeof(d), h[0]);
    ing_sha256(KEY_B, strlen(KEY_B), d);
    ing_hex_encode(d, sizeof(d), h[1]);
    ing_hex_encode(FP_A, ING_SHA256_LEN, h[2]);
    ing_hex_encode(FP_B, ING_SHA256_LEN, h[3]);
    snprintf(text, sizeof(text),
             "finess " ORG_A " api_key_sha256 %s\nfiness " ORG_B " api_key_sha256 %s\n"
             "finess " ORG_A " cert_sha256 %s\nfiness " ORG_B " cert_sha256 %s\n",
             h[0], h[1], h[2], h[3]);
    gw_orgs_t *orgs = NULL;
    char errstr[256];
    if (gw_orgs_parse(text, strlen(text), "t", &orgs, errstr, sizeof(errstr)) != ING_OK)
        fprintf(stderr, "orgs: %s\n", errstr);
    return orgs;
}

static void test_listener(ing_test_counts_t *t, const gw_orgs_t *orgs)
{
    static const struct {
        const char *name;
        bool trust, tls, with_orgs, loopback;
        ing_err_t want;
    } rows[] = {
        {"trust, plain, loopback", true, false, false, true, ING_OK},
        {"trust, plain, public", true, false, false, false, ING_ERR_CONFIG},
        {"trust and orgs, plain, loopback", true, false, true, true, ING_OK},
        {"trust with TLS refused", true, true, true, true, ING_ERR_CONFIG},
        {"orgs, plain, loopback (behind a local proxy)", false, false, true, true, ING_OK},
        {"orgs, plain, public: plain HTTP refused", false, false, true, false, ING_ERR_CONFIG},
        {"orgs, TLS, public", false, true, true, false, ING_OK},
        {"orgs, TLS, loopback", false, true, true, true, ING_OK},
        {"no way to authenticate", false, true, false, false, ING_ERR_CONFIG},
        {"no way to authenticate, loopback", false, false, false, true, ING_ERR_CONFIG},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        gw_auth_conf_t conf = {.trust_loopback = rows[i].trust,
                               .tls = rows[i].tls,
                               .orgs = rows[i].with_orgs ? orgs : NULL};
        char errstr[256] = "";
        ing_err_t err = gw_auth_check_listener(&conf, rows[i].loopback, errstr, sizeof(errstr));
        CHECK(t, err == rows[i].want, "%s: %s (%s)", rows[i].name, ing_err_name(err), errstr);
        CHECK(t, err == ING_OK || errstr[0], "%s: a reason", rows[i].name);
    }
    gw_auth_conf_t plain_public = {.orgs = orgs};
    char errstr[256];
    (void)!gw_auth_check_listener(&plain_public, false, errstr, sizeof(errstr));
    CHECK(t, strstr(errstr, "plain HTTP is allowed only on a loopback address") != NULL,
          "plain HTTP message: %s", errstr);
}

enum { PEER_PLAIN_LOOPBACK, PEER_PLAIN_PUBLIC, PEER_TLS, PEER_CERT_A, PEER_CERT_B, PEER_CERT_X };

static const struct {
    const char *name;
    bool trust;
    int peer;
    const char *headers; /* extra header lines */
    int want_status;     /* 0: identified */
    const char *want_org;
    bool want_trusted;
    const char *want_method;
    const char *claim;    /* then gw_auth_claim with this source.finess */
    ing_err_t want_claim; /* its verdict */
} id_rows[] = {
    {"no credentials on TLS", false, PEER_TLS, "", 401, NULL, false, NULL, NULL, ING_OK},
    {"no credentials, plain, no trust", false, PEER_PLAIN_LOOPBACK, "", 401, NULL, false, NULL,
     NULL, ING_OK},
    {"key A", false, PEER_TLS, "Authorization: Bearer " KEY_A "\r\n", 0, ORG_A, false, "api_key",
     ORG_A, ING_OK},
    {"key A claims B", false, PEER_TLS, "Authorization: Bearer " KEY_A "\r\n", 0, ORG_A, false,
     "api_key", ORG_B, ING_ERR_SOURCE_MISMATCH},
    {"key B, scheme in lower case", false, PEER_TLS, "Authorization: bearer " KEY_B "\r\n", 0,
     ORG_B, false, "api_key", ORG_B, ING_OK},
    {"unknown key", false, PEER_TLS, "Authorization: Bearer " KEY_X "\r\n", 401, NULL, false, NULL,
     NULL, ING_OK},
    {"Basic scheme", false, PEER_TLS, "Authorization: Basic dXNlcjpwYXNz\r\n", 401, NULL, false,
     NULL, NULL, ING_OK},
    {"Bearer without a key", false, PEER_TLS, "Authorization: Bearer\r\n", 401, NULL, false, NULL,
     NULL, ING_OK},
    {"key followed by junk", false, PEER_TLS, "Authorization: Bearer " KEY_A " x\r\n", 401, NULL,
     false, NULL, NULL, ING_OK},
    {"certificate A", false, PEER_CERT_A, "", 0, ORG_A, false, "certificate", ORG_A, ING_OK},
    {"certificate A claims B", false, PEER_CERT_A, "", 0, ORG_A, false, "certificate", ORG_B,
     ING_ERR_SOURCE_MISMATCH},
    {"certificate B", false, PEER_CERT_B, "", 0, ORG_B, false, "certificate", ORG_B, ING_OK},
    {"unregistered certificate", false, PEER_CERT_X, "", 401, NULL, false, NULL, NULL, ING_OK},
    {"unregistered certificate, key A", false, PEER_CERT_X, "Authorization: Bearer " KEY_A "\r\n",
     0, ORG_A, false, "api_key", ORG_A, ING_OK},
    {"certificate A and key A", false, PEER_CERT_A, "Authorization: Bearer " KEY_A "\r\n", 0, ORG_A,
     false, "api_key", ORG_A, ING_OK},
    {"certificate A and key B disagree", false, PEER_CERT_A, "Authorization: Bearer " KEY_B "\r\n",
     401, NULL, false, NULL, NULL, ING_OK},
    {"certificate A and an unknown key", false, PEER_CERT_A, "Authorization: Bearer " KEY_X "\r\n",
     401, NULL, false, NULL, NULL, ING_OK},
    {"trust: the body names the org", true, PEER_PLAIN_LOOPBACK, "", 0, "", true, "loopback", ORG_B,
     ING_OK},
    {"trust: X-Ing-Org for reads", true, PEER_PLAIN_LOOPBACK, "X-Ing-Org: " ORG_B "\r\n", 0, ORG_B,
     true, "loopback", NULL, ING_OK},
    {"trust: X-Ing-Org and the body agree", true, PEER_PLAIN_LOOPBACK, "X-Ing-Org: " ORG_B "\r\n",
     0, ORG_B, true, "loopback", ORG_B, ING_OK},
    {"trust: X-Ing-Org and the body disagree", true, PEER_PLAIN_LOOPBACK,
     "X-Ing-Org: " ORG_B "\r\n", 0, ORG_B, true, "loopback", ORG_A, ING_ERR_SOURCE_MISMATCH},
    {"trust: bad X-Ing-Org", true, PEER_PLAIN_LOOPBACK, "X-Ing-Org: 0107800\r\n", 422, NULL, false,
     NULL, NULL, ING_OK},
    {"trust: a key still counts", true, PEER_PLAIN_LOOPBACK, "Authorization: Bearer " KEY_A "\r\n",
     0, ORG_A, false, "api_key", ORG_B, ING_ERR_SOURCE_MISMATCH},
    {"trust: a wrong key is still 401", true, PEER_PLAIN_LOOPBACK,
     "Authorization: Bearer " KEY_X "\r\n", 401, NULL, false, NULL, NULL, ING_OK},
    {"trust: not off loopback", true, PEER_PLAIN_PUBLIC, "", 401, NULL, false, NULL, NULL, ING_OK},
    {"trust: not over TLS", true, PEER_TLS, "", 401, NULL, false, NULL, NULL, ING_OK},
};

static void test_identify(ing_test_counts_t *t, const gw_orgs_t *orgs)
{
    gw_http_limits_t limits = {1024, 4096, 16, 1024};
    for (size_t i = 0; i < sizeof(id_rows) / sizeof(id_rows[0]); i++) {
        gw_auth_conf_t conf = {.trust_loopback = id_rows[i].trust, .orgs = orgs};
        gw_auth_peer_t peer = {.listener_loopback = true};
        int kind = id_rows[i].peer;
        peer.listener_loopback = kind != PEER_PLAIN_PUBLIC;
        peer.tls = kind >= PEER_TLS;
        const uint8_t *fp = kind == PEER_CERT_A   ? FP_A
                            : kind == PEER_CERT_B ? FP_B
                            : kind == PEER_CERT_X ? FP_X
                                                  : NULL;
        gw_auth_peer_set_cert(&peer, orgs, fp);
        char raw[512];
        snprintf(raw, sizeof(raw), "POST /v1/documents HTTP/1.1\r\nHost: a\r\n%s\r\n",
                 id_rows[i].headers);
        gw_http_request_t req;
        int status;
        int h = gw_http_parse_head(raw, strlen(raw), &limits, &req, &status);
        CHECK(t, h > 0, "%s: head", id_rows[i].name);
        if (h <= 0)
            continue;
        gw_auth_id_t id;
        gw_problem_t p;
        memset(&p, 0, sizeof(p));
        bool ok = gw_auth_identify(&conf, &peer, &req, &id, &p);
        const char *name = id_rows[i].name;
        if (id_rows[i].want_status) {
            CHECK(t, !ok && p.status == id_rows[i].want_status, "%s: status %d", name, p.status);
            if (id_rows[i].want_status == 401)
                CHECK(t, p.code && !strcmp(p.code, "unauthorized"), "%s: code %s", name, p.code);
            continue;
        }
        CHECK(t, ok, "%s: refused %d %s", name, p.status, p.detail);
        if (!ok)
            continue;
        CHECK(t, !strcmp(id.org, id_rows[i].want_org), "%s: org \"%s\"", name, id.org);
        CHECK(t, id.trusted == id_rows[i].want_trusted, "%s: trusted", name);
        CHECK(t, id.method && !strcmp(id.method, id_rows[i].want_method), "%s: method %s", name,
              id.method);
        if (!id_rows[i].claim)
            continue;
        char org[ING_FINESS_LEN + 1] = "";
        ing_problem_t prob;
        ing_err_t err = gw_auth_claim(&id, id_rows[i].claim, org, &prob);
        CHECK(t, err == id_rows[i].want_claim, "%s: claim %s", name, ing_err_name(err));
        if (err == ING_OK)
            CHECK(t, !strcmp(org, id_rows[i].claim), "%s: submitted as %s", name, org);
        else
            CHECK(t, !strcmp(prob.field, "source.finess"), "%s: field %s", name, prob.field);
    }
}

/* A 401 is rendered with its scheme, and as problem+json with code "unauthorized". */
static void test_401_rendering(ing_test_counts_t *t)
{
    gw_problem_t p;
    gw_problem_http(&p, 401, "no credentials");
    ing_buf_t out;
    ing_buf_init(&out, 1 << 16);
    CHECK(t, gw_response_problem(&out, &p, &KEEP) == ING_OK, "render 401");
    CHECK(t, ing_buf_append(&out, "", 1) == ING_OK, "NUL");
    const char *text = (const char *)out.data;
    CHECK(t, !strncmp(text, "HTTP/1.1 401 Unauthorized\r\n", 27), "status line: %s", text);
    CHECK(t, strstr(text, "\r\nWWW-Authenticate: Bearer\r\n") != NULL, "WWW-Authenticate: %s",
          text);
    CHECK(t, strstr(text, "\"code\":\"unauthorized\"") != NULL, "code: %s", text);
    ing_buf_fini(&out);
    gw_problem_http(&p, 404, "x");
    ing_buf_init(&out, 1 << 16);
    CHECK(t, gw_response_problem(&out, &p, &KEEP) == ING_OK, "render 404");
    CHECK(t, ing_buf_append(&out, "", 1) == ING_OK, "NUL");
    CHECK(t, !strstr((const char *)out.data, "WWW-Authenticate"), "no scheme on a 404");
    ing_buf_fini(&out);
}

int main(void)
{
    ing_test_counts_t t = {0, 0};
    gw_orgs_t *orgs = make_orgs();
    CHECK(&t, orgs != NULL, "orgs table");
    if (orgs) {
        test_listener(&t, orgs);
        test_identify(&t, orgs);
    }
    test_401_rendering(&t);
    gw_orgs_destroy(orgs);
    return ING_TEST_END(&t);
}
