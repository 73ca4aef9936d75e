#include "bt_fill.h"

#include <librdkafka/rdkafka.h>
#include <stdlib.h>
#include <string.h>

#include "ing_time.h"

typedef struct fill_state {
    uint64_t delivered, failed;
    int64_t last_dr_us;
    char first_error[256];
} fill_state_t;

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    fill_state_t *st = opaque;
    if (m->err) {
        if (!st->failed)
            snprintf(st->first_error, sizeof(st->first_error), "%s", rd_kafka_err2str(m->err));
        st->failed++;
    } else {
        st->delivered++;
    }
    st->last_dr_us = ing_mono_us();
}

ing_err_t bt_fill_topic(bt_docs_t *docs, const char *brokers, const char *topic, uint64_t count,
                        int timeout_s, bt_fill_result_t *res, char *errstr, size_t errstr_size)
{
    static const char *const props[][2] = {
        {"acks", "all"},
        {"enable.idempotence", "true"},
        {"linger.ms", "5"},
        {"batch.size", "1000000"},
        {"compression.type", "none"},
        {"message.max.bytes", "33554432"},
    };
    fill_state_t st = {0};
    memset(res, 0, sizeof(*res));
    ing_err_t err = ING_OK;
    rd_kafka_t *rk = NULL;
    ing_buf_t json, rec;
    ing_buf_init(&json, (size_t)64 << 20);
    ing_buf_init(&rec, (size_t)64 << 20);
    ing_envelope_t env;
    ing_envelope_init(&env);

    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    if (rd_kafka_conf_set(conf, "bootstrap.servers", brokers, errstr, errstr_size) !=
        RD_KAFKA_CONF_OK) {
        rd_kafka_conf_destroy(conf);
        return ING_ERR_CONFIG;
    }
    for (size_t k = 0; k < sizeof(props) / sizeof(props[0]); k++) {
        if (rd_kafka_conf_set(conf, props[k][0], props[k][1], errstr, errstr_size) !=
            RD_KAFKA_CONF_OK) {
            rd_kafka_conf_destroy(conf);
            return ING_ERR_CONFIG;
        }
    }
    rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
    rd_kafka_conf_set_opaque(conf, &st);
    rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, errstr_size);
    if (!rk) {
        rd_kafka_conf_destroy(conf);
        err = ING_ERR_CONFIG;
        goto out;
    }

    int64_t t0 = ing_mono_us();
    int64_t deadline = t0 + (int64_t)timeout_s * 1000000;
    for (uint64_t i = 0; i < count; i++) {
        ing_record_meta_t meta;
        ing_problem_t problem;
        err = bt_docs_get(docs, i, &json, &env, &meta, &problem);
        if (err) {
            snprintf(errstr, errstr_size, "document %llu: %s (%s)", (unsigned long long)i,
                     problem.detail, ing_err_name(err));
            goto out;
        }
        ing_buf_reset(&rec);
        err = ing_record_encode(&env, &meta, &rec);
        if (err) {
            snprintf(errstr, errstr_size, "record %llu: %s", (unsigned long long)i,
                     ing_err_str(err));
            goto out;
        }
        for (;;) {
            rd_kafka_resp_err_t kerr = rd_kafka_producev(
                rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_KEY(env.ins, strlen(env.ins)),
                RD_KAFKA_V_VALUE(rec.data, rec.len), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                RD_KAFKA_V_END);
            if (!kerr)
                break;
            if (kerr != RD_KAFKA_RESP_ERR__QUEUE_FULL || ing_mono_us() > deadline) {
                snprintf(errstr, errstr_size, "produce to %s: %s", topic, rd_kafka_err2str(kerr));
                err = kerr == RD_KAFKA_RESP_ERR__QUEUE_FULL ? ING_ERR_TIMEOUT : ING_ERR_UNAVAILABLE;
                goto out;
            }
            rd_kafka_poll(rk, 10);
        }
        res->record_bytes += rec.len;
        res->content_bytes += env.content_len;
        rd_kafka_poll(rk, 0);
    }
    while (rd_kafka_outq_len(rk) > 0 && ing_mono_us() < deadline)
        rd_kafka_poll(rk, 50);
    if (rd_kafka_outq_len(rk) > 0) {
        snprintf(errstr, errstr_size, "%d records still unacknowledged after %d s",
                 rd_kafka_outq_len(rk), timeout_s);
        err = ING_ERR_TIMEOUT;
    } else if (st.failed) {
        snprintf(errstr, errstr_size, "%llu records failed, first: %s",
                 (unsigned long long)st.failed, st.first_error);
        err = ING_ERR_UNAVAILABLE;
    }
    res->seconds = (double)(st.last_dr_us - t0) / 1e6;
out:
    res->delivered = st.delivered;
    res->failed = st.failed;
    if (rk) {
        rd_kafka_flush(rk, 5000);
        rd_kafka_destroy(rk);
    }
    ing_envelope_fini(&env);
    ing_buf_fini(&json);
    ing_buf_fini(&rec);
    return err;
}

ing_err_t bt_payload_file(bt_docs_t *docs, uint64_t count, FILE *out, uint64_t *record_bytes,
                          char *errstr, size_t errstr_size)
{
    ing_err_t err = ING_OK;
    ing_buf_t json, rec;
    ing_buf_init(&json, (size_t)64 << 20);
    ing_buf_init(&rec, (size_t)64 << 20);
    ing_envelope_t env;
    ing_envelope_init(&env);
    for (uint64_t i = 0; i < count && !err; i++) {
        ing_record_meta_t meta;
        ing_problem_t problem;
        err = bt_docs_get(docs, i, &json, &env, &meta, &problem);
        if (err) {
            snprintf(errstr, errstr_size, "document %llu: %s", (unsigned long long)i,
                     problem.detail);
            break;
        }
        ing_buf_reset(&rec);
        err = ing_record_encode(&env, &meta, &rec);
        if (err) {
            snprintf(errstr, errstr_size, "record: %s", ing_err_str(err));
            break;
        }
        for (size_t k = 0; k < rec.len; k++)
            rec.data[k] = bt_payload_byte(rec.data[k]);
        if (fwrite(rec.data, 1, rec.len, out) != rec.len || fputc('\n', out) == EOF) {
            snprintf(errstr, errstr_size, "writing the payload file failed");
            err = ING_ERR_IO;
        }
        *record_bytes += rec.len;
    }
    ing_envelope_fini(&env);
    ing_buf_fini(&json);
    ing_buf_fini(&rec);
    return err;
}
