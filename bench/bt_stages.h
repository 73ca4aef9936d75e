/*
 * bt_stages: the CPU cost of each step a document goes through, on this machine, on the same
 * documents — the inputs of the `model` row. Each stage runs over a sample of documents for at
 * least a minimum CPU time; costs are thread CPU time (CLOCK_THREAD_CPUTIME_ID), so a busy
 * neighbour slows the wall clock but not the figure.
 */
#ifndef BT_STAGES_H
#define BT_STAGES_H

#include <stddef.h>
#include <stdio.h>

#include "bt_docs.h"

typedef enum bt_stage {
    BT_STAGE_JSON_PARSE,    /* jansson json_loadb of the envelope, duplicate keys refused */
    BT_STAGE_BASE64_DECODE, /* ing_base64_decode of the content */
    BT_STAGE_SHA256,        /* the policy's SHA-256 of the decoded content */
    BT_STAGE_ENVELOPE,      /* ing_envelope_parse_json: the gateway's whole check */
    BT_STAGE_RECORD_ENCODE, /* ing_record_encode */
    BT_STAGE_RECORD_DECODE, /* ing_record_decode */
    BT_STAGE_ZSTD,          /* ZSTD_compressCCtx at the worker's level */
    BT_STAGE_AES_GCM,       /* ing_seal of the compressed content, AES-256-GCM */
    BT_STAGE__COUNT
} bt_stage_t;

typedef struct bt_stage_cost {
    double bytes_per_doc;   /* input bytes of the stage, mean */
    double cpu_s_per_doc;   /* CPU seconds per document */
    double cpu_ns_per_byte; /* per input byte */
    unsigned long long runs;
} bt_stage_cost_t;

const char *bt_stage_name(bt_stage_t s);

/**
 * Measures every stage over documents [0, sample) for at least min_cpu_s each.
 * @returns ING_OK, or an error with errstr.
 */
ing_err_t bt_stages_measure(bt_docs_t *docs, size_t sample, int zstd_level, double min_cpu_s,
                            bt_stage_cost_t costs[BT_STAGE__COUNT], char *errstr,
                            size_t errstr_size) ING_MUST_CHECK;

#endif
