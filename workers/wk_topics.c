#include "wk_topics.h"

#include <stdio.h>
#include <string.h>

#include "wk_kafka.h"

ing_err_t wk_topics_create(rd_kafka_t *rk, const wk_topic_spec_t *specs, int n, int timeout_ms,
                           wk_topic_result_t *results, char *errstr, size_t errstr_size)
{
    ing_err_t ret = ING_OK;
    rd_kafka_NewTopic_t *topics[8];
    rd_kafka_AdminOptions_t *options = NULL;
    rd_kafka_queue_t *queue = NULL;
    rd_kafka_event_t *ev = NULL;
    int built = 0;
    char why[256];

    if (n <= 0 || n > (int)(sizeof(topics) / sizeof(topics[0]))) {
        snprintf(errstr, errstr_size, "wk_topics_create: %d topics (1 to 8)", n);
        return ING_ERR_INTERNAL;
    }
    for (int i = 0; i < n; i++) {
        results[i] = (wk_topic_result_t){.outcome = WK_TOPIC_FAILED, .err = ING_ERR_INTERNAL};
        topics[i] = rd_kafka_NewTopic_new(specs[i].name, specs[i].partitions,
                                          specs[i].replication_factor, why, sizeof(why));
        if (!topics[i]) {
            snprintf(errstr, errstr_size, "topic %s: %s", specs[i].name, why);
            ret = ING_ERR_CONFIG;
            goto out;
        }
        built++;
    }
    options = rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_CREATETOPICS);
    /* request_timeout bounds the whole call; operation_timeout makes the controller answer
     * only once the topics exist, so the caller can use them at once. */
    if (rd_kafka_AdminOptions_set_request_timeout(options, timeout_ms, why, sizeof(why)) ||
        rd_kafka_AdminOptions_set_operation_timeout(options, timeout_ms, why, sizeof(why))) {
        snprintf(errstr, errstr_size, "admin options: %s", why);
        ret = ING_ERR_INTERNAL;
        goto out;
    }
    queue = rd_kafka_queue_new(rk);
    rd_kafka_CreateTopics(rk, topics, (size_t)n, options, queue);
    /* The request times out by itself after request_timeout; wait a little longer. */
    ev = rd_kafka_queue_poll(queue, timeout_ms + 2000);
    if (!ev) {
        snprintf(errstr, errstr_size, "no answer from the brokers within %d ms", timeout_ms);
        ret = ING_ERR_TIMEOUT;
        goto out;
    }
    if (rd_kafka_event_error(ev)) {
        rd_kafka_resp_err_t kerr = rd_kafka_event_error(ev);
        snprintf(errstr, errstr_size, "CreateTopics failed: %s (%s)",
                 rd_kafka_event_error_string(ev), rd_kafka_err2name(kerr));
        ret = wk_kafka_err(kerr);
        goto out;
    }
    const rd_kafka_CreateTopics_result_t *res = rd_kafka_event_CreateTopics_result(ev);
    size_t count = 0;
    const rd_kafka_topic_result_t **tres = rd_kafka_CreateTopics_result_topics(res, &count);
    for (size_t j = 0; j < count; j++) {
        const char *name = rd_kafka_topic_result_name(tres[j]);
        for (int i = 0; i < n; i++) {
            if (strcmp(name, specs[i].name) != 0)
                continue;
            rd_kafka_resp_err_t kerr = rd_kafka_topic_result_error(tres[j]);
            if (kerr == RD_KAFKA_RESP_ERR_NO_ERROR) {
                results[i] = (wk_topic_result_t){.outcome = WK_TOPIC_CREATED, .err = ING_OK};
            } else if (kerr == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
                results[i] = (wk_topic_result_t){.outcome = WK_TOPIC_EXISTED, .err = ING_OK};
            } else {
                const char *msg = rd_kafka_topic_result_error_string(tres[j]);
                results[i].outcome = WK_TOPIC_FAILED;
                results[i].err = wk_kafka_err(kerr);
                snprintf(results[i].reason, sizeof(results[i].reason), "%s: %s",
                         rd_kafka_err2name(kerr), msg ? msg : rd_kafka_err2str(kerr));
            }
        }
    }
    for (int i = 0; i < n && !ret; i++) {
        if (results[i].outcome == WK_TOPIC_FAILED) {
            ret = results[i].err ? results[i].err : ING_ERR_INTERNAL;
            if (!results[i].reason[0])
                snprintf(results[i].reason, sizeof(results[i].reason), "no answer for this topic");
        }
    }
out:
    if (ev)
        rd_kafka_event_destroy(ev);
    if (queue)
        rd_kafka_queue_destroy(queue);
    if (options)
        rd_kafka_AdminOptions_destroy(options);
    for (int i = 0; i < built; i++)
        rd_kafka_NewTopic_destroy(topics[i]);
    return ret;
}

ing_err_t wk_topics_describe(rd_kafka_t *rk, const char *const *names, int n, int timeout_ms,
                             wk_topic_info_t *out, char *errstr, size_t errstr_size)
{
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_resp_err_t kerr = rd_kafka_metadata(rk, 1, NULL, &md, timeout_ms);
    if (kerr) {
        snprintf(errstr, errstr_size, "cannot read the cluster metadata within %d ms: %s (%s)",
                 timeout_ms, rd_kafka_err2str(kerr), rd_kafka_err2name(kerr));
        return wk_kafka_err(kerr);
    }
    for (int i = 0; i < n; i++) {
        out[i] = (wk_topic_info_t){0};
        for (int t = 0; t < md->topic_cnt; t++) {
            const struct rd_kafka_metadata_topic *mt = &md->topics[t];
            if (strcmp(mt->topic, names[i]) != 0 || mt->err)
                continue;
            out[i].exists = true;
            out[i].partitions = mt->partition_cnt;
            out[i].replication_factor = mt->partition_cnt > 0 ? mt->partitions[0].replica_cnt : 0;
        }
    }
    rd_kafka_metadata_destroy(md);
    return ING_OK;
}
