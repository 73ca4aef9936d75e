/*
 * gw_metrics: per-thread counters summed at render time, the readiness verdict, and the
 * read-your-writes snapshot that GETs use across threads.
 */
#include <string.h>

#include "gw_metrics.h"
#include "gw_producer.h"
#include "ing_test.h"

static bool has_line(const ing_buf_t *out, const char *line)
{
    char want[256];
    snprintf(want, sizeof(want), "\n%s\n", line);
    return strstr((const char *)out->data, want) != NULL;
}

static void test_render(ing_test_counts_t *t)
{
    gw_metrics_t *m = gw_metrics_create(3);
    CHECK(t, m != NULL, "create");
    static const struct {
        int thread;
        gw_route_t route;
        int status;
    } counts[] = {
        {0, GW_ROUTE_DOCUMENTS, 202}, {1, GW_ROUTE_DOCUMENTS, 202},  {2, GW_ROUTE_DOCUMENTS, 202},
        {0, GW_ROUTE_DOCUMENTS, 422}, {1, GW_ROUTE_SUBMISSION, 404}, {2, GW_ROUTE_OTHER, 418},
        {0, GW_ROUTE__COUNT, 200},
    };
    for (size_t i = 0; i < sizeof(counts) / sizeof(counts[0]); i++)
        gw_metrics_count_request(gw_metrics_thread(m, counts[i].thread), counts[i].route,
                                 counts[i].status);
    gw_metrics_add(&gw_metrics_thread(m, 0)->bytes_in, 100);
    gw_metrics_add(&gw_metrics_thread(m, 2)->bytes_in, 23);
    gw_metrics_unavailable(gw_metrics_thread(m, 0), GW_UNAVAIL_KAFKA_BACKLOG);
    gw_metrics_unavailable(gw_metrics_thread(m, 1), GW_UNAVAIL_KAFKA_BACKLOG);
    gw_metrics_unavailable(gw_metrics_thread(m, 1), GW_UNAVAIL_CONNECTIONS);
    gw_metrics_add(&gw_metrics_thread(m, 2)->timeouts_408[GW_408_SLOW_BODY], 4);
    gw_metrics_add(&gw_metrics_thread(m, 0)->rate_limited, 2);
    gw_metrics_add(&gw_metrics_thread(m, 1)->tls_handshake_fails, 1);
    gw_metrics_add(&gw_metrics_thread(m, 1)->waits_started, 9);
    atomic_store(&gw_metrics_thread(m, 0)->waiting, 3);
    atomic_store(&gw_metrics_thread(m, 1)->producer_queue, 7);
    atomic_store(&gw_metrics_thread(m, 2)->producer_queue, 5);
    ing_buf_t out;
    ing_buf_init(&out, 1 << 20);
    CHECK(t, gw_metrics_render(m, &out) == ING_OK, "render");
    static const char *const lines[] = {
        "ing_gateway_requests_total{route=\"documents\",status=\"202\"} 3",
        "ing_gateway_requests_total{route=\"documents\",status=\"422\"} 1",
        "ing_gateway_requests_total{route=\"submission\",status=\"404\"} 1",
        "ing_gateway_requests_total{route=\"other\",status=\"other\"} 1",
        "ing_gateway_requests_total{route=\"other\",status=\"200\"} 1",
        "ing_gateway_bytes_in_total 123",
        "ing_gateway_producer_queue_depth 12",
        "ing_gateway_threads 3",
        "ing_gateway_unavailable_total{reason=\"kafka_backlog\"} 2",
        "ing_gateway_unavailable_total{reason=\"connections\"} 1",
        "ing_gateway_unavailable_total{reason=\"delivery\"} 0",
        "ing_gateway_request_timeouts_total{reason=\"slow_body\"} 4",
        "ing_gateway_request_timeouts_total{reason=\"header\"} 0",
        "ing_gateway_rate_limited_total 2",
        "ing_gateway_tls_handshake_failures_total 1",
        "ing_gateway_wait_requests_total 9",
        "ing_gateway_waiting_requests 3",
        "# TYPE ing_gateway_requests_total counter",
        "# TYPE ing_gateway_connections_open gauge",
    };
    for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++)
        CHECK(t, has_line(&out, lines[i]), "missing line: %s", lines[i]);
    CHECK(t, !strstr((const char *)out.data, "status=\"405\""), "zero series are left out");
    ing_buf_fini(&out);
    gw_metrics_destroy(m);
}

static void test_ready(ing_test_counts_t *t)
{
    gw_metrics_t *m = gw_metrics_create(2);
    char why[128];
    CHECK(t, !gw_metrics_ready(m, why, sizeof(why)), "no database yet: not ready");
    for (int i = 0; i < 2; i++)
        atomic_store(&gw_metrics_thread(m, i)->db_connected, true);
    CHECK(t, gw_metrics_ready(m, why, sizeof(why)), "ready: %s", why);
    atomic_store(&gw_metrics_thread(m, 1)->kafka_up, false);
    CHECK(t, !gw_metrics_ready(m, why, sizeof(why)) && strstr(why, "Kafka"), "kafka: %s", why);
    atomic_store(&gw_metrics_thread(m, 1)->kafka_up, true);
    atomic_store(&gw_metrics_thread(m, 0)->kafka_backlog, true);
    CHECK(t, !gw_metrics_ready(m, why, sizeof(why)) && strstr(why, "high-water"), "backlog: %s",
          why);
    atomic_store(&gw_metrics_thread(m, 0)->kafka_backlog, false);
    atomic_store(&gw_metrics_thread(m, 0)->draining, true);
    CHECK(t, !gw_metrics_ready(m, why, sizeof(why)) && strstr(why, "shutting"), "drain: %s", why);
    gw_metrics_destroy(m);
}

static void test_catch_up(ing_test_counts_t *t)
{
    gw_metrics_t *m = gw_metrics_create(2);
    gw_thread_metrics_t *a = gw_metrics_thread(m, 0), *b = gw_metrics_thread(m, 1);
    gw_metrics_add(&a->inserts_queued, 3);
    gw_metrics_add(&a->inserts_done, 2);
    gw_metrics_add(&b->inserts_queued, 1);
    gw_metrics_add(&b->inserts_done, 1);
    uint64_t snap[2];
    gw_metrics_inserts_snapshot(m, snap);
    CHECK(t, snap[0] == 3 && snap[1] == 1, "snapshot %llu %llu", (unsigned long long)snap[0],
          (unsigned long long)snap[1]);
    CHECK(t, !gw_metrics_inserts_caught_up(m, snap), "thread 0 still has one insert pending");
    gw_metrics_add(&b->inserts_queued, 5); /* queued after the snapshot: not waited for */
    gw_metrics_add(&a->inserts_done, 1);
    CHECK(t, gw_metrics_inserts_caught_up(m, snap), "caught up with the snapshot");
    gw_metrics_destroy(m);
}

/* librdkafka statistics (trimmed): is a broker connection UP? */
static void test_stats_broker_up(ing_test_counts_t *t)
{
    static const struct {
        const char *json;
        bool up;
    } cases[] = {
        {"{\"name\":\"p\",\"brokers\":{\"127.0.0.1:9092/1\":{\"nodeid\":1,\"state\":\"UP\"}},"
         "\"topics\":{}}",
         true},
        {"{\"brokers\":{\"a:9092/bootstrap\":{\"nodeid\":-1,\"state\":\"DOWN\"},"
         "\"a:9092/1\":{\"nodeid\":1,\"state\":\"UP\"}},\"topics\":{}}",
         true},
        {"{\"brokers\":{\"a:9092/bootstrap\":{\"state\":\"CONNECT\"}},\"topics\":{}}", false},
        {"{\"brokers\":{},\"topics\":{\"t\":{\"state\":\"UP\"}}}", false},
        {"{\"brokers\":{\"a/1\":{\"state\":\"DOWN\"}}}", false},
        {"{\"name\":\"p\"}", false},
        {"", false},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        CHECK(t, gw_producer_stats_broker_up(cases[i].json, strlen(cases[i].json)) == cases[i].up,
              "case %zu", i);
}

int main(void)
{
    ing_test_counts_t t = {0};
    test_render(&t);
    test_ready(&t);
    test_catch_up(&t);
    test_stats_broker_up(&t);
    return ING_TEST_END(&t);
}
