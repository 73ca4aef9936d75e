/*
 * gw_metrics: the gateway's counters, one block per I/O thread, summed when /metrics is
 * scraped (Prometheus text format 0.0.4). A block is written only by its own thread, with
 * relaxed atomics, and read by whichever thread renders a scrape or answers /readyz: no lock
 * on the hot path, and a scrape sees each counter at some recent value.
 */
#ifndef GW_METRICS_H
#define GW_METRICS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "ing_buf.h"
#include "ing_error.h"

typedef enum gw_route {
    GW_ROUTE_DOCUMENTS,
    GW_ROUTE_BATCH,
    GW_ROUTE_SUBMISSION,
    GW_ROUTE_HEALTHZ,
    GW_ROUTE_READYZ,
    GW_ROUTE_METRICS,
    GW_ROUTE_OTHER, /* unknown paths and requests that could not be parsed */
    GW_ROUTE__COUNT
} gw_route_t;

#define GW_METRICS_STATUSES 21 /* the statuses we send, plus "other" */

/** Why a request (or a batch item) was answered 503 / "unavailable". */
typedef enum gw_unavailable {
    GW_UNAVAIL_KAFKA_BACKLOG,  /* unacknowledged records over kafka_high_water_bytes */
    GW_UNAVAIL_INFLIGHT_BYTES, /* buffered + unacknowledged bytes over max_inflight_bytes */
    GW_UNAVAIL_PRODUCER_QUEUE, /* librdkafka refused the record (queue full) */
    GW_UNAVAIL_DELIVERY,       /* Kafka did not acknowledge the record */
    GW_UNAVAIL_TIMEOUT,        /* request_timeout_ms passed while waiting */
    GW_UNAVAIL_CONNECTIONS,    /* over max_connections */
    GW_UNAVAIL_DATABASE,       /* submission reads while the database is unreachable */
    GW_UNAVAIL__COUNT
} gw_unavailable_t;

/** Request timeouts answered 408, by what was late. */
typedef enum gw_timeout408 {
    GW_408_HEADER,    /* the head was not complete within header_timeout_ms */
    GW_408_SLOW_BODY, /* the body came slower than min_body_rate_bytes_per_s */
    GW_408__COUNT
} gw_timeout408_t;

typedef struct gw_thread_metrics {
    _Alignas(64) atomic_uint_fast64_t requests[GW_ROUTE__COUNT][GW_METRICS_STATUSES];
    atomic_uint_fast64_t documents_accepted;
    atomic_uint_fast64_t delivery_failures;
    atomic_uint_fast64_t bytes_in;
    atomic_uint_fast64_t connections_accepted;
    atomic_uint_fast64_t status_rows_dropped; /* copied from gw_status */
    /* 'accepted' inserts queued, and finished (committed or dropped): see gw_status. */
    atomic_uint_fast64_t inserts_queued;
    atomic_uint_fast64_t inserts_done;
    atomic_uint_fast64_t unavailable[GW_UNAVAIL__COUNT];
    atomic_uint_fast64_t timeouts_408[GW_408__COUNT];
    atomic_uint_fast64_t rate_limited;        /* requests and batch items answered 429 */
    atomic_uint_fast64_t waits_started;       /* Prefer: wait requests held for a final status */
    atomic_uint_fast64_t tls_handshake_fails; /* handshakes that failed (not timed out) */
    /* Gauges, refreshed by the loop at every iteration. */
    atomic_int_fast64_t connections_open;
    atomic_int_fast64_t producer_queue;  /* records produced, not yet reported back */
    atomic_int_fast64_t bytes_in_flight; /* buffered request bytes + unacknowledged records */
    atomic_bool db_connected;
    atomic_int_fast64_t waiting; /* Prefer: wait requests held now */
    atomic_bool kafka_up; /* false while no broker connection is up (gw_producer_brokers_down) */
    atomic_bool kafka_backlog; /* unacknowledged record bytes over kafka_high_water_bytes */
    atomic_bool draining;
} gw_thread_metrics_t;

typedef struct gw_metrics gw_metrics_t;

gw_metrics_t *gw_metrics_create(int nthreads);
void gw_metrics_destroy(gw_metrics_t *m);

/** The block of thread i (0-based). */
gw_thread_metrics_t *gw_metrics_thread(gw_metrics_t *m, int i);

int gw_metrics_threads(const gw_metrics_t *m);

static inline void gw_metrics_add(atomic_uint_fast64_t *counter, uint64_t n)
{
    atomic_fetch_add_explicit(counter, n, memory_order_relaxed);
}

/** Counts one answered request. @locality the block's thread. */
void gw_metrics_count_request(gw_thread_metrics_t *t, gw_route_t route, int status);

/** Counts one 503 (or batch item answered unavailable) by its reason. @locality the block's thread.
 */
static inline void gw_metrics_unavailable(gw_thread_metrics_t *t, gw_unavailable_t why)
{
    gw_metrics_add(&t->unavailable[why], 1);
}

/** Appends the Prometheus exposition of every thread's counters, summed. */
ing_err_t gw_metrics_render(gw_metrics_t *m, ing_buf_t *out) ING_MUST_CHECK;

/* Read-your-writes across threads: a 202 is sent after its 'accepted' insert was queued on
 * the thread that produced it, but a GET may arrive on another thread before that insert
 * commits. The GET snapshots every thread's inserts_queued when it arrives; a miss is final
 * only once every thread's inserts_done has reached that snapshot. */

/** Fills snap[gw_metrics_threads(m)] with every thread's inserts_queued. */
void gw_metrics_inserts_snapshot(gw_metrics_t *m, uint64_t *snap);

/** True when every thread finished the inserts it had queued at the snapshot. */
bool gw_metrics_inserts_caught_up(gw_metrics_t *m, const uint64_t *snap);

/**
 * Readiness of the whole process: none is draining, and every thread has its database
 * connection, a broker connection up, and its unacknowledged records under the high-water
 * mark. why gets the first reason.
 */
bool gw_metrics_ready(gw_metrics_t *m, char *why, size_t why_size);

#endif
