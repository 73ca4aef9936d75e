#include "wk_patient.h"

#include <string.h>

#include <libpq-fe.h>

#include "ing_ids.h"
#include "wk_document.h"
#include "wk_sqlstate.h"

#define SQL_OPPOSE                                                                                 \
    "INSERT INTO patient_space (ins, opposed, opposed_changed_at) VALUES ($1, $2, now()) "         \
    "ON CONFLICT (ins) DO UPDATE SET opposed = EXCLUDED.opposed, opposed_changed_at = now()"

#define SQL_AUDIT "INSERT INTO audit (actor, action, ins) VALUES ($1, $2, $3)"

#define SQL_SPACE                                                                                  \
    "SELECT created_at, opposed, COALESCE(opposed_changed_at::text, '') FROM patient_space "       \
    "WHERE ins = $1"

/* Through document_by_content, whose leading column is ins (migration 010). */
#define SQL_DOCUMENTS                                                                              \
    "SELECT id, stored_at, source_finess, document_id, version, type_code, "                       \
    "CASE WHEN superseded THEN 'superseded' ELSE 'current' END, submission_id "                    \
    "FROM document WHERE ins = $1 ORDER BY stored_at DESC, id DESC"
#define DOCUMENT_COLUMNS 8

/* Checks the INS before anything touches the database, then connects. */
static ing_err_t connect_for(const char *db_url, const char *ins, PGconn **conn, char *errstr,
                             size_t errstr_size)
{
    if (ing_ins_check(ins, strlen(ins)) != ING_OK) {
        snprintf(errstr, errstr_size, "\"%.32s\" is not a valid INS (15 characters, key mod 97)",
                 ins);
        return ING_ERR_INS_INVALID;
    }
    *conn = wk_document_connect(db_url, errstr, errstr_size);
    return *conn ? ING_OK : ING_ERR_UNAVAILABLE;
}

ing_err_t wk_patient_set_opposed(const char *db_url, const char *ins, bool opposed,
                                 const char *actor, char *errstr, size_t errstr_size)
{
    PGconn *conn = NULL;
    ing_err_t err = connect_for(db_url, ins, &conn, errstr, errstr_size);
    if (err)
        return err;
    const char *flag = opposed ? "t" : "f";
    const char *oppose[] = {ins, flag};
    const char *audit[] = {actor, opposed ? "patient_oppose" : "patient_unoppose", ins};
    err = wk_pg_command(conn, "BEGIN", 0, NULL, errstr, errstr_size);
    if (!err)
        err = wk_pg_command(conn, SQL_OPPOSE, 2, oppose, errstr, errstr_size);
    if (!err)
        err = wk_pg_command(conn, SQL_AUDIT, 3, audit, errstr, errstr_size);
    if (!err)
        err = wk_pg_command(conn, "COMMIT", 0, NULL, errstr, errstr_size);
    PQfinish(conn);
    return err;
}

static PGresult *query(PGconn *conn, const char *sql, const char *ins, const char *what,
                       ing_err_t *err, char *errstr, size_t errstr_size)
{
    const char *values[] = {ins};
    PGresult *res = PQexecParams(conn, sql, 1, NULL, values, NULL, NULL, 0);
    if (PQresultStatus(res) == PGRES_TUPLES_OK)
        return res;
    *err = wk_pg_error(conn, res, what, errstr, errstr_size);
    PQclear(res);
    return NULL;
}

ing_err_t wk_patient_show(const char *db_url, const char *ins, const char *actor, FILE *out,
                          char *errstr, size_t errstr_size)
{
    PGconn *conn = NULL;
    ing_err_t err = connect_for(db_url, ins, &conn, errstr, errstr_size);
    if (err)
        return err;
    PGresult *space = NULL, *docs = NULL;
    /* The audit row is committed before anything is read: a failed read is still audited. */
    const char *audit[] = {actor, "patient_show", ins};
    err = wk_pg_command(conn, SQL_AUDIT, 3, audit, errstr, errstr_size);
    /* One snapshot for both reads: the count matches the lines. */
    if (!err)
        err = wk_pg_command(conn, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", 0, NULL,
                            errstr, errstr_size);
    if (!err)
        space = query(conn, SQL_SPACE, ins, "read patient space", &err, errstr, errstr_size);
    if (!err)
        docs = query(conn, SQL_DOCUMENTS, ins, "read documents", &err, errstr, errstr_size);
    if (!err)
        err = wk_pg_command(conn, "COMMIT", 0, NULL, errstr, errstr_size);
    if (err)
        goto out;
    /* The INS is the patient's identifier: printed back to the operator who typed it. */
    fprintf(out, "patient: %s\n", ins);
    if (PQntuples(space) == 0) {
        fprintf(out, "space: none (no document stored, never opposed)\n");
    } else {
        bool opposed = PQgetvalue(space, 0, 1)[0] == 't';
        const char *changed = PQgetvalue(space, 0, 2);
        fprintf(out, "space: since %s\n", PQgetvalue(space, 0, 0));
        fprintf(out, "opposed: %s%s%s\n", opposed ? "yes" : "no", changed[0] ? ", changed " : "",
                changed);
    }
    int n = PQntuples(docs), current = 0;
    for (int i = 0; i < n; i++)
        current += strcmp(PQgetvalue(docs, i, 6), "current") == 0;
    fprintf(out, "documents: %d (%d current)\n", n, current);
    if (n > 0)
        fprintf(out, "id\tstored_at\tsource_finess\tdocument_id\tversion\ttype_code\tstate\t"
                     "submission_id\n");
    for (int i = 0; i < n; i++)
        for (int c = 0; c < DOCUMENT_COLUMNS; c++)
            fprintf(out, "%s%c", PQgetvalue(docs, i, c), c + 1 < DOCUMENT_COLUMNS ? '\t' : '\n');
out:
    PQclear(space);
    PQclear(docs);
    PQfinish(conn);
    return err;
}
