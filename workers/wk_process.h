/*
 * wk_process: what the worker decides about one Kafka record before the database — decode the
 * binary record, check that its submission id is the one its content implies, that its source
 * is the authenticated organisation, and re-run every check of the envelope that needs no
 * database (Kafka data is untrusted). Pure: bytes and a policy in, a verdict out.
 *
 * wk_item_t carries one record through a batch: the verdict here, the compressed and sealed
 * content, then the outcome the store decides.
 */
#ifndef WK_PROCESS_H
#define WK_PROCESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ing_crypto.h"
#include "ing_envelope.h"
#include "ing_policy.h"
#include "ing_record.h"
#include "wk_dlq.h"

typedef enum wk_outcome {
    WK_OUT_PENDING,   /* valid, to be stored */
    WK_OUT_STORED,    /* stored by this delivery */
    WK_OUT_RETRY,     /* stored by an earlier delivery (same submission): same status as then */
    WK_OUT_DUPLICATE, /* same patient, content and type as another document: not stored */
    WK_OUT_REFUSED,   /* the patient objected: not stored, status `refused` */
    WK_OUT_DEAD,      /* permanent failure: dead letter, and status `rejected` when id_known */
} wk_outcome_t;

typedef struct wk_item {
    ing_envelope_t env; /* env.content borrows from the Kafka message */
    ing_record_meta_t meta;
    /* The submission can be attributed: id, organisation, document id and version are sound
     * enough to write a `rejected` row the sender can read. */
    bool id_known;
    wk_outcome_t outcome;
    ing_err_t err;
    wk_stage_t stage;
    char detail[192];  /* printable ASCII only: it goes to the database and to headers */
    size_t zoff, zlen; /* compressed then sealed content in the batch's buffer */
    uint8_t nonce[ING_GCM_NONCE_LEN];
    const char *key_id; /* points into the keyring */
    int32_t dict_id;    /* the zstd dictionary used, 0: none */
    int64_t document_ref;
    uint64_t document_key; /* hash of (finess, document_id), set by the store */
    bool superseded;       /* stored as history (lower version than the current one) */
    bool supersede_others;
    bool space_missing; /* the patient had no space when the facts were read */
    const char *rule;   /* the wk_rules row that decided */
    int32_t partition;
    int64_t offset;
} wk_item_t;

/**
 * Decides about one record. item->outcome is WK_OUT_PENDING, or WK_OUT_DEAD with err, stage
 * and detail set. data must outlive item (the content is borrowed).
 */
void wk_process_record(const ing_policy_t *policy, const void *data, size_t len, wk_item_t *item);

/** Marks item dead (the detail is made printable ASCII). */
void wk_item_fail(wk_item_t *item, ing_err_t err, wk_stage_t stage, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif
