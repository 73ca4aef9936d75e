/*
 * wk_store: PostgreSQL storage of one poll batch in one transaction. One store (one PGconn)
 * per worker thread.
 *
 * wk_store_batch opens the transaction and writes everything: patient spaces, documents (a
 * redelivered record finds its row by (source_finess, document_id, version) and stores nothing
 * twice), the status rules of wk_rules (opposition, version conflicts, duplicates, version
 * history), and every submission's final status (never overwriting a final one). It leaves the
 * transaction open so that the caller can first make the batch's dead letters durable, then
 * wk_store_commit — or wk_store_rollback.
 *
 * Errors are translated with wk_sqlstate: retriable codes mean "roll back, back off, redeliver
 * the batch"; ING_ERR_INTERNAL means a row the database refuses (the caller isolates it).
 */
#ifndef WK_STORE_H
#define WK_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ing_error.h"
#include "wk_process.h"

typedef struct wk_store wk_store_t;

/**
 * Connects and prepares the statements. Refuses (ING_ERR_CONFIG) a server with fsync or
 * synchronous_commit off unless allow_unsafe.
 * @returns ING_OK and *out (caller destroys) — also when the first connection failed with a
 *          retriable error: wk_store_connected() is then false and wk_store_reconnect retries.
 */
ing_err_t wk_store_create(const char *url, bool allow_unsafe, wk_store_t **out, char *errstr,
                          size_t errstr_size) ING_MUST_CHECK;

void wk_store_destroy(wk_store_t *st);

/**
 * Connects once, runs the same safety checks as wk_store_create, disconnects. Logs nothing.
 * @returns ING_OK; ING_ERR_UNAVAILABLE (retry later) or ING_ERR_CONFIG (unsafe server) with
 *          the reason in errstr.
 */
ing_err_t wk_store_check(const char *url, bool allow_unsafe, char *errstr,
                         size_t errstr_size) ING_MUST_CHECK;

/** The thread's connection, for reads outside a batch (wk_dict), or NULL when not connected.
 * Never use it while a batch's transaction is open. */
struct pg_conn *wk_store_pgconn(wk_store_t *st);

bool wk_store_connected(const wk_store_t *st);

/** Drops the connection and connects again (with the same safety check). */
ing_err_t wk_store_reconnect(wk_store_t *st, char *errstr, size_t errstr_size) ING_MUST_CHECK;

/**
 * Writes the batch inside a new transaction (left open on ING_OK). Items WK_OUT_PENDING are
 * decided by wk_rules from the database's facts plus the batch's earlier items, and become
 * WK_OUT_STORED, WK_OUT_RETRY, WK_OUT_DUPLICATE, WK_OUT_REFUSED or WK_OUT_DEAD
 * (version_conflict); zbase holds their compressed content at zoff/zlen. Every attributable
 * submission gets its final status (WK_OUT_DEAD without id_known gets none): a stored document
 * is its own, the others get a `submission` row, and each one decided here is notified on
 * `submission_final` at COMMIT.
 * On error the transaction is rolled back.
 */
ing_err_t wk_store_batch(wk_store_t *st, wk_item_t *items, size_t n, const uint8_t *zbase,
                         char *errstr, size_t errstr_size) ING_MUST_CHECK;

ing_err_t wk_store_commit(wk_store_t *st, char *errstr, size_t errstr_size) ING_MUST_CHECK;

void wk_store_rollback(wk_store_t *st);

#endif
