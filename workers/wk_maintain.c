#include "wk_maintain.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "wk_document.h"
#include "wk_sqlstate.h"

#define SQL_MAINTAIN                                                                               \
    "SELECT action, partition_name, row_count, unfinished "                                        \
    "FROM submission_accepted_maintain($1::int, $2::int)"

ing_err_t wk_maintain_run(const char *db_url, int days_ahead, int keep_days, FILE *out,
                          wk_maintain_report_t *report, char *errstr, size_t errstr_size)
{
    memset(report, 0, sizeof(*report));
    PGconn *conn = wk_document_connect(db_url, errstr, errstr_size);
    if (!conn)
        return ING_ERR_UNAVAILABLE;
    char ahead[16], keep[16];
    snprintf(ahead, sizeof(ahead), "%d", days_ahead);
    snprintf(keep, sizeof(keep), "%d", keep_days);
    const char *params[] = {ahead, keep};
    PGresult *res = PQexecParams(conn, SQL_MAINTAIN, 2, NULL, params, NULL, NULL, 0);
    ing_err_t err = ING_OK;
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        err = wk_pg_error(conn, res, "submission_accepted_maintain()", errstr, errstr_size);
        goto out;
    }
    for (int i = 0; i < PQntuples(res); i++) {
        const char *action = PQgetvalue(res, i, 0), *name = PQgetvalue(res, i, 1);
        int64_t rows = strtoll(PQgetvalue(res, i, 2), NULL, 10);
        int64_t unfinished = strtoll(PQgetvalue(res, i, 3), NULL, 10);
        if (strcmp(action, "created") == 0) {
            report->created++;
            fprintf(out, "%s: created\n", name);
        } else if (strcmp(action, "dropped") == 0) {
            report->dropped++;
            fprintf(out, "%s: dropped (%" PRId64 " rows, all final)\n", name, rows);
        } else if (strcmp(action, "trimmed") == 0) {
            report->trimmed += rows;
            report->unfinished += unfinished;
            fprintf(out,
                    "%s: %" PRId64 " old rows deleted, %" PRId64 " without a final status kept\n",
                    name, rows, unfinished);
        } else {
            /* kept, or a day left to the DEFAULT partition: the function says which. */
            report->kept += PQgetisnull(res, i, 3) ? 0 : 1;
            report->unfinished += unfinished;
            if (PQgetisnull(res, i, 3))
                fprintf(out, "%s: %s\n", name, action);
            else
                fprintf(out, "%s: %s (%" PRId64 " of %" PRId64 " rows)\n", name, action, unfinished,
                        rows);
        }
    }
out:
    PQclear(res);
    PQfinish(conn);
    return err;
}
