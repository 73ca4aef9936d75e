/*
 * gw_producer: the Kafka producer of one I/O thread. A librdkafka handle belongs to one
 * thread: each loop creates its own, and its delivery reports come back into that loop's
 * epoll through a pipe that librdkafka writes to when its main queue becomes non-empty
 * (rd_kafka_queue_io_event_enable), so a report is served by the thread that produced.
 *
 * A produced record carries an opaque pointer (the caller's pending request); the delivery
 * callback gets it back exactly once, with ING_OK or the translated error, on the loop's
 * thread, from gw_producer_serve or gw_producer_flush.
 */
#ifndef GW_PRODUCER_H
#define GW_PRODUCER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cfg_settings.h"
#include "ing_error.h"

typedef struct gw_producer gw_producer_t;

/**
 * Called once per produced record.
 * @param err ING_OK (the record is durably in Kafka: acks=all), ING_ERR_UNAVAILABLE or
 *        ING_ERR_TIMEOUT (retriable), ING_ERR_CONTENT_TOO_LARGE (over the broker's limit).
 * @param reason librdkafka's error string, for the log line.
 */
typedef void gw_delivery_fn(void *cb_opaque, void *msg_opaque, ing_err_t err, const char *reason);

typedef struct gw_producer_conf {
    const cfg_passthrough_t *kafka; /* kafka.* settings, override our defaults */
    const char *topic;
    size_t max_record_bytes; /* message.max.bytes default */
    const char *client_id;   /* e.g. "ingest-gateway-1" */
    gw_delivery_fn *on_delivery;
    void *cb_opaque;
} gw_producer_conf_t;

/**
 * Creates a producer; the conf is only read during the call.
 * @returns ING_OK and *out, or ING_ERR_CONFIG / ING_ERR_IO with a reason in errstr.
 */
ing_err_t gw_producer_create(const gw_producer_conf_t *conf, gw_producer_t **out, char *errstr,
                             size_t errstr_size) ING_MUST_CHECK;

/**
 * Waits at most flush_ms for the records in flight, then purges the rest: every delivery
 * callback has run when it returns. @locality the loop's thread, at the end of its run.
 */
void gw_producer_shutdown(gw_producer_t *p, int flush_ms);

/** Destroys the handle; call gw_producer_shutdown first or callbacks are lost. */
void gw_producer_destroy(gw_producer_t *p);

/** The fd to watch for EPOLLIN; then call gw_producer_serve. */
int gw_producer_fd(const gw_producer_t *p);

/** Drains the wake-up pipe and serves queued events (delivery callbacks). Never blocks. */
void gw_producer_serve(gw_producer_t *p);

/**
 * Enqueues one record, never blocking.
 * @param value @owns on ING_OK (librdkafka frees it with free()); still the caller's on error.
 * @returns ING_OK; ING_ERR_UNAVAILABLE when the local queue is full or the producer failed
 *          (answer 503 + Retry-After); ING_ERR_CONTENT_TOO_LARGE for a record over
 *          message.max.bytes. why gets librdkafka's message.
 */
ing_err_t gw_producer_send(gw_producer_t *p, const char *key, size_t key_len, void *value,
                           size_t value_len, void *msg_opaque, char *why,
                           size_t why_size) ING_MUST_CHECK;

/**
 * True while no broker connection is up: after librdkafka reported all brokers down, or a
 * statistics report (every statistics.interval.ms, 1 s by default) showed no broker UP; false
 * again after a successful delivery or a report with a broker UP.
 */
bool gw_producer_brokers_down(const gw_producer_t *p);

/** Whether a librdkafka statistics JSON shows a broker connection UP (pure, for tests). */
bool gw_producer_stats_broker_up(const char *json, size_t len);

/** Records and requests librdkafka still holds (queued, in flight, reports not served). */
int gw_producer_outq_len(gw_producer_t *p);

#endif
