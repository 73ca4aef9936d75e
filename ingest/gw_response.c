#include "gw_response.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gw_http.h"

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

ing_err_t gw_response_write(ing_buf_t *out, int status, const char *content_type, const void *body,
                            size_t body_len, const char *extra_headers, bool keep_alive,
                            bool http10)
{
    char date[64];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S GMT", &tm);
    const char *connection = !keep_alive ? "Connection: close\r\n"
                             : http10    ? "Connection: keep-alive\r\n"
                                         : "";
    /* A 204 has no body and no Content-Length (RFC 9110 section 8.6). */
    char length[48] = "";
    if (status != 204)
        snprintf(length, sizeof(length), "Content-Length: %zu\r\n", body_len);
    else
        body_len = 0;
    ing_err_t err = ing_buf_printf(
        out, "HTTP/1.1 %d %s\r\nDate: %s\r\n%s%s%s%s%s%s\r\n", status, gw_http_reason(status), date,
        content_type ? "Content-Type: " : "", content_type ? content_type : "",
        content_type ? "\r\n" : "", length, connection, extra_headers ? extra_headers : "");
    if (err)
        return err;
    return ing_buf_append(out, body, body_len);
}

ing_err_t gw_response_problem(ing_buf_t *out, const gw_problem_t *p, bool keep_alive, bool http10)
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
                                      strlen(body), extra, keep_alive, http10);
    free(body);
    return err;
}
