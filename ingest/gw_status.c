#include "gw_status.h"

#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>

#include "ing_codec.h"
#include "ing_log.h"
#include "ing_time.h"

#define BACKOFF_MIN_US 100000
#define BACKOFF_MAX_US 5000000
#define CONNECT_TIMEOUT_US 5000000
/* 'accepted' rows go in one prepared statement of up to INSERT_BATCH_MAX rows, sent when that
 * many are queued, when the oldest has waited INSERT_LINGER_US, or at once when a GET waits
 * behind them. The row is asynchronous to the 202 anyway, and it cost PostgreSQL about as much
 * CPU as the gateway's own work: 31-35 us per row with VALUES lists of ~10 rows, parsed and
 * planned for each statement, 22-25 us this way in the same database. */
#define INSERT_BATCH_MAX 500
#define INSERT_LINGER_US 10000
#define INSERT_STMT "gw_accepted"

typedef enum { OP_INSERT, OP_GET, OP_LISTEN, OP_PREPARE } op_kind_t;

#define NOTIFY_CHANNEL "submission_final" /* deploy/migrations/004_submission_notify.sql */

typedef struct gw_status_op {
    struct gw_status_op *next;
    op_kind_t kind;
    uint64_t ref;         /* OP_GET */
    gw_status_get_fn *fn; /* OP_GET: its callback (NULL: conf.on_get) */
    void *fn_opaque;
    int64_t queued_us; /* OP_INSERT: when it was queued (the linger) */
    gw_accepted_t a;   /* OP_INSERT; a.submission_id for OP_GET */
} gw_status_op_t;

typedef enum { ST_DOWN, ST_CONNECTING, ST_READY } st_state_t;

struct gw_status {
    gw_status_conf_t conf;
    char db_url[1024];
    PGconn *pg;
    st_state_t state;
    int registered_fd;
    int64_t next_attempt_us; /* ST_DOWN: when to reconnect */
    int64_t connect_deadline_us;
    int64_t backoff_us;
    gw_status_op_t *head, *tail; /* queued, not sent */
    gw_status_op_t *inflight;    /* the batch of the statement in flight */
    PGresult *inflight_result;
    size_t queued, inflight_count;
    size_t queued_inserts; /* of queued: OP_INSERT */
    uint64_t dropped;
    bool want_write;
    bool outage; /* down since the last successful connection (or since start) */
    uint64_t connections;
    /* The five array parameters of the insert, as PostgreSQL array literals. */
    char ids[INSERT_BATCH_MAX * (ING_SUBMISSION_ID_LEN + 3) + 4];
    char orgs[INSERT_BATCH_MAX * (ING_FINESS_LEN + 3) + 4];
    char docs[INSERT_BATCH_MAX * (2 * ING_DOCUMENT_ID_MAX + 3) + 4];
    char versions[INSERT_BATCH_MAX * 13 + 4];
    char times[INSERT_BATCH_MAX * 23 + 4];
};

/* Appended, never checked against what is there (migration 007), into its week's partition
 * (migration 008): a resent submission gets a second row, which the view submission_status
 * folds into one. unnest() hands the rows to the insert in array order. */
static const char insert_sql[] =
    "INSERT INTO submission_accepted (submission_id, org_finess, document_id, version, "
    "received_at) "
    "SELECT s, o, d, v, to_timestamp(t / 1000000.0) "
    "FROM unnest($1::text[], $2::text[], $3::text[], $4::integer[], $5::bigint[]) "
    "AS u(s, o, d, v, t)";

/* libpq's last error as one log-friendly line (no newline, no double quotes). */
static void pg_reason(char *out, size_t size, const char *prefix, const char *msg)
{
    snprintf(out, size, "%s%s", prefix, msg ? msg : "");
    for (char *p = out; *p; p++)
        if (*p == '"')
            *p = '\'';
    out[strcspn(out, "\n")] = '\0';
}

static void op_list_free(gw_status_op_t *op)
{
    while (op) {
        gw_status_op_t *next = op->next;
        free(op);
        op = next;
    }
}

static void notice_cb(void *arg, const char *message)
{
    ing_log(ING_LOG_DEBUG, "status", "postgres notice: %s", message);
}

/* (Re)registers the socket: libpq may close and reopen it during a connection attempt, and a
 * new socket can reuse the old number, so delete-and-add rather than compare numbers. */
static void watch(gw_status_t *st, uint32_t events)
{
    int fd = st->pg ? PQsocket(st->pg) : -1;
    if (st->registered_fd >= 0)
        epoll_ctl(st->conf.epfd, EPOLL_CTL_DEL, st->registered_fd, NULL);
    st->registered_fd = -1;
    if (fd < 0)
        return;
    struct epoll_event ev = {.events = events, .data.u64 = st->conf.epoll_tag};
    if (epoll_ctl(st->conf.epfd, EPOLL_CTL_ADD, fd, &ev) == 0)
        st->registered_fd = fd;
}

static void count(atomic_uint_fast64_t *counter, uint64_t n)
{
    if (counter && n)
        atomic_fetch_add_explicit(counter, n, memory_order_release);
}

/* Calls the read's callback. */
static void get_done(gw_status_t *st, const gw_status_op_t *op, ing_err_t err,
                     const gw_submission_t *row)
{
    if (op->fn)
        op->fn(op->fn_opaque, op->ref, err, row);
    else
        st->conf.on_get(st->conf.cb_opaque, op->ref, err, row);
}

static void drop_inserts(gw_status_t *st, gw_status_op_t *list, const char *why)
{
    uint64_t n = 0;
    for (gw_status_op_t *op = list; op; op = op->next) {
        if (op->kind == OP_INSERT)
            n++;
        else if (op->kind == OP_GET)
            get_done(st, op, ING_ERR_UNAVAILABLE, NULL);
    }
    count(st->conf.inserts_done, n);
    if (n) {
        st->dropped += n;
        ing_log(ING_LOG_WARN, "status",
                "thread=%d dropped %llu 'accepted' rows (%s); total dropped=%llu",
                st->conf.thread_no, (unsigned long long)n, why, (unsigned long long)st->dropped);
    }
    op_list_free(list);
}

/* The connection is lost or could not be made: fail what waits, retry later. */
static void go_down(gw_status_t *st, const char *why)
{
    /* One warning per outage; the retries that follow log at debug level. */
    ing_log(st->outage ? ING_LOG_DEBUG : ING_LOG_WARN, "status",
            "thread=%d database unavailable: %s", st->conf.thread_no, why);
    st->outage = true;
    if (st->registered_fd >= 0)
        epoll_ctl(st->conf.epfd, EPOLL_CTL_DEL, st->registered_fd, NULL);
    st->registered_fd = -1;
    st->want_write = false;
    if (st->pg)
        PQfinish(st->pg);
    st->pg = NULL;
    st->state = ST_DOWN;
    if (st->inflight_result)
        PQclear(st->inflight_result);
    st->inflight_result = NULL;
    gw_status_op_t *lost = st->inflight;
    st->inflight = NULL;
    st->inflight_count = 0;
    gw_status_op_t *queued = st->head;
    st->head = st->tail = NULL;
    st->queued = 0;
    st->queued_inserts = 0;
    st->backoff_us = st->backoff_us ? st->backoff_us * 2 : BACKOFF_MIN_US;
    if (st->backoff_us > BACKOFF_MAX_US)
        st->backoff_us = BACKOFF_MAX_US;
    st->next_attempt_us = ing_mono_us() + st->backoff_us;
    /* Callbacks last: the state is consistent if they queue something new. */
    drop_inserts(st, lost, "connection lost");
    drop_inserts(st, queued, "connection lost");
}

static void start_connect(gw_status_t *st)
{
    st->pg = PQconnectStart(st->db_url);
    if (!st->pg) {
        go_down(st, "out of memory");
        return;
    }
    if (PQstatus(st->pg) == CONNECTION_BAD) {
        char why[256];
        pg_reason(why, sizeof(why), "", PQerrorMessage(st->pg));
        go_down(st, why);
        return;
    }
    PQsetNoticeProcessor(st->pg, notice_cb, NULL);
    st->state = ST_CONNECTING;
    st->connect_deadline_us = ing_mono_us() + CONNECT_TIMEOUT_US;
    watch(st, EPOLLOUT); /* PQconnectStart's first wait is PGRES_POLLING_WRITING */
}

static void send_next(gw_status_t *st, int64_t now_us);

/* Puts an operation of kind at the head of the queue (connection set-up). */
static void push_front(gw_status_t *st, op_kind_t kind)
{
    gw_status_op_t *op = calloc(1, sizeof(*op));
    if (!op)
        return;
    op->kind = kind;
    op->next = st->head;
    st->head = op;
    if (!st->tail)
        st->tail = op;
    st->queued++;
}

static void continue_connect(gw_status_t *st)
{
    switch (PQconnectPoll(st->pg)) {
    case PGRES_POLLING_READING:
        watch(st, EPOLLIN);
        return;
    case PGRES_POLLING_WRITING:
        watch(st, EPOLLOUT);
        return;
    case PGRES_POLLING_OK:
        if (PQsetnonblocking(st->pg, 1) != 0) {
            go_down(st, "cannot set the connection non-blocking");
            return;
        }
        st->state = ST_READY;
        st->backoff_us = 0;
        st->outage = false;
        st->connections++;
        watch(st, EPOLLIN);
        ing_log(ING_LOG_INFO, "status", "thread=%d database connected", st->conf.thread_no);
        /* First on the new connection: LISTEN, before any read that a waiter relies on, and
         * before that the insert statement. */
        if (st->conf.on_notify)
            push_front(st, OP_LISTEN);
        push_front(st, OP_PREPARE);
        send_next(st, ing_mono_us());
        return;
    default: {
        char why[256];
        pg_reason(why, sizeof(why), "", PQerrorMessage(st->pg));
        go_down(st, why);
        return;
    }
    }
}

static void flush_out(gw_status_t *st)
{
    int r = PQflush(st->pg);
    if (r < 0) {
        go_down(st, "write failed");
        return;
    }
    bool want = r == 1;
    if (want != st->want_write) {
        st->want_write = want;
        struct epoll_event ev = {.events = EPOLLIN | (want ? EPOLLOUT : 0),
                                 .data.u64 = st->conf.epoll_tag};
        epoll_ctl(st->conf.epfd, EPOLL_CTL_MOD, st->registered_fd, &ev);
    }
}

static const char get_sql[] =
    "SELECT submission_id, org_finess, status, code, detail, document_id, version, "
    "to_char(updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"') "
    "FROM submission_status WHERE submission_id = $1"; /* migration 006 */

/* Appends value to a PostgreSQL array literal, quoted, with '"' and '\\' escaped. */
static size_t array_put(char *buf, size_t size, size_t len, const char *value)
{
    size_t need = 4; /* separator, two quotes, the closing brace */
    for (const char *c = value; *c; c++)
        need += *c == '"' || *c == '\\' ? 2 : 1;
    if (len + need >= size)
        return len; /* cannot happen: the buffers hold INSERT_BATCH_MAX of the longest */
    buf[len] = len ? ',' : '{';
    len++;
    buf[len++] = '"';
    for (const char *c = value; *c; c++) {
        if (*c == '"' || *c == '\\')
            buf[len++] = '\\';
        buf[len++] = *c;
    }
    buf[len++] = '"';
    buf[len] = '\0';
    return len;
}

/* Closes an array literal that array_put started (or makes an empty one). */
static void array_end(char *buf, size_t len)
{
    if (len == 0)
        buf[len++] = '{';
    buf[len++] = '}';
    buf[len] = '\0';
}

/* Whether the inserts that lead the queue go now: a full statement's worth, something else
 * waiting behind them, or the oldest's linger over. Called every loop iteration: no walk. */
static bool inserts_due(const gw_status_t *st, int64_t now_us)
{
    return st->queued_inserts >= INSERT_BATCH_MAX || st->queued > st->queued_inserts ||
           now_us - st->head->queued_us >= INSERT_LINGER_US;
}

/* Sends the detached list of inserts at first (at most INSERT_BATCH_MAX) as one statement. */
static int send_inserts(gw_status_t *st, const gw_status_op_t *first)
{
    size_t li = 0, lo = 0, ld = 0, lv = 0, lt = 0, count = 0;
    for (const gw_status_op_t *op = first; op && count < INSERT_BATCH_MAX; op = op->next, count++) {
        const gw_accepted_t *a = &op->a;
        char version[ING_DECIMAL_U64_MAX + 1], at[ING_DECIMAL_U64_MAX + 1];
        version[ing_decimal_u64(a->version, version)] = '\0';
        at[ing_decimal_u64(a->received_at_us > 0 ? (uint64_t)a->received_at_us : 0, at)] = '\0';
        li = array_put(st->ids, sizeof(st->ids), li, a->submission_id);
        lo = array_put(st->orgs, sizeof(st->orgs), lo, a->org_finess);
        ld = array_put(st->docs, sizeof(st->docs), ld, a->document_id);
        lv = array_put(st->versions, sizeof(st->versions), lv, version);
        lt = array_put(st->times, sizeof(st->times), lt, at);
    }
    array_end(st->ids, li);
    array_end(st->orgs, lo);
    array_end(st->docs, ld);
    array_end(st->versions, lv);
    array_end(st->times, lt);
    const char *values[5] = {st->ids, st->orgs, st->docs, st->versions, st->times};
    return PQsendQueryPrepared(st->pg, INSERT_STMT, 5, values, NULL, NULL, 0);
}

/* Sends the statement for the head of the queue: one GET, LISTEN or PREPARE, or the leading
 * inserts as one statement once they are due. */
static void send_next(gw_status_t *st, int64_t now_us)
{
    if (st->state != ST_READY || st->inflight || !st->head)
        return;
    gw_status_op_t *first = st->head;
    size_t n = 1;
    gw_status_op_t *last = first;
    if (first->kind == OP_INSERT) {
        if (!inserts_due(st, now_us))
            return;
        while (last->next && last->next->kind == OP_INSERT && n < INSERT_BATCH_MAX) {
            last = last->next;
            n++;
        }
        st->queued_inserts -= n;
    }
    st->head = last->next;
    last->next = NULL;
    if (!st->head)
        st->tail = NULL;
    st->queued -= n;
    st->inflight = first;
    st->inflight_count = n;
    int ok;
    if (first->kind == OP_PREPARE) {
        ok = PQsendPrepare(st->pg, INSERT_STMT, insert_sql, 0, NULL);
    } else if (first->kind == OP_LISTEN) {
        ok = PQsendQuery(st->pg, "LISTEN " NOTIFY_CHANNEL);
    } else if (first->kind == OP_GET) {
        const char *values[1] = {first->a.submission_id};
        ok = PQsendQueryParams(st->pg, get_sql, 1, NULL, values, NULL, NULL, 0);
    } else {
        ok = send_inserts(st, first);
    }
    if (!ok) {
        char why[256];
        pg_reason(why, sizeof(why), "send: ", PQerrorMessage(st->pg));
        go_down(st, why);
        return;
    }
    flush_out(st);
}

static void copy_col(char *dst, size_t size, const PGresult *r, int col)
{
    snprintf(dst, size, "%s", PQgetisnull(r, 0, col) ? "" : PQgetvalue(r, 0, col));
}

/* The statement in flight finished (res: its last result, may be NULL). */
static void complete_inflight(gw_status_t *st, PGresult *res)
{
    gw_status_op_t *batch = st->inflight;
    st->inflight = NULL;
    st->inflight_count = 0;
    ExecStatusType s = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
    char why[256];
    if (batch->kind == OP_PREPARE) {
        op_list_free(batch);
        if (s != PGRES_COMMAND_OK) {
            pg_reason(why, sizeof(why),
                      "prepare failed: ", res ? PQresultErrorMessage(res) : "no result");
            go_down(st, why);
        }
        return;
    }
    if (batch->kind == OP_LISTEN) {
        if (s != PGRES_COMMAND_OK) {
            pg_reason(why, sizeof(why), "", res ? PQresultErrorMessage(res) : "no result");
            ing_log(ING_LOG_WARN, "status", "thread=%d LISTEN failed: %s", st->conf.thread_no, why);
        }
        op_list_free(batch);
        return;
    }
    if (batch->kind == OP_INSERT) {
        if (s != PGRES_COMMAND_OK) {
            pg_reason(why, sizeof(why),
                      "insert failed: ", res ? PQresultErrorMessage(res) : "no result");
            drop_inserts(st, batch, why);
        } else {
            uint64_t n = 0;
            for (gw_status_op_t *op = batch; op; op = op->next)
                n++;
            op_list_free(batch);
            count(st->conf.inserts_done, n); /* committed: visible to every connection */
        }
        return;
    }
    if (s != PGRES_TUPLES_OK) {
        pg_reason(why, sizeof(why), "", res ? PQresultErrorMessage(res) : "no result");
        ing_log(ING_LOG_WARN, "status", "thread=%d select failed: %s", st->conf.thread_no, why);
        get_done(st, batch, ING_ERR_UNAVAILABLE, NULL);
    } else if (PQntuples(res) == 0) {
        get_done(st, batch, ING_OK, NULL);
    } else {
        gw_submission_t row;
        copy_col(row.submission_id, sizeof(row.submission_id), res, 0);
        copy_col(row.org_finess, sizeof(row.org_finess), res, 1);
        copy_col(row.status, sizeof(row.status), res, 2);
        copy_col(row.code, sizeof(row.code), res, 3);
        copy_col(row.detail, sizeof(row.detail), res, 4);
        copy_col(row.document_id, sizeof(row.document_id), res, 5);
        row.version = strtol(PQgetvalue(res, 0, 6), NULL, 10);
        copy_col(row.updated_at, sizeof(row.updated_at), res, 7);
        get_done(st, batch, ING_OK, &row);
    }
    op_list_free(batch);
}

/* Passes on what PQconsumeInput / PQgetResult parsed from the submission_final channel. */
static void serve_notifies(gw_status_t *st)
{
    PGnotify *n;
    while (st->pg && (n = PQnotifies(st->pg)) != NULL) {
        if (st->conf.on_notify && strcmp(n->relname, NOTIFY_CHANNEL) == 0)
            st->conf.on_notify(st->conf.cb_opaque, n->extra);
        PQfreemem(n);
    }
}

static void read_results(gw_status_t *st)
{
    if (!PQconsumeInput(st->pg)) {
        char why[256];
        pg_reason(why, sizeof(why), "", PQerrorMessage(st->pg));
        go_down(st, why);
        return;
    }
    serve_notifies(st);
    while (st->inflight && !PQisBusy(st->pg)) {
        PGresult *r = PQgetResult(st->pg);
        if (r) {
            /* Keep the first result of the statement; a second one cannot come for ours. */
            if (!st->inflight_result)
                st->inflight_result = r;
            else
                PQclear(r);
            continue;
        }
        PGresult *res = st->inflight_result;
        st->inflight_result = NULL;
        complete_inflight(st, res);
        if (res)
            PQclear(res);
    }
    if (st->state == ST_READY && PQstatus(st->pg) == CONNECTION_BAD) {
        go_down(st, "connection closed");
        return;
    }
    serve_notifies(st);
    send_next(st, ing_mono_us());
}

ing_err_t gw_status_create(const gw_status_conf_t *conf, gw_status_t **out)
{
    gw_status_t *st = calloc(1, sizeof(*st));
    if (!st)
        return ING_ERR_NOMEM;
    st->conf = *conf;
    snprintf(st->db_url, sizeof(st->db_url), "%s", conf->db_url);
    st->conf.db_url = st->db_url;
    st->registered_fd = -1;
    st->state = ST_DOWN;
    st->next_attempt_us = 0;
    start_connect(st);
    *out = st;
    return ING_OK;
}

void gw_status_destroy(gw_status_t *st)
{
    if (!st)
        return;
    if (st->registered_fd >= 0)
        epoll_ctl(st->conf.epfd, EPOLL_CTL_DEL, st->registered_fd, NULL);
    if (st->inflight_result)
        PQclear(st->inflight_result);
    if (st->pg)
        PQfinish(st->pg);
    st->pg = NULL;
    st->state = ST_DOWN;
    /* Every accepted GET gets its one callback, even at shut-down. */
    gw_status_op_t *lost = st->inflight, *queued = st->head;
    st->inflight = st->head = st->tail = NULL;
    drop_inserts(st, lost, "shut-down");
    drop_inserts(st, queued, "shut-down");
    free(st);
}

void gw_status_on_io(gw_status_t *st, uint32_t events)
{
    switch (st->state) {
    case ST_DOWN:
        return;
    case ST_CONNECTING:
        continue_connect(st);
        return;
    case ST_READY:
        if (events & EPOLLOUT) {
            flush_out(st);
            if (st->state != ST_READY)
                return;
        }
        if (events & (EPOLLIN | EPOLLHUP | EPOLLERR))
            read_results(st);
        return;
    }
}

int64_t gw_status_tick(gw_status_t *st, int64_t now_us)
{
    send_next(st, now_us);
    if (st->state == ST_DOWN && now_us >= st->next_attempt_us)
        start_connect(st);
    if (st->state == ST_CONNECTING && now_us >= st->connect_deadline_us)
        go_down(st, "connection attempt timed out");
    switch (st->state) {
    case ST_DOWN:
        return st->next_attempt_us;
    case ST_CONNECTING:
        return st->connect_deadline_us;
    case ST_READY:
        break;
    }
    if (!st->inflight && st->head && st->head->kind == OP_INSERT)
        return st->head->queued_us + INSERT_LINGER_US;
    return INT64_MAX;
}

static bool enqueue(gw_status_t *st, gw_status_op_t *op)
{
    if (st->state != ST_READY || st->queued >= st->conf.max_queue)
        return false;
    op->next = NULL;
    if (st->tail)
        st->tail->next = op;
    else
        st->head = op;
    st->tail = op;
    st->queued++;
    if (op->kind == OP_INSERT)
        st->queued_inserts++;
    /* Sent from gw_status_tick at the end of the loop iteration: never calls back from here,
     * and inserts produced in one iteration go in one statement. */
    return true;
}

void gw_status_accepted(gw_status_t *st, const gw_accepted_t *a)
{
    count(st->conf.inserts_queued, 1);
    gw_status_op_t *op = malloc(sizeof(*op));
    if (op) {
        op->kind = OP_INSERT;
        op->ref = 0;
        op->queued_us = ing_mono_us();
        op->a = *a;
        if (enqueue(st, op))
            return;
        op->next = NULL;
    }
    if (!op) {
        count(st->conf.inserts_done, 1);
        st->dropped++;
        ing_log(ING_LOG_WARN, "status", "thread=%d dropped 1 'accepted' row (out of memory)",
                st->conf.thread_no);
        return;
    }
    drop_inserts(st, op, "database unavailable or queue full");
}

ing_err_t gw_status_get(gw_status_t *st, const char *submission_id, uint64_t ref)
{
    return gw_status_read(st, submission_id, NULL, NULL, ref);
}

ing_err_t gw_status_read(gw_status_t *st, const char *submission_id, gw_status_get_fn *fn,
                         void *cb_opaque, uint64_t ref)
{
    if (st->state != ST_READY || st->queued >= st->conf.max_queue)
        return ING_ERR_UNAVAILABLE;
    gw_status_op_t *op = calloc(1, sizeof(*op));
    if (!op)
        return ING_ERR_UNAVAILABLE;
    op->kind = OP_GET;
    op->ref = ref;
    op->fn = fn;
    op->fn_opaque = cb_opaque;
    snprintf(op->a.submission_id, sizeof(op->a.submission_id), "%s", submission_id);
    if (!enqueue(st, op)) {
        free(op);
        return ING_ERR_UNAVAILABLE;
    }
    return ING_OK;
}

size_t gw_status_pending(const gw_status_t *st)
{
    return st->queued + st->inflight_count;
}

uint64_t gw_status_dropped(const gw_status_t *st)
{
    return st->dropped;
}

bool gw_status_connected(const gw_status_t *st)
{
    return st->state == ST_READY;
}

uint64_t gw_status_connections(const gw_status_t *st)
{
    return st->connections;
}
