/*
 * gw_http: a pure, incremental HTTP/1.1 request parser (picohttpparser's contract: bytes
 * consumed, -2 partial, -1 error). It takes bytes and limits and returns a verdict, with the
 * HTTP status to answer on error, so that it can be table-tested and fuzzed without sockets.
 *
 * A request is parsed in two steps over the connection's read buffer:
 *   1. gw_http_parse_head: request line and headers. It may be called again on the same,
 *      longer buffer; it re-parses from the start (a head is at most a few KiB).
 *   2. gw_http_body_scan: the body framing (Content-Length, or chunked) after the head,
 *      resumable through a caller-owned state so that a large chunked body is scanned once.
 *      A chunked body is then decoded in place by gw_http_chunked_decode.
 * Slices in gw_http_request_t borrow from the buffer: they are valid until it changes.
 */
#ifndef GW_HTTP_H
#define GW_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define GW_HTTP_MAX_HEADERS 64

/** A borrowed byte slice. */
typedef struct gw_slice {
    const char *ptr;
    size_t len;
} gw_slice_t;

typedef struct gw_http_header {
    gw_slice_t name;
    gw_slice_t value; /* optional whitespace trimmed */
} gw_http_header_t;

typedef struct gw_http_limits {
    size_t max_request_line; /* longer: 414 */
    size_t max_head_bytes;   /* request line + headers + blank line; longer: 431 */
    size_t max_headers;      /* at most GW_HTTP_MAX_HEADERS; more: 431 */
    size_t max_body;         /* decoded body; more: 413 */
} gw_http_limits_t;

typedef struct gw_http_request {
    gw_slice_t method;
    gw_slice_t target; /* origin-form ("/path?query") or "*" */
    int minor_version; /* HTTP/1.<minor> */
    gw_http_header_t headers[GW_HTTP_MAX_HEADERS];
    size_t header_count;
    int64_t content_length; /* -1 when the request has no Content-Length */
    bool chunked;           /* Transfer-Encoding: chunked */
    bool keep_alive;        /* after this request (1.1 default, 1.0 with keep-alive) */
    bool expect_continue;   /* HTTP/1.1 Expect: 100-continue */
} gw_http_request_t;

/**
 * Parses the request line and headers at the start of buf.
 * @returns the head's length (> 0; the body starts there), -2 when the head is incomplete, or
 *          -1 with *status set to the answer: 400 (malformed, CL with TE, bad Content-Length,
 *          missing Host), 413 (Content-Length over max_body), 414 (request line too long), 417
 *          (unknown expectation), 431 (too many or too large headers), 501 (transfer coding
 *          other than chunked), 505 (HTTP major version other than 1).
 */
int gw_http_parse_head(const char *buf, size_t len, const gw_http_limits_t *limits,
                       gw_http_request_t *req, int *status);

/** First header with that name (case-insensitive), or NULL. */
const gw_slice_t *gw_http_header(const gw_http_request_t *req, const char *name);

/** True when the slice equals s, case-insensitively. */
bool gw_slice_eq_nocase(gw_slice_t a, const char *s);

/** Resumable body framing state (caller's storage); init before each request's body. */
typedef struct gw_http_body {
    int phase;
    size_t pos;        /* raw bytes already scanned */
    uint64_t chunk;    /* bytes left in the current chunk, or its size being read */
    size_t decoded;    /* decoded body bytes so far */
    size_t line_bytes; /* bytes of the current chunk-size or trailer line */
    bool digits;       /* the chunk-size line has at least one hex digit */
} gw_http_body_t;

void gw_http_body_init(gw_http_body_t *st);

/**
 * Scans the body framing in raw[0..len), the bytes after the head.
 * @returns the raw length of the whole body (>= 0; for chunked: up to the end of the trailer
 *          section, so the next pipelined request starts there), -2 when incomplete, or -1 with
 *          *status: 400 (bad chunk framing or hex) or 413 (decoded body over limits->max_body).
 */
ssize_t gw_http_body_scan(gw_http_body_t *st, const gw_http_request_t *req, const char *raw,
                          size_t len, const gw_http_limits_t *limits, int *status);

/**
 * Decodes a chunked body in place: raw must be a complete body that gw_http_body_scan
 * accepted (raw_len = its result). The decoded bytes start at raw.
 * @returns the decoded length.
 */
size_t gw_http_chunked_decode(char *raw, size_t raw_len);

/** Reason phrase of a status code ("Not Found"); "Unknown" for codes we never send. */
const char *gw_http_reason(int status);

#endif
