/*
 * wk_rules: the status rules of shared/DOMAIN.md ("What happens to a document") for a valid
 * document, as a table-driven pure function. The store gathers the facts (from the database,
 * plus the earlier records of the same batch, which the database cannot see yet), asks for a
 * decision, and carries it out. No I/O, so every row of the table is a unit test.
 */
#ifndef WK_RULES_H
#define WK_RULES_H

#include <stdbool.h>
#include <stdint.h>

#include "ing_error.h"

typedef enum wk_same_key {
    WK_KEY_NEW,       /* no document with this (source, document_id, version) */
    WK_KEY_SAME_SHA,  /* one, with the same content: a retry or a redelivery */
    WK_KEY_OTHER_SHA, /* one, with other content */
} wk_same_key_t;

/** What is known about a valid document before deciding. */
typedef struct wk_facts {
    bool decided;             /* this submission already has a final status (a resubmission) */
    bool opposed;             /* the patient objected */
    wk_same_key_t same_key;   /* (source, document_id, version) already stored? */
    int64_t same_key_ref;     /* that document's id, when not NEW */
    int64_t duplicate_of;     /* a document of the same patient, sha256 and type_code under
                                 another document_id; 0 when none */
    uint32_t current_version; /* highest stored version of (source, document_id); 0: none */
    uint32_t version;         /* this document's */
} wk_facts_t;

typedef enum wk_status {
    WK_STATUS_NONE, /* leave the submission as it is (a retry: same status as the first) */
    WK_STATUS_STORED,
    WK_STATUS_DUPLICATE,
    WK_STATUS_REJECTED,
    WK_STATUS_REFUSED,
} wk_status_t;

typedef struct wk_decision {
    const char *rule; /* the table row that decided, for logs and tests */
    wk_status_t status;
    ing_err_t code;        /* ING_OK, or the contract code of a rejection/refusal */
    bool store;            /* insert the document */
    bool supersede_others; /* mark the other versions of (source, document_id) superseded */
    bool superseded;       /* store it as history (a version lower than the current one) */
    bool dead_letter;      /* produce to the dead-letter topic */
    int64_t document_ref;  /* the submission's document: existing one for retries/duplicates */
} wk_decision_t;

/** Decides. Pure; the first matching row of the rules table wins. */
wk_decision_t wk_rules_decide(const wk_facts_t *facts);

const char *wk_status_name(wk_status_t status);

#endif
