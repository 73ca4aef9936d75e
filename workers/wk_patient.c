#include "wk_patient.h"

#include <stdio.h>
#include <string.h>

#include <libpq-fe.h>

#include "ing_ids.h"
#include "wk_sqlstate.h"

#define SQL_OPPOSE                                                                                 \
    "INSERT INTO patient_space (ins, opposed, opposed_changed_at) VALUES ($1, $2, now()) "         \
    "ON CONFLICT (ins) DO UPDATE SET opposed = EXCLUDED.opposed, opposed_changed_at = now()"

#define SQL_AUDIT "INSERT INTO audit (actor, action, ins) VALUES ($1, $2, $3)"

static ing_err_t exec(PGconn *conn, const char *sql, int n, const char *const *values, char *errstr,
                      size_t errstr_size)
{
    PGresult *res = PQexecParams(conn, sql, n, NULL, values, NULL, NULL, 0);
    ing_err_t err = ING_OK;
    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
        const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
        const char *msg = PQerrorMessage(conn);
        err = wk_sqlstate_classify(state);
        snprintf(errstr, errstr_size, "SQLSTATE %s: %.*s", state ? state : "none",
                 (int)strcspn(msg, "\n"), msg);
    }
    PQclear(res);
    return err;
}

ing_err_t wk_patient_set_opposed(const char *db_url, const char *ins, bool opposed,
                                 const char *actor, char *errstr, size_t errstr_size)
{
    if (ing_ins_check(ins, strlen(ins)) != ING_OK) {
        snprintf(errstr, errstr_size, "\"%.32s\" is not a valid INS (15 characters, key mod 97)",
                 ins);
        return ING_ERR_INS_INVALID;
    }
    const char *keys[] = {"connect_timeout", "application_name", "dbname", NULL};
    const char *vals[] = {"10", "ingestctl", db_url, NULL};
    PGconn *conn = PQconnectdbParams(keys, vals, 1);
    ing_err_t err = ING_OK;
    if (PQstatus(conn) != CONNECTION_OK) {
        const char *msg = PQerrorMessage(conn);
        snprintf(errstr, errstr_size, "cannot connect to PostgreSQL: %.*s", (int)strcspn(msg, "\n"),
                 msg);
        err = ING_ERR_UNAVAILABLE;
        goto out;
    }
    const char *flag = opposed ? "t" : "f";
    const char *oppose[] = {ins, flag};
    const char *audit[] = {actor, opposed ? "patient_oppose" : "patient_unoppose", ins};
    err = exec(conn, "BEGIN", 0, NULL, errstr, errstr_size);
    if (!err)
        err = exec(conn, SQL_OPPOSE, 2, oppose, errstr, errstr_size);
    if (!err)
        err = exec(conn, SQL_AUDIT, 3, audit, errstr, errstr_size);
    if (!err)
        err = exec(conn, "COMMIT", 0, NULL, errstr, errstr_size);
out:
    PQfinish(conn);
    return err;
}
