/*
 * wk_metrics and wk_endpoint: the scrape's text from two threads' blocks (sums, per-thread
 * gauges, a cumulative histogram), then the endpoint on a loopback port driven by a loop in
 * this thread: /metrics, /healthz, 404, 405, an oversized head, a silent client timed out, and
 * the connection cap.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ing_test.h"
#include "wk_endpoint.h"
#include "wk_metrics.h"

static bool has_line(const ing_buf_t *out, const char *line)
{
    size_t n = strlen(line);
    const char *text = (const char *)out->data;
    for (size_t i = 0; text && i + n <= out->len; i++)
        if ((i == 0 || text[i - 1] == '\n') && memcmp(text + i, line, n) == 0 &&
            (i + n == out->len || text[i + n] == '\n'))
            return true;
    return false;
}

static void test_render(ing_test_counts_t *t)
{
    static wk_live_t live[2];
    wk_metrics_publish(&live[0], &(wk_stats_t){.batches = 3,
                                               .records = 1500,
                                               .stored = 1490,
                                               .duplicates = 4,
                                               .refused = 1,
                                               .rejected = 2,
                                               .dead_lettered = 3,
                                               .retries = 1});
    wk_metrics_publish(
        &live[1], &(wk_stats_t){.batches = 2, .records = 700, .stored = 690, .already_stored = 10});
    wk_metrics_set_lag(&live[0], 1234, 6);
    wk_metrics_set_lag(&live[1], -1, 6);          /* no estimate yet: no lag line for thread 1 */
    wk_metrics_observe_batch(&live[0], 8000);     /* 0.008 s: the first bucket */
    wk_metrics_observe_batch(&live[0], 40000);    /* 0.04 s */
    wk_metrics_observe_batch(&live[1], 40000);    /* 0.04 s */
    wk_metrics_observe_batch(&live[1], 60000000); /* 60 s: only +Inf */
    ing_buf_t out;
    ing_buf_init(&out, 1 << 16);
    CHECK(t, wk_metrics_render(live, 2, &out) == ING_OK, "render");
    static const char *const want[] = {
        "# TYPE ing_worker_batches_total counter",
        "ing_worker_batches_total 5",
        "ing_worker_records_total 2200",
        "ing_worker_documents_total{outcome=\"stored\"} 2180",
        "ing_worker_documents_total{outcome=\"already_stored\"} 10",
        "ing_worker_documents_total{outcome=\"duplicate\"} 4",
        "ing_worker_documents_total{outcome=\"refused\"} 1",
        "ing_worker_documents_total{outcome=\"rejected\"} 2",
        "ing_worker_dead_lettered_total 3",
        "ing_worker_retries_total 1",
        "# TYPE ing_worker_lag_records gauge",
        "ing_worker_lag_records{thread=\"0\"} 1234",
        "ing_worker_assigned_partitions{thread=\"0\"} 6",
        "ing_worker_assigned_partitions{thread=\"1\"} 6",
        "# TYPE ing_worker_batch_seconds histogram",
        "ing_worker_batch_seconds_bucket{le=\"0.01\"} 1",
        "ing_worker_batch_seconds_bucket{le=\"0.025\"} 1",
        "ing_worker_batch_seconds_bucket{le=\"0.05\"} 3",
        "ing_worker_batch_seconds_bucket{le=\"30\"} 3",
        "ing_worker_batch_seconds_bucket{le=\"+Inf\"} 4",
        "ing_worker_batch_seconds_count 4",
        "ing_worker_batch_seconds_sum 60.088000",
        "ing_worker_threads 2",
    };
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
        CHECK(t, has_line(&out, want[i]), "line %s in:\n%.*s", want[i], (int)out.len,
              out.data ? (const char *)out.data : "");
    CHECK(t, !strstr((const char *)out.data, "ing_worker_lag_records{thread=\"1\"}"),
          "unknown lag not shown");
    /* A lag that becomes unknown again (committed offsets unreadable) is hidden, not stale. */
    wk_metrics_set_lag(&live[0], -1, 6);
    ing_buf_reset(&out);
    CHECK(t, wk_metrics_render(live, 2, &out) == ING_OK, "render again");
    CHECK(t, !strstr((const char *)out.data, "ing_worker_lag_records{thread=\"0\"}"),
          "stale lag hidden");
    /* One HELP and one TYPE per family, even for the labelled documents_total. */
    size_t types = 0;
    for (const char *p = (const char *)out.data; (p = strstr(p, "# TYPE ing_worker_documents_"));
         p++)
        types++;
    CHECK(t, types == 1, "documents_total TYPE lines: %zu", types);
    ing_buf_fini(&out);
}

/* --- the endpoint ------------------------------------------------------------------------- */

static ing_err_t render_fixed(void *arg, ing_buf_t *out)
{
    return ing_buf_append(out, arg, strlen(arg));
}

/* Runs the endpoint's loop for up to ms milliseconds (fewer when nothing happens). */
static void pump(int epfd, wk_endpoint_t *ep, int ms, int64_t now_us)
{
    for (int i = 0; i < ms / 10; i++) {
        struct epoll_event evs[8];
        int n = epoll_wait(epfd, evs, 8, 10);
        for (int e = 0; e < n; e++)
            wk_endpoint_handle(ep, evs[e].data.ptr, evs[e].events, now_us);
    }
}

static int connect_to(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
        close(fd);
        return -1;
    }
    struct timeval tv = {2, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    return fd;
}

/* Sends request (may be NULL), pumps the loop, reads the whole answer until EOF into buf. */
static size_t exchange(int epfd, wk_endpoint_t *ep, int fd, const char *request, char *buf,
                       size_t size)
{
    if (request)
        (void)!send(fd, request, strlen(request), MSG_NOSIGNAL);
    pump(epfd, ep, 100, 0);
    size_t len = 0;
    for (;;) {
        ssize_t n = recv(fd, buf + len, size - 1 - len, 0);
        if (n <= 0)
            break;
        len += (size_t)n;
    }
    buf[len] = '\0';
    return len;
}

static void test_endpoint(ing_test_counts_t *t)
{
    int epfd = epoll_create1(EPOLL_CLOEXEC);
    wk_endpoint_t *ep = NULL;
    char errstr[256] = "";
    char body[] = "ing_worker_threads 2\n";
    CHECK(t,
          wk_endpoint_create("127.0.0.1:0", epfd, render_fixed, body, &ep, errstr,
                             sizeof(errstr)) == ING_OK,
          "create: %s", errstr);
    if (!ep)
        return;
    int port = wk_endpoint_port(ep);
    CHECK(t, port > 0, "port %d", port);

    static const struct {
        const char *request, *status_line, *contains;
    } cases[] = {
        {"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n", "HTTP/1.1 200 OK\r\n",
         "Content-Length: 21\r\nConnection: close\r\n\r\ning_worker_threads 2\n"},
        {"GET /metrics?name[]=x HTTP/1.1\r\n\r\n", "HTTP/1.1 200 OK\r\n",
         "Content-Type: text/plain; version=0.0.4"},
        {"GET /healthz HTTP/1.0\r\n\r\n", "HTTP/1.1 200 OK\r\n", "\r\n\r\nok\n"},
        {"GET /documents HTTP/1.1\r\n\r\n", "HTTP/1.1 404 Not Found\r\n", "404 Not Found"},
        {"POST /metrics HTTP/1.1\r\nContent-Length: 0\r\n\r\n",
         "HTTP/1.1 405 Method Not Allowed\r\n", "Allow: GET\r\n"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int fd = connect_to(port);
        char buf[4096];
        exchange(epfd, ep, fd, cases[i].request, buf, sizeof(buf));
        CHECK(t, !strncmp(buf, cases[i].status_line, strlen(cases[i].status_line)),
              "case %zu status: %s", i, buf);
        CHECK(t, strstr(buf, cases[i].contains) != NULL, "case %zu: %s", i, buf);
        close(fd);
    }

    /* A head that never ends within 4 KiB: 431, then closed. */
    int fd = connect_to(port);
    char big[6000];
    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    memcpy(big, "GET /", 5);
    char buf[4096];
    exchange(epfd, ep, fd, big, buf, sizeof(buf));
    CHECK(t, !strncmp(buf, "HTTP/1.1 431 ", 13), "oversized head: %s", buf);
    close(fd);

    /* A silent client is closed by the sweep once its 5 s are over. */
    fd = connect_to(port);
    pump(epfd, ep, 50, 0);
    wk_endpoint_sweep(ep, 4 * 1000000);
    char c;
    struct timeval short_tv = {0, 100000};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &short_tv, sizeof(short_tv));
    ssize_t n = recv(fd, &c, 1, 0);
    CHECK(t, n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK), "open before the deadline");
    wk_endpoint_sweep(ep, 6 * 1000000);
    n = recv(fd, &c, 1, 0);
    CHECK(t, n == 0, "closed after the deadline (recv %zd)", n);
    close(fd);

    /* At most 16 open: the 17th is closed at once, and the others still answer. (The closed
     * clients' lingering connections end first.) */
    pump(epfd, ep, 50, 0);
    int fds[17];
    for (int i = 0; i < 17; i++)
        fds[i] = connect_to(port);
    pump(epfd, ep, 100, 0);
    setsockopt(fds[16], SOL_SOCKET, SO_RCVTIMEO, &short_tv, sizeof(short_tv));
    n = recv(fds[16], &c, 1, 0);
    CHECK(t, n == 0, "17th connection closed (recv %zd)", n);
    exchange(epfd, ep, fds[0], "GET /healthz HTTP/1.1\r\n\r\n", buf, sizeof(buf));
    CHECK(t, !strncmp(buf, "HTTP/1.1 200 OK\r\n", 17), "first of 16 answered: %s", buf);
    for (int i = 0; i < 17; i++)
        close(fds[i]);

    wk_endpoint_destroy(ep);
    close(epfd);

    /* A bad address is a configuration error that names the setting. */
    CHECK(t,
          wk_endpoint_create("no-port", -1, render_fixed, body, &ep, errstr, sizeof(errstr)) ==
                  ING_ERR_CONFIG &&
              strstr(errstr, "worker.metrics_listen"),
          "bad address: %s", errstr);
}

int main(void)
{
    ing_test_counts_t t = {0};
    test_render(&t);
    test_endpoint(&t);
    return ING_TEST_END(&t);
}
