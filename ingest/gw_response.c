#include "gw_response.h"

#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gw_http.h"
#include "ing_codec.h"

static void copy_str(char *dst, size_t size, const char *src)
{
    snprintf(dst, size, "%s", src ? src : "");
}

void gw_problem_from_err(gw_problem_t *p, ing_err_t code, const char *field, const char *detail)
{
    memset(p, 0, sizeof(*p));
    p->status = ing_err_http_status(code);
    p->code = ing_err_name(code);
    p->title = ing_err_str(code);
    copy_str(p->field, sizeof(p->field), field);
    copy_str(p->detail, sizeof(p->detail), detail ? detail : ing_err_str(code));
    if (ing_err_is_retriable(code))
        p->retry_after = 1;
}

void gw_problem_from_ing(gw_problem_t *p, const ing_problem_t *problem)
{
    gw_problem_from_err(p, problem->code, problem->field,
                        problem->detail[0] ? problem->detail : NULL);
}

static const struct {
    int status;
    const char *code;
} http_codes[] = {
    {400, "bad_request"},
    {401, "unauthorized"},
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

void gw_problem_http(gw_problem_t *p, int status, const char *detail)
{
    memset(p, 0, sizeof(*p));
    p->status = status;
    p->code = "internal_error";
    for (size_t i = 0; i < sizeof(http_codes) / sizeof(http_codes[0]); i++)
        if (http_codes[i].status == status)
            p->code = http_codes[i].code;
    p->title = gw_http_reason(status);
    copy_str(p->detail, sizeof(p->detail), detail ? detail : gw_http_reason(status));
    if (status == 503)
        p->retry_after = 1;
}

/* Copies src with every non-ASCII or control byte replaced by '?'. */
static void ascii_copy(char *dst, const char *src, size_t size)
{
    size_t i = 0;
    for (; src[i] && i + 1 < size; i++)
        dst[i] = (unsigned char)src[i] < 0x20 || (unsigned char)src[i] > 0x7e ? '?' : src[i];
    dst[i] = '\0';
}

char *gw_problem_json(const gw_problem_t *p)
{
    char type[96];
    snprintf(type, sizeof(type), "/problems/%s", p->code);
    /* Details and fields quote what the sender sent, cut to a bounded length, which may split
     * a UTF-8 sequence: json_pack refuses invalid UTF-8, so fall back to an ASCII copy. */
    char detail[sizeof(p->detail)], field[sizeof(p->field)];
    ascii_copy(detail, p->detail, sizeof(detail));
    ascii_copy(field, p->field, sizeof(field));
    json_t *o =
        json_pack("{s:s, s:s, s:i, s:s, s:s, s:s}", "type", type, "title", p->title, "status",
                  p->status, "detail", p->detail, "code", p->code, "field", p->field);
    if (!o)
        o = json_pack("{s:s, s:s, s:i, s:s, s:s, s:s}", "type", type, "title", p->title, "status",
                      p->status, "detail", detail, "code", p->code, "field", field);
    if (!o)
        return NULL;
    char *text = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    return text;
}

void gw_response_date(time_t now, char date[GW_RESPONSE_DATE_SIZE])
{
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(date, GW_RESPONSE_DATE_SIZE, "%a, %d %b %Y %H:%M:%S GMT", &tm);
}

static char *put(char *p, const char *s, size_t len)
{
    memcpy(p, s, len);
    return p + len;
}

#define PUT_LITERAL(p, lit) put((p), (lit), sizeof(lit) - 1)

ing_err_t gw_response_write(ing_buf_t *out, int status, const char *content_type, const void *body,
                            size_t body_len, const char *extra_headers,
                            const gw_response_head_t *head)
{
    const char *reason = gw_http_reason(status);
    const char *connection = !head->keep_alive ? "Connection: close\r\n"
                             : head->http10    ? "Connection: keep-alive\r\n"
                                               : "";
    /* A 204 has no body and no Content-Length (RFC 9110 section 8.6). */
    if (status == 204)
        body_len = 0;
    size_t reason_len = strlen(reason), date_len = strlen(head->date);
    size_t type_len = content_type ? strlen(content_type) : 0;
    size_t conn_len = strlen(connection), extra_len = extra_headers ? strlen(extra_headers) : 0;
    /* Literal text, a 3-digit status, at most 20 digits of length: 96 bytes cover them. */
    size_t max_head = 96 + reason_len + date_len + type_len + conn_len + extra_len;
    uint8_t *at;
    ing_err_t err = ing_buf_reserve(out, max_head + body_len, &at);
    if (err)
        return err;
    char *p = (char *)at;
    p = PUT_LITERAL(p, "HTTP/1.1 ");
    p += ing_decimal_u64((uint64_t)(status % 1000), p);
    *p++ = ' ';
    p = put(p, reason, reason_len);
    p = PUT_LITERAL(p, "\r\nDate: ");
    p = put(p, head->date, date_len);
    p = PUT_LITERAL(p, "\r\n");
    if (content_type) {
        p = PUT_LITERAL(p, "Content-Type: ");
        p = put(p, content_type, type_len);
        p = PUT_LITERAL(p, "\r\n");
    }
    if (status != 204) {
        p = PUT_LITERAL(p, "Content-Length: ");
        p += ing_decimal_u64(body_len, p);
        p = PUT_LITERAL(p, "\r\n");
    }
    p = put(p, connection, conn_len);
    if (extra_len)
        p = put(p, extra_headers, extra_len);
    p = PUT_LITERAL(p, "\r\n");
    if (body_len)
        p = put(p, body, body_len);
    ing_buf_commit(out, (size_t)(p - (char *)at));
    return ING_OK;
}

ing_err_t gw_response_problem(ing_buf_t *out, const gw_problem_t *p, const gw_response_head_t *head)
{
    char *body = gw_problem_json(p);
    if (!body)
        return ING_ERR_NOMEM;
    char extra[160] = "";
    int n = 0;
    if (p->retry_after > 0)
        n += snprintf(extra + n, sizeof(extra) - (size_t)n, "Retry-After: %d\r\n", p->retry_after);
    if (p->allow)
        n += snprintf(extra + n, sizeof(extra) - (size_t)n, "Allow: %s\r\n", p->allow);
    if (p->status == 401) /* RFC 9110 section 15.5.2: a 401 names its scheme */
        snprintf(extra + n, sizeof(extra) - (size_t)n, "WWW-Authenticate: Bearer\r\n");
    ing_err_t err = gw_response_write(out, p->status, "application/problem+json", body,
                                      strlen(body), extra, head);
    free(body);
    return err;
}
