/*
 * wk_worker: one consumer thread — the loop "poll a batch, decide, store in one transaction,
 * dead-letter what can never be stored, commit the database, then the offsets". Each thread
 * owns its Kafka consumer, dead-letter producer, PostgreSQL connection, zstd context and
 * dictionaries, sealer and batch memory; threads share only the read-only settings, policy and
 * keyring, and a stop flag. Each document is compressed (with the newest dictionary of its
 * type code, if any) and then sealed (AES-256-GCM, ing_document_aad) before it is stored.
 *
 * Guarantees: an offset is stored (and then committed) only after the records below it are
 * committed in PostgreSQL or durably dead-lettered; a transient failure (database or broker
 * unavailable) rolls the batch back, pauses the assignment, backs off with jitter and
 * redelivers the batch by seeking back; a permanent failure of one record never blocks the
 * others (the batch is retried record by record to isolate it).
 */
#ifndef WK_WORKER_H
#define WK_WORKER_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "cfg_settings.h"
#include "ing_crypto.h"
#include "ing_policy.h"
#include "wk_metrics.h"
#include "wk_settings.h"

/** What a thread gets. All borrowed, read-only, outliving the thread; stop is main's. */
typedef struct wk_worker_conf {
    const wk_settings_t *settings;
    const cfg_passthrough_t *kafka;
    const ing_policy_t *policy;
    const ing_keyring_t *keyring; /* documents are sealed with its active key */
    int index;                    /* thread number, for names and logs */
    const atomic_bool *stop;      /* set by main on SIGTERM/SIGINT */
    wk_live_t *live;              /* main's; this thread alone writes it (wk_metrics) */
} wk_worker_conf_t;

/**
 * The thread body: runs until *stop, then finishes the batch in hand, commits, and closes
 * the consumer. @locality its own thread.
 * @returns ING_OK after a clean stop, or the fatal error (configuration, unsafe database)
 *          already logged; totals receives the thread's counters either way.
 */
ing_err_t wk_worker_run(const wk_worker_conf_t *conf, wk_stats_t *totals);

#endif
