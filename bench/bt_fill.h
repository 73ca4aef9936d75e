/*
 * bt_fill: Kafka side of the benchmarks. bt_fill_topic produces documents as the gateway would
 * (record format, key = INS, acks=all, idempotent) into a topic the workers will drain;
 * bt_payload_file writes same-size stand-ins of those records for Kafka's own
 * ProducerPerformance, which reads its payload file as UTF-8 text split on a delimiter.
 */
#ifndef BT_FILL_H
#define BT_FILL_H

#include <stdint.h>
#include <stdio.h>

#include "bt_docs.h"

typedef struct bt_fill_result {
    uint64_t delivered;     /* acknowledged by the broker */
    uint64_t failed;        /* delivery reports with an error */
    uint64_t record_bytes;  /* sum of record values */
    uint64_t content_bytes; /* sum of decoded documents */
    double seconds;         /* first produce to last delivery report */
} bt_fill_result_t;

/**
 * Produces documents [0, count) of docs to topic. Bounded: gives up after timeout_s.
 * @returns ING_OK when every record was acknowledged; otherwise an error with errstr.
 */
ing_err_t bt_fill_topic(bt_docs_t *docs, const char *brokers, const char *topic, uint64_t count,
                        int timeout_s, bt_fill_result_t *res, char *errstr,
                        size_t errstr_size) ING_MUST_CHECK;

/**
 * Writes the records of documents [0, count), newline-separated, each byte outside printable
 * ASCII replaced by '.', so that each line has exactly its record's length once read as
 * UTF-8. Adds their total length to *record_bytes.
 */
ing_err_t bt_payload_file(bt_docs_t *docs, uint64_t count, FILE *out, uint64_t *record_bytes,
                          char *errstr, size_t errstr_size) ING_MUST_CHECK;

/** The stand-in byte of a record byte in a payload file (pure). */
static inline uint8_t bt_payload_byte(uint8_t b)
{
    return b >= 0x20 && b < 0x7f ? b : '.';
}

#endif
