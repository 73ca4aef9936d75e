#include "gw_metrics.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>

struct gw_metrics {
    int nthreads;
    gw_thread_metrics_t *threads;
};

static const int statuses[GW_METRICS_STATUSES - 1] = {
    200, 202, 400, 401, 403, 404, 405, 408, 409, 413,
    414, 415, 417, 422, 429, 431, 500, 501, 503, 505,
};

static const char *const route_names[GW_ROUTE__COUNT] = {
    [GW_ROUTE_DOCUMENTS] = "documents",   [GW_ROUTE_BATCH] = "documents_batch",
    [GW_ROUTE_SUBMISSION] = "submission", [GW_ROUTE_HEALTHZ] = "healthz",
    [GW_ROUTE_READYZ] = "readyz",         [GW_ROUTE_METRICS] = "metrics",
    [GW_ROUTE_OTHER] = "other",
};

gw_metrics_t *gw_metrics_create(int nthreads)
{
    gw_metrics_t *m = calloc(1, sizeof(*m));
    if (!m)
        return NULL;
    m->threads = aligned_alloc(64, sizeof(*m->threads) * (size_t)nthreads);
    if (!m->threads) {
        free(m);
        return NULL;
    }
    m->nthreads = nthreads;
    for (int i = 0; i < nthreads; i++) {
        gw_thread_metrics_t *t = &m->threads[i];
        for (int r = 0; r < GW_ROUTE__COUNT; r++)
            for (int s = 0; s < GW_METRICS_STATUSES; s++)
                atomic_init(&t->requests[r][s], 0);
        atomic_init(&t->documents_accepted, 0);
        atomic_init(&t->delivery_failures, 0);
        atomic_init(&t->bytes_in, 0);
        atomic_init(&t->connections_accepted, 0);
        atomic_init(&t->status_rows_dropped, 0);
        atomic_init(&t->inserts_queued, 0);
        atomic_init(&t->inserts_done, 0);
        for (int k = 0; k < GW_UNAVAIL__COUNT; k++)
            atomic_init(&t->unavailable[k], 0);
        for (int k = 0; k < GW_408__COUNT; k++)
            atomic_init(&t->timeouts_408[k], 0);
        atomic_init(&t->rate_limited, 0);
        atomic_init(&t->waits_started, 0);
        atomic_init(&t->tls_handshake_fails, 0);
        atomic_init(&t->waiting, 0);
        atomic_init(&t->kafka_backlog, false);
        atomic_init(&t->connections_open, 0);
        atomic_init(&t->producer_queue, 0);
        atomic_init(&t->bytes_in_flight, 0);
        atomic_init(&t->db_connected, false);
        atomic_init(&t->kafka_up, true);
        atomic_init(&t->draining, false);
    }
    return m;
}

void gw_metrics_destroy(gw_metrics_t *m)
{
    if (!m)
        return;
    free(m->threads);
    free(m);
}

gw_thread_metrics_t *gw_metrics_thread(gw_metrics_t *m, int i)
{
    return &m->threads[i];
}

int gw_metrics_threads(const gw_metrics_t *m)
{
    return m->nthreads;
}

void gw_metrics_count_request(gw_thread_metrics_t *t, gw_route_t route, int status)
{
    int s = 0;
    while (s < GW_METRICS_STATUSES - 1 && statuses[s] != status)
        s++;
    if ((unsigned)route >= GW_ROUTE__COUNT)
        route = GW_ROUTE_OTHER;
    gw_metrics_add(&t->requests[route][s], 1);
}

#define LOAD(x) atomic_load_explicit(&(x), memory_order_relaxed)

static uint64_t sum_counter(gw_metrics_t *m, size_t offset)
{
    uint64_t total = 0;
    for (int i = 0; i < m->nthreads; i++)
        total += LOAD(*(atomic_uint_fast64_t *)((char *)&m->threads[i] + offset));
    return total;
}

static int64_t sum_gauge(gw_metrics_t *m, size_t offset)
{
    int64_t total = 0;
    for (int i = 0; i < m->nthreads; i++)
        total += LOAD(*(atomic_int_fast64_t *)((char *)&m->threads[i] + offset));
    return total;
}

ing_err_t gw_metrics_render(gw_metrics_t *m, ing_buf_t *out)
{
    ing_err_t err = ing_buf_printf(
        out, "# HELP ing_gateway_requests_total HTTP requests answered, by route and status.\n"
             "# TYPE ing_gateway_requests_total counter\n");
    for (int r = 0; r < GW_ROUTE__COUNT && !err; r++)
        for (int s = 0; s < GW_METRICS_STATUSES && !err; s++) {
            uint64_t n = 0;
            for (int i = 0; i < m->nthreads; i++)
                n += LOAD(m->threads[i].requests[r][s]);
            if (!n)
                continue;
            char code[8];
            if (s < GW_METRICS_STATUSES - 1)
                snprintf(code, sizeof(code), "%d", statuses[s]);
            else
                snprintf(code, sizeof(code), "other");
            err =
                ing_buf_printf(out, "ing_gateway_requests_total{route=\"%s\",status=\"%s\"} %llu\n",
                               route_names[r], code, (unsigned long long)n);
        }
    static const struct {
        const char *name, *type, *help;
        size_t offset;
        bool gauge;
    } series[] = {
        {"ing_gateway_documents_accepted_total", "counter",
         "Documents acknowledged by Kafka and answered 202.",
         offsetof(gw_thread_metrics_t, documents_accepted), false},
        {"ing_gateway_delivery_failures_total", "counter",
         "Records Kafka did not acknowledge (answered 503 or 413).",
         offsetof(gw_thread_metrics_t, delivery_failures), false},
        {"ing_gateway_bytes_in_total", "counter", "Bytes read from clients.",
         offsetof(gw_thread_metrics_t, bytes_in), false},
        {"ing_gateway_connections_accepted_total", "counter", "Client connections accepted.",
         offsetof(gw_thread_metrics_t, connections_accepted), false},
        {"ing_gateway_status_rows_dropped_total", "counter",
         "'accepted' submission rows not written (database down); the worker writes the final "
         "status anyway.",
         offsetof(gw_thread_metrics_t, status_rows_dropped), false},
        {"ing_gateway_connections_open", "gauge", "Client connections open.",
         offsetof(gw_thread_metrics_t, connections_open), true},
        {"ing_gateway_bytes_in_flight", "gauge",
         "Request bytes buffered plus record bytes not yet acknowledged by Kafka.",
         offsetof(gw_thread_metrics_t, bytes_in_flight), true},
        {"ing_gateway_producer_queue_depth", "gauge",
         "Records produced whose delivery report has not been served yet.",
         offsetof(gw_thread_metrics_t, producer_queue), true},
    };
    for (size_t k = 0; k < sizeof(series) / sizeof(series[0]) && !err; k++) {
        long long v = series[k].gauge ? (long long)sum_gauge(m, series[k].offset)
                                      : (long long)sum_counter(m, series[k].offset);
        err = ing_buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n%s %lld\n", series[k].name,
                             series[k].help, series[k].name, series[k].type, series[k].name, v);
    }
    static const char *const unavail_names[GW_UNAVAIL__COUNT] = {
        [GW_UNAVAIL_KAFKA_BACKLOG] = "kafka_backlog",
        [GW_UNAVAIL_INFLIGHT_BYTES] = "inflight_bytes",
        [GW_UNAVAIL_PRODUCER_QUEUE] = "producer_queue",
        [GW_UNAVAIL_DELIVERY] = "delivery",
        [GW_UNAVAIL_TIMEOUT] = "timeout",
        [GW_UNAVAIL_CONNECTIONS] = "connections",
        [GW_UNAVAIL_DATABASE] = "database",
    };
    if (!err)
        err = ing_buf_printf(out, "# HELP ing_gateway_unavailable_total Requests answered 503 "
                                  "and batch items answered unavailable, by reason.\n"
                                  "# TYPE ing_gateway_unavailable_total counter\n");
    for (int k = 0; k < GW_UNAVAIL__COUNT && !err; k++)
        err = ing_buf_printf(
            out, "ing_gateway_unavailable_total{reason=\"%s\"} %llu\n", unavail_names[k],
            (unsigned long long)sum_counter(m, offsetof(gw_thread_metrics_t, unavailable[k])));
    static const char *const t408_names[GW_408__COUNT] = {
        [GW_408_HEADER] = "header", [GW_408_SLOW_BODY] = "slow_body"};
    if (!err)
        err = ing_buf_printf(out, "# HELP ing_gateway_request_timeouts_total Requests answered "
                                  "408, by what was late.\n"
                                  "# TYPE ing_gateway_request_timeouts_total counter\n");
    for (int k = 0; k < GW_408__COUNT && !err; k++)
        err = ing_buf_printf(
            out, "ing_gateway_request_timeouts_total{reason=\"%s\"} %llu\n", t408_names[k],
            (unsigned long long)sum_counter(m, offsetof(gw_thread_metrics_t, timeouts_408[k])));
    static const struct {
        const char *name, *type, *help;
        size_t offset;
        bool gauge;
    } more[] = {
        {"ing_gateway_rate_limited_total", "counter",
         "Requests and batch items refused by an organisation's rate limit (429).",
         offsetof(gw_thread_metrics_t, rate_limited), false},
        {"ing_gateway_wait_requests_total", "counter",
         "Requests held for their final status (Prefer: wait).",
         offsetof(gw_thread_metrics_t, waits_started), false},
        {"ing_gateway_waiting_requests", "gauge",
         "Requests held for their final status now (Prefer: wait).",
         offsetof(gw_thread_metrics_t, waiting), true},
        {"ing_gateway_tls_handshake_failures_total", "counter",
         "TLS handshakes that failed (protocol, certificate or client errors).",
         offsetof(gw_thread_metrics_t, tls_handshake_fails), false},
    };
    for (size_t k = 0; k < sizeof(more) / sizeof(more[0]) && !err; k++) {
        long long v = more[k].gauge ? (long long)sum_gauge(m, more[k].offset)
                                    : (long long)sum_counter(m, more[k].offset);
        err = ing_buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n%s %lld\n", more[k].name,
                             more[k].help, more[k].name, more[k].type, more[k].name, v);
    }
    int db = 0, kafka = 0;
    for (int i = 0; i < m->nthreads; i++) {
        db += LOAD(m->threads[i].db_connected);
        kafka += LOAD(m->threads[i].kafka_up);
    }
    if (!err)
        err = ing_buf_printf(
            out,
            "# HELP ing_gateway_db_connections_up I/O threads with a database "
            "connection.\n# TYPE ing_gateway_db_connections_up gauge\n"
            "ing_gateway_db_connections_up %d\n"
            "# HELP ing_gateway_kafka_producers_up I/O threads that see the "
            "Kafka producer connected.\n# TYPE ing_gateway_kafka_producers_up gauge\n"
            "ing_gateway_kafka_producers_up %d\n"
            "# HELP ing_gateway_threads I/O threads.\n"
            "# TYPE ing_gateway_threads gauge\ning_gateway_threads %d\n",
            db, kafka, m->nthreads);
    return err;
}

void gw_metrics_inserts_snapshot(gw_metrics_t *m, uint64_t *snap)
{
    for (int i = 0; i < m->nthreads; i++)
        snap[i] = atomic_load_explicit(&m->threads[i].inserts_queued, memory_order_acquire);
}

bool gw_metrics_inserts_caught_up(gw_metrics_t *m, const uint64_t *snap)
{
    for (int i = 0; i < m->nthreads; i++)
        if (atomic_load_explicit(&m->threads[i].inserts_done, memory_order_acquire) < snap[i])
            return false;
    return true;
}

bool gw_metrics_ready(gw_metrics_t *m, char *why, size_t why_size)
{
    for (int i = 0; i < m->nthreads; i++) {
        gw_thread_metrics_t *t = &m->threads[i];
        if (LOAD(t->draining)) {
            snprintf(why, why_size, "the gateway is shutting down");
            return false;
        }
        if (!LOAD(t->db_connected)) {
            snprintf(why, why_size, "thread %d has no database connection", i + 1);
            return false;
        }
        if (!LOAD(t->kafka_up)) {
            snprintf(why, why_size, "thread %d: no Kafka broker connection is up", i + 1);
            return false;
        }
        if (LOAD(t->kafka_backlog)) {
            snprintf(why, why_size,
                     "thread %d: records waiting for Kafka are above the high-water mark", i + 1);
            return false;
        }
    }
    return true;
}
