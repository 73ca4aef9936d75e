/*
 * wk_dlqtail: `ingestctl dlq tail TOPIC N` — the last N records of a dead-letter topic, one
 * line each: partition, offset, timestamp and every header (ing-reason, ing-detail, ...). The
 * value (the document) and the key (the patient's INS) are never printed, only their sizes.
 * Reads by assignment from each partition's end minus N: no consumer group offsets are
 * committed, nothing is changed on the broker.
 */
#ifndef WK_DLQTAIL_H
#define WK_DLQTAIL_H

#include <stdio.h>

#include "cfg_settings.h"
#include "ing_error.h"

ing_err_t wk_dlq_tail(const cfg_passthrough_t *kafka, const char *topic, int n, int timeout_ms,
                      FILE *out, char *errstr, size_t errstr_size) ING_MUST_CHECK;

#endif
