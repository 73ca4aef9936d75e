/*
 * gw_status: submissions' statuses as the gateway sees them (it appends 'accepted' rows to
 * `submission_accepted` and reads the view `submission_status`) — one PostgreSQL connection per
 * I/O thread, non-blocking, driven by the thread's epoll (PQsetnonblocking, PQsocket,
 * PQconsumeInput/PQisBusy/PQgetResult). Operations run in FIFO order, one statement in flight:
 * consecutive 'accepted' inserts wait up to 10 ms to go as one prepared statement (up to 500
 * rows), and go at once when a GET is queued behind them, so a GET queued after an insert on
 * the same thread sees its row.
 *
 * What happens when the database is down (a decision, not an accident): the connection is
 * retried with exponential backoff (100 ms to 5 s); meanwhile a GET is refused at once
 * (ING_ERR_UNAVAILABLE: the API answers 503 + Retry-After), and an 'accepted' insert is dropped
 * and counted (gw_status_dropped, logged as a warning). That is safe because the Kafka record,
 * not this row, is the source of truth: the worker decides the final status from the record
 * (a stored document, or a `submission` row), before or after our row is written, and our
 * row never hides it: the view shows 'accepted' only while neither exists (migration 007).
 * Only the short 'accepted' window is lost. The 202 never waits for this insert.
 *
 * Notifications: with on_notify set, the connection runs `LISTEN submission_final` first after
 * every (re)connection, and each `NOTIFY submission_final, '<submission id>'` (sent by the
 * worker that decided a final status; delivered at its COMMIT) is passed to on_notify as it is
 * read. Notifications sent while the connection was down are lost:
 * gw_status_connections changes after a reconnection, so the caller can re-read what it waits
 * for.
 *
 * @locality everything runs on the owning loop's thread.
 */
#ifndef GW_STATUS_H
#define GW_STATUS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ing_envelope.h"
#include "ing_error.h"

typedef struct gw_status gw_status_t;

/** An accepted submission: what the gateway writes once Kafka acknowledged the record. */
typedef struct gw_accepted {
    char submission_id[ING_SUBMISSION_ID_LEN + 1];
    char org_finess[ING_FINESS_LEN + 1];
    char document_id[ING_DOCUMENT_ID_MAX + 1];
    uint32_t version;
    int64_t received_at_us;
} gw_accepted_t;

/** One row of `submission_status`, as GET returns it. */
typedef struct gw_submission {
    char submission_id[ING_SUBMISSION_ID_LEN + 1];
    char org_finess[ING_FINESS_LEN + 1];
    char status[16];
    char code[48];    /* "" when NULL */
    char detail[256]; /* "" when NULL */
    char document_id[ING_DOCUMENT_ID_MAX + 1];
    long version;
    char updated_at[40]; /* RFC 3339, UTC */
} gw_submission_t;

/**
 * The answer to gw_status_get: err ING_OK with row (NULL when there is no such submission),
 * or ING_ERR_UNAVAILABLE. row is borrowed for the call.
 */
typedef void gw_status_get_fn(void *cb_opaque, uint64_t ref, ing_err_t err,
                              const gw_submission_t *row);

/** A notification on the submission_final channel: payload is the submission id. */
typedef void gw_status_notify_fn(void *cb_opaque, const char *payload);

typedef struct gw_status_conf {
    const char *db_url; /* libpq connection string or URI */
    int epfd;           /* the loop's epoll: gw_status registers its socket there */
    uint64_t epoll_tag; /* epoll_data.u64 of its socket's events */
    size_t max_queue;   /* queued operations; over it inserts are dropped, GETs refused */
    gw_status_get_fn *on_get;
    gw_status_notify_fn *on_notify; /* NULL: no LISTEN */
    void *cb_opaque;
    int thread_no; /* for log lines */
    /* Counted as 'accepted' inserts are queued, and as they finish (committed or dropped);
     * release stores, for other threads' GETs (gw_metrics_inserts_caught_up). May be NULL. */
    atomic_uint_fast64_t *inserts_queued;
    atomic_uint_fast64_t *inserts_done;
} gw_status_conf_t;

/** Creates the module and starts connecting. @returns ING_OK or ING_ERR_NOMEM. */
ing_err_t gw_status_create(const gw_status_conf_t *conf, gw_status_t **out) ING_MUST_CHECK;

/** Closes the connection; queued GETs are called back with ING_ERR_UNAVAILABLE. */
void gw_status_destroy(gw_status_t *st);

/** Handles epoll events on the socket (events as epoll_wait returned them). */
void gw_status_on_io(gw_status_t *st, uint32_t events);

/**
 * Sends what was queued (call at the end of every loop iteration) and runs the timers
 * (reconnect, connect timeout). @returns the next deadline (monotonic us), INT64_MAX if none.
 */
int64_t gw_status_tick(gw_status_t *st, int64_t now_us);

/** Queues the 'accepted' insert, or drops and counts it when the database is down. */
void gw_status_accepted(gw_status_t *st, const gw_accepted_t *a);

/**
 * Queues a read of one submission; on_get is called later with ref.
 * @returns ING_OK, or ING_ERR_UNAVAILABLE at once (database down, queue full: no callback).
 */
ing_err_t gw_status_get(gw_status_t *st, const char *submission_id, uint64_t ref) ING_MUST_CHECK;

/** gw_status_get with its own callback (fn, cb_opaque) instead of the configured one. */
ing_err_t gw_status_read(gw_status_t *st, const char *submission_id, gw_status_get_fn *fn,
                         void *cb_opaque, uint64_t ref) ING_MUST_CHECK;

/** Operations queued or in flight. */
size_t gw_status_pending(const gw_status_t *st);

/** 'accepted' inserts dropped since start (database down, queue full, statement failed). */
uint64_t gw_status_dropped(const gw_status_t *st);

bool gw_status_connected(const gw_status_t *st);

/** Successful connections since creation (a change means notifications may have been lost). */
uint64_t gw_status_connections(const gw_status_t *st);

#endif
