#include "wk_dlq.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <librdkafka/rdkafka.h>

#include "ing_log.h"
#include "wk_kafka.h"

const char *wk_stage_name(wk_stage_t stage)
{
    switch (stage) {
    case WK_STAGE_DECODE:
        return "decode";
    case WK_STAGE_VALIDATE:
        return "validate";
    case WK_STAGE_STORE:
        return "store";
    }
    return "unknown";
}

static void header_set(wk_dlq_headers_t *h, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void header_set(wk_dlq_headers_t *h, const char *name, const char *fmt, ...)
{
    if (h->count >= WK_DLQ_HEADERS)
        return;
    h->items[h->count].name = name;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(h->items[h->count].value, sizeof(h->items[h->count].value), fmt, ap);
    va_end(ap);
    h->count++;
}

void wk_dlq_headers_build(const wk_dlq_reason_t *r, wk_dlq_headers_t *out)
{
    out->count = 0;
    time_t secs = (time_t)(r->first_failure_us / 1000000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    header_set(out, "ing-reason", "%s", ing_err_name(r->err));
    header_set(out, "ing-detail", "%s", r->detail ? r->detail : "");
    header_set(out, "ing-stage", "%s", wk_stage_name(r->stage));
    header_set(out, "ing-topic", "%s", r->topic ? r->topic : "");
    header_set(out, "ing-partition", "%" PRId32, r->partition);
    header_set(out, "ing-offset", "%" PRId64, r->offset);
    header_set(out, "ing-attempts", "%d", r->attempts);
    header_set(out, "ing-first-failure", "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
               tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
               (int)(r->first_failure_us / 1000 % 1000));
}

struct wk_dlq {
    rd_kafka_t *rk;
    char topic[256];
    /* Since the last wk_dlq_wait; written by the delivery report callback, which runs inside
     * rd_kafka_poll/flush on this thread. */
    int outstanding;
    rd_kafka_resp_err_t first_error;
};

static void wk_dlq_delivered(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    wk_dlq_t *dlq = opaque;
    dlq->outstanding--;
    if (m->err && !dlq->first_error)
        dlq->first_error = m->err;
}

ing_err_t wk_dlq_create(const cfg_passthrough_t *kafka, const char *topic,
                        const char *client_suffix, wk_dlq_t **out, char *errstr, size_t errstr_size)
{
    wk_dlq_t *dlq = calloc(1, sizeof(*dlq));
    if (!dlq)
        return ING_ERR_NOMEM;
    snprintf(dlq->topic, sizeof(dlq->topic), "%s", topic);
    rd_kafka_conf_t *conf =
        wk_kafka_conf_new(WK_KAFKA_DLQ, kafka, NULL, client_suffix, errstr, errstr_size);
    if (!conf) {
        free(dlq);
        return ING_ERR_CONFIG;
    }
    rd_kafka_conf_set_opaque(conf, dlq);
    rd_kafka_conf_set_dr_msg_cb(conf, wk_dlq_delivered);
    dlq->rk = wk_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, errstr_size);
    if (!dlq->rk) {
        free(dlq);
        return ING_ERR_CONFIG;
    }
    *out = dlq;
    return ING_OK;
}

void wk_dlq_destroy(wk_dlq_t *dlq)
{
    if (!dlq)
        return;
    if (rd_kafka_flush(dlq->rk, 10000) != RD_KAFKA_RESP_ERR_NO_ERROR)
        ing_log(ING_LOG_WARN, "dlq", "%d dead letters not delivered at shutdown",
                rd_kafka_outq_len(dlq->rk));
    rd_kafka_destroy(dlq->rk);
    free(dlq);
}

ing_err_t wk_dlq_send(wk_dlq_t *dlq, const void *key, size_t key_len, const void *value,
                      size_t value_len, const wk_dlq_reason_t *reason)
{
    wk_dlq_headers_t h;
    wk_dlq_headers_build(reason, &h);
    rd_kafka_headers_t *hdrs = rd_kafka_headers_new((size_t)h.count);
    for (int i = 0; i < h.count; i++)
        rd_kafka_header_add(hdrs, h.items[i].name, -1, h.items[i].value, -1);
    rd_kafka_resp_err_t err = rd_kafka_producev(
        dlq->rk, RD_KAFKA_V_TOPIC(dlq->topic), RD_KAFKA_V_KEY(key, key_len),
        RD_KAFKA_V_VALUE((void *)value, value_len), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
        RD_KAFKA_V_HEADERS(hdrs), RD_KAFKA_V_END);
    if (err) {
        rd_kafka_headers_destroy(hdrs); /* ownership passes only on success */
        ing_log(ING_LOG_WARN, "dlq", "produce to %s failed: %s", dlq->topic,
                rd_kafka_err2name(err));
        if (!dlq->first_error)
            dlq->first_error = err;
        return wk_kafka_err(err) == ING_ERR_TOO_BIG ? ING_ERR_TOO_BIG : ING_ERR_UNAVAILABLE;
    }
    dlq->outstanding++;
    return ING_OK;
}

ing_err_t wk_dlq_wait(wk_dlq_t *dlq, int timeout_ms, char *errstr, size_t errstr_size)
{
    rd_kafka_resp_err_t ferr = rd_kafka_flush(dlq->rk, timeout_ms);
    ing_err_t ret = ING_OK;
    if (dlq->first_error) {
        snprintf(errstr, errstr_size, "dead letter not delivered: %s (%s)",
                 rd_kafka_err2str(dlq->first_error), rd_kafka_err2name(dlq->first_error));
        ret = ING_ERR_UNAVAILABLE;
    } else if (ferr || dlq->outstanding > 0) {
        snprintf(errstr, errstr_size, "%d dead letters not acknowledged within %d ms",
                 dlq->outstanding, timeout_ms);
        ret = ING_ERR_TIMEOUT;
    }
    /* Records still in flight after a timeout will report later: count from here. */
    dlq->outstanding = ret == ING_ERR_TIMEOUT ? dlq->outstanding : 0;
    dlq->first_error = RD_KAFKA_RESP_ERR_NO_ERROR;
    return ret;
}
