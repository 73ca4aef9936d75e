/*
 * wk_metrics: what each consumer thread publishes for operators — its counters, its lag and
 * assignment, and how long its batches take — and their Prometheus text (format 0.0.4), which
 * the process's metrics endpoint (wk_endpoint) serves. A thread's block is written only by that
 * thread, with relaxed atomics, and read by the main thread when it renders a scrape: no lock
 * on the batch path, and a scrape sees each value at some recent point.
 */
#ifndef WK_METRICS_H
#define WK_METRICS_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "ing_buf.h"
#include "ing_error.h"

/** The upper bounds, in seconds, of the batch-duration histogram's buckets (then +Inf). */
#define WK_METRICS_BATCH_BOUNDS                                                                    \
    {                                                                                              \
        0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30                                       \
    }
#define WK_METRICS_BATCH_BUCKETS 11

/** What a thread counts; each field a counter since the process started. */
typedef struct wk_stats {
    uint64_t batches;
    uint64_t records;
    uint64_t stored;         /* documents stored by this worker */
    uint64_t already_stored; /* redelivered records whose document was already stored */
    uint64_t duplicates;     /* status `duplicate`: same patient, content and type */
    uint64_t refused;        /* status `refused`: patient opposed */
    uint64_t rejected;       /* submissions given status `rejected` */
    uint64_t dead_lettered;  /* records produced to the dead-letter topic */
    uint64_t retries;        /* batches rolled back after a transient failure */
} wk_stats_t;

/** One thread's published block. Zero-initialise (calloc or = {0}); lag starts unknown. */
typedef struct wk_live {
    _Alignas(64) atomic_uint_fast64_t batches, records, stored, already_stored,
        duplicates, refused, rejected, dead_lettered, retries;
    atomic_int_fast64_t lag;        /* records between its position and the high watermarks */
    atomic_int_fast64_t lag_known;  /* 0 until the first estimate */
    atomic_int_fast64_t partitions; /* assigned to it now */
    /* Stored batches by duration: count per bucket (not cumulative), then the total. */
    atomic_uint_fast64_t batch_bucket[WK_METRICS_BATCH_BUCKETS + 1];
    atomic_uint_fast64_t batch_us_sum;
} wk_live_t;

/** Publishes the thread's counters (its own running totals). @locality the owning thread. */
void wk_metrics_publish(wk_live_t *live, const wk_stats_t *stats);

/** Counts one stored batch that took us microseconds. @locality the owning thread. */
void wk_metrics_observe_batch(wk_live_t *live, int64_t us);

/** Publishes the thread's lag estimate (< 0: unknown, its line is left out) and assigned
 * partitions. */
void wk_metrics_set_lag(wk_live_t *live, int64_t lag, int64_t partitions);

/**
 * Appends the scrape of n threads' blocks to out: process totals of every counter, lag and
 * partitions per thread (label thread="0".."n-1"), the batch histogram summed, the thread count.
 */
ing_err_t wk_metrics_render(const wk_live_t *threads, size_t n, ing_buf_t *out) ING_MUST_CHECK;

#endif
