#include "gw_http.h"

#include <string.h>
#include <strings.h>

/* RFC 9110 tchar: the characters of a method, a header name or a transfer coding. */
static bool is_tchar(unsigned char c)
{
    if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
        return true;
    return c && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* Field value octets: VCHAR, SP, HTAB, obs-text; never CR, LF, NUL or other controls. */
static bool is_value_char(unsigned char c)
{
    return c == '\t' || (c >= 0x20 && c != 0x7f);
}

static int fail(int *status, int code)
{
    *status = code;
    return -1;
}

bool gw_slice_eq_nocase(gw_slice_t a, const char *s)
{
    size_t n = strlen(s);
    return a.len == n && strncasecmp(a.ptr, s, n) == 0;
}

const gw_slice_t *gw_http_header(const gw_http_request_t *req, const char *name)
{
    for (size_t i = 0; i < req->header_count; i++)
        if (gw_slice_eq_nocase(req->headers[i].name, name))
            return &req->headers[i].value;
    return NULL;
}

/* Finds the next line in buf[pos..len): sets *line_len (without CR LF) and returns the offset
 * just past the LF, or 0 when no LF is there yet. A CR is only allowed right before the LF. */
static size_t next_line(const char *buf, size_t len, size_t pos, size_t *line_len)
{
    const char *lf = memchr(buf + pos, '\n', len - pos);
    if (!lf)
        return 0;
    size_t end = (size_t)(lf - buf);
    size_t n = end - pos;
    if (n && buf[end - 1] == '\r')
        n--;
    *line_len = n;
    return end + 1;
}

static int parse_request_line(const char *p, size_t n, gw_http_request_t *req, int *status)
{
    size_t i = 0;
    while (i < n && is_tchar((unsigned char)p[i]))
        i++;
    if (i == 0 || i == n || p[i] != ' ')
        return fail(status, 400);
    req->method = (gw_slice_t){p, i};
    size_t t = ++i;
    while (i < n && (unsigned char)p[i] > 0x20 && (unsigned char)p[i] < 0x7f)
        i++;
    if (i == t || i == n || p[i] != ' ')
        return fail(status, 400);
    req->target = (gw_slice_t){p + t, i - t};
    if (p[t] != '/' && !(req->target.len == 1 && p[t] == '*'))
        return fail(status, 400); /* only origin-form: we are not a proxy */
    i++;
    /* "HTTP/" DIGIT "." DIGIT, exactly */
    if (n - i != 8 || memcmp(p + i, "HTTP/", 5) != 0 || p[i + 6] != '.')
        return fail(status, 400);
    char major = p[i + 5], minor = p[i + 7];
    if (major < '0' || major > '9' || minor < '0' || minor > '9')
        return fail(status, 400);
    if (major != '1')
        return fail(status, 505);
    req->minor_version = minor - '0';
    return 0;
}

static int parse_header_line(const char *p, size_t n, gw_http_request_t *req,
                             const gw_http_limits_t *limits, int *status)
{
    if (p[0] == ' ' || p[0] == '\t')
        return fail(status, 400); /* obs-fold is refused (RFC 9112 section 5.2) */
    size_t i = 0;
    while (i < n && is_tchar((unsigned char)p[i]))
        i++;
    if (i == 0 || i == n || p[i] != ':')
        return fail(status, 400); /* no whitespace allowed before the colon */
    size_t v = i + 1, e = n;
    while (v < e && (p[v] == ' ' || p[v] == '\t'))
        v++;
    while (e > v && (p[e - 1] == ' ' || p[e - 1] == '\t'))
        e--;
    for (size_t k = v; k < e; k++)
        if (!is_value_char((unsigned char)p[k]))
            return fail(status, 400);
    if (req->header_count == limits->max_headers || req->header_count == GW_HTTP_MAX_HEADERS)
        return fail(status, 431);
    req->headers[req->header_count++] = (gw_http_header_t){.name = {p, i}, .value = {p + v, e - v}};
    return 0;
}

/* True when a comma-separated list value holds token (case-insensitive, trimmed). */
static bool list_has(gw_slice_t v, const char *token)
{
    size_t i = 0;
    while (i < v.len) {
        size_t s = i;
        while (i < v.len && v.ptr[i] != ',')
            i++;
        size_t e = i;
        while (s < e && (v.ptr[s] == ' ' || v.ptr[s] == '\t'))
            s++;
        while (e > s && (v.ptr[e - 1] == ' ' || v.ptr[e - 1] == '\t'))
            e--;
        if (gw_slice_eq_nocase((gw_slice_t){v.ptr + s, e - s}, token))
            return true;
        i++;
    }
    return false;
}

/* Applies the headers that frame the message or govern the connection. */
static int interpret_headers(gw_http_request_t *req, const gw_http_limits_t *limits, int *status)
{
    const gw_slice_t *cl = NULL, *te = NULL;
    int hosts = 0;
    bool conn_close = false, conn_keep_alive = false;
    for (size_t i = 0; i < req->header_count; i++) {
        const gw_http_header_t *h = &req->headers[i];
        if (gw_slice_eq_nocase(h->name, "content-length")) {
            if (cl)
                return fail(status, 400); /* repeated Content-Length: ambiguous framing */
            cl = &h->value;
        } else if (gw_slice_eq_nocase(h->name, "transfer-encoding")) {
            if (te)
                return fail(status, 501); /* several codings: we implement chunked only */
            te = &h->value;
        } else if (gw_slice_eq_nocase(h->name, "host")) {
            hosts++;
        } else if (gw_slice_eq_nocase(h->name, "connection")) {
            conn_close |= list_has(h->value, "close");
            conn_keep_alive |= list_has(h->value, "keep-alive");
        } else if (gw_slice_eq_nocase(h->name, "expect")) {
            if (!gw_slice_eq_nocase(h->value, "100-continue"))
                return fail(status, 417);
            /* RFC 9110 section 10.1.1: ignore 100-continue from an HTTP/1.0 client */
            req->expect_continue = req->minor_version >= 1;
        }
    }
    if (cl && te)
        return fail(status, 400); /* request smuggling vector (RFC 9112 section 6.3) */
    if (req->minor_version >= 1 && hosts != 1)
        return fail(status, 400);
    if (hosts > 1)
        return fail(status, 400);
    if (te) {
        if (req->minor_version == 0)
            return fail(status, 400); /* RFC 9112 section 6.1: faulty framing */
        if (!gw_slice_eq_nocase(*te, "chunked"))
            return fail(status, te->len ? 501 : 400);
        req->chunked = true;
    }
    if (cl) {
        if (cl->len == 0)
            return fail(status, 400);
        uint64_t v = 0;
        for (size_t i = 0; i < cl->len; i++) {
            char c = cl->ptr[i];
            if (c < '0' || c > '9')
                return fail(status, 400);
            if (v > (UINT64_MAX - 9) / 10)
                return fail(status, 413);
            v = v * 10 + (uint64_t)(c - '0');
        }
        if (v > limits->max_body)
            return fail(status, 413);
        req->content_length = (int64_t)v;
    }
    req->keep_alive = !conn_close && (req->minor_version >= 1 || conn_keep_alive);
    return 0;
}

int gw_http_parse_head(const char *buf, size_t len, const gw_http_limits_t *limits,
                       gw_http_request_t *req, int *status)
{
    memset(req, 0, sizeof(*req));
    req->content_length = -1;
    *status = 0;
    size_t pos = 0, n;
    /* RFC 9112 section 2.2: ignore empty lines before the request line (some clients send a
     * CRLF after a POST body). */
    for (;;) {
        size_t next = next_line(buf, len, pos, &n);
        if (!next) {
            if (len - pos > limits->max_request_line)
                return fail(status, 414);
            /* a lone CR that cannot start a request line: wait for its LF */
            return -2;
        }
        if (n > limits->max_request_line)
            return fail(status, 414);
        if (n == 0) {
            if (next > limits->max_request_line)
                return fail(status, 400);
            pos = next;
            continue;
        }
        if (parse_request_line(buf + pos, n, req, status))
            return -1;
        pos = next;
        break;
    }
    for (;;) {
        size_t next = next_line(buf, len, pos, &n);
        if (!next)
            return len > limits->max_head_bytes ? fail(status, 431) : -2;
        if (next > limits->max_head_bytes)
            return fail(status, 431);
        if (n == 0) {
            pos = next;
            break;
        }
        if (parse_header_line(buf + pos, n, req, limits, status))
            return -1;
        pos = next;
    }
    if (interpret_headers(req, limits, status))
        return -1;
    return (int)pos;
}

void gw_http_body_init(gw_http_body_t *st)
{
    memset(st, 0, sizeof(*st));
}

enum {
    CH_SIZE,       /* hex digits of a chunk-size */
    CH_EXT,        /* chunk extension, up to the LF */
    CH_EXT_LF,     /* the LF after a CR that ended the chunk-size line */
    CH_DATA,       /* chunk bytes */
    CH_DATA_END,   /* the CRLF after the data */
    CH_DATA_LF,    /* the LF after that CR */
    CH_TRAILER,    /* a trailer line (or the final empty line) */
    CH_TRAILER_LF, /* the LF after a CR in the trailer section */
    CH_DONE,
};

static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/*
 * The one chunked state machine, used to scan (out == NULL) and then to decode in place
 * (out == raw: data moves left, never past where it is read). Returns 0 when done, -2 when
 * more input is needed, -1 with *status on error.
 */
static int chunked_run(gw_http_body_t *st, const char *raw, size_t len, char *out,
                       const gw_http_limits_t *limits, int *status)
{
    while (st->pos < len) {
        char c = raw[st->pos];
        switch (st->phase) {
        case CH_SIZE: {
            int h = hex_value(c);
            if (h >= 0) {
                if (st->chunk > (UINT64_MAX >> 4))
                    return fail(status, 413);
                st->chunk = st->chunk << 4 | (uint64_t)h;
                st->digits = true;
            } else if (!st->digits) {
                return fail(status, 400);
            } else if (c == ';' || c == ' ' || c == '\t' || c == '\r' || c == '\n') {
                if (limits && st->chunk > limits->max_body - st->decoded)
                    return fail(status, 413);
                st->phase = CH_EXT;
                continue; /* the extension state consumes this byte */
            } else {
                return fail(status, 400);
            }
            break;
        }
        case CH_EXT:
        case CH_EXT_LF:
            /* A CR is only allowed right before the LF: remember it across reads. */
            if (c == '\n') {
                st->digits = false;
                st->line_bytes = 0;
                st->phase = st->chunk ? CH_DATA : CH_TRAILER;
            } else if (st->phase == CH_EXT_LF) {
                return fail(status, 400);
            } else if (c == '\r') {
                st->phase = CH_EXT_LF;
            } else if (c != '\t' && ((unsigned char)c < 0x20 || c == 0x7f)) {
                return fail(status, 400);
            }
            break;
        case CH_DATA: {
            size_t take = len - st->pos;
            if (take > st->chunk)
                take = (size_t)st->chunk;
            if (out)
                memmove(out + st->decoded, raw + st->pos, take);
            st->decoded += take;
            st->chunk -= take;
            st->pos += take;
            if (st->chunk == 0)
                st->phase = CH_DATA_END;
            continue;
        }
        case CH_DATA_END:
            if (c == '\r')
                st->phase = CH_DATA_LF;
            else if (c == '\n')
                st->phase = CH_SIZE;
            else
                return fail(status, 400);
            break;
        case CH_DATA_LF:
            if (c != '\n')
                return fail(status, 400);
            st->phase = CH_SIZE;
            break;
        case CH_TRAILER:
        case CH_TRAILER_LF:
            /* Trailer fields are read and ignored; an empty line ends the body. */
            if (c == '\n') {
                if (st->line_bytes == 0) {
                    st->phase = CH_DONE;
                    st->pos++;
                    return 0;
                }
                st->line_bytes = 0;
                st->phase = CH_TRAILER;
            } else if (st->phase == CH_TRAILER_LF) {
                return fail(status, 400);
            } else if (c == '\r') {
                st->phase = CH_TRAILER_LF;
            } else if (!is_value_char((unsigned char)c)) {
                return fail(status, 400);
            } else {
                st->line_bytes++;
                if (limits && st->line_bytes > limits->max_head_bytes)
                    return fail(status, 431);
            }
            break;
        case CH_DONE:
            return 0;
        }
        st->pos++;
    }
    return st->phase == CH_DONE ? 0 : -2;
}

ssize_t gw_http_body_scan(gw_http_body_t *st, const gw_http_request_t *req, const char *raw,
                          size_t len, const gw_http_limits_t *limits, int *status)
{
    *status = 0;
    if (!req->chunked) {
        size_t want = req->content_length > 0 ? (size_t)req->content_length : 0;
        return len >= want ? (ssize_t)want : -2;
    }
    int r = chunked_run(st, raw, len, NULL, limits, status);
    return r == 0 ? (ssize_t)st->pos : r;
}

size_t gw_http_chunked_decode(char *raw, size_t raw_len)
{
    gw_http_body_t st;
    gw_http_body_init(&st);
    int status;
    (void)chunked_run(&st, raw, raw_len, raw, NULL, &status);
    return st.decoded;
}

const char *gw_http_reason(int status)
{
    switch (status) {
    case 100:
        return "Continue";
    case 200:
        return "OK";
    case 202:
        return "Accepted";
    case 204:
        return "No Content";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 408:
        return "Request Timeout";
    case 409:
        return "Conflict";
    case 413:
        return "Content Too Large";
    case 414:
        return "URI Too Long";
    case 415:
        return "Unsupported Media Type";
    case 417:
        return "Expectation Failed";
    case 422:
        return "Unprocessable Content";
    case 429:
        return "Too Many Requests";
    case 431:
        return "Request Header Fields Too Large";
    case 500:
        return "Internal Server Error";
    case 501:
        return "Not Implemented";
    case 503:
        return "Service Unavailable";
    case 505:
        return "HTTP Version Not Supported";
    }
    return "Unknown";
}
