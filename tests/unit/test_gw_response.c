/*
 * gw_response: the problem+json of every contract code (status, type, title, code, field,
 * detail), the HTTP-level problems and the framing headers. The identity rules are in
 * test_gw_auth.c.
 */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "gw_http.h"
#include "gw_response.h"
#include "ing_test.h"

#define DATE "Sun, 06 Nov 1994 08:49:37 GMT"
static const gw_response_head_t KEEP = {.date = DATE, .keep_alive = true};
static const gw_response_head_t CLOSE = {.date = DATE, .keep_alive = false};
static const gw_response_head_t KEEP_HTTP10 = {.date = DATE, .keep_alive = true, .http10 = true};

/* Splits a rendered response; returns the parsed JSON body (caller decrefs) or NULL. */
static json_t *split(const ing_buf_t *out, int *status, char *head, size_t head_size)
{
    const char *text = (const char *)out->data;
    const char *end = strstr(text, "\r\n\r\n");
    if (!end || sscanf(text, "HTTP/1.1 %d ", status) != 1)
        return NULL;
    size_t hl = (size_t)(end - text) + 2;
    snprintf(head, head_size, "%.*s", (int)hl, text);
    const char *body = end + 4;
    size_t body_len = out->len - (size_t)(body - text);
    char want[64];
    snprintf(want, sizeof(want), "Content-Length: %zu\r\n", body_len);
    if (!strstr(head, want))
        return NULL;
    return json_loadb(body, body_len, 0, NULL);
}

static const struct {
    ing_err_t code;
    int status;
} contract[] = {
    {ING_ERR_INVALID_JSON, 400},           {ING_ERR_MISSING_FIELD, 422},
    {ING_ERR_INVALID_FIELD, 422},          {ING_ERR_INS_INVALID, 422},
    {ING_ERR_OID_NOT_ALLOWED, 422},        {ING_ERR_FINESS_INVALID, 422},
    {ING_ERR_RPPS_INVALID, 422},           {ING_ERR_TYPE_CODE_UNKNOWN, 422},
    {ING_ERR_TYPE_CODE_RETIRED, 422},      {ING_ERR_MEDIA_TYPE_NOT_ALLOWED, 422},
    {ING_ERR_FORMAT_CODE_MISMATCH, 422},   {ING_ERR_CONTENT_TOO_LARGE, 413},
    {ING_ERR_CONTENT_INVALID_BASE64, 422}, {ING_ERR_HASH_MISMATCH, 422},
    {ING_ERR_SOURCE_MISMATCH, 403},        {ING_ERR_VERSION_CONFLICT, 409},
    {ING_ERR_PATIENT_OPPOSED, 409},        {ING_ERR_UNAVAILABLE, 503},
};

static void test_contract_codes(ing_test_counts_t *t)
{
    /* The table covers every contract code of the enum. */
    CHECK(t, sizeof(contract) / sizeof(contract[0]) == ING_ERR_PATIENT_OPPOSED + 1,
          "table covers %zu codes", sizeof(contract) / sizeof(contract[0]));
    for (size_t i = 0; i < sizeof(contract) / sizeof(contract[0]); i++) {
        const char *name = ing_err_name(contract[i].code);
        ing_problem_t prob;
        ing_problem_set(&prob, contract[i].code, "patient.ins", "detail of %s", name);
        gw_problem_t p;
        gw_problem_from_ing(&p, &prob);
        ing_buf_t out;
        ing_buf_init(&out, 1 << 16);
        CHECK(t, gw_response_problem(&out, &p, &KEEP) == ING_OK, "%s: render", name);
        int status = 0;
        char head[1024] = "";
        json_t *o = split(&out, &status, head, sizeof(head));
        CHECK(t, o != NULL, "%s: framing or JSON: %.*s", name, (int)out.len, out.data);
        CHECK(t, status == contract[i].status, "%s: status %d", name, status);
        CHECK(t, strstr(head, "Content-Type: application/problem+json\r\n"), "%s: type", name);
        CHECK(t, !strstr(head, "Connection:"), "%s: keep-alive in 1.1 needs no header", name);
        bool retriable = contract[i].status == 503;
        CHECK(t, (strstr(head, "Retry-After: ") != NULL) == retriable, "%s: Retry-After", name);
        if (o) {
            char type[96];
            snprintf(type, sizeof(type), "/problems/%s", name);
            char detail[96];
            snprintf(detail, sizeof(detail), "detail of %s", name);
            CHECK(t, !strcmp(json_string_value(json_object_get(o, "type")), type), "%s type", name);
            CHECK(t,
                  !strcmp(json_string_value(json_object_get(o, "title")),
                          ing_err_str(contract[i].code)),
                  "%s title", name);
            CHECK(t, json_integer_value(json_object_get(o, "status")) == contract[i].status,
                  "%s status member", name);
            CHECK(t, !strcmp(json_string_value(json_object_get(o, "code")), name), "%s code", name);
            CHECK(t, !strcmp(json_string_value(json_object_get(o, "field")), "patient.ins"),
                  "%s field", name);
            CHECK(t, !strcmp(json_string_value(json_object_get(o, "detail")), detail), "%s detail",
                  name);
            CHECK(t, json_object_size(o) == 6, "%s: members %zu", name, json_object_size(o));
            json_decref(o);
        }
        ing_buf_fini(&out);
    }
}

static const struct {
    int status;
    const char *code;
} http_problems[] = {
    {400, "bad_request"},
    {404, "not_found"},
    {405, "method_not_allowed"},
    {408, "request_timeout"},
    {413, "content_too_large"},
    {414, "uri_too_long"},
    {415, "unsupported_media_type"},
    {417, "expectation_failed"},
    {431, "header_too_large"},
    {501, "not_implemented"},
    {503, "unavailable"},
    {505, "http_version_not_supported"},
};

static void test_http_problems(ing_test_counts_t *t)
{
    for (size_t i = 0; i < sizeof(http_problems) / sizeof(http_problems[0]); i++) {
        gw_problem_t p;
        gw_problem_http(&p, http_problems[i].status, NULL);
        if (p.status == 405)
            p.allow = "POST";
        ing_buf_t out;
        ing_buf_init(&out, 1 << 16);
        CHECK(t, gw_response_problem(&out, &p, &CLOSE) == ING_OK, "%d render", p.status);
        int status = 0;
        char head[1024] = "";
        json_t *o = split(&out, &status, head, sizeof(head));
        CHECK(t, o && status == http_problems[i].status, "%d: status %d", p.status, status);
        CHECK(t, strstr(head, "Connection: close\r\n"), "%d: close", p.status);
        CHECK(t, (strstr(head, "Allow: POST\r\n") != NULL) == (p.status == 405), "%d: Allow",
              p.status);
        CHECK(t, (strstr(head, "Retry-After: 1\r\n") != NULL) == (p.status == 503),
              "%d: Retry-After", p.status);
        if (o) {
            CHECK(t, !strcmp(json_string_value(json_object_get(o, "code")), http_problems[i].code),
                  "%d: code %s", p.status, json_string_value(json_object_get(o, "code")));
            CHECK(t, !strcmp(json_string_value(json_object_get(o, "field")), ""), "%d: field",
                  p.status);
            json_decref(o);
        }
        ing_buf_fini(&out);
    }
}

/* A detail cut in the middle of a UTF-8 sequence still renders (as ASCII). */
static void test_invalid_utf8_detail(ing_test_counts_t *t)
{
    gw_problem_t p;
    gw_problem_from_err(&p, ING_ERR_TYPE_CODE_UNKNOWN, "type_code", "type_code \xc3 is not known");
    char *body = gw_problem_json(&p);
    CHECK(t, body && strstr(body, "type_code ? is not known"), "utf-8: %s", body ? body : "NULL");
    free(body);
}

static void test_http10_keep_alive(ing_test_counts_t *t)
{
    ing_buf_t out;
    ing_buf_init(&out, 4096);
    CHECK(t,
          gw_response_write(&out, 200, "application/json", "{}", 2, NULL, &KEEP_HTTP10) == ING_OK,
          "1.0 render");
    out.data[out.len] = '\0';
    CHECK(t, strstr((char *)out.data, "Connection: keep-alive\r\n"), "1.0 keep-alive header");
    CHECK(t, !strncmp((char *)out.data, "HTTP/1.1 200 OK\r\n", 17), "status line");
    ing_buf_fini(&out);
}

static void test_no_content(ing_test_counts_t *t)
{
    ing_buf_t out;
    ing_buf_init(&out, 4096);
    CHECK(t, gw_response_write(&out, 204, NULL, NULL, 0, NULL, &KEEP) == ING_OK, "render");
    CHECK(t, ing_buf_append(&out, "", 1) == ING_OK, "terminate");
    const char *text = (const char *)out.data;
    CHECK(t, !strncmp(text, "HTTP/1.1 204 No Content\r\n", 25), "status line: %s", text);
    CHECK(t, !strstr(text, "Content-Length") && !strstr(text, "Content-Type"), "headers: %s", text);
    CHECK(t, out.len >= 5 && !strcmp(text + out.len - 5, "\r\n\r\n"), "ends with the head");
    ing_buf_fini(&out);
}

/* The Date value of RFC 9110's own example, and whole responses byte for byte. */
static void test_exact_bytes(ing_test_counts_t *t)
{
    char date[GW_RESPONSE_DATE_SIZE];
    gw_response_date(784111777, date);
    CHECK(t, !strcmp(date, DATE), "date: %s", date);
    gw_response_date(0, date);
    CHECK(t, !strcmp(date, "Thu, 01 Jan 1970 00:00:00 GMT"), "epoch: %s", date);

    static const struct {
        int status;
        const char *type, *body, *extra;
        const gw_response_head_t *head;
        const char *want;
    } cases[] = {
        {202, "application/json", "{\"a\":1}", "Location: /v1/submissions/x\r\n", &KEEP,
         "HTTP/1.1 202 Accepted\r\nDate: " DATE "\r\nContent-Type: application/json\r\n"
         "Content-Length: 7\r\nLocation: /v1/submissions/x\r\n\r\n{\"a\":1}"},
        {200, "text/plain", "", NULL, &CLOSE,
         "HTTP/1.1 200 OK\r\nDate: " DATE "\r\nContent-Type: text/plain\r\nContent-Length: 0\r\n"
         "Connection: close\r\n\r\n"},
        {503, NULL, "0123456789", "Retry-After: 1\r\n", &KEEP_HTTP10,
         "HTTP/1.1 503 Service Unavailable\r\nDate: " DATE "\r\nContent-Length: 10\r\n"
         "Connection: keep-alive\r\nRetry-After: 1\r\n\r\n0123456789"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        ing_buf_t out;
        ing_buf_init(&out, 4096);
        CHECK(t,
              gw_response_write(&out, cases[i].status, cases[i].type, cases[i].body,
                                strlen(cases[i].body), cases[i].extra, cases[i].head) == ING_OK,
              "case %zu: render", i);
        size_t want_len = strlen(cases[i].want);
        CHECK(t, out.len == want_len && !memcmp(out.data, cases[i].want, want_len),
              "case %zu: got %.*s", i, (int)out.len, out.data ? (const char *)out.data : "");
        ing_buf_fini(&out);
    }

    /* A body of 12,345 bytes: a five-digit length, and the bytes after the head intact. */
    static char big[12345];
    for (size_t i = 0; i < sizeof(big); i++)
        big[i] = (char)('a' + i % 26);
    ing_buf_t out;
    ing_buf_init(&out, 1 << 16);
    CHECK(t, gw_response_write(&out, 200, NULL, big, sizeof(big), NULL, &KEEP) == ING_OK, "big");
    const char *text = (const char *)out.data;
    const char *end = text ? strstr(text, "\r\n\r\n") : NULL;
    CHECK(t, end && strstr(text, "Content-Length: 12345\r\n") < end, "big length");
    CHECK(t,
          end && out.len == (size_t)(end + 4 - text) + sizeof(big) &&
              !memcmp(end + 4, big, sizeof(big)),
          "big body");
    ing_buf_fini(&out);

    /* Over the buffer's cap: refused, as the printf version was. */
    ing_buf_init(&out, 64);
    CHECK(t, gw_response_write(&out, 200, NULL, big, sizeof(big), NULL, &KEEP) == ING_ERR_TOO_BIG,
          "over the cap");
    ing_buf_fini(&out);
}

int main(void)
{
    ing_test_counts_t t = {0};
    test_contract_codes(&t);
    test_exact_bytes(&t);
    test_http_problems(&t);
    test_invalid_utf8_detail(&t);
    test_http10_keep_alive(&t);
    test_no_content(&t);
    return ING_TEST_END(&t);
}
