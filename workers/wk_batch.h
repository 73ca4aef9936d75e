/*
 * wk_batch: when a poll batch is complete. A batch is one database transaction; it closes at
 * the first of worker.batch_max records, worker.batch_bytes bytes (the record that crosses
 * the limit is included: a polled record cannot be handed back) or worker.batch_ms after its
 * first record. Pure, so the bounds are table-tested without a broker; so is the back-off
 * that paces retries of a batch after a transient failure.
 */
#ifndef WK_BATCH_H
#define WK_BATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct wk_batch_limits {
    size_t max_count;
    size_t max_bytes;
    int64_t max_us;
} wk_batch_limits_t;

/** True when a batch of count records, bytes bytes, first polled elapsed_us ago is complete. */
bool wk_batch_full(const wk_batch_limits_t *limits, size_t count, size_t bytes, int64_t elapsed_us);

/**
 * How long the next rd_kafka_consumer_poll may block: idle_ms while the batch is empty (so the
 * thread still notices a stop request), else what is left of max_us, rounded up, 0 when spent.
 */
int wk_batch_poll_timeout_ms(const wk_batch_limits_t *limits, size_t count, int64_t elapsed_us,
                             int idle_ms);

/**
 * Back-off before retry number attempt (1, 2, ...): base 100 ms doubled each attempt, capped
 * at 10 s, with "equal jitter" — half fixed, half from random — so that workers that failed
 * together do not come back together. Pure: random is the caller's (e.g. rand_r).
 */
int wk_backoff_ms(int attempt, uint32_t random);

#endif
