/*
 * lg_run: the load generator's engine. One epoll loop per thread, each with its share of the
 * keep-alive connections (one request in flight per connection, no pipelining) and, in open
 * loop, its share of the schedule (lg_sched). A request that is due while every connection of
 * its thread is busy waits, and its latency still counts from its intended time.
 *
 * A run is a sequence of steps (one per rate of a sweep). lg_runner_step starts the threads,
 * runs warm-up + duration, drains what is in flight, joins the threads and merges their
 * histograms and per-second series into an lg_step_t. Threads share only read-only data: the
 * workload and the document pool.
 */
#ifndef LG_RUN_H
#define LG_RUN_H

#include <stdint.h>

#include "lg_gen.h"
#include "lg_hist.h"
#include "lg_workload.h"

/** Counters of one window (a step's measured part, or one second). */
typedef struct lg_counts {
    uint64_t sent;      /* requests written */
    uint64_t docs_sent; /* envelopes in them */
    uint64_t completed; /* responses received */
    uint64_t s2xx, s202, s4xx, s429, s503, sother;
    uint64_t io_errors; /* connection lost or unparsable response while a request was out */
    uint64_t timeouts;
    uint64_t conn_errors; /* connect() failures */
    uint64_t ok;          /* responses as expected: 2xx, or 4xx for a deliberately bad envelope */
    uint64_t errors;      /* everything else that was sent: wrong status, io error, timeout */
    uint64_t dup_sent, invalid_sent;
    uint64_t items_ok, items_failed; /* per-item results of batch responses, when present */
    uint64_t unsent; /* open loop: intended but still waiting for a connection at the end */
    uint64_t bytes_sent, bytes_received;
} lg_counts_t;

typedef struct lg_second {
    lg_counts_t c;
    int64_t p50_us, p99_us;
    bool warmup;
} lg_second_t;

typedef struct lg_step {
    double target_rate; /* docs/s; 0 = closed loop */
    int64_t start_wall_us;
    double measured_s;
    lg_counts_t totals;     /* requests intended (open) or sent (closed) after the warm-up */
    lg_hist_t *latency;     /* @owns: microseconds, from the intended send time in open loop */
    lg_hist_t *sched_delay; /* @owns: actual minus intended send time (open loop) */
    lg_second_t *series;    /* @owns: one per second since the step started */
    size_t seconds;
} lg_step_t;

/** One accepted submission recorded for the submit-to-stored latency. */
typedef struct lg_e2e_sample {
    char submission_id[33];
    char document_id[LG_DOC_ID_LEN + 1];
    int64_t sent_wall_us, acked_wall_us;
} lg_e2e_sample_t;

typedef struct lg_runner lg_runner_t;

/** @borrows w and pool for the runner's lifetime. */
ing_err_t lg_runner_create(const lg_workload_t *w, const lg_pool_t *pool, lg_runner_t **out,
                           char *errstr, size_t errstr_size) ING_MUST_CHECK;
void lg_runner_destroy(lg_runner_t *r);

/** Runs one step at rate docs/s (0 = closed loop). On success *step is filled (finish it). */
ing_err_t lg_runner_step(lg_runner_t *r, double rate, lg_step_t *step, char *errstr,
                         size_t errstr_size) ING_MUST_CHECK;
void lg_step_fini(lg_step_t *step);

/** The samples recorded so far (over all steps); borrowed until the runner is destroyed. */
size_t lg_runner_e2e(lg_runner_t *r, const lg_e2e_sample_t **samples);

/** Error rate of a window: errors / max(1, sent). */
double lg_counts_error_rate(const lg_counts_t *c);

#endif
