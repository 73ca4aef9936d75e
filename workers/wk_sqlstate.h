/*
 * wk_sqlstate: where PostgreSQL's errors enter the workers' code. A failed statement is either
 * transient — the same batch may succeed later once the database is back (connection lost,
 * serialization failure, deadlock, admin shutdown, out of resources, timeouts) — and the batch
 * is rolled back and redelivered, or permanent, and retrying it can never help. The verdict is
 * a table from SQLSTATE (class or full code); wk_pg_error and wk_pg_command apply it to a
 * statement's result, so every caller reports failures the same way.
 */
#ifndef WK_SQLSTATE_H
#define WK_SQLSTATE_H

#include <libpq-fe.h>
#include <stddef.h>

#include "ing_error.h"

/**
 * Classifies a SQLSTATE. NULL or "" (no error field: the connection broke before the server
 * answered) is transient.
 * @returns ING_ERR_UNAVAILABLE or ING_ERR_TIMEOUT (retriable) or ING_ERR_INTERNAL (permanent).
 */
ing_err_t wk_sqlstate_classify(const char *sqlstate);

/**
 * Translates the failure of a statement (res), or of the connection when res is NULL: the
 * verdict of wk_sqlstate_classify, transient whenever the connection is no longer usable, and
 * one line "what: SQLSTATE xxxxx: message" in errstr. conn may be NULL (never connected).
 */
ing_err_t wk_pg_error(PGconn *conn, const PGresult *res, const char *what, char *errstr,
                      size_t errstr_size);

/**
 * Runs one statement that returns no rows (BEGIN, an INSERT, COMMIT...) with n text
 * parameters; a failure is reported as by wk_pg_error, the statement's text as `what`.
 */
ing_err_t wk_pg_command(PGconn *conn, const char *sql, int n, const char *const *values,
                        char *errstr, size_t errstr_size);

#endif
