/*
 * cfg_kafka: turns the `kafka.*` settings into a librdkafka configuration, so that every
 * program passes them verbatim and fails at start-up on a property librdkafka does not know.
 */
#ifndef CFG_KAFKA_H
#define CFG_KAFKA_H

#include <librdkafka/rdkafka.h>

#include "cfg_settings.h"

/**
 * Creates a librdkafka configuration holding defaults (name/value pairs, NULL-terminated,
 * may be NULL) overridden by the passthrough settings.
 * @returns the configuration (caller owns; rd_kafka_new takes it on success), or NULL with
 *          a reason naming the property in errstr.
 */
rd_kafka_conf_t *cfg_kafka_conf_new(const char *const *defaults, const cfg_passthrough_t *kafka,
                                    char *errstr, size_t errstr_size);

#endif
