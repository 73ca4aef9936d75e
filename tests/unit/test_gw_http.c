/*
 * gw_http: the request parser, table-driven. Every accepted request is also fed at every byte
 * boundary (a prefix must be "partial", never an error or a different verdict), through the
 * resumable body state one byte at a time, and pipelined behind the other accepted requests.
 */
#include <stdlib.h>
#include <string.h>

#include "gw_http.h"
#include "ing_test.h"

static const gw_http_limits_t limits = {
    .max_request_line = 128, .max_head_bytes = 512, .max_headers = 8, .max_body = 64};

enum { OK, ERR };

typedef struct http_case {
    const char *name;
    const char *raw;
    int want;   /* OK: complete request of strlen(raw) bytes; ERR: -1 */
    int status; /* ERR: the status to answer */
    const char *method, *target, *body;
    int minor, keep_alive, expect_continue;
} http_case_t;

#define H11 "Host: example\r\n"
#define TE "Transfer-Encoding: chunked\r\n"

static const http_case_t cases[] = {
    {"get", "GET /healthz HTTP/1.1\r\n" H11 "\r\n", OK, 0, "GET", "/healthz", "", 1, 1, 0},
    {"get query", "GET /v1/submissions/ab?x=1 HTTP/1.1\r\n" H11 "\r\n", OK, 0, "GET",
     "/v1/submissions/ab?x=1", "", 1, 1, 0},
    {"post content-length", "POST /v1/documents HTTP/1.1\r\n" H11 "Content-Length: 5\r\n\r\nhello",
     OK, 0, "POST", "/v1/documents", "hello", 1, 1, 0},
    {"content-length zero", "POST / HTTP/1.1\r\n" H11 "Content-Length: 0\r\n\r\n", OK, 0, "POST",
     "/", "", 1, 1, 0},
    {"content-length at limit",
     "POST / HTTP/1.1\r\n" H11 "Content-Length: 64\r\n\r\n"
     "0123456789012345678901234567890123456789012345678901234567890123",
     OK, 0, "POST", "/", "0123456789012345678901234567890123456789012345678901234567890123", 1, 1,
     0},
    {"http/1.0 closes by default", "GET / HTTP/1.0\r\n\r\n", OK, 0, "GET", "/", "", 0, 0, 0},
    {"http/1.0 keep-alive", "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", OK, 0, "GET", "/",
     "", 0, 1, 0},
    {"http/1.0 keep-alive and close", "GET / HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n", OK,
     0, "GET", "/", "", 0, 0, 0},
    {"http/1.1 connection close", "GET / HTTP/1.1\r\n" H11 "Connection: Close\r\n\r\n", OK, 0,
     "GET", "/", "", 1, 0, 0},
    {"connection list", "GET / HTTP/1.1\r\n" H11 "Connection: upgrade ,close\r\n\r\n", OK, 0, "GET",
     "/", "", 1, 0, 0},
    {"bare LF line ends", "GET / HTTP/1.1\nHost: a\n\n", OK, 0, "GET", "/", "", 1, 1, 0},
    {"empty line before request", "\r\nGET / HTTP/1.1\r\n" H11 "\r\n", OK, 0, "GET", "/", "", 1, 1,
     0},
    {"value whitespace trimmed", "GET / HTTP/1.1\r\nHost: \t example \t\r\n\r\n", OK, 0, "GET", "/",
     "", 1, 1, 0},
    {"options star", "OPTIONS * HTTP/1.1\r\n" H11 "\r\n", OK, 0, "OPTIONS", "*", "", 1, 1, 0},
    {"expect 100-continue",
     "POST / HTTP/1.1\r\n" H11 "Expect: 100-Continue\r\nContent-Length: 2\r\n\r\nok", OK, 0, "POST",
     "/", "ok", 1, 1, 1},
    {"expect ignored in http/1.0",
     "POST / HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\nok", OK, 0, "POST", "/",
     "ok", 0, 0, 0},
    {"chunked", "POST / HTTP/1.1\r\n" H11 TE "\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n", OK, 0,
     "POST", "/", "hello world", 1, 1, 0},
    {"chunked extension and upper hex",
     "POST / HTTP/1.1\r\n" H11 TE "\r\nA;name=value\r\n0123456789\r\n0\r\n\r\n", OK, 0, "POST", "/",
     "0123456789", 1, 1, 0},
    {"chunked trailer", "POST / HTTP/1.1\r\n" H11 TE "\r\n2\r\nab\r\n0\r\nX-Sum: 1\r\n\r\n", OK, 0,
     "POST", "/", "ab", 1, 1, 0},
    {"chunked leading zeros", "POST / HTTP/1.1\r\n" H11 TE "\r\n0002\r\nab\r\n000\r\n\r\n", OK, 0,
     "POST", "/", "ab", 1, 1, 0},
    {"chunked empty body", "POST / HTTP/1.1\r\n" H11 TE "\r\n0\r\n\r\n", OK, 0, "POST", "/", "", 1,
     1, 0},
    {"chunked case-insensitive",
     "POST / HTTP/1.1\r\n" H11 "Transfer-Encoding: Chunked\r\n\r\n0\r\n\r\n", OK, 0, "POST", "/",
     "", 1, 1, 0},
    {"chunked at limit",
     "POST / HTTP/1.1\r\n" H11 TE "\r\n20\r\n01234567890123456789012345678901\r\n"
     "20\r\n01234567890123456789012345678901\r\n0\r\n\r\n",
     OK, 0, "POST", "/", "0123456789012345678901234567890101234567890123456789012345678901", 1, 1,
     0},
    /* Framing that must be refused. */
    {"content-length with chunked",
     "POST / HTTP/1.1\r\n" H11 "Content-Length: 5\r\n" TE "\r\nhello", ERR, 400, NULL, NULL, NULL,
     0, 0, 0},
    {"chunked with content-length", "POST / HTTP/1.1\r\n" H11 TE "Content-Length: 5\r\n\r\nhello",
     ERR, 400, NULL, NULL, NULL, 0, 0, 0},
    {"two content-lengths",
     "POST / HTTP/1.1\r\n" H11 "Content-Length: 1\r\nContent-Length: 1\r\n\r\na", ERR, 400, NULL,
     NULL, NULL, 0, 0, 0},
    {"content-length not a number", "POST / HTTP/1.1\r\n" H11 "Content-Length: 5a\r\n\r\n", ERR,
     400, NULL, NULL, NULL, 0, 0, 0},
    {"content-length negative", "POST / HTTP/1.1\r\n" H11 "Content-Length: -1\r\n\r\n", ERR, 400,
     NULL, NULL, NULL, 0, 0, 0},
    {"content-length empty", "POST / HTTP/1.1\r\n" H11 "Content-Length:\r\n\r\n", ERR, 400, NULL,
     NULL, NULL, 0, 0, 0},
    {"content-length over limit", "POST / HTTP/1.1\r\n" H11 "Content-Length: 65\r\n\r\n", ERR, 413,
     NULL, NULL, NULL, 0, 0, 0},
    {"content-length overflow",
     "POST / HTTP/1.1\r\n" H11 "Content-Length: 99999999999999999999999\r\n\r\n", ERR, 413, NULL,
     NULL, NULL, 0, 0, 0},
    {"transfer-encoding gzip", "POST / HTTP/1.1\r\n" H11 "Transfer-Encoding: gzip\r\n\r\n", ERR,
     501, NULL, NULL, NULL, 0, 0, 0},
    {"transfer-encoding gzip, chunked",
     "POST / HTTP/1.1\r\n" H11 "Transfer-Encoding: gzip, chunked\r\n\r\n", ERR, 501, NULL, NULL,
     NULL, 0, 0, 0},
    {"transfer-encoding in http/1.0", "POST / HTTP/1.0\r\n" TE "\r\n0\r\n\r\n", ERR, 400, NULL,
     NULL, NULL, 0, 0, 0},
    {"chunked bad hex", "POST / HTTP/1.1\r\n" H11 TE "\r\nzz\r\nhello\r\n0\r\n\r\n", ERR, 400, NULL,
     NULL, NULL, 0, 0, 0},
    {"chunked no size", "POST / HTTP/1.1\r\n" H11 TE "\r\n\r\nhello\r\n0\r\n\r\n", ERR, 400, NULL,
     NULL, NULL, 0, 0, 0},
    {"chunked size then garbage", "POST / HTTP/1.1\r\n" H11 TE "\r\n5x\r\nhello\r\n0\r\n\r\n", ERR,
     400, NULL, NULL, NULL, 0, 0, 0},
    {"chunked data too long", "POST / HTTP/1.1\r\n" H11 TE "\r\n2\r\nabc\r\n0\r\n\r\n", ERR, 400,
     NULL, NULL, NULL, 0, 0, 0},
    {"chunked bare CR in extension",
     "POST / HTTP/1.1\r\n" H11 TE "\r\n5;x=1\r\x8ahello\r\n0\r\n\r\n", ERR, 400, NULL, NULL, NULL,
     0, 0, 0},
    {"chunked bare CR in trailer", "POST / HTTP/1.1\r\n" H11 TE "\r\n0\r\nX-A: 1\rX\r\n\r\n", ERR,
     400, NULL, NULL, NULL, 0, 0, 0},
    {"chunked over limit", "POST / HTTP/1.1\r\n" H11 TE "\r\n41\r\n", ERR, 413, NULL, NULL, NULL, 0,
     0, 0},
    {"chunked sum over limit",
     "POST / HTTP/1.1\r\n" H11 TE "\r\n20\r\n01234567890123456789012345678901\r\n"
     "21\r\n",
     ERR, 413, NULL, NULL, NULL, 0, 0, 0},
    {"chunked size overflow", "POST / HTTP/1.1\r\n" H11 TE "\r\nffffffffffffffffff\r\n", ERR, 413,
     NULL, NULL, NULL, 0, 0, 0},
    /* Request line. */
    {"missing host", "GET / HTTP/1.1\r\n\r\n", ERR, 400, NULL, NULL, NULL, 0, 0, 0},
    {"two hosts", "GET / HTTP/1.1\r\n" H11 H11 "\r\n", ERR, 400, NULL, NULL, NULL, 0, 0, 0},
    {"bad method", "G(T / HTTP/1.1\r\n" H11 "\r\n", ERR, 400, NULL, NULL, NULL, 0, 0, 0},
    {"no target", "GET  HTTP/1.1\r\n" H11 "\r\n", ERR, 400, NULL, NULL, NULL, 0, 0, 0},
    {"absolute form", "GET http://a/ HTTP/1.1\r\n" H11 "\r\n", ERR, 400, NULL, NULL, NULL, 0, 0, 0},
    {"no version", "GET /\r\n" H11 "\r\n", ERR, 400, NULL, NULL, NULL, 0, 0, 0},
    {"bad version", "GET / HTTP/1.1x\r\n" H11 "\r\n", ERR, 400, NULL, NULL, NULL, 0, 0, 0},
    {"lowercase version", "GET / http/1.1\r\n" H11 "\r\n", ERR, 400, NULL, NULL, NULL, 0, 0, 0},
    {"http/2.0", "GET / HTTP/2.0\r\n" H11 "\r\n", ERR, 505, NULL, NULL, NULL, 0, 0, 0},
    {"http/0.9", "GET / HTTP/0.9\r\n" H11 "\r\n", ERR, 505, NULL, NULL, NULL, 0, 0, 0},
    {"request line too long",
     "GET /aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
     "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa HTTP/1.1\r\n" H11 "\r\n",
     ERR, 414, NULL, NULL, NULL, 0, 0, 0},
    {"request line too long, no end yet",
     "GET /aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
     "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
     ERR, 414, NULL, NULL, NULL, 0, 0, 0},
    /* Headers. */
    {"space before colon", "GET / HTTP/1.1\r\nHost : a\r\n\r\n", ERR, 400, NULL, NULL, NULL, 0, 0,
     0},
    {"empty header name", "GET / HTTP/1.1\r\n" H11 ": a\r\n\r\n", ERR, 400, NULL, NULL, NULL, 0, 0,
     0},
    {"no colon", "GET / HTTP/1.1\r\n" H11 "Bogus\r\n\r\n", ERR, 400, NULL, NULL, NULL, 0, 0, 0},
    {"obs-fold", "GET / HTTP/1.1\r\n" H11 "X-A: 1\r\n  2\r\n\r\n", ERR, 400, NULL, NULL, NULL, 0, 0,
     0},
    {"control in value", "GET / HTTP/1.1\r\n" H11 "X-A: a\x01b\r\n\r\n", ERR, 400, NULL, NULL, NULL,
     0, 0, 0},
    {"bare CR in value", "GET / HTTP/1.1\r\n" H11 "X-A: a\rb\r\n\r\n", ERR, 400, NULL, NULL, NULL,
     0, 0, 0},
    {"unknown expectation", "GET / HTTP/1.1\r\n" H11 "Expect: 200-ok\r\n\r\n", ERR, 417, NULL, NULL,
     NULL, 0, 0, 0},
    {"too many headers",
     "GET / HTTP/1.1\r\n" H11
     "A: 1\r\nB: 1\r\nC: 1\r\nD: 1\r\nE: 1\r\nF: 1\r\nG: 1\r\nH: 1\r\n\r\n",
     ERR, 431, NULL, NULL, NULL, 0, 0, 0},
    {"head too large",
     "GET / HTTP/1.1\r\n" H11 "X-Big: "
     "0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567"
     "0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567"
     "0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567"
     "0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567"
     "0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567"
     "0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567"
     "\r\n\r\n",
     ERR, 431, NULL, NULL, NULL, 0, 0, 0},
    {"head too large, no end yet",
     "GET / HTTP/1.1\r\n" H11 "X-Big: "
     "0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567"
     "0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567"
     "0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567"
     "0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567"
     "0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567"
     "0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567",
     ERR, 431, NULL, NULL, NULL, 0, 0, 0},
};

/* What the gateway's loop does with a buffer: head, body framing, in-place decoding. */
typedef struct parsed {
    long rc; /* total bytes of the request, -2, or -1 */
    int status;
    gw_http_request_t req;
    char body[128];
    size_t body_len;
} parsed_t;

static void parse(char *buf, size_t len, parsed_t *out)
{
    memset(out, 0, sizeof(*out));
    int h = gw_http_parse_head(buf, len, &limits, &out->req, &out->status);
    if (h < 0) {
        out->rc = h;
        return;
    }
    gw_http_body_t st;
    gw_http_body_init(&st);
    ssize_t b = gw_http_body_scan(&st, &out->req, buf + h, len - (size_t)h, &limits, &out->status);
    if (b < 0) {
        out->rc = b;
        return;
    }
    out->body_len = out->req.chunked ? gw_http_chunked_decode(buf + h, (size_t)b) : (size_t)b;
    memcpy(out->body, buf + h, out->body_len < sizeof(out->body) ? out->body_len : 0);
    out->rc = h + b;
}

static bool slice_is(gw_slice_t s, const char *lit)
{
    return s.len == strlen(lit) && memcmp(s.ptr, lit, s.len) == 0;
}

static void check_ok(ing_test_counts_t *t, const http_case_t *c, const parsed_t *p, size_t len,
                     const char *how)
{
    CHECK(t, p->rc == (long)len, "%s (%s): rc %ld status %d, want %zu", c->name, how, p->rc,
          p->status, len);
    if (p->rc != (long)len)
        return;
    CHECK(t, slice_is(p->req.method, c->method), "%s: method", c->name);
    CHECK(t, slice_is(p->req.target, c->target), "%s: target", c->name);
    CHECK(t, p->req.minor_version == c->minor, "%s: minor %d", c->name, p->req.minor_version);
    CHECK(t, p->req.keep_alive == (c->keep_alive != 0), "%s: keep_alive", c->name);
    CHECK(t, p->req.expect_continue == (c->expect_continue != 0), "%s: expect", c->name);
    CHECK(t, p->body_len == strlen(c->body) && memcmp(p->body, c->body, p->body_len) == 0,
          "%s (%s): body %.*s", c->name, how, (int)p->body_len, p->body);
}

static void test_table(ing_test_counts_t *t)
{
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const http_case_t *c = &cases[i];
        size_t len = strlen(c->raw);
        char *buf = malloc(len + 1);
        memcpy(buf, c->raw, len + 1);
        parsed_t p;
        parse(buf, len, &p);
        if (c->want == ERR) {
            CHECK(t, p.rc == -1 && p.status == c->status, "%s: rc %ld status %d, want -1 %d",
                  c->name, p.rc, p.status, c->status);
            free(buf);
            continue;
        }
        check_ok(t, c, &p, len, "whole");
        /* Every proper prefix is partial: never an error, never a shorter request. */
        for (size_t k = 0; k < len; k++) {
            memcpy(buf, c->raw, len);
            parse(buf, k, &p);
            CHECK(t, p.rc == -2, "%s: prefix of %zu bytes gives %ld (status %d)", c->name, k, p.rc,
                  p.status);
        }
        free(buf);
    }
}

/* The body state resumes: bytes arriving one at a time are scanned once each and reach the
 * same verdict as the whole body at once, accepted or refused (a CR at the end of one read
 * and a bad byte at the start of the next must still be refused). */
static void test_resumable(ing_test_counts_t *t)
{
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const http_case_t *c = &cases[i];
        size_t len = strlen(c->raw);
        gw_http_request_t req;
        int status, whole_status;
        int h = gw_http_parse_head(c->raw, len, &limits, &req, &status);
        if (h < 0)
            continue; /* refused in the head: nothing to resume */
        gw_http_body_t st;
        gw_http_body_init(&st);
        ssize_t whole =
            gw_http_body_scan(&st, &req, c->raw + h, len - (size_t)h, &limits, &whole_status);
        gw_http_body_init(&st);
        ssize_t b = -2;
        size_t k = (size_t)h;
        for (; k <= len && b == -2; k++)
            b = gw_http_body_scan(&st, &req, c->raw + h, k - (size_t)h, &limits, &status);
        CHECK(t, b == whole && (b != -1 || status == whole_status),
              "%s: byte by byte gives %zd (status %d), at once %zd (status %d)", c->name, b, status,
              whole, whole_status);
        if (c->want == OK)
            CHECK(t, b == (ssize_t)(len - (size_t)h) && k - 1 == len,
                  "%s: resumable scan gives %zd after %zu bytes", c->name, b, k - 1);
    }
}

/* All accepted requests back to back in one buffer come out one by one, in order. */
static void test_pipelined(ing_test_counts_t *t)
{
    size_t total = 0;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        if (cases[i].want == OK && cases[i].raw[0] != '\r')
            total += strlen(cases[i].raw);
    char *buf = malloc(total + 1), *p = buf;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        if (cases[i].want == OK && cases[i].raw[0] != '\r') {
            memcpy(p, cases[i].raw, strlen(cases[i].raw));
            p += strlen(cases[i].raw);
        }
    size_t off = 0;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const http_case_t *c = &cases[i];
        if (c->want != OK || c->raw[0] == '\r')
            continue;
        parsed_t r;
        parse(buf + off, total - off, &r);
        check_ok(t, c, &r, strlen(c->raw), "pipelined");
        if (r.rc <= 0)
            break;
        off += (size_t)r.rc;
    }
    CHECK(t, off == total, "pipelined: consumed %zu of %zu", off, total);
    free(buf);
}

static void test_header_lookup(ing_test_counts_t *t)
{
    const char raw[] = "POST / HTTP/1.1\r\nhost: a\r\nCONTENT-type: application/json\r\n\r\n";
    gw_http_request_t req;
    int status;
    int h = gw_http_parse_head(raw, sizeof(raw) - 1, &limits, &req, &status);
    CHECK(t, h == (int)sizeof(raw) - 1, "lookup: head %d", h);
    const gw_slice_t *ct = gw_http_header(&req, "Content-Type");
    CHECK(t, ct && slice_is(*ct, "application/json"), "lookup: content-type");
    CHECK(t, gw_http_header(&req, "x-missing") == NULL, "lookup: missing header");
    CHECK(t, req.content_length == -1 && !req.chunked, "lookup: no body framing");
}

int main(void)
{
    ing_test_counts_t t = {0};
    test_table(&t);
    test_resumable(&t);
    test_pipelined(&t);
    test_header_lookup(&t);
    return ING_TEST_END(&t);
}
