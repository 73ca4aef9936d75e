#include "wk_store.h"

#include <arpa/inet.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "ing_log.h"
#include "wk_sqlstate.h"

/*
 * Round trips: the batch is written with libpq's pipeline mode — all statements of a phase are
 * sent, then one Sync, then the results are read — so a batch of 500 documents costs three
 * round trips (insert, look up the conflicting rows if any, statuses) plus COMMIT, not 1,500.
 * Results are a few bytes per statement, so the server never blocks on its output while we
 * are still sending (the deadlock pipeline mode can have with large results).
 */

#define SQL_PATIENT "INSERT INTO patient_space (ins) VALUES ($1) ON CONFLICT DO NOTHING"

#define SQL_DOCUMENT                                                                               \
    "INSERT INTO document (ins, source_finess, document_id, version, submission_id, type_code, "   \
    "media_type, format_code, title, author_rpps, created_at, confidentiality, "                   \
    "hidden_from_patient, sha256, size_bytes, compression, content, received_at, "                 \
    "kafka_partition, kafka_offset) "                                                              \
    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, 'zstd', $16, "      \
    "to_timestamp($17::bigint / 1000000.0), $18, $19) "                                            \
    "ON CONFLICT (source_finess, document_id, version) DO NOTHING RETURNING id"

#define SQL_LOOKUP                                                                                 \
    "SELECT id, sha256 FROM document WHERE source_finess = $1 AND document_id = $2 AND "           \
    "version = $3"

/* The gateway may or may not have written 'accepted' first; a final status is never
 * overwritten. */
#define SQL_SUBMISSION                                                                             \
    "INSERT INTO submission (submission_id, org_finess, document_id, version, status, code, "      \
    "detail, document_ref, received_at) "                                                          \
    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, to_timestamp($9::bigint / 1000000.0)) "               \
    "ON CONFLICT (submission_id) DO UPDATE SET status = EXCLUDED.status, code = EXCLUDED.code, "   \
    "detail = EXCLUDED.detail, document_ref = EXCLUDED.document_ref, updated_at = now() "          \
    "WHERE submission.status = 'accepted'"

static const struct {
    const char *name;
    const char *sql;
} statements[] = {
    {"wk_patient", SQL_PATIENT},
    {"wk_document", SQL_DOCUMENT},
    {"wk_lookup", SQL_LOOKUP},
    {"wk_submission", SQL_SUBMISSION},
};

struct wk_store {
    char *url; /* @owns */
    bool allow_unsafe;
    PGconn *conn; /* NULL when not connected */
    bool in_tx;
};

bool wk_store_connected(const wk_store_t *st)
{
    return st->conn && PQstatus(st->conn) == CONNECTION_OK;
}

/* Translates the error of a result (or of the connection when res is NULL). */
static ing_err_t pg_error(wk_store_t *st, const PGresult *res, const char *what, char *errstr,
                          size_t errstr_size)
{
    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    const char *msg = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    if (!msg)
        msg = st->conn ? PQerrorMessage(st->conn) : "not connected";
    ing_err_t err = wk_sqlstate_classify(state);
    /* A lost connection reports no SQLSTATE, or one from class 08: either way, reconnect. */
    if (st->conn && PQstatus(st->conn) != CONNECTION_OK)
        err = ING_ERR_UNAVAILABLE;
    snprintf(errstr, errstr_size, "%s: SQLSTATE %s: %.*s", what, state ? state : "none",
             (int)strcspn(msg, "\n"), msg);
    return err;
}

static ing_err_t exec_simple(wk_store_t *st, const char *sql, char *errstr, size_t errstr_size)
{
    PGresult *res = PQexec(st->conn, sql);
    ing_err_t err = ING_OK;
    ExecStatusType s = PQresultStatus(res);
    if (s != PGRES_COMMAND_OK && s != PGRES_TUPLES_OK)
        err = pg_error(st, res, sql, errstr, errstr_size);
    PQclear(res);
    return err;
}

static ing_err_t check_durable(wk_store_t *st, char *errstr, size_t errstr_size)
{
    static const struct {
        const char *sql, *setting, *unsafe;
    } checks[] = {
        {"SHOW fsync", "fsync", "off"},
        {"SHOW synchronous_commit", "synchronous_commit", "off"},
    };
    for (size_t i = 0; i < sizeof(checks) / sizeof(checks[0]); i++) {
        PGresult *res = PQexec(st->conn, checks[i].sql);
        if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
            ing_err_t err = pg_error(st, res, checks[i].sql, errstr, errstr_size);
            PQclear(res);
            return err;
        }
        bool unsafe = strcmp(PQgetvalue(res, 0, 0), checks[i].unsafe) == 0;
        PQclear(res);
        if (!unsafe)
            continue;
        if (!st->allow_unsafe) {
            snprintf(errstr, errstr_size,
                     "PostgreSQL has %s = off: a committed document could be lost in a crash "
                     "after its Kafka offset is committed; refusing to run (set "
                     "worker.allow_unsafe_db = true for throwaway databases only)",
                     checks[i].setting);
            return ING_ERR_CONFIG;
        }
        ing_log(ING_LOG_WARN, "store",
                "PostgreSQL has %s = off; running anyway "
                "(worker.allow_unsafe_db = true): documents may be lost",
                checks[i].setting);
    }
    return ING_OK;
}

static void disconnect(wk_store_t *st)
{
    if (st->conn)
        PQfinish(st->conn);
    st->conn = NULL;
    st->in_tx = false;
}

static ing_err_t connect_db(wk_store_t *st, char *errstr, size_t errstr_size)
{
    disconnect(st);
    /* Our defaults first: the URL (expanded from dbname) overrides them. Keepalives and
     * tcp_user_timeout turn a silently dead server into an error instead of a hang. */
    const char *keys[] = {"connect_timeout",  "keepalives_idle",  "keepalives_interval",
                          "keepalives_count", "tcp_user_timeout", "application_name",
                          "options",          "dbname",           NULL};
    const char *values[] = {
        "10",    "10", "5", "3", "30000", "ingest-worker", "-c statement_timeout=60000",
        st->url, NULL};
    st->conn = PQconnectdbParams(keys, values, 1);
    if (!st->conn)
        return ING_ERR_NOMEM;
    if (PQstatus(st->conn) != CONNECTION_OK) {
        const char *msg = PQerrorMessage(st->conn);
        snprintf(errstr, errstr_size, "cannot connect to PostgreSQL: %.*s", (int)strcspn(msg, "\n"),
                 msg);
        disconnect(st);
        return ING_ERR_UNAVAILABLE;
    }
    ing_err_t err = check_durable(st, errstr, errstr_size);
    for (size_t i = 0; !err && i < sizeof(statements) / sizeof(statements[0]); i++) {
        PGresult *res = PQprepare(st->conn, statements[i].name, statements[i].sql, 0, NULL);
        if (PQresultStatus(res) != PGRES_COMMAND_OK)
            err = pg_error(st, res, statements[i].name, errstr, errstr_size);
        PQclear(res);
    }
    if (err)
        disconnect(st);
    return err;
}

ing_err_t wk_store_create(const char *url, bool allow_unsafe, wk_store_t **out, char *errstr,
                          size_t errstr_size)
{
    wk_store_t *st = calloc(1, sizeof(*st));
    if (!st)
        return ING_ERR_NOMEM;
    st->url = strdup(url);
    st->allow_unsafe = allow_unsafe;
    if (!st->url) {
        free(st);
        return ING_ERR_NOMEM;
    }
    ing_err_t err = connect_db(st, errstr, errstr_size);
    if (err && !ing_err_is_retriable(err)) {
        wk_store_destroy(st);
        return err;
    }
    if (err)
        ing_log(ING_LOG_WARN, "store", "%s; will retry", errstr);
    *out = st;
    return ING_OK;
}

void wk_store_destroy(wk_store_t *st)
{
    if (!st)
        return;
    disconnect(st);
    free(st->url);
    free(st);
}

ing_err_t wk_store_reconnect(wk_store_t *st, char *errstr, size_t errstr_size)
{
    return connect_db(st, errstr, errstr_size);
}

/* --- pipeline ---------------------------------------------------------------------------- */

/* Parameters of one statement: text values, binary where lengths are given. */
#define MAX_PARAMS 20

typedef struct params {
    int n;
    const char *values[MAX_PARAMS];
    int lengths[MAX_PARAMS];
    int formats[MAX_PARAMS];
    char scratch[8][24]; /* numbers printed as text */
    int nscratch;
} params_t;

static void p_text(params_t *p, const char *v)
{
    p->values[p->n] = v;
    p->lengths[p->n] = 0;
    p->formats[p->n] = 0;
    p->n++;
}

/* "" becomes NULL: optional fields. */
static void p_opt(params_t *p, const char *v)
{
    p_text(p, v[0] ? v : NULL);
}

static void p_int(params_t *p, long long v)
{
    char *s = p->scratch[p->nscratch++];
    snprintf(s, sizeof(p->scratch[0]), "%lld", v);
    p_text(p, s);
}

static void p_bin(params_t *p, const void *v, size_t len)
{
    p->values[p->n] = v;
    p->lengths[p->n] = (int)len;
    p->formats[p->n] = 1;
    p->n++;
}

static bool send_prepared(wk_store_t *st, const char *name, const params_t *p)
{
    return PQsendQueryPrepared(st->conn, name, p->n, p->values, p->lengths, p->formats, 0) == 1;
}

/*
 * Reads the results of nq statements and the Sync that follows them. res[i] (may be NULL)
 * receives statement i's result, caller clears. Returns the first error.
 */
static ing_err_t pipeline_collect(wk_store_t *st, PGresult **res, size_t nq, const char *what,
                                  char *errstr, size_t errstr_size)
{
    ing_err_t ret = ING_OK;
    for (size_t i = 0; i < nq; i++) {
        PGresult *r = PQgetResult(st->conn);
        if (!r) {
            if (!ret)
                ret = pg_error(st, NULL, what, errstr, errstr_size);
            return ret;
        }
        ExecStatusType s = PQresultStatus(r);
        if (s == PGRES_FATAL_ERROR && !ret)
            ret = pg_error(st, r, what, errstr, errstr_size);
        if (res)
            res[i] = r;
        else
            PQclear(r);
        /* Each statement's results end with NULL. */
        while ((r = PQgetResult(st->conn)) != NULL) {
            if (PQresultStatus(r) == PGRES_PIPELINE_SYNC) {
                PQclear(r);
                return ret ? ret : ING_ERR_INTERNAL;
            }
            PQclear(r);
        }
        if (PQstatus(st->conn) != CONNECTION_OK)
            return ret ? ret : pg_error(st, NULL, what, errstr, errstr_size);
    }
    PGresult *sync = PQgetResult(st->conn);
    if (!sync || PQresultStatus(sync) != PGRES_PIPELINE_SYNC) {
        if (!ret)
            ret = sync ? pg_error(st, sync, what, errstr, errstr_size)
                       : pg_error(st, NULL, what, errstr, errstr_size);
    }
    PQclear(sync);
    return ret;
}

/* Sends what fill() queues, one Sync, collects. nq is how many statements fill sends. */
static ing_err_t pipeline_begin(wk_store_t *st, char *errstr, size_t errstr_size)
{
    if (PQenterPipelineMode(st->conn) != 1)
        return pg_error(st, NULL, "enter pipeline mode", errstr, errstr_size);
    return ING_OK;
}

static ing_err_t pipeline_end(wk_store_t *st, ing_err_t err, char *errstr, size_t errstr_size)
{
    if (PQstatus(st->conn) != CONNECTION_OK) {
        disconnect(st);
        return err ? err : ING_ERR_UNAVAILABLE;
    }
    if (PQexitPipelineMode(st->conn) != 1 && !err)
        err = pg_error(st, NULL, "exit pipeline mode", errstr, errstr_size);
    return err;
}

static void params_document(params_t *p, const wk_item_t *it, const uint8_t *zbase)
{
    const ing_envelope_t *e = &it->env;
    memset(p, 0, sizeof(*p));
    p_text(p, e->ins);
    p_text(p, e->finess);
    p_text(p, e->document_id);
    p_int(p, e->version);
    p_text(p, it->meta.submission_id);
    p_text(p, e->type_code);
    p_text(p, e->media_type);
    p_opt(p, e->format_code);
    p_opt(p, e->title);
    p_opt(p, e->rpps);
    p_text(p, e->created_at);
    static const char conf[3][2] = {"N", "R", "V"};
    p_text(p, e->confidentiality == 'R' ? conf[1] : e->confidentiality == 'V' ? conf[2] : conf[0]);
    p_text(p, e->hidden_from_patient ? "t" : "f");
    p_bin(p, e->sha256, ING_SHA256_LEN);
    p_int(p, (long long)e->content_len);
    p_bin(p, zbase + it->zoff, it->zlen);
    p_int(p, it->meta.received_at_us);
    p_int(p, it->partition);
    p_int(p, it->offset);
}

static void params_submission(params_t *p, const wk_item_t *it)
{
    memset(p, 0, sizeof(*p));
    bool dead = it->outcome == WK_OUT_DEAD;
    p_text(p, it->meta.submission_id);
    p_text(p, it->meta.org_finess);
    p_text(p, it->env.document_id);
    p_int(p, it->env.version);
    p_text(p, dead ? "rejected" : "stored");
    p_text(p, dead ? ing_err_name(it->err) : NULL);
    p_text(p, dead ? it->detail : NULL);
    if (dead)
        p_text(p, NULL);
    else
        p_int(p, it->document_ref);
    p_int(p, it->meta.received_at_us);
}

/* Phase 1: patient spaces and documents. */
static ing_err_t phase_insert(wk_store_t *st, wk_item_t *items, size_t n, const uint8_t *zbase,
                              char *errstr, size_t errstr_size)
{
    size_t npending = 0;
    for (size_t i = 0; i < n; i++)
        npending += items[i].outcome == WK_OUT_PENDING;
    if (npending == 0)
        return ING_OK;
    PGresult **res = calloc(npending * 2, sizeof(*res));
    if (!res)
        return ING_ERR_NOMEM;
    ing_err_t err = pipeline_begin(st, errstr, errstr_size);
    size_t nq = 0;
    params_t p;
    for (size_t i = 0; !err && i < n; i++) {
        if (items[i].outcome != WK_OUT_PENDING)
            continue;
        memset(&p, 0, sizeof(p));
        p_text(&p, items[i].env.ins);
        params_t d;
        params_document(&d, &items[i], zbase);
        if (!send_prepared(st, "wk_patient", &p) || !send_prepared(st, "wk_document", &d))
            err = pg_error(st, NULL, "send", errstr, errstr_size);
        else
            nq += 2;
    }
    if (!err && PQpipelineSync(st->conn) != 1)
        err = pg_error(st, NULL, "sync", errstr, errstr_size);
    if (!err)
        err = pipeline_collect(st, res, nq, "insert documents", errstr, errstr_size);
    err = pipeline_end(st, err, errstr, errstr_size);
    size_t k = 1;
    for (size_t i = 0; !err && i < n; i++) {
        if (items[i].outcome != WK_OUT_PENDING)
            continue;
        PGresult *r = res[k];
        k += 2;
        if (PQntuples(r) == 1) {
            items[i].outcome = WK_OUT_STORED;
            items[i].document_ref = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
        }
        /* else: the key exists already; phase_lookup decides */
    }
    for (size_t i = 0; i < npending * 2; i++)
        PQclear(res[i]);
    free(res);
    return err;
}

/* Phase 2: records whose (source, document_id, version) exists: a redelivery (same sha256)
 * or a version conflict (other content). */
static ing_err_t phase_lookup(wk_store_t *st, wk_item_t *items, size_t n, char *errstr,
                              size_t errstr_size)
{
    size_t nq = 0;
    for (size_t i = 0; i < n; i++)
        nq += items[i].outcome == WK_OUT_PENDING;
    if (nq == 0)
        return ING_OK;
    PGresult **res = calloc(nq, sizeof(*res));
    if (!res)
        return ING_ERR_NOMEM;
    ing_err_t err = pipeline_begin(st, errstr, errstr_size);
    size_t sent = 0;
    for (size_t i = 0; !err && i < n; i++) {
        if (items[i].outcome != WK_OUT_PENDING)
            continue;
        params_t p;
        memset(&p, 0, sizeof(p));
        p_text(&p, items[i].env.finess);
        p_text(&p, items[i].env.document_id);
        p_int(&p, items[i].env.version);
        if (!send_prepared(st, "wk_lookup", &p))
            err = pg_error(st, NULL, "send", errstr, errstr_size);
        else
            sent++;
    }
    if (!err && PQpipelineSync(st->conn) != 1)
        err = pg_error(st, NULL, "sync", errstr, errstr_size);
    if (!err)
        err = pipeline_collect(st, res, sent, "look up documents", errstr, errstr_size);
    err = pipeline_end(st, err, errstr, errstr_size);
    size_t k = 0;
    for (size_t i = 0; !err && i < n; i++) {
        if (items[i].outcome != WK_OUT_PENDING)
            continue;
        PGresult *r = res[k++];
        if (PQntuples(r) != 1) {
            snprintf(errstr, errstr_size, "document %s of %s vanished during the transaction",
                     items[i].env.document_id, items[i].env.finess);
            err = ING_ERR_UNAVAILABLE; /* cannot happen inside one transaction; retry anyway */
            break;
        }
        uint8_t sha[ING_SHA256_LEN];
        size_t len = 0;
        unsigned char *raw = PQunescapeBytea((const unsigned char *)PQgetvalue(r, 0, 1), &len);
        bool same = raw && len == ING_SHA256_LEN && memcpy(sha, raw, len) &&
                    memcmp(sha, items[i].env.sha256, len) == 0;
        PQfreemem(raw);
        if (same) {
            items[i].outcome = WK_OUT_RETRY;
            items[i].document_ref = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
        } else {
            wk_item_fail(&items[i], ING_ERR_VERSION_CONFLICT, WK_STAGE_STORE,
                         "document %s version %u of %s was stored earlier with other content "
                         "(document %s)",
                         items[i].env.document_id, items[i].env.version, items[i].env.finess,
                         PQgetvalue(r, 0, 0));
        }
    }
    for (size_t i = 0; i < nq; i++)
        PQclear(res[i]);
    free(res);
    return err;
}

/* Phase 3: every attributable submission gets its final status. */
static ing_err_t phase_status(wk_store_t *st, wk_item_t *items, size_t n, char *errstr,
                              size_t errstr_size)
{
    ing_err_t err = pipeline_begin(st, errstr, errstr_size);
    size_t sent = 0;
    for (size_t i = 0; !err && i < n; i++) {
        if (items[i].outcome == WK_OUT_DEAD && !items[i].id_known)
            continue;
        params_t p;
        params_submission(&p, &items[i]);
        if (!send_prepared(st, "wk_submission", &p))
            err = pg_error(st, NULL, "send", errstr, errstr_size);
        else
            sent++;
    }
    if (!err && PQpipelineSync(st->conn) != 1)
        err = pg_error(st, NULL, "sync", errstr, errstr_size);
    if (!err)
        err = pipeline_collect(st, NULL, sent, "write statuses", errstr, errstr_size);
    return pipeline_end(st, err, errstr, errstr_size);
}

ing_err_t wk_store_batch(wk_store_t *st, wk_item_t *items, size_t n, const uint8_t *zbase,
                         char *errstr, size_t errstr_size)
{
    if (!wk_store_connected(st)) {
        snprintf(errstr, errstr_size, "not connected to PostgreSQL");
        return ING_ERR_UNAVAILABLE;
    }
    ing_err_t err = exec_simple(st, "BEGIN", errstr, errstr_size);
    if (err)
        goto fail;
    st->in_tx = true;
    err = phase_insert(st, items, n, zbase, errstr, errstr_size);
    if (!err)
        err = phase_lookup(st, items, n, errstr, errstr_size);
    if (!err)
        err = phase_status(st, items, n, errstr, errstr_size);
    if (!err)
        return ING_OK;
fail:
    wk_store_rollback(st);
    return err;
}

ing_err_t wk_store_commit(wk_store_t *st, char *errstr, size_t errstr_size)
{
    if (!wk_store_connected(st)) {
        snprintf(errstr, errstr_size, "not connected to PostgreSQL");
        return ING_ERR_UNAVAILABLE;
    }
    ing_err_t err = exec_simple(st, "COMMIT", errstr, errstr_size);
    st->in_tx = false;
    if (err && st->conn && PQstatus(st->conn) != CONNECTION_OK)
        disconnect(st);
    return err;
}

void wk_store_rollback(wk_store_t *st)
{
    if (!st->conn)
        return;
    if (PQstatus(st->conn) != CONNECTION_OK) {
        disconnect(st);
        return;
    }
    PGresult *res = PQexec(st->conn, "ROLLBACK");
    if (PQresultStatus(res) != PGRES_COMMAND_OK)
        ing_log(ING_LOG_WARN, "store", "ROLLBACK failed: %s", PQerrorMessage(st->conn));
    PQclear(res);
    st->in_tx = false;
    if (PQstatus(st->conn) != CONNECTION_OK)
        disconnect(st);
}
