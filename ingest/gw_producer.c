#include "gw_producer.h"

#include <errno.h>
#include <fcntl.h>
#include <librdkafka/rdkafka.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "cfg_kafka.h"
#include "ing_log.h"
#include "ing_time.h"

struct gw_producer {
    rd_kafka_t *rk;
    rd_kafka_topic_t *topic;
    rd_kafka_queue_t *reports; /* the main queue: delivery reports, errors, statistics */
    int pipe_rd, pipe_wr;      /* librdkafka writes "1" to pipe_wr when the queue fills */
    /* Set by an error event (all brokers down) and by a statistics report without a broker
     * UP; cleared by a successful delivery or a report with one: readiness follows the broker
     * connections even while no record is produced. Any thread may serve those events. */
    atomic_bool brokers_down;
};

struct gw_producer_lane {
    gw_producer_t *p;
    gw_delivery_fn *on_delivery;
    void *cb_opaque;
    size_t outstanding;   /* the lane thread's: produced, not yet called back */
    int wake_fd;          /* eventfd: the inbox turned non-empty */
    pthread_mutex_t lock; /* @locks inbox_head, inbox_tail */
    gw_producer_msg_t *inbox_head, *inbox_tail;
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

/* @locality librdkafka's internal threads: ing_log is thread-safe. */
static void log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    ing_log(level <= 3   ? ING_LOG_ERROR
            : level <= 5 ? ING_LOG_WARN
                         : ING_LOG_DEBUG,
            "kafka", "%s: %s: %s", rd_kafka_name(rk), fac, buf);
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

static void set_brokers_down(gw_producer_t *p, bool down)
{
    /* Read first: the flag is written on every delivery report, by either thread. */
    if (atomic_load_explicit(&p->brokers_down, memory_order_relaxed) != down)
        atomic_store_explicit(&p->brokers_down, down, memory_order_relaxed);
}

static void on_stats(gw_producer_t *p, const char *json)
{
    bool up = gw_producer_stats_broker_up(json, strlen(json));
    if (up == atomic_load_explicit(&p->brokers_down, memory_order_relaxed))
        ing_log(up ? ING_LOG_INFO : ING_LOG_WARN, "producer", "%s: %s", rd_kafka_name(p->rk),
                up ? "a broker connection is up again" : "no broker connection is up");
    set_brokers_down(p, !up);
}

static void on_error(gw_producer_t *p, rd_kafka_event_t *ev)
{
    rd_kafka_resp_err_t err = rd_kafka_event_error(ev);
    if (err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN)
        set_brokers_down(p, true);
    ing_log(ING_LOG_WARN, "kafka", "%s: %s: %s", rd_kafka_name(p->rk), rd_kafka_err2name(err),
            rd_kafka_event_error_string(ev));
}

static void deliver(gw_producer_lane_t *l, gw_producer_msg_t *msg, rd_kafka_resp_err_t err)
{
    l->outstanding--;
    l->on_delivery(l->cb_opaque, msg, translate(err), err ? rd_kafka_err2str(err) : "");
}

/* Hands a report to another lane. @locality any thread but the lane's. */
static void inbox_push(gw_producer_lane_t *l, gw_producer_msg_t *msg, rd_kafka_resp_err_t err)
{
    msg->kafka_err = (int)err;
    msg->next = NULL;
    pthread_mutex_lock(&l->lock);
    bool was_empty = l->inbox_head == NULL;
    if (was_empty)
        l->inbox_head = msg;
    else
        l->inbox_tail->next = msg;
    l->inbox_tail = msg;
    pthread_mutex_unlock(&l->lock);
    if (was_empty) {
        uint64_t one = 1;
        (void)!write(l->wake_fd, &one, sizeof(one)); /* only fails when the count is huge */
    }
}

/*
 * Takes every event out of the main queue. A delivery report goes to its lane: called back at
 * once when that is self (the serving lane; NULL at shutdown, when no lane calls back), else
 * into the lane's inbox.
 */
static void serve_queue(gw_producer_t *p, gw_producer_lane_t *self, int timeout_ms)
{
    rd_kafka_event_t *ev;
    while ((ev = rd_kafka_queue_poll(p->reports, timeout_ms))) {
        timeout_ms = 0;
        switch (rd_kafka_event_type(ev)) {
        case RD_KAFKA_EVENT_DR: {
            const rd_kafka_message_t *m;
            bool any_ok = false;
            while ((m = rd_kafka_event_message_next(ev))) {
                gw_producer_msg_t *msg = m->_private;
                any_ok |= m->err == RD_KAFKA_RESP_ERR_NO_ERROR;
                if (msg->lane == self)
                    deliver(self, msg, m->err);
                else
                    inbox_push(msg->lane, msg, m->err);
            }
            if (any_ok)
                set_brokers_down(p, false);
            break;
        }
        case RD_KAFKA_EVENT_ERROR:
            on_error(p, ev);
            break;
        case RD_KAFKA_EVENT_STATS:
            on_stats(p, rd_kafka_event_stats(ev));
            break;
        default:
            break;
        }
        rd_kafka_event_destroy(ev); /* frees the delivered records' payloads */
    }
}

static void serve_inbox(gw_producer_lane_t *l)
{
    pthread_mutex_lock(&l->lock);
    gw_producer_msg_t *msg = l->inbox_head;
    l->inbox_head = l->inbox_tail = NULL;
    pthread_mutex_unlock(&l->lock);
    while (msg) {
        gw_producer_msg_t *next = msg->next; /* the callback frees msg */
        deliver(l, msg, (rd_kafka_resp_err_t)msg->kafka_err);
        msg = next;
    }
}

ing_err_t gw_producer_create(const gw_producer_conf_t *conf, gw_producer_t **out, char *errstr,
                             size_t errstr_size)
{
    ing_err_t err = ING_ERR_CONFIG;
    gw_producer_t *p = calloc(1, sizeof(*p));
    if (!p)
        return ING_ERR_NOMEM;
    p->pipe_rd = p->pipe_wr = -1;
    atomic_init(&p->brokers_down, false);
    char max_bytes[32], queue_kbytes[32], queue_messages[32];
    int lanes = conf->lanes > 0 ? conf->lanes : 1;
    snprintf(max_bytes, sizeof(max_bytes), "%zu", conf->max_record_bytes);
    snprintf(queue_kbytes, sizeof(queue_kbytes), "%d", 131072 * lanes);
    snprintf(queue_messages, sizeof(queue_messages), "%d", 100000 * lanes);
    /* Our defaults, overridden by kafka.* from the settings. message.timeout.ms is shorter
     * than gateway.request_timeout_ms (30 s) so that the delivery verdict normally reaches
     * the waiting request; no compression because the workers compress documents with zstd;
     * the local queue is bounded at 128 MiB and 100,000 records per I/O thread, above each
     * thread's gateway.kafka_high_water_bytes so that backpressure answers first. linger.ms
     * 0: every request waits for its own acknowledgement, so a linger is paid in full by each
     * client (5 ms made a closed-loop client 2.4x slower, bench/results/2026-11-28-gwperf-*.md);
     * under load records still batch while earlier produce requests are in flight. Statistics
     * every second tell readiness whether a broker connection is up (on_stats). */
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
                                    queue_kbytes,
                                    "queue.buffering.max.messages",
                                    queue_messages,
                                    "message.max.bytes",
                                    max_bytes,
                                    "client.id",
                                    conf->client_id,
                                    NULL};
    rd_kafka_conf_t *kc = cfg_kafka_conf_new(defaults, conf->kafka, errstr, errstr_size);
    if (!kc)
        goto fail;
    /* Reports, errors and statistics as events, so that the serving thread decides where each
     * goes (serve_queue); librdkafka's log lines stay on its own threads. */
    rd_kafka_conf_set_events(kc, RD_KAFKA_EVENT_DR | RD_KAFKA_EVENT_ERROR | RD_KAFKA_EVENT_STATS);
    rd_kafka_conf_set_log_cb(kc, log_cb);
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
    p->reports = rd_kafka_queue_get_main(p->rk);
    rd_kafka_queue_io_event_enable(p->reports, p->pipe_wr, "1", 1);
    *out = p;
    return ING_OK;
fail:
    gw_producer_destroy(p);
    return err;
}

void gw_producer_shutdown(gw_producer_t *p, int wait_ms)
{
    if (!p || !p->rk || rd_kafka_outq_len(p->rk) == 0)
        return;
    ing_log(ING_LOG_WARN, "producer", "%s: %d records not delivered at shut-down",
            rd_kafka_name(p->rk), rd_kafka_outq_len(p->rk));
    /* Queued records get their report (purged) at once; in-flight ones when the broker answers
     * or their request times out. Each report goes to its lane's inbox. */
    rd_kafka_purge(p->rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
    int64_t deadline = ing_mono_us() + (int64_t)wait_ms * 1000;
    while (rd_kafka_outq_len(p->rk) > 0 && ing_mono_us() < deadline)
        serve_queue(p, NULL, 10);
}

void gw_producer_destroy(gw_producer_t *p)
{
    if (!p)
        return;
    if (p->reports) {
        rd_kafka_queue_io_event_enable(p->reports, -1, NULL, 0);
        rd_kafka_queue_destroy(p->reports);
    }
    if (p->topic)
        rd_kafka_topic_destroy(p->topic);
    if (p->rk)
        rd_kafka_destroy(p->rk);
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

bool gw_producer_brokers_down(const gw_producer_t *p)
{
    return atomic_load_explicit(&p->brokers_down, memory_order_relaxed);
}

ing_err_t gw_producer_lane_create(gw_producer_t *p, gw_delivery_fn *on_delivery, void *cb_opaque,
                                  gw_producer_lane_t **out, char *errstr, size_t errstr_size)
{
    gw_producer_lane_t *l = calloc(1, sizeof(*l));
    if (!l)
        return ING_ERR_NOMEM;
    l->p = p;
    l->on_delivery = on_delivery;
    l->cb_opaque = cb_opaque;
    l->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (l->wake_fd < 0) {
        snprintf(errstr, errstr_size, "eventfd: %s", strerror(errno));
        free(l);
        return ING_ERR_IO;
    }
    pthread_mutex_init(&l->lock, NULL);
    *out = l;
    return ING_OK;
}

void gw_producer_lane_destroy(gw_producer_lane_t *l)
{
    if (!l)
        return;
    serve_inbox(l);
    if (l->outstanding > 0)
        ing_log(ING_LOG_ERROR, "producer", "a lane ends with %zu records unreported",
                l->outstanding);
    pthread_mutex_destroy(&l->lock);
    close(l->wake_fd);
    free(l);
}

int gw_producer_lane_fd(const gw_producer_lane_t *l)
{
    return l->wake_fd;
}

void gw_producer_serve(gw_producer_lane_t *l, int woken_fd)
{
    /* librdkafka writes one byte each time its queue turns non-empty: a short read means the
     * pipe is empty, so there is no second read (and EAGAIN) per wake-up. An eventfd reads
     * as one 8-byte counter. */
    char drain[256];
    if (woken_fd >= 0)
        while (read(woken_fd, drain, sizeof(drain)) == (ssize_t)sizeof(drain))
            ;
    serve_queue(l->p, l, 0);
    serve_inbox(l);
}

void gw_producer_lane_finish(gw_producer_lane_t *l, int wait_ms)
{
    int64_t deadline = ing_mono_us() + (int64_t)wait_ms * 1000;
    for (;;) {
        serve_inbox(l);
        if (l->outstanding == 0 || ing_mono_us() >= deadline)
            break;
        serve_queue(l->p, l, 10);
    }
}

ing_err_t gw_producer_send(gw_producer_lane_t *l, const char *key, size_t key_len, void *value,
                           size_t value_len, gw_producer_msg_t *msg, char *why, size_t why_size)
{
    msg->lane = l;
    if (rd_kafka_produce(l->p->topic, RD_KAFKA_PARTITION_UA, RD_KAFKA_MSG_F_FREE, value, value_len,
                         key, key_len, msg) == 0) {
        l->outstanding++;
        return ING_OK;
    }
    rd_kafka_resp_err_t err = rd_kafka_last_error();
    snprintf(why, why_size, "%s", rd_kafka_err2str(err));
    return err == RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE ? ING_ERR_CONTENT_TOO_LARGE
                                                       : ING_ERR_UNAVAILABLE;
}

size_t gw_producer_lane_outstanding(const gw_producer_lane_t *l)
{
    return l->outstanding;
}
