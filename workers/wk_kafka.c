#include "wk_kafka.h"

#include <stdio.h>

#include "cfg_kafka.h"
#include "ing_log.h"

ing_err_t wk_kafka_err(rd_kafka_resp_err_t err)
{
    switch (err) {
    case RD_KAFKA_RESP_ERR_NO_ERROR:
        return ING_OK;
    case RD_KAFKA_RESP_ERR__TIMED_OUT:
    case RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT:
    case RD_KAFKA_RESP_ERR__MSG_TIMED_OUT:
        return ING_ERR_TIMEOUT;
    case RD_KAFKA_RESP_ERR__TRANSPORT:
    case RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN:
    case RD_KAFKA_RESP_ERR__RESOLVE:
    case RD_KAFKA_RESP_ERR_NOT_CONTROLLER:
    case RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE:
    case RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION:
    case RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS:
    case RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND:
    case RD_KAFKA_RESP_ERR_COORDINATOR_NOT_AVAILABLE:
    case RD_KAFKA_RESP_ERR_NOT_COORDINATOR:
    case RD_KAFKA_RESP_ERR__QUEUE_FULL:
        return ING_ERR_UNAVAILABLE;
    case RD_KAFKA_RESP_ERR_INVALID_REPLICATION_FACTOR:
    case RD_KAFKA_RESP_ERR_INVALID_PARTITIONS:
    case RD_KAFKA_RESP_ERR_INVALID_CONFIG:
    case RD_KAFKA_RESP_ERR_POLICY_VIOLATION:
    case RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_CLUSTER_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_GROUP_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_TOPIC_EXCEPTION:
    case RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC:
    case RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART:
        return ING_ERR_CONFIG;
    case RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE:
        return ING_ERR_TOO_BIG;
    default:
        return ING_ERR_UNAVAILABLE;
    }
}

static void wk_kafka_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    /* syslog levels: 0-3 error, 4 warning, 5-6 info, 7 debug */
    ing_log_level_t l = level <= 3   ? ING_LOG_ERROR
                        : level == 4 ? ING_LOG_WARN
                        : level <= 6 ? ING_LOG_INFO
                                     : ING_LOG_DEBUG;
    ing_log(l, "rdkafka", "%s %s: %s", rd_kafka_name(rk), fac, buf);
}

rd_kafka_conf_t *wk_kafka_conf_new(wk_kafka_role_t role, const cfg_passthrough_t *kafka,
                                   const char *group, const char *client_suffix, char *errstr,
                                   size_t errstr_size)
{
    static const char *const admin_defaults[] = {"client.id", "ingestctl", NULL};
    /* Offsets: enable.auto.offset.store=false so that librdkafka never stores the offset of a
     * record we have not stored in PostgreSQL; we store the batch's offsets after COMMIT.
     * librdkafka's timer commits what is stored, at most every auto.commit.interval.ms (a lost
     * commit only redelivers records the idempotent store absorbs), and skips its turn while
     * the group rebalances. A commit sent during a cooperative rebalance fails with
     * ILLEGAL_GENERATION and, in our librdkafka (issue 4059, fixed upstream in 2025), loses
     * the assignment: with a commit after every batch, each rebalance redelivered every record
     * since the last good commit. We commit synchronously ourselves on revoke and at shutdown,
     * where the next owner starts from what is committed. With enable.auto.commit=false the
     * worker commits asynchronously after every batch instead. */
    static const char *const consumer_defaults[] = {"client.id",
                                                    "ingest-worker",
                                                    "partition.assignment.strategy",
                                                    "cooperative-sticky",
                                                    "enable.auto.offset.store",
                                                    "false",
                                                    "enable.auto.commit",
                                                    "true",
                                                    "auto.commit.interval.ms",
                                                    "1000",
                                                    "auto.offset.reset",
                                                    "earliest",
                                                    "enable.partition.eof",
                                                    "false",
                                                    NULL};
    /* Idempotent, acks=all: a dead-letter record is on the brokers before we move on. */
    static const char *const dlq_defaults[] = {"client.id",
                                               "ingest-worker-dlq",
                                               "enable.idempotence",
                                               "true",
                                               "acks",
                                               "all",
                                               "linger.ms",
                                               "5",
                                               NULL};
    const char *const *defaults = role == WK_KAFKA_ADMIN      ? admin_defaults
                                  : role == WK_KAFKA_CONSUMER ? consumer_defaults
                                                              : dlq_defaults;
    rd_kafka_conf_t *conf = cfg_kafka_conf_new(defaults, kafka, errstr, errstr_size);
    if (!conf)
        return NULL;
    rd_kafka_conf_set_log_cb(conf, wk_kafka_log);
    char why[256];
    if (group && rd_kafka_conf_set(conf, "group.id", group, why, sizeof(why)) != RD_KAFKA_CONF_OK) {
        snprintf(errstr, errstr_size, "group.id: %s", why);
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    if (client_suffix) {
        char id[256];
        size_t n = sizeof(id);
        if (rd_kafka_conf_get(conf, "client.id", id, &n) == RD_KAFKA_CONF_OK) {
            char full[300];
            snprintf(full, sizeof(full), "%s-%s", id, client_suffix);
            if (rd_kafka_conf_set(conf, "client.id", full, why, sizeof(why)) != RD_KAFKA_CONF_OK)
                ing_log(ING_LOG_WARN, "kafka", "client.id %s: %s", full, why);
        }
    }
    return conf;
}

rd_kafka_t *wk_kafka_new(rd_kafka_type_t type, rd_kafka_conf_t *conf, char *errstr,
                         size_t errstr_size)
{
    rd_kafka_t *rk = rd_kafka_new(type, conf, errstr, errstr_size);
    if (!rk)
        rd_kafka_conf_destroy(conf);
    return rk;
}
