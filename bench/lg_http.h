/*
 * lg_http: the load generator's HTTP/1.1 client side — a pure, incremental response parser
 * (picohttpparser's contract: bytes consumed, -2 partial, -1 error) and the request head
 * writer. No sockets here, so partial reads, chunked bodies and keep-alive are table-tested.
 *
 * The parser re-parses from the start of the connection's read buffer each time more bytes
 * arrive: our responses are small (a 202 with a submission id, a problem+json, a batch's
 * per-item results), so simplicity beats a resumable state machine here.
 */
#ifndef LG_HTTP_H
#define LG_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "ing_buf.h"

#define LG_HTTP_MAX_HEAD 16384

typedef struct lg_http_resp {
    int status;
    int minor_version;
    bool keep_alive; /* the connection may carry another request */
    bool chunked;
    int64_t content_length; /* -1 when absent */
    size_t head_len;
    const char *body; /* borrowed: from buf, or from the chunk buffer when chunked */
    size_t body_len;
} lg_http_resp_t;

/**
 * Parses one response at the start of buf.
 * @param no_body the request was HEAD: the response has no body whatever its headers say
 * @param eof the peer closed: a body without length ends here
 * @param chunk_body receives the decoded body of a chunked response (reset here; its cap
 *        bounds the body)
 * @returns the response's length in buf (> 0) when complete, -2 when more bytes are needed,
 *          -1 when malformed or over a limit. Interim 1xx responses are returned like others:
 *          the caller skips them.
 */
ssize_t lg_http_parse_response(const char *buf, size_t len, bool no_body, bool eof,
                               ing_buf_t *chunk_body, lg_http_resp_t *resp);

#endif
