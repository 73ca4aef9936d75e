#include "gw_sync.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gw_wait.h"
#include "ing_log.h"

struct gw_sync {
    gw_loop_t *loop; /* @borrows: the owner */
    gw_wait_t *wait;
    uint64_t connections; /* gw_status_connections when last seen */
    uint64_t full;        /* requests answered 202 at once: the pool was full */
};

ing_err_t gw_sync_create(gw_loop_t *loop, size_t max_waiters, gw_sync_t **out)
{
    gw_sync_t *s = calloc(1, sizeof(*s));
    if (!s)
        return ING_ERR_NOMEM;
    s->loop = loop;
    if (gw_wait_create(max_waiters, &s->wait) != ING_OK) {
        free(s);
        return ING_ERR_NOMEM;
    }
    *out = s;
    return ING_OK;
}

void gw_sync_destroy(gw_sync_t *s)
{
    if (!s)
        return;
    gw_wait_destroy(s->wait);
    free(s);
}

json_t *gw_sync_submission_json(const gw_submission_t *row)
{
    json_t *o = json_pack("{s:s, s:s, s:s, s:I, s:s}", "submission_id", row->submission_id,
                          "status", row->status, "document_id", row->document_id, "version",
                          (json_int_t)row->version, "updated_at", row->updated_at);
    if (o && row->code[0])
        json_object_set_new(o, "code", json_string(row->code));
    if (o && row->detail[0])
        json_object_set_new(o, "detail", json_string(row->detail));
    return o;
}

/* prefix + mid + suffix into dst, NUL-terminated; returns the length. dst holds them. */
static size_t join3(char *dst, const char *prefix, const char *mid, size_t mid_len,
                    const char *suffix)
{
    size_t lp = strlen(prefix), ls = strlen(suffix);
    memcpy(dst, prefix, lp);
    memcpy(dst + lp, mid, mid_len);
    memcpy(dst + lp + mid_len, suffix, ls + 1);
    return lp + mid_len + ls;
}

void gw_sync_respond_accepted(gw_conn_t *c, const char *sid)
{
    /* Assembled by copies, not printf: this runs once per document accepted singly. */
    char body[64 + ING_SUBMISSION_ID_LEN], location[64 + ING_SUBMISSION_ID_LEN];
    size_t id_len = strnlen(sid, ING_SUBMISSION_ID_LEN);
    size_t n = join3(body, "{\"submission_id\":\"", sid, id_len, "\",\"status\":\"accepted\"}");
    join3(location, "Location: /v1/submissions/", sid, id_len, "\r\n");
    gw_conn_respond(c, 202, "application/json", body, n, location);
}

typedef struct answer {
    gw_loop_t *loop;
    const char *text; /* the row's JSON, rendered once for every waiter */
} answer_t;

static void answer_final(void *arg, uint64_t handle, const char *sid)
{
    const answer_t *a = arg;
    gw_conn_t *c = gw_loop_waiting_conn(a->loop, handle);
    if (!c)
        return; /* the client left */
    if (a->text)
        gw_conn_respond(c, 200, "application/json", a->text, strlen(a->text), NULL);
    else
        gw_sync_respond_accepted(c, sid); /* out of memory: still a true answer */
}

static void answer_accepted(void *arg, uint64_t handle, const char *sid)
{
    gw_conn_t *c = gw_loop_waiting_conn(arg, handle);
    if (c)
        gw_sync_respond_accepted(c, sid);
}

static bool is_final(const char *status)
{
    return strcmp(status, "accepted") != 0;
}

/* gw_status_get_fn of our reads: a final row answers every waiter of its id. A miss, an
 * 'accepted' row or an error leaves them waiting (a notification or their deadline comes). */
static void on_row(void *opaque, uint64_t ref, ing_err_t err, const gw_submission_t *row)
{
    (void)ref;
    gw_sync_t *s = opaque;
    if (err || !row || !is_final(row->status) || !gw_wait_has(s->wait, row->submission_id))
        return;
    json_t *o = gw_sync_submission_json(row);
    char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    answer_t a = {s->loop, text};
    size_t n = gw_wait_take(s->wait, row->submission_id, answer_final, &a);
    ing_log(ING_LOG_DEBUG, "sync", "thread=%d submission_id=%s status=%s answered=%zu",
            gw_loop_thread_no(s->loop), row->submission_id, row->status, n);
    free(text);
}

static void read_row(void *arg, const char *sid)
{
    gw_sync_t *s = arg;
    /* Refused (database down, queue full): a later notification or the deadline answers. */
    (void)!gw_status_read(gw_loop_status(s->loop), sid, on_row, s, 0);
}

bool gw_sync_begin(gw_sync_t *s, gw_conn_t *c, const char *sid, int wait_s, int64_t now_us)
{
    if (wait_s <= 0 || gw_loop_stopping(s->loop) || !gw_status_connected(gw_loop_status(s->loop)))
        return false;
    if (gw_wait_add(s->wait, sid, gw_conn_request_handle(c), now_us + wait_s * INT64_C(1000000)) !=
        ING_OK) {
        if (s->full++ % 1000 == 0)
            ing_log(ING_LOG_WARN, "sync",
                    "thread=%d %zu requests wait already: answering 202 at once (%llu times)",
                    gw_loop_thread_no(s->loop), gw_wait_count(s->wait),
                    (unsigned long long)s->full);
        return false;
    }
    gw_conn_hold(c);
    /* Once right away: the worker may have committed before anything listened for it. */
    read_row(s, sid);
    return true;
}

void gw_sync_on_notify(gw_sync_t *s, const char *sid)
{
    if (sid && gw_wait_has(s->wait, sid))
        read_row(s, sid);
}

int64_t gw_sync_tick(gw_sync_t *s, int64_t now_us)
{
    if (gw_wait_count(s->wait) == 0) {
        s->connections = gw_status_connections(gw_loop_status(s->loop));
        return INT64_MAX;
    }
    /* At shut-down nobody waits longer: 202 now, the drain is bounded. */
    gw_wait_expire(s->wait, gw_loop_stopping(s->loop) ? INT64_MAX - 1 : now_us, answer_accepted,
                   s->loop);
    uint64_t conns = gw_status_connections(gw_loop_status(s->loop));
    if (conns != s->connections) {
        /* Reconnected: what was notified while we were away is lost, read every id again. */
        s->connections = conns;
        gw_wait_each_sid(s->wait, read_row, s);
    }
    return gw_wait_next_deadline(s->wait);
}

size_t gw_sync_waiting(const gw_sync_t *s)
{
    return gw_wait_count(s->wait);
}
