/*
 * Dead letters: the header building (a pure table), then a real produce through librdkafka's
 * mock cluster — the record keeps its key and value bytes and carries the headers — and a
 * delivery failure injected on the mock broker, which wk_dlq_wait must report.
 */
#include <stdlib.h>
#include <string.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "ing_test.h"
#include "wk_dlq.h"

static const char *header(const wk_dlq_headers_t *h, const char *name)
{
    for (int i = 0; i < h->count; i++)
        if (strcmp(h->items[i].name, name) == 0)
            return h->items[i].value;
    return NULL;
}

static void test_headers(ing_test_counts_t *t)
{
    char long_detail[600];
    memset(long_detail, 'd', sizeof(long_detail) - 1);
    long_detail[sizeof(long_detail) - 1] = '\0';
    static const struct {
        const char *name, *value;
    } want[] = {
        {"ing-reason", "ins_invalid"}, {"ing-detail", "patient.ins is not a valid INS"},
        {"ing-stage", "validate"},     {"ing-topic", "ing.documents.v1"},
        {"ing-partition", "7"},        {"ing-offset", "1234567890123"},
        {"ing-attempts", "3"},         {"ing-first-failure", "2026-11-28T09:30:00.250Z"},
    };
    wk_dlq_reason_t r = {
        .err = ING_ERR_INS_INVALID,
        .detail = "patient.ins is not a valid INS",
        .stage = WK_STAGE_VALIDATE,
        .topic = "ing.documents.v1",
        .partition = 7,
        .offset = 1234567890123LL,
        .attempts = 3,
        .first_failure_us = 1795858200250000LL, /* 2026-11-28T09:30:00.250Z */
    };
    wk_dlq_headers_t h;
    wk_dlq_headers_build(&r, &h);
    CHECK(t, h.count == 8, "8 headers, got %d", h.count);
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        const char *got = header(&h, want[i].name);
        CHECK(t, got && strcmp(got, want[i].value) == 0, "%s = \"%s\", want \"%s\"", want[i].name,
              got ? got : "(missing)", want[i].value);
    }
    static const struct {
        wk_stage_t stage;
        ing_err_t err;
        const char *stage_name, *reason;
    } stages[] = {
        {WK_STAGE_DECODE, ING_ERR_RECORD, "decode", "record_invalid"},
        {WK_STAGE_VALIDATE, ING_ERR_HASH_MISMATCH, "validate", "hash_mismatch"},
        {WK_STAGE_STORE, ING_ERR_VERSION_CONFLICT, "store", "version_conflict"},
    };
    for (size_t i = 0; i < sizeof(stages) / sizeof(stages[0]); i++) {
        r.stage = stages[i].stage;
        r.err = stages[i].err;
        r.detail = long_detail; /* truncated, never overflowing */
        r.topic = NULL;
        wk_dlq_headers_build(&r, &h);
        CHECK(t, strcmp(header(&h, "ing-stage"), stages[i].stage_name) == 0, "stage %s",
              stages[i].stage_name);
        CHECK(t, strcmp(header(&h, "ing-reason"), stages[i].reason) == 0, "reason %s",
              stages[i].reason);
        CHECK(t, strlen(header(&h, "ing-detail")) == WK_DLQ_HEADER_VALUE_MAX - 1,
              "detail truncated to %d", WK_DLQ_HEADER_VALUE_MAX - 1);
        CHECK(t, strcmp(header(&h, "ing-topic"), "") == 0, "no topic -> empty");
    }
}

static const char *msg_header(rd_kafka_message_t *m, const char *name, char *buf, size_t size)
{
    rd_kafka_headers_t *hdrs = NULL;
    const void *v;
    size_t len;
    if (rd_kafka_message_headers(m, &hdrs) || rd_kafka_header_get_last(hdrs, name, &v, &len) ||
        len >= size)
        return NULL;
    memcpy(buf, v, len);
    buf[len] = '\0';
    return buf;
}

static void test_mock_cluster(ing_test_counts_t *t)
{
    char errstr[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_t *owner = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
    rd_kafka_mock_cluster_t *mc = rd_kafka_mock_cluster_new(owner, 1);
    CHECK(t, mc != NULL, "mock cluster");
    if (!mc)
        return;
    const char *bootstraps = rd_kafka_mock_cluster_bootstraps(mc);
    rd_kafka_mock_topic_create(mc, "dlq.test", 1, 1);

    cfg_passthrough_t kafka = {0};
    kafka.count = 1;
    strcpy(kafka.items[0].key, "bootstrap.servers");
    snprintf(kafka.items[0].value, sizeof(kafka.items[0].value), "%s", bootstraps);
    wk_dlq_t *dlq = NULL;
    CHECK(t, wk_dlq_create(&kafka, "dlq.test", "test", &dlq, errstr, sizeof(errstr)) == ING_OK,
          "create: %s", errstr);
    if (!dlq)
        return;
    static const uint8_t value[] = {'D', 'R', 1, 0, 0xff, 0};
    wk_dlq_reason_t r = {.err = ING_ERR_RECORD,
                         .detail = "bad magic",
                         .stage = WK_STAGE_DECODE,
                         .topic = "ing.documents.v1",
                         .partition = 2,
                         .offset = 41,
                         .attempts = 1,
                         .first_failure_us = 1795858200000000LL};
    CHECK(t, wk_dlq_send(dlq, "295109912611193", 15, value, sizeof(value), &r) == ING_OK, "send");
    CHECK(t, wk_dlq_wait(dlq, 10000, errstr, sizeof(errstr)) == ING_OK, "delivered: %s", errstr);

    /* Injected failure: the broker refuses the next produce requests for good. */
    rd_kafka_mock_push_request_errors(
        mc, 0 /* Produce */, 8, RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED,
        RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED, RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED,
        RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED, RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED,
        RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED, RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED,
        RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED);
    CHECK(t, wk_dlq_send(dlq, "k", 1, value, sizeof(value), &r) == ING_OK, "send 2");
    ing_err_t err = wk_dlq_wait(dlq, 10000, errstr, sizeof(errstr));
    CHECK(t, err != ING_OK && ing_err_is_retriable(err), "failure reported: %s", ing_err_name(err));
    wk_dlq_destroy(dlq);

    /* Read the first record back. */
    rd_kafka_conf_t *cconf = rd_kafka_conf_new();
    rd_kafka_conf_set(cconf, "bootstrap.servers", bootstraps, errstr, sizeof(errstr));
    rd_kafka_conf_set(cconf, "group.id", "test", errstr, sizeof(errstr));
    rd_kafka_t *c = rd_kafka_new(RD_KAFKA_CONSUMER, cconf, errstr, sizeof(errstr));
    rd_kafka_topic_partition_list_t *a = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(a, "dlq.test", 0)->offset = RD_KAFKA_OFFSET_BEGINNING;
    rd_kafka_assign(c, a);
    rd_kafka_topic_partition_list_destroy(a);
    rd_kafka_message_t *m = NULL;
    for (int i = 0; i < 100 && !m; i++) {
        m = rd_kafka_consumer_poll(c, 100);
        if (m && m->err) {
            rd_kafka_message_destroy(m);
            m = NULL;
        }
    }
    CHECK(t, m != NULL, "consumed the dead letter");
    if (m) {
        char buf[300];
        CHECK(t, m->key_len == 15 && memcmp(m->key, "295109912611193", 15) == 0, "same key");
        CHECK(t, m->len == sizeof(value) && memcmp(m->payload, value, sizeof(value)) == 0,
              "original value bytes");
        const char *v = msg_header(m, "ing-reason", buf, sizeof(buf));
        CHECK(t, v && strcmp(v, "record_invalid") == 0, "ing-reason %s", v ? v : "(none)");
        v = msg_header(m, "ing-offset", buf, sizeof(buf));
        CHECK(t, v && strcmp(v, "41") == 0, "ing-offset %s", v ? v : "(none)");
        v = msg_header(m, "ing-stage", buf, sizeof(buf));
        CHECK(t, v && strcmp(v, "decode") == 0, "ing-stage %s", v ? v : "(none)");
        rd_kafka_message_destroy(m);
    }
    rd_kafka_consumer_close(c);
    rd_kafka_destroy(c);
    rd_kafka_mock_cluster_destroy(mc);
    rd_kafka_destroy(owner);
}

int main(void)
{
    ing_test_counts_t t = {0};
    test_headers(&t);
    test_mock_cluster(&t);
    return ING_TEST_END(&t);
}
