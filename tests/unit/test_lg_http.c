/* lg_http: the client's response parser — framing, partial reads, chunked, keep-alive. */
#include <string.h>

#include "ing_test.h"
#include "lg_http.h"

#define P -2 /* partial */
#define E -1 /* error */

typedef struct response_case {
    const char *name;
    const char *bytes;
    bool eof;
    int want_ret; /* > 0: the whole response's length; 0: all of bytes; P or E */
    int status;
    bool keep_alive;
    const char *body; /* decoded body, when complete */
} response_case_t;

static const response_case_t cases[] = {
    {"202 with length", "HTTP/1.1 202 Accepted\r\nContent-Length: 5\r\n\r\nhello", false, 0, 202,
     true, "hello"},
    {"header names any case", "HTTP/1.1 200 OK\r\ncOnTeNt-LeNgTh: 2\r\n\r\nok", false, 0, 200, true,
     "ok"},
    {"bare LF line ends", "HTTP/1.1 200 OK\nContent-Length: 2\n\nok", false, 0, 200, true, "ok"},
    {"partial status line", "HTTP/1.1 20", false, P, 0, false, NULL},
    {"partial head", "HTTP/1.1 202 Accepted\r\nContent-Le", false, P, 0, false, NULL},
    {"partial body", "HTTP/1.1 202 Accepted\r\nContent-Length: 10\r\n\r\nhello", false, P, 0, false,
     NULL},
    {"body cut by close", "HTTP/1.1 202 Accepted\r\nContent-Length: 10\r\n\r\nhello", true, E, 0,
     false, NULL},
    {"second response left in the buffer",
     "HTTP/1.1 202 A\r\nContent-Length: 2\r\n\r\nabHTTP/1.1 202 A\r\n", false, 39, 202, true, "ab"},
    {"connection close", "HTTP/1.1 503 Busy\r\nConnection: close\r\nContent-Length: 0\r\n\r\n",
     false, 0, 503, false, ""},
    {"connection header list",
     "HTTP/1.1 200 OK\r\nConnection: upgrade, Close\r\n"
     "Content-Length: 0\r\n\r\n",
     false, 0, 200, false, ""},
    {"1.0 closes by default", "HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n", false, 0, 200, false,
     ""},
    {"1.0 keep-alive", "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n",
     false, 0, 200, true, ""},
    {"204 has no body", "HTTP/1.1 204 No Content\r\n\r\n", false, 0, 204, true, ""},
    {"100 continue is interim", "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 202 A\r\n", false, 25, 100,
     true, ""},
    {"chunked",
     "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
     "5\r\nhello\r\n7;ext=1\r\n, world\r\n0\r\n\r\n",
     false, 0, 200, true, "hello, world"},
    {"chunked with trailers",
     "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
     "A\r\n0123456789\r\n0\r\nX-Trailer: 1\r\n\r\n",
     false, 0, 200, true, "0123456789"},
    {"chunked partial size", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5", false, P, 0,
     false, NULL},
    {"chunked partial data", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel", false,
     P, 0, false, NULL},
    {"chunked missing last chunk",
     "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
     "5\r\nhello\r\n",
     false, P, 0, false, NULL},
    {"chunked bad size", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n",
     false, E, 0, false, NULL},
    {"chunked data without CRLF",
     "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
     "2\r\nhello\r\n0\r\n\r\n",
     false, E, 0, false, NULL},
    {"gzip coding refused", "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", false, E, 0,
     false, NULL},
    {"body until close", "HTTP/1.1 200 OK\r\n\r\nall of it", true, 0, 200, false, "all of it"},
    {"body until close, still open", "HTTP/1.1 200 OK\r\n\r\nall of it", false, P, 0, false, NULL},
    {"conflicting lengths", "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
     false, E, 0, false, NULL},
    {"bad length", "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", false, E, 0, false, NULL},
    {"not HTTP", "SSH-2.0-OpenSSH\r\n\r\n", false, E, 0, false, NULL},
    {"HTTP/2 status line", "HTTP/2 200\r\n\r\n", false, E, 0, false, NULL},
    {"header without colon", "HTTP/1.1 200 OK\r\nbroken\r\n\r\n", false, E, 0, false, NULL},
};

int main(void)
{
    ing_test_counts_t t = {0};
    ing_buf_t chunk;
    ing_buf_init(&chunk, 1 << 20);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const response_case_t *c = &cases[i];
        size_t len = strlen(c->bytes);
        lg_http_resp_t r;
        ssize_t got = lg_http_parse_response(c->bytes, len, false, c->eof, &chunk, &r);
        ssize_t want = c->want_ret == 0 ? (ssize_t)len : c->want_ret;
        CHECK(&t, got == want, "%s: returned %zd, want %zd", c->name, got, want);
        if (got > 0 && want > 0) {
            CHECK(&t, r.status == c->status && r.keep_alive == c->keep_alive,
                  "%s: status %d keep-alive %d", c->name, r.status, r.keep_alive);
            CHECK(&t,
                  r.body_len == strlen(c->body) &&
                      (r.body_len == 0 || memcmp(r.body, c->body, r.body_len) == 0),
                  "%s: body %.*s", c->name, (int)r.body_len, r.body ? r.body : "");
        }
    }

    /* Byte by byte: every strict prefix of a complete response is partial, the whole is not. */
    static const char *const whole[] = {
        "HTTP/1.1 202 Accepted\r\nContent-Type: application/json\r\nContent-Length: 27\r\n\r\n"
        "{\"submission_id\":\"abc\"}    ",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        "4\r\n{\"re\r\n10\r\nsults\":[1,2,34]}\r\n0\r\n\r\n",
    };
    for (size_t i = 0; i < 2; i++) {
        size_t len = strlen(whole[i]);
        int partial_ok = 1;
        lg_http_resp_t r;
        for (size_t n = 0; n < len; n++)
            partial_ok &= lg_http_parse_response(whole[i], n, false, false, &chunk, &r) == P;
        CHECK(&t, partial_ok, "response %zu: a prefix was not partial", i);
        CHECK(&t, lg_http_parse_response(whole[i], len, false, false, &chunk, &r) == (ssize_t)len,
              "response %zu: complete", i);
    }

    /* A HEAD response's length is not a body. */
    lg_http_resp_t r;
    const char *head = "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n";
    CHECK(&t,
          lg_http_parse_response(head, strlen(head), true, false, &chunk, &r) ==
              (ssize_t)strlen(head),
          "HEAD response has no body");

    /* A head that never ends is an error, not a wait. */
    static char big[LG_HTTP_MAX_HEAD + 100];
    memcpy(big, "HTTP/1.1 200 OK\r\n", 17);
    memset(big + 17, 'a', sizeof(big) - 17);
    CHECK(&t, lg_http_parse_response(big, sizeof(big), false, false, &chunk, &r) == E,
          "oversized head");

    /* The chunk buffer's cap bounds a chunked body. */
    ing_buf_t small;
    ing_buf_init(&small, 8);
    const char *long_chunked = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                               "10\r\n0123456789abcdef\r\n0\r\n\r\n";
    CHECK(&t,
          lg_http_parse_response(long_chunked, strlen(long_chunked), false, false, &small, &r) == E,
          "chunked body over the cap");
    ing_buf_fini(&small);
    ing_buf_fini(&chunk);
    return ING_TEST_END(&t);
}
