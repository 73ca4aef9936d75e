#include "wk_sqlstate.h"

#include <stdio.h>
#include <string.h>

typedef struct sqlstate_rule {
    const char *prefix; /* a class ("08") or a full code ("40001") */
    ing_err_t err;
    const char *why;
} sqlstate_rule_t;

/* First match wins: full codes before the class they belong to. */
static const sqlstate_rule_t sqlstate_rules[] = {
    {"08", ING_ERR_UNAVAILABLE, "connection exception"},
    {"40001", ING_ERR_UNAVAILABLE, "serialization failure"},
    {"40P01", ING_ERR_UNAVAILABLE, "deadlock detected"},
    {"53", ING_ERR_UNAVAILABLE,
     "insufficient resources (disk full, out of memory, too many "
     "connections)"},
    {"57014", ING_ERR_TIMEOUT, "statement timeout or cancel"},
    {"57P01", ING_ERR_UNAVAILABLE, "admin shutdown"},
    {"57P02", ING_ERR_UNAVAILABLE, "crash shutdown"},
    {"57P03", ING_ERR_UNAVAILABLE, "cannot connect now (starting up)"},
    {"57P05", ING_ERR_UNAVAILABLE, "idle session timeout"},
    {"55P03", ING_ERR_UNAVAILABLE, "lock not available"},
    {"25P03", ING_ERR_UNAVAILABLE, "idle in transaction timeout"},
    {"58", ING_ERR_UNAVAILABLE, "system error (I/O)"},
    {"XX000", ING_ERR_INTERNAL, "internal error"},
    /* Everything else — data exceptions (22), integrity violations (23), syntax and access
     * (42), a read-only database (25006) — is a bug or bad data: permanent. */
};

ing_err_t wk_sqlstate_classify(const char *sqlstate)
{
    if (!sqlstate || !sqlstate[0])
        return ING_ERR_UNAVAILABLE;
    if (strlen(sqlstate) != 5)
        return ING_ERR_INTERNAL;
    for (size_t i = 0; i < sizeof(sqlstate_rules) / sizeof(sqlstate_rules[0]); i++) {
        const sqlstate_rule_t *r = &sqlstate_rules[i];
        if (strncmp(sqlstate, r->prefix, strlen(r->prefix)) == 0)
            return r->err;
    }
    return ING_ERR_INTERNAL;
}

ing_err_t wk_pg_error(PGconn *conn, const PGresult *res, const char *what, char *errstr,
                      size_t errstr_size)
{
    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    const char *msg = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    if (!msg)
        msg = conn ? PQerrorMessage(conn) : "not connected";
    ing_err_t err = wk_sqlstate_classify(state);
    /* A lost connection reports no SQLSTATE, or one from class 08: either way, reconnect. */
    if (conn && PQstatus(conn) != CONNECTION_OK)
        err = ING_ERR_UNAVAILABLE;
    snprintf(errstr, errstr_size, "%s: SQLSTATE %s: %.*s", what, state ? state : "none",
             (int)strcspn(msg, "\n"), msg);
    return err;
}

ing_err_t wk_pg_command(PGconn *conn, const char *sql, int n, const char *const *values,
                        char *errstr, size_t errstr_size)
{
    PGresult *res = PQexecParams(conn, sql, n, NULL, values, NULL, NULL, 0);
    ing_err_t err = ING_OK;
    if (PQresultStatus(res) != PGRES_COMMAND_OK)
        err = wk_pg_error(conn, res, sql, errstr, errstr_size);
    PQclear(res);
    return err;
}
