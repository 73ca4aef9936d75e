#include "wk_store.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "ing_log.h"
#include "ing_time.h"
#include "wk_pgarray.h"
#include "wk_pgcopy.h"
#include "wk_rules.h"
#include "wk_sqlstate.h"

/*
 * Statements per batch, not per document: each statement takes the batch's values of a column
 * as one binary array parameter and reads them back as rows with unnest(...), and the new
 * documents go in with one binary COPY. A batch of 500 documents costs three round trips
 * between BEGIN and COMMIT: the facts, the COPY, then the patient spaces still missing,
 * superseded flags, the statuses of what was not stored and the notifications in one pipeline.
 * PostgreSQL parses, plans and executes each statement once per batch instead of once per
 * document, and COPY is its cheapest way in for new rows. A stored document is its own final
 * status (the view submission_status, migration 006): no status row is written for it. Every
 * rule is still enforced by the same unique constraints inside the transaction: a row another
 * worker inserted meanwhile makes the COPY fail, and the batch is retried with fresh facts.
 */

/* Everything wk_rules needs about each valid document, one row per array element in order:
 * opposed, duplicate_of, same_key_ref, same_key has the same sha256, current_version,
 * decided, an id from the document sequence for it in case it is stored (ids of documents
 * not stored are skipped, as bigserial allows), and whether its patient has no space yet. Four
 * index probes per document: patient_space pkey, document_by_content, one scan of the versions of
 * (source_finess, document_id) on its unique key that yields both the current version and this
 * version's row, and the submission pkey. */
#define SQL_FACTS                                                                                  \
    "SELECT COALESCE(p.opposed, false), "                                                          \
    "(SELECT d.id FROM document d WHERE d.ins = k.ins AND d.sha256 = k.sha256 "                    \
    "  AND d.type_code = k.type_code "                                                             \
    "  AND NOT (d.source_finess = k.source_finess AND d.document_id = k.document_id) "             \
    "  ORDER BY d.id LIMIT 1), "                                                                   \
    "v.same_id, v.same_sha, COALESCE(v.current_version, 0), "                                      \
    "(SELECT sub.status <> 'accepted' FROM submission sub "                                        \
    "  WHERE sub.submission_id = k.submission_id), "                                               \
    "nextval('document_id_seq'), p.ins IS NULL "                                                   \
    "FROM unnest($1::text[], $2::bytea[], $3::text[], $4::text[], $5::text[], $6::int4[], "        \
    "  $7::text[]) WITH ORDINALITY "                                                               \
    "  AS k(ins, sha256, type_code, source_finess, document_id, version, submission_id, ord) "     \
    "LEFT JOIN patient_space p ON p.ins = k.ins "                                                  \
    "LEFT JOIN LATERAL (SELECT max(d.version) AS current_version, "                                \
    "  max(d.id) FILTER (WHERE d.version = k.version) AS same_id, "                                \
    "  bool_or(d.sha256 = k.sha256) FILTER (WHERE d.version = k.version) AS same_sha "             \
    "  FROM document d "                                                                           \
    "  WHERE d.source_finess = k.source_finess AND d.document_id = k.document_id) v ON true "      \
    "ORDER BY k.ord"

/* Sorted and distinct: one probe per patient, and two workers take row locks in one order. */
#define SQL_PATIENTS                                                                               \
    "INSERT INTO patient_space (ins) SELECT DISTINCT ins FROM unnest($1::text[]) AS p(ins) "       \
    "ORDER BY ins ON CONFLICT DO NOTHING"

/* The new documents, with the ids the facts handed out. A key inserted by someone else since
 * the facts were read is a unique violation: the whole batch is rolled back and retried. */
#define SQL_COPY_DOCUMENTS                                                                         \
    "COPY document (id, ins, source_finess, document_id, version, submission_id, type_code, "      \
    "media_type, format_code, title, author_rpps, created_at, confidentiality, "                   \
    "hidden_from_patient, sha256, size_bytes, compression, content, received_at, "                 \
    "kafka_partition, kafka_offset, superseded, dict_id, key_id, nonce) "                          \
    "FROM STDIN (FORMAT binary)"
#define COPY_DOCUMENT_FIELDS 25

/* A new current version: the lower ones become history. Runs after the COPY, so it also
 * sees the batch's own lower versions, as the per-document UPDATE did. */
#define SQL_SUPERSEDE                                                                              \
    "UPDATE document d SET superseded = true "                                                     \
    "FROM unnest($1::text[], $2::text[], $3::int4[]) AS s(source_finess, document_id, version) "   \
    "WHERE d.source_finess = s.source_finess AND d.document_id = s.document_id "                   \
    "AND d.version < s.version AND NOT d.superseded"

/* The final statuses that store nothing (duplicate, refused, rejected). A row may be there
 * already: 'accepted' from a gateway older than migration 007, which this replaces, or a final
 * status, which is never overwritten. A batch can hold one submission several times (a resent
 * document): only its first occurrence is written — later ones would have found it final and
 * changed nothing — since ON CONFLICT DO UPDATE may not touch a row twice in one statement.
 * Sorted by id: two workers lock rows in one order. */
#define SQL_STATUSES                                                                               \
    "INSERT INTO submission (submission_id, org_finess, document_id, version, status, code, "      \
    "detail, document_ref, received_at) "                                                          \
    "SELECT DISTINCT ON (submission_id) submission_id, org_finess, document_id, version, status, " \
    "code, detail, document_ref, to_timestamp(received_us / 1000000.0) "                           \
    "FROM unnest($1::text[], $2::text[], $3::text[], $4::int4[], $5::text[], $6::text[], "         \
    "$7::text[], $8::int8[], $9::int8[]) WITH ORDINALITY "                                         \
    "AS s(submission_id, org_finess, document_id, version, status, code, detail, document_ref, "   \
    "received_us, ord) "                                                                           \
    "ORDER BY submission_id, ord "                                                                 \
    "ON CONFLICT (submission_id) DO UPDATE SET status = EXCLUDED.status, code = EXCLUDED.code, "   \
    "detail = EXCLUDED.detail, document_ref = EXCLUDED.document_ref, updated_at = now() "          \
    "WHERE submission.status = 'accepted'"

/* Wakes the gateways' requests waiting for these submissions (Prefer: wait). NOTIFY is
 * transactional: it leaves at COMMIT, when a read of submission_status sees the final status.
 * The payload is the submission id only, never a patient identifier. One row back, not one per
 * id. */
#define SQL_NOTIFY                                                                                 \
    "SELECT count(pg_notify('submission_final', id)) FROM unnest($1::text[]) AS n(id)"

/* The columns ($1, $2, ... in order) of each statement. */
enum { F_INS, F_SHA256, F_TYPE_CODE, F_FINESS, F_DOCUMENT_ID, F_VERSION, F_SUBMISSION_ID, F__N };
enum { P_INS, P__N };
enum { U_FINESS, U_DOCUMENT_ID, U_VERSION, U__N };
enum {
    S_SUBMISSION_ID,
    S_ORG_FINESS,
    S_DOCUMENT_ID,
    S_VERSION,
    S_STATUS,
    S_CODE,
    S_DETAIL,
    S_DOCUMENT_REF,
    S_RECEIVED_US,
    S__N
};
enum { N_SUBMISSION_ID, N__N };
#define MAX_COLUMNS S__N

static const uint32_t facts_types[F__N] = {
    [F_INS] = WK_PG_TEXT,           [F_SHA256] = WK_PG_BYTEA,     [F_TYPE_CODE] = WK_PG_TEXT,
    [F_FINESS] = WK_PG_TEXT,        [F_DOCUMENT_ID] = WK_PG_TEXT, [F_VERSION] = WK_PG_INT4,
    [F_SUBMISSION_ID] = WK_PG_TEXT,
};
static const uint32_t patients_types[P__N] = {[P_INS] = WK_PG_TEXT};
static const uint32_t supersede_types[U__N] = {
    [U_FINESS] = WK_PG_TEXT, [U_DOCUMENT_ID] = WK_PG_TEXT, [U_VERSION] = WK_PG_INT4};
static const uint32_t statuses_types[S__N] = {
    [S_SUBMISSION_ID] = WK_PG_TEXT, [S_ORG_FINESS] = WK_PG_TEXT,   [S_DOCUMENT_ID] = WK_PG_TEXT,
    [S_VERSION] = WK_PG_INT4,       [S_STATUS] = WK_PG_TEXT,       [S_CODE] = WK_PG_TEXT,
    [S_DETAIL] = WK_PG_TEXT,        [S_DOCUMENT_REF] = WK_PG_INT8, [S_RECEIVED_US] = WK_PG_INT8,
};
static const uint32_t notify_types[N__N] = {[N_SUBMISSION_ID] = WK_PG_TEXT};

typedef enum stmt_id {
    ST_FACTS,
    ST_PATIENTS,
    ST_SUPERSEDE,
    ST_STATUSES,
    ST_NOTIFY,
    ST__N
} stmt_id_t;

static const struct {
    const char *name;
    const char *sql;
    int ncols;
    const uint32_t *types;
} statements[ST__N] = {
    [ST_FACTS] = {"wk_facts", SQL_FACTS, F__N, facts_types},
    [ST_PATIENTS] = {"wk_patients", SQL_PATIENTS, P__N, patients_types},
    [ST_SUPERSEDE] = {"wk_supersede", SQL_SUPERSEDE, U__N, supersede_types},
    [ST_STATUSES] = {"wk_statuses", SQL_STATUSES, S__N, statuses_types},
    [ST_NOTIFY] = {"wk_notify", SQL_NOTIFY, N__N, notify_types},
};

/* PostgreSQL refuses a value over 1 GB (MaxAllocSize): a batch whose column would be larger is
 * refused here, and the caller stores its records one by one. */
#define COLUMN_LIMIT ((size_t)1 << 30)

/* The batch's documents decided 'stored' so far, found by hash rather than by a scan of every
 * earlier record: by document key (source, document id) and by content key (patient, sha256,
 * type code). Each chain lists items in batch order, so its first match is the earliest, as
 * the rules want. Indexes into the batch's items; -1 ends a chain. Allocations are kept. */
typedef struct overlay {
    size_t mask; /* buckets - 1 */
    size_t buckets_cap, items_cap;
    int32_t *doc_head, *doc_tail, *content_head, *content_tail; /* @owns [buckets_cap] */
    int32_t *doc_next, *content_next;                           /* @owns [items_cap] */
    uint64_t *content_key;                                      /* @owns [items_cap] */
} overlay_t;

struct wk_store {
    char *url; /* @owns */
    bool allow_unsafe;
    PGconn *conn; /* NULL when not connected */
    bool in_tx;
    /* Each statement's parameters and the COPY stream, rebuilt for every batch; the
     * allocations are kept. */
    wk_pgarray_t cols[ST__N][MAX_COLUMNS];
    wk_pgcopy_t copy;
    overlay_t overlay;
};

bool wk_store_connected(const wk_store_t *st)
{
    return st->conn && PQstatus(st->conn) == CONNECTION_OK;
}

static ing_err_t exec_simple(wk_store_t *st, const char *sql, char *errstr, size_t errstr_size)
{
    PGresult *res = PQexec(st->conn, sql);
    ing_err_t err = ING_OK;
    ExecStatusType s = PQresultStatus(res);
    if (s != PGRES_COMMAND_OK && s != PGRES_TUPLES_OK)
        err = wk_pg_error(st->conn, res, sql, errstr, errstr_size);
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
            ing_err_t err = wk_pg_error(st->conn, res, checks[i].sql, errstr, errstr_size);
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
            err = wk_pg_error(st->conn, res, statements[i].name, errstr, errstr_size);
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
    for (int s = 0; s < ST__N; s++)
        for (int i = 0; i < MAX_COLUMNS; i++)
            wk_pgarray_init(&st->cols[s][i], COLUMN_LIMIT);
    wk_pgcopy_init(&st->copy, COLUMN_LIMIT);
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

ing_err_t wk_store_check(const char *url, bool allow_unsafe, char *errstr, size_t errstr_size)
{
    wk_store_t st = {.url = (char *)url, .allow_unsafe = allow_unsafe};
    ing_err_t err = connect_db(&st, errstr, errstr_size);
    disconnect(&st);
    return err;
}

PGconn *wk_store_pgconn(wk_store_t *st)
{
    return wk_store_connected(st) && !st->in_tx ? st->conn : NULL;
}

void wk_store_destroy(wk_store_t *st)
{
    if (!st)
        return;
    disconnect(st);
    for (int s = 0; s < ST__N; s++)
        for (int i = 0; i < MAX_COLUMNS; i++)
            wk_pgarray_fini(&st->cols[s][i]);
    wk_pgcopy_fini(&st->copy);
    overlay_t *ov = &st->overlay;
    free(ov->doc_head);
    free(ov->doc_tail);
    free(ov->content_head);
    free(ov->content_tail);
    free(ov->doc_next);
    free(ov->content_next);
    free(ov->content_key);
    free(st->url);
    free(st);
}

ing_err_t wk_store_reconnect(wk_store_t *st, char *errstr, size_t errstr_size)
{
    return connect_db(st, errstr, errstr_size);
}

/* --- batch statements -------------------------------------------------------------------- */

/* A statement's parameters, ready to send: one binary array per column. */
typedef struct bound {
    int n;
    const char *values[MAX_COLUMNS];
    int lengths[MAX_COLUMNS];
    int formats[MAX_COLUMNS];
} bound_t;

/* Empties the statement's columns for a new batch; returns them. */
static wk_pgarray_t *stmt_start(wk_store_t *st, stmt_id_t s)
{
    for (int i = 0; i < statements[s].ncols; i++)
        wk_pgarray_start(&st->cols[s][i], statements[s].types[i]);
    return st->cols[s];
}

/* Completes the columns. A column too big for one statement is ING_ERR_INTERNAL: the caller
 * then stores the batch record by record. */
static ing_err_t stmt_bind(wk_store_t *st, stmt_id_t s, bound_t *b, char *errstr,
                           size_t errstr_size)
{
    b->n = statements[s].ncols;
    for (int i = 0; i < b->n; i++) {
        const uint8_t *data;
        size_t len;
        ing_err_t err = wk_pgarray_finish(&st->cols[s][i], &data, &len);
        if (err) {
            snprintf(errstr, errstr_size, "%s: parameter $%d: %s", statements[s].name, i + 1,
                     ing_err_str(err));
            return err == ING_ERR_TOO_BIG ? ING_ERR_INTERNAL : err;
        }
        b->values[i] = (const char *)data;
        b->lengths[i] = (int)len;
        b->formats[i] = 1;
    }
    return ING_OK;
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
                ret = wk_pg_error(st->conn, NULL, what, errstr, errstr_size);
            return ret;
        }
        ExecStatusType s = PQresultStatus(r);
        if (s == PGRES_FATAL_ERROR && !ret)
            ret = wk_pg_error(st->conn, r, what, errstr, errstr_size);
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
            return ret ? ret : wk_pg_error(st->conn, NULL, what, errstr, errstr_size);
    }
    PGresult *sync = PQgetResult(st->conn);
    if (!sync || PQresultStatus(sync) != PGRES_PIPELINE_SYNC) {
        if (!ret)
            ret = sync ? wk_pg_error(st->conn, sync, what, errstr, errstr_size)
                       : wk_pg_error(st->conn, NULL, what, errstr, errstr_size);
    }
    PQclear(sync);
    return ret;
}

/*
 * Runs already bound statements in one pipeline (one round trip): all sent, one Sync, then
 * the results; res[i] receives statement i's (caller clears every non-NULL one).
 */
static ing_err_t pipeline_exec(wk_store_t *st, const stmt_id_t *ids, const bound_t *b, size_t nq,
                               PGresult **res, const char *what, char *errstr, size_t errstr_size)
{
    if (PQenterPipelineMode(st->conn) != 1)
        return wk_pg_error(st->conn, NULL, "enter pipeline mode", errstr, errstr_size);
    ing_err_t err = ING_OK;
    size_t sent = 0;
    for (; sent < nq; sent++) {
        const char *name = statements[ids[sent]].name;
        if (PQsendQueryPrepared(st->conn, name, b[sent].n, b[sent].values, b[sent].lengths,
                                b[sent].formats, 0) != 1) {
            err = wk_pg_error(st->conn, NULL, name, errstr, errstr_size);
            break;
        }
    }
    /* Whatever was queued is synced and collected, so that the pipeline can be left. */
    if (PQpipelineSync(st->conn) != 1) {
        if (!err)
            err = wk_pg_error(st->conn, NULL, "sync", errstr, errstr_size);
    } else {
        ing_err_t cerr = pipeline_collect(st, res, sent, what, errstr, errstr_size);
        if (!err)
            err = cerr;
    }
    if (PQstatus(st->conn) != CONNECTION_OK) {
        disconnect(st);
        return err ? err : ING_ERR_UNAVAILABLE;
    }
    if (PQexitPipelineMode(st->conn) != 1 && !err)
        err = wk_pg_error(st->conn, NULL, "exit pipeline mode", errstr, errstr_size);
    return err;
}

/* --- the batch's rows -------------------------------------------------------------------- */

static void add_facts_row(wk_pgarray_t *c, const wk_item_t *it)
{
    const ing_envelope_t *e = &it->env;
    wk_pgarray_add_text(&c[F_INS], e->ins);
    wk_pgarray_add(&c[F_SHA256], e->sha256, ING_SHA256_LEN);
    wk_pgarray_add_text(&c[F_TYPE_CODE], e->type_code);
    wk_pgarray_add_text(&c[F_FINESS], e->finess);
    wk_pgarray_add_text(&c[F_DOCUMENT_ID], e->document_id);
    wk_pgarray_add_int4(&c[F_VERSION], (int32_t)e->version);
    wk_pgarray_add_text(&c[F_SUBMISSION_ID], it->meta.submission_id);
}

/* created_at was validated (ing_envelope_validate) with the same parser: it cannot fail. */
static void add_document_row(wk_pgcopy_t *c, const wk_item_t *it, const uint8_t *zbase)
{
    const ing_envelope_t *e = &it->env;
    int64_t created_us = 0;
    (void)ing_time_parse_rfc3339(e->created_at, &created_us);
    char conf[2] = {
        e->confidentiality == 'R' || e->confidentiality == 'V' ? e->confidentiality : 'N', '\0'};
    wk_pgcopy_row(c, COPY_DOCUMENT_FIELDS);
    wk_pgcopy_int8(c, it->document_ref);
    wk_pgcopy_text(c, e->ins);
    wk_pgcopy_text(c, e->finess);
    wk_pgcopy_text(c, e->document_id);
    wk_pgcopy_int4(c, (int32_t)e->version);
    wk_pgcopy_text(c, it->meta.submission_id);
    wk_pgcopy_text(c, e->type_code);
    wk_pgcopy_text(c, e->media_type);
    wk_pgcopy_opt(c, e->format_code);
    wk_pgcopy_opt(c, e->title);
    wk_pgcopy_opt(c, e->rpps);
    wk_pgcopy_timestamptz(c, created_us);
    wk_pgcopy_text(c, conf);
    wk_pgcopy_bool(c, e->hidden_from_patient);
    wk_pgcopy_field(c, e->sha256, ING_SHA256_LEN);
    wk_pgcopy_int4(c, (int32_t)e->content_len);
    wk_pgcopy_text(c, "zstd");
    wk_pgcopy_field(c, zbase + it->zoff, it->zlen);
    wk_pgcopy_timestamptz(c, it->meta.received_at_us);
    wk_pgcopy_int4(c, it->partition);
    wk_pgcopy_int8(c, it->offset);
    wk_pgcopy_bool(c, it->superseded);
    if (it->dict_id > 0)
        wk_pgcopy_int4(c, it->dict_id);
    else
        wk_pgcopy_field(c, NULL, 0);
    wk_pgcopy_text(c, it->key_id);
    wk_pgcopy_field(c, it->nonce, ING_GCM_NONCE_LEN);
}

/* The final status of an item that stored nothing; NULL when it writes none: a stored document
 * is its own status, a retry keeps the first one's, and a dead letter whose submission id is
 * not known has no row to write. */
static const char *unstored_status(const wk_item_t *it)
{
    switch (it->outcome) {
    case WK_OUT_DUPLICATE:
        return "duplicate";
    case WK_OUT_REFUSED:
        return "refused";
    case WK_OUT_DEAD:
        return it->id_known ? "rejected" : NULL;
    default:
        return NULL;
    }
}

static void add_status_row(wk_pgarray_t *c, const wk_item_t *it, const char *status)
{
    bool with_code = it->outcome != WK_OUT_DUPLICATE;
    wk_pgarray_add_text(&c[S_SUBMISSION_ID], it->meta.submission_id);
    wk_pgarray_add_text(&c[S_ORG_FINESS], it->meta.org_finess);
    wk_pgarray_add_text(&c[S_DOCUMENT_ID], it->env.document_id);
    wk_pgarray_add_int4(&c[S_VERSION], (int32_t)it->env.version);
    wk_pgarray_add_text(&c[S_STATUS], status);
    wk_pgarray_add_text(&c[S_CODE], with_code ? ing_err_name(it->err) : NULL);
    wk_pgarray_add_text(&c[S_DETAIL], with_code ? it->detail : NULL);
    /* A duplicate links to the document it duplicates. */
    if (!with_code && it->document_ref > 0)
        wk_pgarray_add_int8(&c[S_DOCUMENT_REF], it->document_ref);
    else
        wk_pgarray_add(&c[S_DOCUMENT_REF], NULL, 0);
    wk_pgarray_add_int8(&c[S_RECEIVED_US], it->meta.received_at_us);
}

static int64_t int_or_zero(const PGresult *r, int row, int col)
{
    return PQgetisnull(r, row, col) ? 0 : strtoll(PQgetvalue(r, row, col), NULL, 10);
}

/* FNV-1a of two strings with a NUL between them, so that ("ab", "c") and ("a", "bc") differ. */
static uint64_t fnv1a_pair(const char *first, const char *second)
{
    uint64_t h = 14695981039346656037ull;
    for (const char *p = first;; p++) {
        h = (h ^ (uint8_t)*p) * 1099511628211ull;
        if (!*p)
            break;
    }
    for (const char *p = second; *p; p++)
        h = (h ^ (uint8_t)*p) * 1099511628211ull;
    return h;
}

/* Equal documents have equal keys (the overlay's buckets), and comparing keys first spares
 * most string comparisons. */
static uint64_t document_key(const wk_item_t *it)
{
    return fnv1a_pair(it->env.finess, it->env.document_id);
}

static bool same_document(const wk_item_t *a, const wk_item_t *b)
{
    return a->document_key == b->document_key && strcmp(a->env.finess, b->env.finess) == 0 &&
           strcmp(a->env.document_id, b->env.document_id) == 0;
}

static bool same_sha(const wk_item_t *a, const wk_item_t *b)
{
    return memcmp(a->env.sha256, b->env.sha256, ING_SHA256_LEN) == 0;
}

/* Patient and type code mixed with the first bytes of the sha256, already random. */
static uint64_t content_key(const wk_item_t *it)
{
    uint64_t h = fnv1a_pair(it->env.ins, it->env.type_code);
    uint64_t sha;
    memcpy(&sha, it->env.sha256, sizeof(sha));
    return h ^ sha;
}

/* Empties the overlay for a batch of n items: at least twice as many buckets, a power of 2. */
static ing_err_t overlay_reset(overlay_t *ov, size_t n)
{
    size_t buckets = 16;
    while (buckets < 2 * n)
        buckets *= 2;
    if (buckets > ov->buckets_cap) {
        int32_t **heads[] = {&ov->doc_head, &ov->doc_tail, &ov->content_head, &ov->content_tail};
        for (size_t i = 0; i < sizeof(heads) / sizeof(heads[0]); i++) {
            int32_t *p = realloc(*heads[i], buckets * sizeof(int32_t));
            if (!p)
                return ING_ERR_NOMEM;
            *heads[i] = p;
        }
        ov->buckets_cap = buckets;
    }
    if (n > ov->items_cap) {
        int32_t *dn = realloc(ov->doc_next, n * sizeof(int32_t));
        if (dn)
            ov->doc_next = dn;
        int32_t *cn = realloc(ov->content_next, n * sizeof(int32_t));
        if (cn)
            ov->content_next = cn;
        uint64_t *ck = realloc(ov->content_key, n * sizeof(uint64_t));
        if (ck)
            ov->content_key = ck;
        if (!dn || !cn || !ck)
            return ING_ERR_NOMEM;
        ov->items_cap = n;
    }
    ov->mask = buckets - 1;
    memset(ov->doc_head, 0xff, buckets * sizeof(int32_t)); /* all -1 */
    memset(ov->content_head, 0xff, buckets * sizeof(int32_t));
    return ING_OK;
}

static void chain_append(int32_t *head, int32_t *tail, int32_t *next, size_t bucket, int32_t i)
{
    next[i] = -1;
    if (head[bucket] < 0)
        head[bucket] = i;
    else
        next[tail[bucket]] = i;
    tail[bucket] = i;
}

/* Item i was decided 'stored': later items of the batch must see it. */
static void overlay_add(overlay_t *ov, const wk_item_t *items, size_t i)
{
    chain_append(ov->doc_head, ov->doc_tail, ov->doc_next, items[i].document_key & ov->mask,
                 (int32_t)i);
    chain_append(ov->content_head, ov->content_tail, ov->content_next,
                 ov->content_key[i] & ov->mask, (int32_t)i);
}

/* The database's facts miss the batch's own earlier records (not inserted yet): add those
 * decided 'stored'. Their ids are known already (handed out with the facts). */
static void facts_overlay(wk_facts_t *f, const overlay_t *ov, const wk_item_t *items, size_t i)
{
    const wk_item_t *it = &items[i];
    for (int32_t j = ov->doc_head[it->document_key & ov->mask]; j >= 0; j = ov->doc_next[j]) {
        const wk_item_t *e = &items[j];
        if (!same_document(e, it))
            continue;
        if (e->env.version > f->current_version)
            f->current_version = e->env.version;
        if (e->env.version == it->env.version && f->same_key == WK_KEY_NEW) {
            f->same_key = same_sha(e, it) ? WK_KEY_SAME_SHA : WK_KEY_OTHER_SHA;
            f->same_key_ref = e->document_ref;
        }
    }
    if (f->duplicate_of)
        return;
    for (int32_t j = ov->content_head[ov->content_key[i] & ov->mask]; j >= 0;
         j = ov->content_next[j]) {
        const wk_item_t *e = &items[j];
        if (!same_document(e, it) && same_sha(e, it) && strcmp(e->env.ins, it->env.ins) == 0 &&
            strcmp(e->env.type_code, it->env.type_code) == 0) {
            f->duplicate_of = e->document_ref;
            return;
        }
    }
}

/* new_id: the id the document gets if it is stored. */
static void apply_decision(wk_item_t *it, const wk_decision_t *d, int64_t new_id)
{
    it->rule = d->rule;
    it->document_ref = d->document_ref;
    switch (d->status) {
    case WK_STATUS_NONE:
        it->outcome = WK_OUT_RETRY;
        break;
    case WK_STATUS_STORED:
        it->outcome = WK_OUT_STORED;
        it->document_ref = new_id;
        it->superseded = d->superseded;
        it->supersede_others = d->supersede_others;
        break;
    case WK_STATUS_DUPLICATE:
        it->outcome = WK_OUT_DUPLICATE;
        break;
    case WK_STATUS_REFUSED:
        it->outcome = WK_OUT_REFUSED;
        it->err = d->code;
        snprintf(it->detail, sizeof(it->detail), "%s", ing_err_str(d->code));
        break;
    case WK_STATUS_REJECTED:
        wk_item_fail(it, d->code, WK_STAGE_STORE,
                     "document %s version %u of %s was stored earlier with other content",
                     it->env.document_id, it->env.version, it->env.finess);
        break;
    }
}

/* Phase 1: the facts of every valid document (one statement), then the decisions (wk_rules),
 * in batch order since each one depends on the earlier ones. */
static ing_err_t phase_decide(wk_store_t *st, wk_item_t *items, size_t n, char *errstr,
                              size_t errstr_size)
{
    overlay_t *ov = &st->overlay;
    if (overlay_reset(ov, n) != ING_OK) {
        snprintf(errstr, errstr_size, "read facts: no memory for a batch of %zu", n);
        return ING_ERR_NOMEM;
    }
    wk_pgarray_t *fc = stmt_start(st, ST_FACTS);
    size_t npending = 0;
    for (size_t i = 0; i < n; i++) {
        if (items[i].outcome != WK_OUT_PENDING)
            continue;
        add_facts_row(fc, &items[i]);
        items[i].document_key = document_key(&items[i]);
        ov->content_key[i] = content_key(&items[i]);
        npending++;
    }
    if (npending == 0)
        return ING_OK;
    const stmt_id_t ids[1] = {ST_FACTS};
    bound_t b[1];
    PGresult *res[1] = {NULL};
    ing_err_t err = stmt_bind(st, ST_FACTS, &b[0], errstr, errstr_size);
    if (!err)
        err = pipeline_exec(st, ids, b, 1, res, "read facts", errstr, errstr_size);
    const PGresult *r = res[0];
    if (!err && (size_t)PQntuples(r) != npending) {
        snprintf(errstr, errstr_size, "read facts: %d rows for %zu documents", PQntuples(r),
                 npending);
        err = ING_ERR_INTERNAL;
    }
    int row = 0;
    for (size_t i = 0; !err && i < n; i++) {
        if (items[i].outcome != WK_OUT_PENDING)
            continue;
        wk_facts_t f = {.version = items[i].env.version};
        f.opposed = strcmp(PQgetvalue(r, row, 0), "t") == 0;
        f.duplicate_of = int_or_zero(r, row, 1);
        f.same_key_ref = int_or_zero(r, row, 2);
        if (f.same_key_ref)
            f.same_key =
                strcmp(PQgetvalue(r, row, 3), "t") == 0 ? WK_KEY_SAME_SHA : WK_KEY_OTHER_SHA;
        f.current_version = (uint32_t)int_or_zero(r, row, 4);
        f.decided = strcmp(PQgetvalue(r, row, 5), "t") == 0;
        int64_t new_id = int_or_zero(r, row, 6);
        items[i].space_missing = strcmp(PQgetvalue(r, row, 7), "t") == 0;
        row++;
        facts_overlay(&f, ov, items, i);
        wk_decision_t d = wk_rules_decide(&f);
        apply_decision(&items[i], &d, new_id);
        if (items[i].outcome == WK_OUT_STORED)
            overlay_add(ov, items, i);
    }
    PQclear(res[0]);
    return err;
}

/*
 * A document another worker (another partition, same source and document id) inserted since
 * the facts were read: a unique violation of the document's key. (Its submission id is
 * derived from that key, so the key is what a second copy breaks; migration 011.) Transient:
 * decided again, with fresh facts, on redelivery. Any other violation is permanent (isolated,
 * then dead-lettered).
 */
static bool inserted_meanwhile(const PGresult *r)
{
    const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
    const char *constraint = PQresultErrorField(r, PG_DIAG_CONSTRAINT_NAME);
    return state && constraint && strcmp(state, "23505") == 0 &&
           strcmp(constraint, "document_source_finess_document_id_version_key") == 0;
}

/* Sends a whole COPY stream and reads its result. */
static ing_err_t copy_in(wk_store_t *st, const char *sql, const uint8_t *data, size_t len,
                         const char *what, char *errstr, size_t errstr_size)
{
    PGresult *r = PQexec(st->conn, sql);
    if (PQresultStatus(r) != PGRES_COPY_IN) {
        ing_err_t err = wk_pg_error(st->conn, r, what, errstr, errstr_size);
        PQclear(r);
        return err;
    }
    PQclear(r);
    ing_err_t err = ING_OK;
    for (size_t off = 0; off < len;) {
        size_t chunk = len - off < ((size_t)1 << 20) ? len - off : (size_t)1 << 20;
        if (PQputCopyData(st->conn, (const char *)data + off, (int)chunk) != 1) {
            err = wk_pg_error(st->conn, NULL, what, errstr, errstr_size);
            break;
        }
        off += chunk;
    }
    /* Ending with an error message aborts the COPY: nothing of a half-sent stream is kept. */
    if (PQputCopyEnd(st->conn, err ? "stream not sent whole" : NULL) != 1 && !err)
        err = wk_pg_error(st->conn, NULL, what, errstr, errstr_size);
    while ((r = PQgetResult(st->conn)) != NULL) {
        if (PQresultStatus(r) != PGRES_COMMAND_OK && !err) {
            err = wk_pg_error(st->conn, r, what, errstr, errstr_size);
            if (inserted_meanwhile(r))
                err = ING_ERR_UNAVAILABLE;
        }
        PQclear(r);
    }
    if (PQstatus(st->conn) != CONNECTION_OK) {
        disconnect(st);
        return err ? err : ING_ERR_UNAVAILABLE;
    }
    return err;
}

/* Phase 2: the new documents, in one COPY. */
static ing_err_t phase_insert(wk_store_t *st, wk_item_t *items, size_t n, const uint8_t *zbase,
                              char *errstr, size_t errstr_size)
{
    wk_pgcopy_start(&st->copy);
    for (size_t i = 0; i < n; i++)
        if (items[i].outcome == WK_OUT_STORED)
            add_document_row(&st->copy, &items[i], zbase);
    if (st->copy.rows == 0)
        return ING_OK;
    const uint8_t *data;
    size_t len;
    ing_err_t err = wk_pgcopy_finish(&st->copy, &data, &len);
    if (err) {
        snprintf(errstr, errstr_size, "insert documents: %s", ing_err_str(err));
        return err == ING_ERR_TOO_BIG ? ING_ERR_INTERNAL : err;
    }
    return copy_in(st, SQL_COPY_DOCUMENTS, data, len, "insert documents", errstr, errstr_size);
}

/* Phase 3: the patient spaces the stored documents still miss, superseded flags, the final
 * statuses of what was not stored, then the notifications of every final status decided here:
 * one pipeline. (A space is created with its first stored document; no foreign key orders the
 * two, migration 005.) */
static ing_err_t phase_status(wk_store_t *st, wk_item_t *items, size_t n, char *errstr,
                              size_t errstr_size)
{
    wk_pgarray_t *pc = stmt_start(st, ST_PATIENTS);
    wk_pgarray_t *uc = stmt_start(st, ST_SUPERSEDE);
    wk_pgarray_t *sc = stmt_start(st, ST_STATUSES);
    wk_pgarray_t *nc = stmt_start(st, ST_NOTIFY);
    size_t npatients = 0, nsupersede = 0, nstatus = 0, nnotify = 0;
    for (size_t i = 0; i < n; i++) {
        const wk_item_t *it = &items[i];
        if (it->outcome == WK_OUT_STORED && it->space_missing) {
            wk_pgarray_add_text(&pc[P_INS], it->env.ins);
            npatients++;
        }
        if (it->outcome == WK_OUT_STORED && it->supersede_others) {
            wk_pgarray_add_text(&uc[U_FINESS], it->env.finess);
            wk_pgarray_add_text(&uc[U_DOCUMENT_ID], it->env.document_id);
            wk_pgarray_add_int4(&uc[U_VERSION], (int32_t)it->env.version);
            nsupersede++;
        }
        const char *status = unstored_status(it);
        if (status) {
            add_status_row(sc, it, status);
            nstatus++;
        }
        if (status || it->outcome == WK_OUT_STORED) {
            wk_pgarray_add_text(&nc[N_SUBMISSION_ID], it->meta.submission_id);
            nnotify++;
        }
    }
    stmt_id_t ids[4];
    size_t nq = 0;
    if (npatients)
        ids[nq++] = ST_PATIENTS;
    if (nsupersede)
        ids[nq++] = ST_SUPERSEDE;
    if (nstatus)
        ids[nq++] = ST_STATUSES;
    if (nnotify)
        ids[nq++] = ST_NOTIFY;
    if (nq == 0)
        return ING_OK;
    bound_t b[4];
    PGresult *res[4] = {NULL, NULL, NULL, NULL};
    ing_err_t err = ING_OK;
    for (size_t q = 0; !err && q < nq; q++)
        err = stmt_bind(st, ids[q], &b[q], errstr, errstr_size);
    if (!err)
        err = pipeline_exec(st, ids, b, nq, res, "write statuses", errstr, errstr_size);
    for (size_t q = 0; q < 4; q++)
        PQclear(res[q]);
    return err;
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
    err = phase_decide(st, items, n, errstr, errstr_size);
    if (!err)
        err = phase_insert(st, items, n, zbase, errstr, errstr_size);
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
