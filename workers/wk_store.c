#include "wk_store.h"

#include <arpa/inet.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "ing_log.h"
#include "wk_rules.h"
#include "wk_sqlstate.h"

/*
 * Round trips: the batch is written with libpq's pipeline mode — all statements of a phase are
 * sent, then one Sync, then the results are read — so a batch of 500 documents costs three
 * round trips (read the facts, insert, statuses) plus BEGIN and COMMIT, not 1,500.
 * Results are a few bytes per statement, so the server never blocks on its output while we
 * are still sending (the deadlock pipeline mode can have with large results).
 */

#define SQL_PATIENT "INSERT INTO patient_space (ins) VALUES ($1) ON CONFLICT DO NOTHING"

#define SQL_DOCUMENT                                                                               \
    "INSERT INTO document (ins, source_finess, document_id, version, submission_id, type_code, "   \
    "media_type, format_code, title, author_rpps, created_at, confidentiality, "                   \
    "hidden_from_patient, sha256, size_bytes, compression, content, received_at, "                 \
    "kafka_partition, kafka_offset, superseded, dict_id, key_id, nonce) "                          \
    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, 'zstd', $16, "      \
    "to_timestamp($17::bigint / 1000000.0), $18, $19, $20, $21, $22, $23) "                        \
    "ON CONFLICT (source_finess, document_id, version) DO NOTHING RETURNING id"

/* Everything wk_rules needs about one document, in one statement: $1 ins, $2 sha256,
 * $3 type_code, $4 source_finess, $5 document_id, $6 version, $7 submission_id. */
#define SQL_FACTS                                                                                  \
    "SELECT COALESCE((SELECT opposed FROM patient_space WHERE ins = $1), false), "                 \
    "(SELECT id FROM document WHERE ins = $1 AND sha256 = $2 AND type_code = $3 "                  \
    "  AND NOT (source_finess = $4 AND document_id = $5) ORDER BY id LIMIT 1), "                   \
    "(SELECT id FROM document WHERE source_finess = $4 AND document_id = $5 AND version = $6), "   \
    "(SELECT sha256 = $2 FROM document WHERE source_finess = $4 AND document_id = $5 "             \
    "  AND version = $6), "                                                                        \
    "(SELECT COALESCE(max(version), 0) FROM document WHERE source_finess = $4 "                    \
    "  AND document_id = $5), "                                                                    \
    "(SELECT status <> 'accepted' FROM submission WHERE submission_id = $7)"

/* A new current version: the lower ones become history. */
#define SQL_SUPERSEDE                                                                              \
    "UPDATE document SET superseded = true WHERE source_finess = $1 AND document_id = $2 "         \
    "AND version < $3 AND NOT superseded"

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
    {"wk_patient", SQL_PATIENT},     {"wk_document", SQL_DOCUMENT},     {"wk_facts", SQL_FACTS},
    {"wk_supersede", SQL_SUPERSEDE}, {"wk_submission", SQL_SUBMISSION},
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
    free(st->url);
    free(st);
}

ing_err_t wk_store_reconnect(wk_store_t *st, char *errstr, size_t errstr_size)
{
    return connect_db(st, errstr, errstr_size);
}

/* --- pipeline ---------------------------------------------------------------------------- */

/* Parameters of one statement: text values, binary where lengths are given. */
#define MAX_PARAMS 24

typedef struct params {
    int n;
    const char *values[MAX_PARAMS];
    int lengths[MAX_PARAMS];
    int formats[MAX_PARAMS];
    char scratch[10][24]; /* numbers printed as text */
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
    p_text(p, it->superseded ? "t" : "f");
    if (it->dict_id > 0)
        p_int(p, it->dict_id);
    else
        p_text(p, NULL);
    p_text(p, it->key_id);
    p_bin(p, it->nonce, ING_GCM_NONCE_LEN);
}

static void params_submission(params_t *p, const wk_item_t *it)
{
    memset(p, 0, sizeof(*p));
    const char *status = "stored";
    bool with_code = false, with_ref = true;
    switch (it->outcome) {
    case WK_OUT_DUPLICATE:
        status = "duplicate";
        break;
    case WK_OUT_REFUSED:
        status = "refused";
        with_code = true;
        with_ref = false;
        break;
    case WK_OUT_DEAD:
        status = "rejected";
        with_code = true;
        with_ref = false;
        break;
    default:
        break;
    }
    p_text(p, it->meta.submission_id);
    p_text(p, it->meta.org_finess);
    p_text(p, it->env.document_id);
    p_int(p, it->env.version);
    p_text(p, status);
    p_text(p, with_code ? ing_err_name(it->err) : NULL);
    p_text(p, with_code ? it->detail : NULL);
    if (with_ref && it->document_ref > 0)
        p_int(p, it->document_ref);
    else
        p_text(p, NULL);
    p_int(p, it->meta.received_at_us);
}

/* Runs one pipeline: send(i) queues statement(s) for items[i] and returns how many (0 to
 * skip), then Sync; results land in res (nres slots), the caller reads and clears them. */
typedef int (*send_fn)(wk_store_t *st, const wk_item_t *it, const uint8_t *zbase);

static ing_err_t pipeline_run(wk_store_t *st, wk_item_t *items, size_t n, const uint8_t *zbase,
                              send_fn send, PGresult **res, size_t nres, size_t *nq,
                              const char *what, char *errstr, size_t errstr_size)
{
    ing_err_t err = pipeline_begin(st, errstr, errstr_size);
    *nq = 0;
    for (size_t i = 0; !err && i < n; i++) {
        int k = send(st, &items[i], zbase);
        if (k < 0)
            err = pg_error(st, NULL, "send", errstr, errstr_size);
        else
            *nq += (size_t)k;
    }
    if (!err && *nq > nres)
        err = ING_ERR_INTERNAL;
    if (!err && PQpipelineSync(st->conn) != 1)
        err = pg_error(st, NULL, "sync", errstr, errstr_size);
    if (!err)
        err = pipeline_collect(st, res, *nq, what, errstr, errstr_size);
    return pipeline_end(st, err, errstr, errstr_size);
}

static int send_facts(wk_store_t *st, const wk_item_t *it, const uint8_t *zbase)
{
    if (it->outcome != WK_OUT_PENDING)
        return 0;
    params_t p;
    memset(&p, 0, sizeof(p));
    p_text(&p, it->env.ins);
    p_bin(&p, it->env.sha256, ING_SHA256_LEN);
    p_text(&p, it->env.type_code);
    p_text(&p, it->env.finess);
    p_text(&p, it->env.document_id);
    p_int(&p, it->env.version);
    p_text(&p, it->meta.submission_id);
    return send_prepared(st, "wk_facts", &p) ? 1 : -1;
}

static int send_insert(wk_store_t *st, const wk_item_t *it, const uint8_t *zbase)
{
    if (it->outcome != WK_OUT_STORED)
        return 0;
    params_t p, d;
    memset(&p, 0, sizeof(p));
    p_text(&p, it->env.ins);
    params_document(&d, it, zbase);
    if (!send_prepared(st, "wk_patient", &p) || !send_prepared(st, "wk_document", &d))
        return -1;
    if (!it->supersede_others)
        return 2;
    params_t s;
    memset(&s, 0, sizeof(s));
    p_text(&s, it->env.finess);
    p_text(&s, it->env.document_id);
    p_int(&s, it->env.version);
    return send_prepared(st, "wk_supersede", &s) ? 3 : -1;
}

static int64_t int_or_zero(const PGresult *r, int col)
{
    return PQgetisnull(r, 0, col) ? 0 : strtoll(PQgetvalue(r, 0, col), NULL, 10);
}

static bool same_document(const wk_item_t *a, const wk_item_t *b)
{
    return strcmp(a->env.finess, b->env.finess) == 0 &&
           strcmp(a->env.document_id, b->env.document_id) == 0;
}

/*
 * The database's facts miss the batch's own earlier records (not inserted yet): add them.
 * An earlier item's document id is unknown until its insert, so a reference to it is
 * encoded as -(index + 1) and resolved after phase_insert.
 */
static void facts_overlay(wk_facts_t *f, const wk_item_t *items, size_t i)
{
    const wk_item_t *it = &items[i];
    for (size_t j = 0; j < i; j++) {
        const wk_item_t *e = &items[j];
        if (e->outcome != WK_OUT_STORED)
            continue;
        bool same_doc = same_document(e, it);
        bool same_sha = memcmp(e->env.sha256, it->env.sha256, ING_SHA256_LEN) == 0;
        if (same_doc && e->env.version > f->current_version)
            f->current_version = e->env.version;
        if (same_doc && e->env.version == it->env.version && f->same_key == WK_KEY_NEW) {
            f->same_key = same_sha ? WK_KEY_SAME_SHA : WK_KEY_OTHER_SHA;
            f->same_key_ref = -(int64_t)j - 1;
        }
        if (!same_doc && !f->duplicate_of && same_sha && strcmp(e->env.ins, it->env.ins) == 0 &&
            strcmp(e->env.type_code, it->env.type_code) == 0)
            f->duplicate_of = -(int64_t)j - 1;
    }
}

static void apply_decision(wk_item_t *it, const wk_decision_t *d, const wk_facts_t *f)
{
    it->rule = d->rule;
    it->document_ref = d->document_ref > 0 ? d->document_ref : 0;
    it->ref_item = d->document_ref < 0 ? (int)(-d->document_ref - 1) : -1;
    switch (d->status) {
    case WK_STATUS_NONE:
        it->outcome = WK_OUT_RETRY;
        break;
    case WK_STATUS_STORED:
        it->outcome = WK_OUT_STORED;
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

/* Phase 1: the facts of every valid document, then the decisions (wk_rules). */
static ing_err_t phase_decide(wk_store_t *st, wk_item_t *items, size_t n, char *errstr,
                              size_t errstr_size)
{
    size_t npending = 0, nq = 0;
    for (size_t i = 0; i < n; i++)
        npending += items[i].outcome == WK_OUT_PENDING;
    if (npending == 0)
        return ING_OK;
    PGresult **res = calloc(npending, sizeof(*res));
    if (!res)
        return ING_ERR_NOMEM;
    ing_err_t err = pipeline_run(st, items, n, NULL, send_facts, res, npending, &nq, "read facts",
                                 errstr, errstr_size);
    size_t k = 0;
    for (size_t i = 0; !err && i < n; i++) {
        if (items[i].outcome != WK_OUT_PENDING)
            continue;
        const PGresult *r = res[k++];
        wk_facts_t f = {.version = items[i].env.version};
        f.opposed = strcmp(PQgetvalue(r, 0, 0), "t") == 0;
        f.duplicate_of = int_or_zero(r, 1);
        f.same_key_ref = int_or_zero(r, 2);
        if (f.same_key_ref)
            f.same_key = strcmp(PQgetvalue(r, 0, 3), "t") == 0 ? WK_KEY_SAME_SHA : WK_KEY_OTHER_SHA;
        f.current_version = (uint32_t)int_or_zero(r, 4);
        f.decided = strcmp(PQgetvalue(r, 0, 5), "t") == 0;
        facts_overlay(&f, items, i);
        wk_decision_t d = wk_rules_decide(&f);
        apply_decision(&items[i], &d, &f);
    }
    for (size_t i = 0; i < nq; i++)
        PQclear(res[i]);
    free(res);
    return err;
}

/* Phase 2: patient spaces, documents, superseded flags. */
static ing_err_t phase_insert(wk_store_t *st, wk_item_t *items, size_t n, const uint8_t *zbase,
                              char *errstr, size_t errstr_size)
{
    size_t nstore = 0, nq = 0;
    for (size_t i = 0; i < n; i++)
        nstore += items[i].outcome == WK_OUT_STORED;
    if (nstore == 0)
        return ING_OK;
    PGresult **res = calloc(nstore * 3, sizeof(*res));
    if (!res)
        return ING_ERR_NOMEM;
    ing_err_t err = pipeline_run(st, items, n, zbase, send_insert, res, nstore * 3, &nq,
                                 "insert documents", errstr, errstr_size);
    size_t k = 0;
    for (size_t i = 0; !err && i < n; i++) {
        if (items[i].outcome != WK_OUT_STORED)
            continue;
        const PGresult *r = res[k + 1];
        k += items[i].supersede_others ? 3 : 2;
        if (PQntuples(r) != 1) {
            /* Inserted by someone else since we read the facts (another partition's worker
             * with the same source and document_id): decide again on redelivery. */
            snprintf(errstr, errstr_size, "document %s of %s was inserted concurrently",
                     items[i].env.document_id, items[i].env.finess);
            err = ING_ERR_UNAVAILABLE;
            break;
        }
        items[i].document_ref = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    }
    for (size_t i = 0; !err && i < n; i++)
        if (items[i].ref_item >= 0)
            items[i].document_ref = items[items[i].ref_item].document_ref;
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
