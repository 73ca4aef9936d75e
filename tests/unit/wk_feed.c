/*
 * wk_feed: a test-only producer of document records in the gateway's binary format, to feed
 * ingest-worker before (or without) the gateway. Not part of the product; built, not run by
 * ctest.
 *
 *   wk_feed BROKERS TOPIC COUNT [PREFIX [MODE [VERSION [CONTENT_TAG]]]]
 *
 * MODE: valid (default), corrupt (bad framing), invalid (bad INS key, id still sound),
 * conflict (same document_id and version as valid's, other content), badid (submission id
 * that does not match). Record i is document PREFIX-i, version VERSION (1), text/plain, content
 * "Compte rendu CONTENT_TAG-i" (CONTENT_TAG defaults to PREFIX: the same tag under another
 * prefix makes duplicates).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <librdkafka/rdkafka.h>

#include "ing_record.h"
#include "ing_time.h"

static const char *const test_ins[] = {"295109912611193", "253072B07300470", "253072A07300443",
                                       "279035121518989"};

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr,
                "usage: wk_feed BROKERS TOPIC COUNT [PREFIX [MODE [VERSION [CONTENT_TAG]]]]\n");
        return 2;
    }
    const char *brokers = argv[1], *topic = argv[2];
    long count = strtol(argv[3], NULL, 10);
    const char *prefix = argc > 4 ? argv[4] : "FEED";
    const char *mode = argc > 5 ? argv[5] : "valid";
    long version = argc > 6 ? strtol(argv[6], NULL, 10) : 1;
    const char *tag = argc > 7 ? argv[7] : prefix;
    char errstr[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    if (rd_kafka_conf_set(conf, "bootstrap.servers", brokers, errstr, sizeof(errstr)) ||
        rd_kafka_conf_set(conf, "enable.idempotence", "true", errstr, sizeof(errstr))) {
        fprintf(stderr, "wk_feed: %s\n", errstr);
        return 2;
    }
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
    if (!rk) {
        fprintf(stderr, "wk_feed: %s\n", errstr);
        return 2;
    }
    ing_buf_t buf;
    ing_buf_init(&buf, 1 << 20);
    int rc = 0;
    for (long i = 0; i < count && rc == 0; i++) {
        ing_envelope_t env;
        ing_record_meta_t meta = {0};
        ing_envelope_init(&env);
        char content[200];
        snprintf(content, sizeof(content), "Compte rendu %s-%ld%s", tag, i,
                 strcmp(mode, "conflict") == 0 ? " (corrected)" : "");
        snprintf(env.document_id, sizeof(env.document_id), "%s-%ld", prefix, i);
        env.version = (uint32_t)version;
        strcpy(env.ins, test_ins[i % 4]);
        if (strcmp(mode, "invalid") == 0)
            strcpy(env.ins, "295109912611199");
        strcpy(env.oid, "1.2.250.1.213.1.4.10");
        strcpy(env.finess, "750712184");
        strcpy(env.type_code, "11502-2");
        strcpy(env.media_type, "text/plain");
        strcpy(env.title, "Compte rendu de biologie");
        strcpy(env.created_at, "2026-11-28T09:30:00Z");
        env.content = (const uint8_t *)content;
        env.content_len = strlen(content);
        ing_sha256(env.content, env.content_len, env.sha256);
        strcpy(meta.org_finess, "750712184");
        ing_submission_id(NULL, meta.org_finess, env.document_id, env.version, env.sha256,
                          meta.submission_id);
        if (strcmp(mode, "badid") == 0)
            meta.submission_id[0] = meta.submission_id[0] == '0' ? '1' : '0';
        meta.received_at_us = ing_wall_us();
        ing_buf_reset(&buf);
        if (ing_record_encode(&env, &meta, &buf) != ING_OK) {
            fprintf(stderr, "wk_feed: encode failed\n");
            rc = 1;
            break;
        }
        if (strcmp(mode, "corrupt") == 0)
            buf.data[0] = 'X';
        rd_kafka_resp_err_t err;
        while ((err = rd_kafka_producev(
                    rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_KEY(env.ins, strlen(env.ins)),
                    RD_KAFKA_V_VALUE(buf.data, buf.len), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                    RD_KAFKA_V_END)) == RD_KAFKA_RESP_ERR__QUEUE_FULL)
            rd_kafka_poll(rk, 100);
        if (err) {
            fprintf(stderr, "wk_feed: produce: %s\n", rd_kafka_err2str(err));
            rc = 1;
        }
        printf("%s\n", meta.submission_id);
    }
    if (rd_kafka_flush(rk, 30000) != RD_KAFKA_RESP_ERR_NO_ERROR) {
        fprintf(stderr, "wk_feed: %d records not delivered\n", rd_kafka_outq_len(rk));
        rc = 1;
    }
    ing_buf_fini(&buf);
    rd_kafka_destroy(rk);
    return rc;
}
