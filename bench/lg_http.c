#include "lg_http.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

/* Finds the end of the line starting at p; returns the index after "\n", or 0 if none. */
static size_t line_end(const char *buf, size_t len, size_t p, size_t *content_end)
{
    const char *nl = memchr(buf + p, '\n', len - p);
    if (!nl)
        return 0;
    size_t e = (size_t)(nl - buf);
    *content_end = (e > p && buf[e - 1] == '\r') ? e - 1 : e;
    return e + 1;
}

static bool token_eq(const char *p, size_t n, const char *lit)
{
    return strlen(lit) == n && strncasecmp(p, lit, n) == 0;
}

/* True when the comma-separated header value contains the token (case-insensitive). */
static bool value_has_token(const char *v, size_t n, const char *tok)
{
    size_t i = 0;
    while (i < n) {
        while (i < n && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
            i++;
        size_t s = i;
        while (i < n && v[i] != ',')
            i++;
        size_t e = i;
        while (e > s && (v[e - 1] == ' ' || v[e - 1] == '\t'))
            e--;
        if (token_eq(v + s, e - s, tok))
            return true;
    }
    return false;
}

static bool parse_u64(const char *p, size_t n, int base, uint64_t *out)
{
    if (n == 0 || n > 16)
        return false;
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        int d;
        if (p[i] >= '0' && p[i] <= '9')
            d = p[i] - '0';
        else if (base == 16 && isxdigit((unsigned char)p[i]))
            d = tolower((unsigned char)p[i]) - 'a' + 10;
        else
            return false;
        v = v * (uint64_t)base + (uint64_t)d;
    }
    *out = v;
    return true;
}

/* Decodes a chunked body starting at p; returns the index after it, 0 partial, -1 error. */
static ssize_t scan_chunked(const char *buf, size_t len, size_t p, ing_buf_t *out)
{
    for (;;) {
        size_t ce;
        size_t next = line_end(buf, len, p, &ce);
        if (!next)
            return len - p > 1024 ? -1 : 0;
        size_t n = ce - p;
        const char *semi = memchr(buf + p, ';', n); /* chunk extensions are ignored */
        if (semi)
            n = (size_t)(semi - (buf + p));
        while (n > 0 && (buf[p + n - 1] == ' ' || buf[p + n - 1] == '\t'))
            n--;
        uint64_t size;
        if (!parse_u64(buf + p, n, 16, &size))
            return -1;
        p = next;
        if (size == 0) {
            /* Trailer fields, then the empty line. */
            for (;;) {
                next = line_end(buf, len, p, &ce);
                if (!next)
                    return 0;
                bool empty = ce == p;
                p = next;
                if (empty)
                    return (ssize_t)p;
            }
        }
        if (size > len - p)
            return out->limit < size ? -1 : 0;
        if (ing_buf_append(out, buf + p, (size_t)size) != ING_OK)
            return -1;
        p += (size_t)size;
        next = line_end(buf, len, p, &ce);
        if (!next)
            return len - p >= 2 ? -1 : 0;
        if (ce != p)
            return -1; /* chunk data not followed by CRLF */
        p = next;
    }
}

ssize_t lg_http_parse_response(const char *buf, size_t len, bool no_body, bool eof,
                               ing_buf_t *chunk_body, lg_http_resp_t *resp)
{
    memset(resp, 0, sizeof(*resp));
    resp->content_length = -1;
    ing_buf_reset(chunk_body);

    size_t ce;
    size_t p = line_end(buf, len, 0, &ce);
    if (!p)
        return len > LG_HTTP_MAX_HEAD ? -1 : -2;
    /* Status line: HTTP/1.x SSS [reason] */
    if (ce < 12 || memcmp(buf, "HTTP/1.", 7) != 0 || !isdigit((unsigned char)buf[7]) ||
        buf[8] != ' ' || !isdigit((unsigned char)buf[9]) || !isdigit((unsigned char)buf[10]) ||
        !isdigit((unsigned char)buf[11]) || (ce > 12 && buf[12] != ' '))
        return -1;
    resp->minor_version = buf[7] - '0';
    resp->status = (buf[9] - '0') * 100 + (buf[10] - '0') * 10 + (buf[11] - '0');
    if (resp->status < 100)
        return -1;
    bool conn_close = false, conn_keep = false;
    for (;;) {
        size_t ls = p;
        p = line_end(buf, len, ls, &ce);
        if (!p)
            return len > LG_HTTP_MAX_HEAD ? -1 : -2;
        if (p > LG_HTTP_MAX_HEAD)
            return -1;
        if (ce == ls)
            break; /* end of the head */
        const char *colon = memchr(buf + ls, ':', ce - ls);
        if (!colon || colon == buf + ls)
            return -1;
        size_t nlen = (size_t)(colon - (buf + ls));
        const char *v = colon + 1;
        size_t vlen = (size_t)(buf + ce - v);
        while (vlen && (*v == ' ' || *v == '\t'))
            v++, vlen--;
        while (vlen && (v[vlen - 1] == ' ' || v[vlen - 1] == '\t'))
            vlen--;
        const char *name = buf + ls;
        if (token_eq(name, nlen, "content-length")) {
            uint64_t cl;
            if (!parse_u64(v, vlen, 10, &cl) ||
                (resp->content_length >= 0 && (uint64_t)resp->content_length != cl))
                return -1;
            resp->content_length = (int64_t)cl;
        } else if (token_eq(name, nlen, "transfer-encoding")) {
            if (!value_has_token(v, vlen, "chunked"))
                return -1; /* no other coding is ours to undo */
            resp->chunked = true;
        } else if (token_eq(name, nlen, "connection")) {
            conn_close |= value_has_token(v, vlen, "close");
            conn_keep |= value_has_token(v, vlen, "keep-alive");
        }
    }
    resp->head_len = p;
    resp->keep_alive = resp->minor_version >= 1 ? !conn_close : conn_keep && !conn_close;

    if (no_body || resp->status < 200 || resp->status == 204 || resp->status == 304) {
        resp->body = buf + p;
        return (ssize_t)p;
    }
    if (resp->chunked) {
        ssize_t end = scan_chunked(buf, len, p, chunk_body);
        if (end < 0)
            return -1;
        if (end == 0)
            return eof ? -1 : -2;
        resp->body = (const char *)chunk_body->data;
        resp->body_len = chunk_body->len;
        return end;
    }
    if (resp->content_length >= 0) {
        if ((uint64_t)resp->content_length > len - p)
            return eof ? -1 : -2;
        resp->body = buf + p;
        resp->body_len = (size_t)resp->content_length;
        return (ssize_t)(p + resp->body_len);
    }
    /* No framing: the body runs to the end of the connection. */
    if (!eof)
        return -2;
    resp->keep_alive = false;
    resp->body = buf + p;
    resp->body_len = len - p;
    return (ssize_t)len;
}
