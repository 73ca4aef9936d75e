/*
 * wk_kafka: where librdkafka enters the workers' code — its error codes translated into
 * ing_err_t (the librdkafka name stays in the log line), its log lines routed to ing_log, and
 * the configuration of each kind of handle the workers create (admin, consumer, dead-letter
 * producer) built from our defaults overridden by the `kafka.*` passthrough.
 */
#ifndef WK_KAFKA_H
#define WK_KAFKA_H

#include <librdkafka/rdkafka.h>

#include "cfg_settings.h"
#include "ing_error.h"

/** Translates a librdkafka code: transport and timeouts are retriable, the rest is not. */
ing_err_t wk_kafka_err(rd_kafka_resp_err_t err);

typedef enum wk_kafka_role {
    WK_KAFKA_ADMIN,    /* ingestctl: a producer handle used for the Admin API and metadata */
    WK_KAFKA_CONSUMER, /* one per worker thread */
    WK_KAFKA_DLQ,      /* the dead-letter producer, one per worker thread */
} wk_kafka_role_t;

/**
 * Builds the configuration of a handle for role: our defaults, then the `kafka.*` passthrough,
 * then group.id (consumer only; group is NULL otherwise) and client.id suffixed with
 * client_suffix (may be NULL), log lines routed to ing_log. The caller adds its callbacks and
 * calls rd_kafka_new.
 * @returns the configuration (caller owns), or NULL with a reason in errstr.
 */
rd_kafka_conf_t *wk_kafka_conf_new(wk_kafka_role_t role, const cfg_passthrough_t *kafka,
                                   const char *group, const char *client_suffix, char *errstr,
                                   size_t errstr_size);

/** rd_kafka_new that destroys conf on failure too. */
rd_kafka_t *wk_kafka_new(rd_kafka_type_t type, rd_kafka_conf_t *conf, char *errstr,
                         size_t errstr_size);

#endif
