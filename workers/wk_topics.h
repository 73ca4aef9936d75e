/*
 * wk_topics: the topic layout, created and described through the librdkafka Admin API and
 * metadata (never Kafka's scripts), so that ingestctl is the one place that owns it. Creating
 * is idempotent: a topic that already exists is success (with a warning when its partition
 * count differs from the configured one: Kafka never shrinks a topic, and growing it moves
 * patients' keys to other partitions, so that is an operator's decision, not ours).
 */
#ifndef WK_TOPICS_H
#define WK_TOPICS_H

#include <stdbool.h>
#include <stddef.h>

#include <librdkafka/rdkafka.h>

#include "ing_error.h"

typedef struct wk_topic_spec {
    const char *name;
    int partitions;
    int replication_factor;
} wk_topic_spec_t;

typedef enum wk_topic_outcome {
    WK_TOPIC_CREATED,
    WK_TOPIC_EXISTED,
    WK_TOPIC_FAILED,
} wk_topic_outcome_t;

typedef struct wk_topic_result {
    wk_topic_outcome_t outcome;
    ing_err_t err;
    char reason[256]; /* librdkafka's name and message when FAILED */
} wk_topic_result_t;

/**
 * Creates the topics in one CreateTopics request and waits up to timeout_ms for the answer.
 * results[i] is for specs[i].
 * @returns ING_OK when every topic exists now (created or existed); otherwise the first
 *          failure's code, with the request-level reason in errstr when there is no per-topic
 *          answer at all (broker unreachable, timeout).
 */
ing_err_t wk_topics_create(rd_kafka_t *rk, const wk_topic_spec_t *specs, int n, int timeout_ms,
                           wk_topic_result_t *results, char *errstr,
                           size_t errstr_size) ING_MUST_CHECK;

typedef struct wk_topic_info {
    bool exists;
    int partitions;
    int replication_factor; /* replicas of partition 0 */
} wk_topic_info_t;

/** Reads the cluster's metadata (all topics: never triggers auto-creation) for the names. */
ing_err_t wk_topics_describe(rd_kafka_t *rk, const char *const *names, int n, int timeout_ms,
                             wk_topic_info_t *out, char *errstr, size_t errstr_size) ING_MUST_CHECK;

#endif
