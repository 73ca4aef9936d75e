/*
 * gw_producer: the gateway's one Kafka producer, shared by its I/O threads, and each thread's
 * lane into it.
 *
 * One librdkafka handle for the process, not one per thread: librdkafka 2.0 sends one
 * partition's records per ProduceRequest (confluentinc/librdkafka#1700), so every extra handle
 * splits each partition's batches, and the broker's cost per document grows with the number
 * of requests (bench/README.md, "Why one producer"). rd_kafka_produce is thread-safe; what
 * must not cross threads is our own state touched by a delivery report.
 *
 * So each I/O thread has a lane. A record is produced through its thread's lane and carries a
 * gw_producer_msg_t naming that lane. The delivery reports of all lanes arrive on librdkafka's
 * one main queue, which signals a pipe (gw_producer_fd) that every loop watches with
 * EPOLLEXCLUSIVE: whichever thread is woken takes the reports out, calls back at once for its
 * own records and hands the others to their lane's inbox, a locked vector whose eventfd
 * (gw_producer_lane_fd) wakes the owning thread. Every callback therefore runs exactly once,
 * on the thread that produced the record.
 */
#ifndef GW_PRODUCER_H
#define GW_PRODUCER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cfg_settings.h"
#include "ing_error.h"

typedef struct gw_producer gw_producer_t;
typedef struct gw_producer_lane gw_producer_lane_t;

/**
 * Embedded in the caller's per-record state; the delivery callback gets it back. Its fields
 * are gw_producer's: the report travels to its lane's inbox in it, so handing a report to
 * another thread allocates nothing and cannot fail.
 */
typedef struct gw_producer_msg {
    gw_producer_lane_t *lane;     /* the producing lane, set by gw_producer_send */
    struct gw_producer_msg *next; /* in the lane's inbox */
    int kafka_err;                /* the report's rd_kafka_resp_err_t, while in the inbox */
} gw_producer_msg_t;

/**
 * Called once per produced record, on the thread of the lane that produced it.
 * @param err ING_OK (the record is durably in Kafka: acks=all), ING_ERR_UNAVAILABLE or
 *        ING_ERR_TIMEOUT (retriable), ING_ERR_CONTENT_TOO_LARGE (over the broker's limit).
 * @param reason librdkafka's error string, for the log line.
 */
typedef void gw_delivery_fn(void *cb_opaque, gw_producer_msg_t *msg, ing_err_t err,
                            const char *reason);

typedef struct gw_producer_conf {
    const cfg_passthrough_t *kafka; /* kafka.* settings, override our defaults */
    const char *topic;
    size_t max_record_bytes; /* message.max.bytes default */
    const char *client_id;   /* e.g. "ingest-gateway" */
    int lanes;               /* the I/O threads: the local queue's default size scales with it */
} gw_producer_conf_t;

/**
 * Creates the producer; the conf is only read during the call.
 * @returns ING_OK and *out, or ING_ERR_CONFIG / ING_ERR_IO with a reason in errstr.
 */
ing_err_t gw_producer_create(const gw_producer_conf_t *conf, gw_producer_t **out, char *errstr,
                             size_t errstr_size) ING_MUST_CHECK;

/**
 * Purges what is still queued or in flight and waits at most wait_ms for librdkafka to report
 * it, handing every report to its lane's inbox (gw_producer_lane_destroy then calls back).
 * @locality after every lane's thread ended (gw_producer_lane_finish), before the lanes are
 * destroyed.
 */
void gw_producer_shutdown(gw_producer_t *p, int wait_ms);

/** Destroys the handle, after gw_producer_shutdown and every lane's destruction. */
void gw_producer_destroy(gw_producer_t *p);

/** The delivery queue's fd: watch it for EPOLLIN with EPOLLEXCLUSIVE, then gw_producer_serve. */
int gw_producer_fd(const gw_producer_t *p);

/**
 * True while no broker connection is up: after librdkafka reported all brokers down, or a
 * statistics report (every statistics.interval.ms, 1 s by default) showed no broker UP; false
 * again after a successful delivery or a report with a broker UP. @locality any thread.
 */
bool gw_producer_brokers_down(const gw_producer_t *p);

/** Whether a librdkafka statistics JSON shows a broker connection UP (pure, for tests). */
bool gw_producer_stats_broker_up(const char *json, size_t len);

/**
 * Creates a thread's lane. on_delivery gets cb_opaque and each record's gw_producer_msg_t.
 * @returns ING_OK, ING_ERR_NOMEM or ING_ERR_IO (eventfd) with a reason in errstr.
 */
ing_err_t gw_producer_lane_create(gw_producer_t *p, gw_delivery_fn *on_delivery, void *cb_opaque,
                                  gw_producer_lane_t **out, char *errstr,
                                  size_t errstr_size) ING_MUST_CHECK;

/**
 * Calls back for the reports left in the inbox, then frees the lane. @locality the lane's
 * thread, or any one thread once that thread ended (after gw_producer_shutdown).
 */
void gw_producer_lane_destroy(gw_producer_lane_t *l);

/** The inbox's eventfd: watch it for EPOLLIN, then gw_producer_serve. */
int gw_producer_lane_fd(const gw_producer_lane_t *l);

/**
 * Serves what is ready, never blocking: drains woken_fd (gw_producer_fd or gw_producer_lane_fd,
 * or -1 for a periodic call), takes the delivery reports out of the shared queue (calling back
 * for this lane's, handing on the others) and calls back for the reports in this lane's inbox.
 * @locality the lane's thread.
 */
void gw_producer_serve(gw_producer_lane_t *l, int woken_fd);

/**
 * Serves (blocking at most 10 ms at a time) until this lane's records are all reported or
 * wait_ms passed. @locality the lane's thread, at the end of its run.
 */
void gw_producer_lane_finish(gw_producer_lane_t *l, int wait_ms);

/**
 * Enqueues one record, never blocking.
 * @param value @owns on ING_OK (librdkafka frees it with free()); still the caller's on error.
 * @param msg the caller's, until its delivery callback.
 * @returns ING_OK; ING_ERR_UNAVAILABLE when the local queue is full or the producer failed
 *          (answer 503 + Retry-After); ING_ERR_CONTENT_TOO_LARGE for a record over
 *          message.max.bytes. why gets librdkafka's message. @locality the lane's thread.
 */
ing_err_t gw_producer_send(gw_producer_lane_t *l, const char *key, size_t key_len, void *value,
                           size_t value_len, gw_producer_msg_t *msg, char *why,
                           size_t why_size) ING_MUST_CHECK;

/** Records this lane produced whose callback has not run yet. @locality the lane's thread. */
size_t gw_producer_lane_outstanding(const gw_producer_lane_t *l);

#endif
