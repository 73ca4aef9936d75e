#include "gw_producer.h"

#include <errno.h>
#include <fcntl.h>
#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cfg_kafka.h"
#include "ing_log.h"

struct gw_producer {
    rd_kafka_t *rk;
    rd_kafka_topic_t *topic;
    int pipe_rd, pipe_wr; /* librdkafka writes "1" to pipe_wr when its queue fills */
    gw_delivery_fn *on_delivery;
    void *cb_opaque;
    /* Set by error_cb (all brokers down) and by a statistics report without a broker UP;
     * cleared by a successful delivery or a report with one: readiness follows the broker
     * connections even while no record is produced. */
    bool brokers_down;
    uint64_t stats_reports;
};

static ing_err_t translate(rd_kafka_resp_err_t err)
{
    switch (err) {
    case RD_KAFKA_RESP_ERR_NO_ERROR:
        return ING_OK;
    case RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE:
    case RD_KAFKA_RESP_ERR_INVALID_MSG_SIZE:
        return ING_ERR_CONTENT_TOO_LARGE;
    case RD_KAFKA_RESP_ERR__MSG_TIMED_OUT:
    case RD_KAFKA_RESP_ERR__TIMED_OUT:
        return ING_ERR_TIMEOUT;
    default:
        return ING_ERR_UNAVAILABLE;
    }
}

/* @locality the loop's thread (librdkafka calls it from rd_kafka_poll/flush). */
static void dr_msg_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    gw_producer_t *p = opaque;
    if (!m->err)
        p->brokers_down = false;
    p->on_delivery(p->cb_opaque, m->_private, translate(m->err),
                   m->err ? rd_kafka_err2str(m->err) : "");
}

/* @locality librdkafka's internal threads: ing_log is thread-safe. */
static void log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    ing_log(level <= 3   ? ING_LOG_ERROR
            : level <= 5 ? ING_LOG_WARN
                         : ING_LOG_DEBUG,
            "kafka", "%s: %s: %s", rd_kafka_name(rk), fac, buf);
}

/* @locality the loop's thread: error_cb is served by rd_kafka_poll. */
static void error_cb(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
    gw_producer_t *p = opaque;
    if (err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN)
        p->brokers_down = true;
    ing_log(ING_LOG_WARN, "kafka", "%s: %s: %s", rd_kafka_name(rk),
            rd_kafka_err2name((rd_kafka_resp_err_t)err), reason);
}

/*
 * Whether a librdkafka statistics report (JSON, statistics.interval.ms) shows a broker
 * connection UP: each broker object of "brokers" has a "state" ("INIT", "DOWN", "CONNECT",
 * "AUTH", "APIVERSION_QUERY", "AUTH_HANDSHAKE", "UP", "UPDATE"). Only brokers' objects carry
 * "state" before the "topics" object in a producer's report.
 */
bool gw_producer_stats_broker_up(const char *json, size_t len)
{
    static const char key[] = "\"state\":\"UP\"";
    const char *brokers = memmem(json, len, "\"brokers\":", 10);
    if (!brokers)
        return false;
    const char *end = json + len;
    const char *topics = memmem(brokers, (size_t)(end - brokers), "\"topics\":", 9);
    if (topics)
        end = topics;
    return memmem(brokers, (size_t)(end - brokers), key, sizeof(key) - 1) != NULL;
}

/* @locality the loop's thread: stats are served by rd_kafka_poll from the main queue. */
static int stats_cb(rd_kafka_t *rk, char *json, size_t json_len, void *opaque)
{
    (void)rk;
    gw_producer_t *p = opaque;
    bool up = gw_producer_stats_broker_up(json, json_len);
    if (up == p->brokers_down)
        ing_log(up ? ING_LOG_INFO : ING_LOG_WARN, "producer", "%s: %s", rd_kafka_name(p->rk),
                up ? "a broker connection is up again" : "no broker connection is up");
    p->brokers_down = !up;
    p->stats_reports++;
    return 0; /* librdkafka frees json */
}

ing_err_t gw_producer_create(const gw_producer_conf_t *conf, gw_producer_t **out, char *errstr,
                             size_t errstr_size)
{
    ing_err_t err = ING_ERR_CONFIG;
    gw_producer_t *p = calloc(1, sizeof(*p));
    if (!p)
        return ING_ERR_NOMEM;
    p->pipe_rd = p->pipe_wr = -1;
    p->on_delivery = conf->on_delivery;
    p->cb_opaque = conf->cb_opaque;
    char max_bytes[32];
    snprintf(max_bytes, sizeof(max_bytes), "%zu", conf->max_record_bytes);
    /* Our defaults, overridden by kafka.* from the settings. message.timeout.ms is shorter
     * than gateway.request_timeout_ms (30 s) so that the delivery verdict normally reaches
     * the waiting request; no compression because the workers compress documents with zstd;
     * the local queue is bounded per thread (128 MiB). linger.ms 0: every request waits for
     * its own acknowledgement, so a linger is paid in full by each client (5 ms made a
     * closed-loop client 2.4x slower, bench/results/2026-11-28-gwperf-*.md); under load
     * records still batch while earlier produce requests are in flight. Statistics every
     * second tell readiness whether a broker connection is up (stats_cb). */
    const char *const defaults[] = {"acks",
                                    "all",
                                    "enable.idempotence",
                                    "true",
                                    "message.timeout.ms",
                                    "10000",
                                    "linger.ms",
                                    "0",
                                    "compression.type",
                                    "none",
                                    "statistics.interval.ms",
                                    "1000",
                                    "queue.buffering.max.kbytes",
                                    "131072",
                                    "message.max.bytes",
                                    max_bytes,
                                    "client.id",
                                    conf->client_id,
                                    NULL};
    rd_kafka_conf_t *kc = cfg_kafka_conf_new(defaults, conf->kafka, errstr, errstr_size);
    if (!kc)
        goto fail;
    rd_kafka_conf_set_dr_msg_cb(kc, dr_msg_cb);
    rd_kafka_conf_set_log_cb(kc, log_cb);
    rd_kafka_conf_set_error_cb(kc, error_cb);
    rd_kafka_conf_set_stats_cb(kc, stats_cb);
    rd_kafka_conf_set_opaque(kc, p);
    p->rk = rd_kafka_new(RD_KAFKA_PRODUCER, kc, errstr, errstr_size);
    if (!p->rk) {
        rd_kafka_conf_destroy(kc);
        goto fail;
    }
    p->topic = rd_kafka_topic_new(p->rk, conf->topic, NULL);
    if (!p->topic) {
        snprintf(errstr, errstr_size, "topic %s: %s", conf->topic,
                 rd_kafka_err2str(rd_kafka_last_error()));
        goto fail;
    }
    int fds[2];
    if (pipe2(fds, O_NONBLOCK | O_CLOEXEC) != 0) {
        snprintf(errstr, errstr_size, "pipe: %s", strerror(errno));
        err = ING_ERR_IO;
        goto fail;
    }
    p->pipe_rd = fds[0];
    p->pipe_wr = fds[1];
    rd_kafka_queue_t *q = rd_kafka_queue_get_main(p->rk);
    rd_kafka_queue_io_event_enable(q, p->pipe_wr, "1", 1);
    rd_kafka_queue_destroy(q);
    *out = p;
    return ING_OK;
fail:
    gw_producer_destroy(p);
    return err;
}

void gw_producer_shutdown(gw_producer_t *p, int flush_ms)
{
    if (!p || !p->rk)
        return;
    if (flush_ms > 0 && rd_kafka_flush(p->rk, flush_ms) != RD_KAFKA_RESP_ERR_NO_ERROR)
        ing_log(ING_LOG_WARN, "producer", "%s: %d records not delivered at shut-down",
                rd_kafka_name(p->rk), rd_kafka_outq_len(p->rk));
    /* Records still queued get their delivery report (purged) here, so that every callback
     * runs and frees its request; in-flight ones report when the broker answers or their
     * request times out: give them a second. */
    rd_kafka_purge(p->rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
    rd_kafka_flush(p->rk, 1000);
}

void gw_producer_destroy(gw_producer_t *p)
{
    if (!p)
        return;
    if (p->rk) {
        rd_kafka_queue_t *q = rd_kafka_queue_get_main(p->rk);
        rd_kafka_queue_io_event_enable(q, -1, NULL, 0);
        rd_kafka_queue_destroy(q);
        if (p->topic)
            rd_kafka_topic_destroy(p->topic);
        rd_kafka_destroy(p->rk);
    }
    if (p->pipe_rd >= 0)
        close(p->pipe_rd);
    if (p->pipe_wr >= 0)
        close(p->pipe_wr);
    free(p);
}

int gw_producer_fd(const gw_producer_t *p)
{
    return p->pipe_rd;
}

void gw_producer_serve(gw_producer_t *p)
{
    /* librdkafka writes one byte each time its queue turns non-empty: a short read means the
     * pipe is empty, so there is no second read (and EAGAIN) per wake-up. */
    char drain[256];
    while (read(p->pipe_rd, drain, sizeof(drain)) == (ssize_t)sizeof(drain))
        ;
    rd_kafka_poll(p->rk, 0);
}

ing_err_t gw_producer_send(gw_producer_t *p, const char *key, size_t key_len, void *value,
                           size_t value_len, void *msg_opaque, char *why, size_t why_size)
{
    if (rd_kafka_produce(p->topic, RD_KAFKA_PARTITION_UA, RD_KAFKA_MSG_F_FREE, value, value_len,
                         key, key_len, msg_opaque) == 0)
        return ING_OK;
    rd_kafka_resp_err_t err = rd_kafka_last_error();
    snprintf(why, why_size, "%s", rd_kafka_err2str(err));
    return err == RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE ? ING_ERR_CONTENT_TOO_LARGE
                                                       : ING_ERR_UNAVAILABLE;
}

bool gw_producer_brokers_down(const gw_producer_t *p)
{
    return p->brokers_down;
}

int gw_producer_outq_len(gw_producer_t *p)
{
    return rd_kafka_outq_len(p->rk);
}
