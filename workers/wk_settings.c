#include "wk_settings.h"

#include <stdio.h>
#include <string.h>

#include "ing_log.h"

#define S(field) offsetof(wk_settings_t, field), sizeof(((wk_settings_t *)0)->field)

/* clang-format off */
const cfg_setting_t wk_settings_table[] = {
    {"worker.topic", CFG_STRING, S(topic), "ing.documents.v1", 0, 0, false,
     "Kafka topic the gateways produce documents to"},
    {"worker.dlq_topic", CFG_STRING, S(dlq_topic), "ing.documents.dlq.v1", 0, 0, false,
     "dead-letter topic: records that can never be stored, with the reason in headers"},
    {"worker.group", CFG_STRING, S(group), "ing-workers", 0, 0, false,
     "Kafka consumer group of the workers"},
    /* Four, twice the cores of the machine measured: a thread spends more than half of its
     * batch waiting for PostgreSQL (round trips, COMMIT's flush), and with two threads both
     * were often waiting at once. One worker process draining a backlog on 2 cores: 12,600 and
     * 17,200 rows/s with 2 threads, 19,000 and 19,300 with 4; two processes: 18,500 and 19,800
     * with 2 threads each, 19,200 and 20,800 with 4. Three processes fill 12 partitions. */
    {"worker.threads", CFG_INT, S(threads), "4", 1, 64, false,
     "consumer threads, each with its own Kafka consumer and PostgreSQL connection"},
    {"worker.db_url", CFG_STRING, S(db_url), "", 0, 0, true,
     "PostgreSQL connection URI (libpq), e.g. postgresql://user:pass@host:port/db"},
    {"worker.batch_max", CFG_INT, S(batch_max), "500", 1, 100000, false,
     "most records per batch (one database transaction per batch)"},
    {"worker.batch_bytes", CFG_INT, S(batch_bytes), "16777216", 1024, 1073741824, false,
     "a batch closes once its records reach this many bytes"},
    {"worker.batch_ms", CFG_INT, S(batch_ms), "50", 1, 60000, false,
     "a batch closes this many milliseconds after its first record"},
    {"worker.zstd_level", CFG_INT, S(zstd_level), "3", 1, 19, false,
     "zstd compression level of stored content"},
    {"worker.keyring", CFG_PATH, S(keyring), "", 0, 0, false,
     "keyring file (ingestctl keyring init FILE creates one): documents are stored encrypted "
     "with its active key; required"},
    {"worker.dict_refresh_s", CFG_INT, S(dict_refresh_s), "60", 1, 86400, false,
     "seconds between two looks for newer zstd dictionaries (ingestctl dict train)"},
    {"worker.db_wait_s", CFG_INT, S(db_wait_s), "0", 0, 31536000, false,
     "at start-up, how long to wait for an unreachable PostgreSQL, retrying with back-off "
     "(0: forever)"},
    {"worker.topic_partitions", CFG_INT, S(topic_partitions), "12", 1, 10000, false,
     "partitions of worker.topic (ingestctl topics create)"},
    {"worker.dlq_partitions", CFG_INT, S(dlq_partitions), "3", 1, 10000, false,
     "partitions of worker.dlq_topic (ingestctl topics create)"},
    {"worker.replication_factor", CFG_INT, S(replication_factor), "1", 1, 16, false,
     "replication factor of the topics ingestctl creates (3 in production)"},
    {"worker.admin_timeout_ms", CFG_INT, S(admin_timeout_ms), "30000", 100, 600000, false,
     "how long ingestctl waits for the broker's answer"},
    {"worker.stats_interval_s", CFG_INT, S(stats_interval_s), "10", 1, 3600, false,
     "seconds between two info lines with the counters"},
    {"worker.metrics_listen", CFG_STRING, S(metrics_listen), "", 0, 0, false,
     "host:port of the operators' endpoint: GET /metrics (Prometheus text: counters, lag, batch "
     "times) and GET /healthz; empty: none"},
    {"worker.allow_unsafe_db", CFG_BOOL, S(allow_unsafe_db), "false", 0, 0, false,
     "run even when PostgreSQL has fsync or synchronous_commit off (never in production)"},
    {"policy.type_codes", CFG_PATH, S(type_codes), "config/type_codes.tsv", 0, 0, false,
     "TSV of accepted document type codes with validity dates"},
    {"policy.allowed_oids", CFG_STRING, S(allowed_oids),
     "1.2.250.1.213.1.4.8,1.2.250.1.213.1.4.9", 0, 0, false,
     "comma-separated INS identifier systems accepted (production: .8 NIR and .9 NIA)"},
    {"policy.max_content_bytes", CFG_INT, S(max_content_bytes), "20971520", 1, 1073741824, false,
     "largest decoded document accepted"},
    {"log.level", CFG_STRING, S(log_level), "info", 0, 0, false,
     "error, warn, info or debug"},
    CFG_END,
};
/* clang-format on */

ing_err_t wk_settings_load(wk_settings_t *s, const char *path, cfg_passthrough_t *kafka,
                           char *errstr, size_t errstr_size)
{
    memset(s, 0, sizeof(*s));
    ing_err_t err = cfg_load(wk_settings_table, s, path, kafka, errstr, errstr_size);
    if (err)
        return err;
    if (ing_log_level_parse(s->log_level) < 0) {
        snprintf(errstr, errstr_size, "log.level must be error, warn, info or debug, not \"%s\"",
                 s->log_level);
        return ING_ERR_CONFIG;
    }
    if (!s->topic[0] || !s->dlq_topic[0] || !s->group[0]) {
        snprintf(errstr, errstr_size,
                 "worker.topic, worker.dlq_topic and worker.group must be set");
        return ING_ERR_CONFIG;
    }
    if (strcmp(s->topic, s->dlq_topic) == 0) {
        snprintf(errstr, errstr_size, "worker.dlq_topic must differ from worker.topic");
        return ING_ERR_CONFIG;
    }
    return ING_OK;
}

ing_policy_conf_t wk_settings_policy(const wk_settings_t *s)
{
    ing_policy_conf_t conf = {
        .type_codes_path = s->type_codes,
        .allowed_oids = s->allowed_oids,
        .max_content_bytes = (size_t)s->max_content_bytes,
    };
    return conf;
}
