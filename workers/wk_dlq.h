/*
 * wk_dlq: the dead-letter topic. A record that can never be stored (bad framing, a failed
 * contract check, a version conflict, a row the database refuses) is produced there with the
 * same key and the original value bytes, and headers saying why, where it came from and when
 * it first failed, so that an operator can inspect and replay it. The worker waits for the
 * delivery reports before it commits the batch: a dead letter is never lost, though it may be
 * written twice when the batch is redelivered (consumers of the topic dedupe on ing-topic,
 * ing-partition, ing-offset).
 *
 * Header building is a pure function (tested without a broker); the producer is one per
 * worker thread.
 */
#ifndef WK_DLQ_H
#define WK_DLQ_H

#include <stddef.h>
#include <stdint.h>

#include "cfg_settings.h"
#include "ing_error.h"

typedef enum wk_stage {
    WK_STAGE_DECODE,
    WK_STAGE_VALIDATE,
    WK_STAGE_STORE,
} wk_stage_t;

const char *wk_stage_name(wk_stage_t stage);

/** Why and where a record failed. Strings are borrowed. */
typedef struct wk_dlq_reason {
    ing_err_t err;
    const char *detail;
    wk_stage_t stage;
    const char *topic;
    int32_t partition;
    int64_t offset;
    int attempts;
    int64_t first_failure_us; /* wall clock */
} wk_dlq_reason_t;

#define WK_DLQ_HEADERS 8
#define WK_DLQ_HEADER_VALUE_MAX 256

typedef struct wk_dlq_headers {
    int count;
    struct {
        const char *name; /* static */
        char value[WK_DLQ_HEADER_VALUE_MAX];
    } items[WK_DLQ_HEADERS];
} wk_dlq_headers_t;

/**
 * Fills the headers: ing-reason (ing_err_name), ing-detail (truncated), ing-stage, ing-topic,
 * ing-partition, ing-offset, ing-attempts, ing-first-failure (RFC 3339 UTC, milliseconds).
 */
void wk_dlq_headers_build(const wk_dlq_reason_t *reason, wk_dlq_headers_t *out);

typedef struct wk_dlq wk_dlq_t;

/**
 * Creates the dead-letter producer for topic (copied).
 * @returns ING_OK and *out (caller destroys), or ING_ERR_CONFIG with a reason in errstr.
 */
ing_err_t wk_dlq_create(const cfg_passthrough_t *kafka, const char *topic,
                        const char *client_suffix, wk_dlq_t **out, char *errstr,
                        size_t errstr_size) ING_MUST_CHECK;

/** Flushes (bounded) and destroys. */
void wk_dlq_destroy(wk_dlq_t *dlq);

/** Queues one dead letter; key and value are copied. */
ing_err_t wk_dlq_send(wk_dlq_t *dlq, const void *key, size_t key_len, const void *value,
                      size_t value_len, const wk_dlq_reason_t *reason) ING_MUST_CHECK;

/**
 * Waits up to timeout_ms until every record queued since the last wait is delivered.
 * @returns ING_OK when all were acknowledged, else the (retriable) failure, with librdkafka's
 *          reason in errstr: the caller must not commit the batch.
 */
ing_err_t wk_dlq_wait(wk_dlq_t *dlq, int timeout_ms, char *errstr,
                      size_t errstr_size) ING_MUST_CHECK;

#endif
