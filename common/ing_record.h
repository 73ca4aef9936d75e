/*
 * ing_record: the Kafka record of one accepted document — a compact, versioned binary format
 * (metadata plus the raw document bytes, no base64, no JSON), written by the gateway and read
 * by the workers. The record key is the patient's INS, so one patient's documents stay in one
 * partition and in order.
 *
 * Format version 1, integers big-endian:
 *   off  size  field
 *   0    2     magic "DR"
 *   2    1     format version (1)
 *   3    1     flags (bit 0: hidden_from_patient)
 *   4    1     confidentiality ('N', 'R', 'V')
 *   5    1     reserved (0)
 *   6    4     document version
 *   10   8     received_at, microseconds since the epoch (gateway clock)
 *   18   32    SHA-256 of the content
 *   50   ...   12 strings, each u16 length + bytes (no NUL): submission_id, org_finess,
 *              document_id, ins, oid, finess, rpps, type_code, media_type, format_code, title,
 *              created_at
 *   ...  4     content length, then the content bytes; nothing may follow.
 * A reader refuses an unknown magic or version, and any length that overruns (ING_ERR_RECORD).
 */
#ifndef ING_RECORD_H
#define ING_RECORD_H

#include <stddef.h>
#include <stdint.h>

#include "ing_buf.h"
#include "ing_envelope.h"

#define ING_RECORD_FORMAT_VERSION 1

/** What the gateway adds to the envelope. */
typedef struct ing_record_meta {
    char submission_id[ING_SUBMISSION_ID_LEN + 1];
    char org_finess[ING_FINESS_LEN + 1]; /* the authenticated organisation */
    int64_t received_at_us;
} ing_record_meta_t;

/** Appends the record for env to out (reset it first for a record of its own). */
ing_err_t ing_record_encode(const ing_envelope_t *env, const ing_record_meta_t *meta,
                            ing_buf_t *out) ING_MUST_CHECK;

/**
 * Decodes a record. env->content borrows from data (valid while data is), strings are copied
 * into env's bounded fields. Checks framing only: run ing_envelope_validate for the rest.
 * @returns ING_OK or ING_ERR_RECORD.
 */
ing_err_t ing_record_decode(const void *data, size_t len, ing_envelope_t *env,
                            ing_record_meta_t *meta) ING_MUST_CHECK;

#endif
