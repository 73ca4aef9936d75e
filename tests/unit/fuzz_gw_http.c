/*
 * libFuzzer target of the HTTP request parser: whatever the bytes, parsing never reads or
 * writes out of bounds, a complete request never claims more bytes than it was given, a
 * decoded chunked body is never longer than its framing, and the resumable body scan fed one
 * byte at a time agrees with the one-shot scan.
 *   clang -g -fsanitize=fuzzer,address,undefined -Iingest tests/unit/fuzz_gw_http.c \
 *         ingest/gw_http.c -o fuzz_gw_http && ./fuzz_gw_http -max_total_time=60
 * (or cmake with CC=clang: target fuzz_gw_http).
 */
#include <stdlib.h>
#include <string.h>

#include "gw_http.h"

static const gw_http_limits_t limits = {
    .max_request_line = 256, .max_head_bytes = 1024, .max_headers = 16, .max_body = 4096};

#define REQUIRE(c)                                                                                 \
    do {                                                                                           \
        if (!(c))                                                                                  \
            abort();                                                                               \
    } while (0)

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    char *buf = malloc(size ? size : 1);
    memcpy(buf, data, size);
    gw_http_request_t req;
    int status;
    int h = gw_http_parse_head(buf, size, &limits, &req, &status);
    REQUIRE(h == -2 || h == -1 || (h > 0 && (size_t)h <= size));
    REQUIRE(h != -1 || (status >= 400 && status <= 505));
    if (h > 0) {
        /* A prefix of an accepted head is partial, never an error. */
        for (size_t k = (size_t)h / 2; k < (size_t)h; k += 1 + (size_t)h / 16) {
            gw_http_request_t part;
            int st_part;
            REQUIRE(gw_http_parse_head(buf, k, &limits, &part, &st_part) == -2);
        }
        h = gw_http_parse_head(buf, size, &limits, &req, &status);
        REQUIRE(req.header_count <= limits.max_headers);
        REQUIRE(req.content_length <= (int64_t)limits.max_body);
        gw_http_body_t st;
        gw_http_body_init(&st);
        size_t rest = size - (size_t)h;
        ssize_t b = gw_http_body_scan(&st, &req, buf + h, rest, &limits, &status);
        REQUIRE(b == -2 || b == -1 || (b >= 0 && (size_t)b <= rest));
        /* Byte by byte, the resumable state reaches the same verdict. */
        gw_http_body_t inc;
        gw_http_body_init(&inc);
        ssize_t bi = -2;
        int status_i = 0;
        for (size_t k = 0; k <= rest && bi == -2; k++)
            bi = gw_http_body_scan(&inc, &req, buf + h, k, &limits, &status_i);
        REQUIRE(bi == b && (b != -1 || status_i == status));
        if (b >= 0 && req.chunked) {
            size_t n = gw_http_chunked_decode(buf + h, (size_t)b);
            REQUIRE(n <= (size_t)b && n <= limits.max_body);
        }
    }
    free(buf);
    return 0;
}
