/*
 * gw_response: HTTP responses as bytes — the status line and headers, JSON bodies, and every
 * error as an RFC 9457 problem (application/problem+json) with our machine `code` and the
 * offending `field`. Pure over an ing_buf, so the rendering is unit-tested without sockets.
 *
 * Problem body: {"type": "/problems/<code>", "title", "status", "detail", "code", "field"}.
 * `type` is a relative URI reference naming the code (RFC 9457 section 3.1.1 allows one);
 * `field` is the JSON path of the offending envelope field, "" when it is the whole body or
 * the request itself.
 */
#ifndef GW_RESPONSE_H
#define GW_RESPONSE_H

#include <stdbool.h>
#include <time.h>

#include "ing_buf.h"
#include "ing_envelope.h"
#include "ing_error.h"

typedef struct gw_problem {
    int status;
    const char *code;  /* machine name: ing_err_name() or one of the HTTP-level names below */
    const char *title; /* one short human line, constant for the code */
    char field[48];
    char detail[256];
    int retry_after;   /* seconds; > 0 adds Retry-After */
    const char *allow; /* 405: the Allow header's value */
} gw_problem_t;

/** A problem for a contract or operational error of ing_err_t (status from the error). */
void gw_problem_from_err(gw_problem_t *p, ing_err_t code, const char *field, const char *detail);

/** A problem from the envelope validator's verdict. */
void gw_problem_from_ing(gw_problem_t *p, const ing_problem_t *problem);

/**
 * A problem at the HTTP level (malformed request, unknown route...): the code is derived from
 * the status: bad_request, unauthorized (401, rendered with WWW-Authenticate: Bearer), not_found,
 * method_not_allowed, request_timeout, uri_too_long, unsupported_media_type, expectation_failed,
 * header_too_large, not_implemented, http_version_not_supported; 413 is content_too_large and 503
 * unavailable, as in ing_err.
 */
void gw_problem_http(gw_problem_t *p, int status, const char *detail);

/** The problem's JSON body, NUL-terminated; caller frees with free(). NULL on out-of-memory. */
char *gw_problem_json(const gw_problem_t *p);

/** Room for an IMF-fixdate ("Sun, 06 Nov 1994 08:49:37 GMT") and its NUL. */
#define GW_RESPONSE_DATE_SIZE 32

/**
 * Renders the Date header's value for the second `now` (RFC 9110 section 5.6.7). A loop renders
 * it once a second, not once a response: gmtime_r takes glibc's time zone lock.
 */
void gw_response_date(time_t now, char date[GW_RESPONSE_DATE_SIZE]);

/** How a response's head ends: its Date and whether the connection stays open. */
typedef struct gw_response_head {
    const char *date; /* from gw_response_date */
    bool keep_alive;
    bool http10; /* an HTTP/1.0 client: keep-alive is said explicitly */
} gw_response_head_t;

/**
 * Appends a whole response: status line, Date, Content-Type (omitted when NULL),
 * Content-Length, Connection (close, or keep-alive for an HTTP/1.0 client that asked for
 * it), extra_headers (each line ending in CRLF, may be NULL), then the body. Assembled by
 * copies, not printf: this runs once per document on the single-document path.
 */
ing_err_t gw_response_write(ing_buf_t *out, int status, const char *content_type, const void *body,
                            size_t body_len, const char *extra_headers,
                            const gw_response_head_t *head) ING_MUST_CHECK;

/** Appends a problem+json response (with Retry-After and Allow when the problem says so). */
ing_err_t gw_response_problem(ing_buf_t *out, const gw_problem_t *p,
                              const gw_response_head_t *head) ING_MUST_CHECK;

#endif
