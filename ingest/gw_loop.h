/*
 * gw_loop: one I/O thread — an epoll loop that owns its listening socket (SO_REUSEPORT), its
 * connections, its lane into the process's Kafka producer (gw_producer) and its PostgreSQL
 * connection. Nothing else is shared with another thread; the only cross-thread call is
 * gw_loop_stop.
 *
 * A connection reads one request at a time into a bounded buffer (head limit + body limit:
 * more is 413) sized to the request: 16 KiB for the head, then what Content-Length announces,
 * admitted under max_inflight_bytes, and freed once the request is handed over (README,
 * "Memory under overload"). It hands the complete request to gw_api, and does not read
 * further until the API answered (pipelined requests wait in the buffer, responses stay in order).
 * The API may answer at once or later (after a Kafka delivery report or a database result); it
 * finds the connection again by a request handle, never by pointer, because the connection may have
 * closed or moved to another request meanwhile.
 *
 * Timers: three lists, one per timeout (idle keep-alive, header, request). Each list has one
 * duration and is appended to in time order, so it is sorted and its head is its next expiry.
 */
#ifndef GW_LOOP_H
#define GW_LOOP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cfg_settings.h"
#include "gw_auth.h"
#include "gw_metrics.h"
#include "gw_producer.h"
#include "gw_response.h"
#include "gw_settings.h"
#include "gw_status.h"
#include "gw_tls.h"
#include "ing_policy.h"

typedef struct gw_loop gw_loop_t;
typedef struct gw_conn gw_conn_t;

typedef struct gw_loop_conf {
    const gw_settings_t *settings; /* @borrows, read-only, outlives the loop */
    gw_producer_t *producer;       /* @borrows, shared by the loops, outlives the loop */
    const ing_policy_t *policy;    /* @borrows */
    int thread_no;                 /* 1-based, for logs and client.id */
    int listen_fd;                 /* @owns: the loop closes it */
    bool listener_loopback;
    size_t max_connections; /* this thread's share */
    gw_metrics_t *metrics;  /* @borrows: every thread's counters (this one writes its own) */
    gw_tls_t *tls;          /* @borrows, shared read-only; NULL: the listener is plain HTTP */
    const gw_orgs_t *orgs;  /* @borrows; NULL when gateway.orgs is not set */
} gw_loop_conf_t;

/**
 * Creates the loop on the calling thread (it may run on another one). On failure the
 * listen_fd is closed too.
 * @returns ING_OK, or ING_ERR_CONFIG / ING_ERR_IO / ING_ERR_NOMEM with a reason in errstr.
 */
ing_err_t gw_loop_create(const gw_loop_conf_t *conf, gw_loop_t **out, char *errstr,
                         size_t errstr_size) ING_MUST_CHECK;

/** Runs until gw_loop_stop and the drain (bounded by request_timeout_ms) are done. */
void gw_loop_run(gw_loop_t *loop);

/** Asks the loop to stop: stop accepting, finish in-flight requests. @locality any thread. */
void gw_loop_stop(gw_loop_t *loop);

/**
 * Calls back for the delivery reports left in its lane (gw_producer_shutdown first, when the
 * loop ran) and frees everything.
 */
void gw_loop_destroy(gw_loop_t *loop);

/* What the API uses, on the loop's thread. */
gw_producer_lane_t *gw_loop_lane(gw_loop_t *loop);
gw_status_t *gw_loop_status(gw_loop_t *loop);
/** The API's per-thread state (gw_api_state_create). */
struct gw_api_state *gw_loop_api(gw_loop_t *loop);
/** True once the loop began to stop (SIGTERM): waiting requests are answered at once. */
bool gw_loop_stopping(const gw_loop_t *loop);
const gw_settings_t *gw_loop_settings(const gw_loop_t *loop);
const ing_policy_t *gw_loop_policy(const gw_loop_t *loop);
const gw_auth_conf_t *gw_loop_auth(const gw_loop_t *loop);
int gw_loop_thread_no(const gw_loop_t *loop);
/** This thread's counters. */
gw_thread_metrics_t *gw_loop_metrics(gw_loop_t *loop);
/** Every thread's counters, for /metrics and /readyz. */
gw_metrics_t *gw_loop_metrics_all(gw_loop_t *loop);

/**
 * Accounts record bytes handed to the producer (+) and acknowledged or failed (-), for the
 * admission of new requests (gateway.kafka_high_water_bytes, gateway.max_inflight_bytes).
 */
void gw_loop_kafka_bytes(gw_loop_t *loop, long long delta);

/** A request's first read: its head and, usually, its whole body (documents are ~10 KiB). The
 * buffer then grows to what the head announces, and is freed once the request is consumed. */
#define GW_HEAD_READ (16 * 1024)

/**
 * How many bytes a connection's read buffer should be able to hold before its next read, so
 * that memory follows the request instead of a fixed size per read. Pure.
 * @param buffered   bytes already in the buffer
 * @param head_len   length of the parsed head, 0 while the head is incomplete
 * @param body_total head + Content-Length once known, else 0 (chunked bodies grow by half)
 * @param max_head   the head limit (a head over it must be seen whole enough to refuse: +1)
 * @param limit      the buffer's hard cap
 */
size_t gw_read_want(size_t buffered, size_t head_len, size_t body_total, size_t max_head,
                    size_t limit);

/**
 * Admission of `extra` more read-buffer bytes against a thread's share of
 * gateway.max_inflight_bytes. Pure.
 * @param held  bytes the thread holds: read buffers plus records not yet acknowledged
 * @param extra what the admission adds
 * @param own   what the request's connection would then hold
 * @param cap   the thread's share
 * @returns 0 (admitted), 503 (not now: retry later) or 413 (the request alone is over the
 *          share, so no retry could succeed)
 */
int gw_inflight_admit(size_t held, size_t extra, size_t own, size_t cap);

/** A deferred call; cancelled when the loop is destroyed first (free arg, do nothing else). */
typedef void gw_defer_fn(gw_loop_t *loop, void *arg, bool cancelled);

/** The delay of gw_loop_defer: one constant, so that the deferred calls stay in time order. */
#define GW_LOOP_DEFER_US 2000

/**
 * Calls fn(loop, arg, false) on the loop's thread about GW_LOOP_DEFER_US from now.
 * @returns ING_OK or ING_ERR_NOMEM (fn is not called).
 */
ing_err_t gw_loop_defer(gw_loop_t *loop, gw_defer_fn *fn, void *arg) ING_MUST_CHECK;

/** The handle of the request the connection is working on (unique within the loop). */
uint64_t gw_conn_request_handle(const gw_conn_t *c);

/** The connection still waiting for the answer to that request, or NULL. */
gw_conn_t *gw_loop_waiting_conn(gw_loop_t *loop, uint64_t handle);

/** Who the current request is from (set by gw_api_precheck once its head is complete). */
const gw_auth_id_t *gw_conn_identity(const gw_conn_t *c);

/**
 * Answers the current request (once). The connection then writes it and, if it is kept
 * alive, goes on with the next request. May be called during gw_api_handle or later.
 */
void gw_conn_respond(gw_conn_t *c, int status, const char *content_type, const void *body,
                     size_t body_len, const char *extra_headers);

/**
 * Takes the waiting request off the request timeout (gateway.request_timeout_ms): the API
 * answers it by a deadline of its own (Prefer: wait=N, at most 60 s), or at shut-down.
 */
void gw_conn_hold(gw_conn_t *c);

/** Answers the current request with a problem+json. */
void gw_conn_respond_problem(gw_conn_t *c, const gw_problem_t *p);

#endif
