#include "gw_api.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "gw_auth.h"
#include "gw_ratelimit.h"
#include "gw_sync.h"
#include "gw_wait.h"
#include "ing_json.h"
#include "ing_log.h"
#include "ing_record.h"
#include "ing_time.h"

typedef struct gw_batch gw_batch_t;

/* What a produced record carries back to its delivery report. */
typedef struct gw_pending_post {
    gw_producer_msg_t msg; /* what the delivery report gives back */
    uint64_t handle;       /* the waiting request (single document), if still there */
    gw_batch_t *batch;     /* a batch item: the batch (which holds the handle), else NULL */
    size_t index;          /* the item's index in its batch */
    size_t record_bytes;   /* accounted in gw_loop_kafka_bytes until the report */
    int64_t started_us;
    int wait_s; /* Prefer: wait=N of a single document; 0: answer 202 */
    gw_accepted_t accepted;
} gw_pending_post_t;

/* The API's state of one I/O thread (gw_loop_api). */
struct gw_api_state {
    gw_ratelimit_t *rl;
    gw_sync_t *sync;
};

ing_err_t gw_api_state_create(gw_loop_t *loop, gw_api_state_t **out)
{
    const gw_settings_t *set = gw_loop_settings(loop);
    double threads = (double)set->threads;
    /* Each thread limits its share: SO_REUSEPORT spreads an organisation's connections over
     * the threads, so rate / threads each adds up to the rate without sharing a counter. */
    gw_ratelimit_conf_t rc = {
        .docs_per_s = (double)set->org_docs_per_s / threads,
        .docs_burst = (double)set->org_docs_burst / threads,
        .bytes_per_s = (double)set->org_bytes_per_s / threads,
        .bytes_burst = (double)set->org_bytes_burst / threads,
        .max_orgs = 65536,
    };
    gw_api_state_t *st = calloc(1, sizeof(*st));
    if (!st)
        return ING_ERR_NOMEM;
    if (gw_ratelimit_create(&rc, &st->rl) != ING_OK ||
        gw_sync_create(loop, (size_t)set->wait_max_requests, &st->sync) != ING_OK) {
        gw_api_state_destroy(st);
        return ING_ERR_NOMEM;
    }
    *out = st;
    return ING_OK;
}

void gw_api_state_destroy(gw_api_state_t *st)
{
    if (!st)
        return;
    gw_ratelimit_destroy(st->rl);
    gw_sync_destroy(st->sync);
    free(st);
}

size_t gw_api_waiting(gw_loop_t *loop)
{
    return gw_sync_waiting(gw_loop_api(loop)->sync);
}

int64_t gw_api_tick(gw_loop_t *loop, int64_t now_us)
{
    return gw_sync_tick(gw_loop_api(loop)->sync, now_us);
}

void gw_api_on_notify(void *loop, const char *payload)
{
    gw_sync_on_notify(gw_loop_api(loop)->sync, payload);
}

/* A rate-limited request's problem: 429 with the seconds until enough tokens. */
static void rate_limited_problem(gw_problem_t *p, int retry_after_s)
{
    char detail[128];
    snprintf(detail, sizeof(detail),
             "this organisation's submission rate is exceeded; retry in %d s", retry_after_s);
    gw_problem_from_err(p, ING_ERR_RATE_LIMITED, "", detail);
    p->retry_after = retry_after_s;
}

bool gw_api_admit_body(gw_loop_t *loop, gw_conn_t *c, const gw_http_request_t *req, gw_problem_t *p)
{
    gw_route_t r = gw_api_route(req);
    const char *org = gw_conn_identity(c)->org;
    gw_ratelimit_t *rl = gw_loop_api(loop)->rl;
    /* Cheap pushback: the organisation is known from the head (API key, certificate,
     * X-Ing-Org) and the body's size from Content-Length; under loopback trust without
     * X-Ing-Org it is only known from the body, so the check waits for it. */
    if ((r != GW_ROUTE_DOCUMENTS && r != GW_ROUTE_BATCH) || !org[0] || req->content_length < 0 ||
        gw_ratelimit_unlimited(rl))
        return true;
    int64_t w = gw_ratelimit_peek(rl, org, 1, (double)req->content_length, ing_mono_us());
    if (w == 0)
        return true;
    gw_metrics_add(&gw_loop_metrics(loop)->rate_limited, 1);
    rate_limited_problem(p, gw_ratelimit_retry_after(w));
    return false;
}

/* A record adds its metadata (at most a few KiB) to the content. */
#define RECORD_OVERHEAD 65536

/* What a submission read carries back to its result. */
typedef struct gw_pending_get {
    uint64_t handle;
    char org[ING_FINESS_LEN + 1]; /* "" = any organisation */
    char submission_id[ING_SUBMISSION_ID_LEN + 1];
    bool final;         /* a miss of the query in flight is the answer */
    int requeries;      /* after misses while other threads' inserts were pending */
    int64_t arrived_us; /* re-queries stop GET_CATCH_UP_US after this */
    uint64_t snap[];    /* every thread's inserts_queued when the GET arrived */
} gw_pending_get_t;

/* How long a miss may wait for the inserts queued before it (normally a few ms). */
#define GET_CATCH_UP_US 1000000

static const char submissions_prefix[] = "/v1/submissions/";

static bool slice_is(gw_slice_t s, const char *lit)
{
    return s.len == strlen(lit) && memcmp(s.ptr, lit, s.len) == 0;
}

/* The route of the target's path (the query is ignored); *id gets the submission id. */
static gw_route_t route_of(gw_slice_t target, gw_slice_t *id)
{
    static const struct {
        const char *path;
        gw_route_t route;
    } exact[] = {
        {"/v1/documents", GW_ROUTE_DOCUMENTS}, {"/v1/documents:batch", GW_ROUTE_BATCH},
        {"/healthz", GW_ROUTE_HEALTHZ},        {"/readyz", GW_ROUTE_READYZ},
        {"/metrics", GW_ROUTE_METRICS},
    };
    const char *q = memchr(target.ptr, '?', target.len);
    gw_slice_t path = {target.ptr, q ? (size_t)(q - target.ptr) : target.len};
    for (size_t i = 0; i < sizeof(exact) / sizeof(exact[0]); i++)
        if (slice_is(path, exact[i].path))
            return exact[i].route;
    size_t plen = sizeof(submissions_prefix) - 1;
    if (path.len > plen && memcmp(path.ptr, submissions_prefix, plen) == 0 &&
        !memchr(path.ptr + plen, '/', path.len - plen)) {
        if (id)
            *id = (gw_slice_t){path.ptr + plen, path.len - plen};
        return GW_ROUTE_SUBMISSION;
    }
    return GW_ROUTE_OTHER;
}

gw_route_t gw_api_route(const gw_http_request_t *req)
{
    return route_of(req->target, NULL);
}

static const char *allowed_method(gw_route_t r)
{
    return r == GW_ROUTE_DOCUMENTS || r == GW_ROUTE_BATCH ? "POST" : "GET";
}

/* The media type is mt, parameters (charset) allowed. */
static bool media_type_is(const gw_slice_t *ct, const char *mt)
{
    if (!ct)
        return false;
    size_t n = strlen(mt);
    if (ct->len < n || strncasecmp(ct->ptr, mt, n) != 0)
        return false;
    return ct->len == n || ct->ptr[n] == ';' || ct->ptr[n] == ' ' || ct->ptr[n] == '\t';
}

static bool is_json(const gw_slice_t *ct)
{
    return media_type_is(ct, "application/json");
}

static bool is_ndjson(const gw_slice_t *ct)
{
    return media_type_is(ct, "application/x-ndjson");
}

bool gw_api_precheck(const gw_http_request_t *req, const gw_auth_conf_t *auth,
                     const gw_auth_peer_t *peer, gw_auth_id_t *id, gw_problem_t *p)
{
    gw_route_t r = route_of(req->target, NULL);
    if (r == GW_ROUTE_OTHER) {
        gw_problem_http(p, 404, "no resource at this path");
        return false;
    }
    if (!slice_is(req->method, allowed_method(r))) {
        char detail[64];
        snprintf(detail, sizeof(detail), "only %s is allowed here", allowed_method(r));
        gw_problem_http(p, 405, detail);
        p->allow = allowed_method(r);
        return false;
    }
    bool public_route = r == GW_ROUTE_HEALTHZ || r == GW_ROUTE_READYZ || r == GW_ROUTE_METRICS;
    if (!public_route && !gw_auth_identify(auth, peer, req, id, p))
        return false;
    const gw_slice_t *ct = gw_http_header(req, "content-type");
    if (r == GW_ROUTE_DOCUMENTS && !is_json(ct)) {
        gw_problem_http(p, 415, "the body must be application/json");
        return false;
    }
    if (r == GW_ROUTE_BATCH && !is_json(ct) && !is_ndjson(ct)) {
        gw_problem_http(p, 415, "the body must be application/json or application/x-ndjson");
        return false;
    }
    return true;
}

/* Answers with a JSON body; takes the reference to body. */
static void respond_json(gw_conn_t *c, int status, json_t *body, const char *extra_headers)
{
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    if (!text) {
        gw_problem_t p;
        gw_problem_from_err(&p, ING_ERR_NOMEM, "", NULL);
        gw_conn_respond_problem(c, &p);
        return;
    }
    gw_conn_respond(c, status, "application/json", text, strlen(text), extra_headers);
    free(text);
}

static void respond_err(gw_conn_t *c, ing_err_t code, const char *detail)
{
    gw_problem_t p;
    gw_problem_from_err(&p, code, "", detail);
    gw_conn_respond_problem(c, &p);
}

/*
 * Submitting documents. One envelope or a batch item goes through submit_one: identity,
 * submission id, record, produce. Its delivery report comes back to gw_api_on_delivery with
 * a gw_pending_post_t; a single document answers its request from there, a batch item counts
 * down its batch and the last one answers the whole batch. Neither holds a pointer to the
 * connection: the request handle finds it again, if it is still waiting.
 */

static void submission_accepted(gw_loop_t *loop, const gw_accepted_t *a, long ms, bool client)
{
    gw_metrics_add(&gw_loop_metrics(loop)->documents_accepted, 1);
    gw_status_accepted(gw_loop_status(loop), a);
    /* Debug, not info: the 'accepted' row and the counter record it; an info line cost one
     * write(2) per document on the hot path. Failures stay warnings. */
    ing_log(ING_LOG_DEBUG, "api", "thread=%d submission_id=%s accepted delivery_ms=%ld%s",
            gw_loop_thread_no(loop), a->submission_id, ms, client ? "" : " client_gone=1");
}

static void submission_failed(gw_loop_t *loop, const gw_accepted_t *a, long ms, ing_err_t err,
                              const char *reason)
{
    gw_metrics_add(&gw_loop_metrics(loop)->delivery_failures, 1);
    ing_log(ING_LOG_WARN, "api",
            "thread=%d submission_id=%s delivery failed code=%s reason=\"%s\" delivery_ms=%ld",
            gw_loop_thread_no(loop), a->submission_id, ing_err_name(err), reason, ms);
}

/* What the sender sees for a failed delivery: retry later, or too large for the broker. */
static ing_err_t delivery_verdict(ing_err_t err)
{
    return err == ING_ERR_CONTENT_TOO_LARGE ? err : ING_ERR_UNAVAILABLE;
}

static const char *delivery_detail(ing_err_t verdict)
{
    return verdict == ING_ERR_CONTENT_TOO_LARGE
               ? "the record is larger than the broker accepts"
               : "the document could not be stored in time; retry later";
}

/* gateway.sink = discard (the intake benchmark): everything but the produce. */
static bool sink_discard(const gw_loop_t *loop)
{
    return strcmp(gw_loop_settings(loop)->sink, "discard") == 0;
}

/*
 * Submits one validated envelope: checks the organisation, derives the submission id, encodes
 * and produces the record. On ING_OK with *produced the delivery report will come back with
 * (batch, index); with !*produced (sink discard) the record was dropped and nothing comes back.
 * @returns ING_OK, or the item's verdict with *prob filled.
 */
typedef struct submit_opts {
    double bytes;      /* request-body bytes this submission pays to the rate limit */
    int wait_s;        /* Prefer: wait=N (single document) */
    int retry_after_s; /* out: ING_ERR_RATE_LIMITED's Retry-After */
} submit_opts_t;

static ing_err_t submit_one(gw_loop_t *loop, gw_conn_t *c, const gw_http_request_t *req,
                            const ing_envelope_t *env, int64_t now, gw_batch_t *batch, size_t index,
                            char sid[ING_SUBMISSION_ID_LEN + 1], bool *produced,
                            submit_opts_t *opts, ing_problem_t *prob)
{
    *produced = false;
    char org[ING_FINESS_LEN + 1];
    ing_err_t err = gw_auth_claim(gw_conn_identity(c), env->finess, org, prob);
    if (err)
        return err;
    int64_t w = gw_ratelimit_take(gw_loop_api(loop)->rl, org, 1, opts->bytes, ing_mono_us());
    if (w > 0) {
        gw_metrics_add(&gw_loop_metrics(loop)->rate_limited, 1);
        opts->retry_after_s = gw_ratelimit_retry_after(w);
        return ing_problem_set(prob, ING_ERR_RATE_LIMITED, "",
                               "this organisation's submission rate is exceeded; retry in %d s",
                               opts->retry_after_s);
    }
    gw_pending_post_t *pp = calloc(1, sizeof(*pp));
    if (!pp)
        return ing_problem_set(prob, ING_ERR_UNAVAILABLE, "", "out of memory; retry later");
    pp->handle = gw_conn_request_handle(c);
    pp->started_us = ing_mono_us();
    pp->batch = batch;
    pp->index = index;
    pp->wait_s = opts->wait_s;
    gw_accepted_t *a = &pp->accepted;
    ing_submission_id(ing_policy_digest(gw_loop_policy(loop)), org, env->document_id, env->version,
                      env->sha256, a->submission_id);
    memcpy(sid, a->submission_id, ING_SUBMISSION_ID_LEN + 1);
    memcpy(a->org_finess, org, sizeof(a->org_finess));
    size_t id_len = strnlen(env->document_id, sizeof(a->document_id) - 1);
    memcpy(a->document_id, env->document_id, id_len);
    a->document_id[id_len] = '\0';
    a->version = env->version;
    a->received_at_us = now;
    ing_record_meta_t meta = {.received_at_us = now};
    memcpy(meta.submission_id, a->submission_id, sizeof(meta.submission_id));
    memcpy(meta.org_finess, org, sizeof(meta.org_finess));
    ing_buf_t rec;
    ing_buf_init(&rec, (size_t)gw_loop_settings(loop)->max_content_bytes + RECORD_OVERHEAD);
    err = ing_record_encode(env, &meta, &rec);
    if (err) {
        free(pp);
        ing_buf_fini(&rec);
        if (err == ING_ERR_TOO_BIG)
            return ing_problem_set(prob, ING_ERR_CONTENT_TOO_LARGE, "content",
                                   "the record would be too large");
        return ing_problem_set(prob, ING_ERR_UNAVAILABLE, "", "cannot encode the record");
    }
    if (sink_discard(loop)) {
        free(pp);
        ing_buf_fini(&rec);
        return ING_OK;
    }
    char why[256];
    err = gw_producer_send(gw_loop_lane(loop), env->ins, strlen(env->ins), rec.data, rec.len,
                           &pp->msg, why, sizeof(why));
    if (err) {
        ing_log(ING_LOG_WARN, "api", "thread=%d submission_id=%s not produced: %s",
                gw_loop_thread_no(loop), a->submission_id, why);
        free(pp);
        ing_buf_fini(&rec);
        if (err == ING_ERR_CONTENT_TOO_LARGE)
            return ing_problem_set(prob, err, "content", "%s", delivery_detail(err));
        gw_metrics_unavailable(gw_loop_metrics(loop), GW_UNAVAIL_PRODUCER_QUEUE);
        return ing_problem_set(prob, ING_ERR_UNAVAILABLE, "",
                               "the gateway is overloaded; retry later");
    }
    /* librdkafka owns rec's bytes now */
    *produced = true;
    pp->record_bytes = rec.len;
    gw_loop_kafka_bytes(loop, (long long)rec.len);
    ing_log(ING_LOG_DEBUG, "api", "thread=%d submission_id=%s produced bytes=%zu",
            gw_loop_thread_no(loop), a->submission_id, env->content_len);
    return ING_OK;
}

static void respond_problem_of(gw_conn_t *c, const ing_problem_t *prob)
{
    gw_problem_t p;
    gw_problem_from_ing(&p, prob);
    gw_conn_respond_problem(c, &p);
}

static void handle_post(gw_loop_t *loop, gw_conn_t *c, const gw_http_request_t *req,
                        const char *body, size_t body_len)
{
    int64_t now = ing_wall_us();
    ing_envelope_t env;
    ing_envelope_init(&env);
    ing_problem_t prob;
    memset(&prob, 0, sizeof(prob));
    char sid[ING_SUBMISSION_ID_LEN + 1];
    bool produced = false;
    /* RFC 7240: an invalid preference is ignored (-1), as is wait=0. */
    const gw_slice_t *prefer = gw_http_header(req, "prefer");
    int wait_s = prefer ? gw_wait_parse_prefer(prefer->ptr, prefer->len) : -1;
    submit_opts_t opts = {.bytes = (double)body_len, .wait_s = wait_s > 0 ? wait_s : 0};
    ing_err_t err = ing_envelope_parse_json(gw_loop_policy(loop), body, body_len, now, &env, &prob);
    if (!err)
        err = submit_one(loop, c, req, &env, now, NULL, 0, sid, &produced, &opts, &prob);
    if (err == ING_ERR_RATE_LIMITED) {
        gw_problem_t p;
        rate_limited_problem(&p, opts.retry_after_s);
        gw_conn_respond_problem(c, &p);
    } else if (err) {
        ing_log(ING_LOG_DEBUG, "api", "thread=%d refused code=%s field=%s", gw_loop_thread_no(loop),
                ing_err_name(prob.code), prob.field);
        respond_problem_of(c, &prob);
    } else if (!produced) {
        gw_conn_respond(c, 204, NULL, NULL, 0, NULL); /* sink discard */
    }
    ing_envelope_fini(&env);
}

/* ---- batches ---- */

typedef enum { ITEM_PENDING, ITEM_ACCEPTED, ITEM_REFUSED, ITEM_DISCARDED } item_state_t;

typedef struct gw_batch_item {
    item_state_t state;
    ing_err_t code; /* ITEM_REFUSED: contract code, or unavailable / content_too_large */
    char submission_id[ING_SUBMISSION_ID_LEN + 1];
    char field[48];
    char detail[192];
} gw_batch_item_t;

struct gw_batch {
    uint64_t handle;
    size_t count;
    size_t pending;    /* items produced whose delivery report has not come yet */
    int retry_after_s; /* the longest Retry-After of a rate-limited item */
    gw_batch_item_t items[];
};

static void item_refuse(gw_batch_item_t *item, const ing_problem_t *prob)
{
    item->state = ITEM_REFUSED;
    item->code = prob->code;
    snprintf(item->field, sizeof(item->field), "%s", prob->field);
    snprintf(item->detail, sizeof(item->detail), "%s",
             prob->detail[0] ? prob->detail : ing_err_str(prob->code));
}

/* 200 with one result per item, in order. Retry-After when an item may be retried. */
static void respond_batch(gw_conn_t *c, const gw_batch_t *b)
{
    json_t *results = json_array();
    size_t accepted = 0, refused = 0, retriable = 0;
    for (size_t i = 0; i < b->count && results; i++) {
        const gw_batch_item_t *it = &b->items[i];
        json_t *r;
        if (it->state == ITEM_ACCEPTED) {
            accepted++;
            r = json_pack("{s:I, s:s, s:s, s:i}", "index", (json_int_t)i, "status", "accepted",
                          "submission_id", it->submission_id, "http_status", 202);
        } else if (it->state == ITEM_DISCARDED) {
            r = json_pack("{s:I, s:s, s:s, s:i}", "index", (json_int_t)i, "status", "discarded",
                          "submission_id", it->submission_id, "http_status", 204);
        } else {
            bool retry = ing_err_is_retriable(it->code);
            retriable += retry;
            refused += !retry;
            r = json_pack("{s:I, s:s, s:s, s:s, s:s, s:i}", "index", (json_int_t)i, "status",
                          retry ? "unavailable" : "rejected", "code", ing_err_name(it->code),
                          "field", it->field, "detail", it->detail, "http_status",
                          ing_err_http_status(it->code));
            if (!r) /* a detail cut inside a UTF-8 sequence */
                r = json_pack("{s:I, s:s, s:s, s:s, s:i}", "index", (json_int_t)i, "status",
                              retry ? "unavailable" : "rejected", "code", ing_err_name(it->code),
                              "field", it->field, "http_status", ing_err_http_status(it->code));
        }
        if (!r || json_array_append_new(results, r) != 0) {
            json_decref(results);
            results = NULL;
        }
    }
    json_t *o = results ? json_pack("{s:o, s:I, s:I, s:I}", "results", results, "accepted",
                                    (json_int_t)accepted, "rejected", (json_int_t)refused,
                                    "unavailable", (json_int_t)retriable)
                        : NULL;
    char retry[48];
    snprintf(retry, sizeof(retry), "Retry-After: %d\r\n",
             b->retry_after_s > 1 ? b->retry_after_s : 1);
    respond_json(c, 200, o, retriable ? retry : NULL);
}

static void batch_item_done(gw_loop_t *loop, gw_batch_t *b)
{
    if (--b->pending > 0)
        return;
    gw_conn_t *c = gw_loop_waiting_conn(loop, b->handle);
    if (c)
        respond_batch(c, b);
    free(b);
}

/* Splits the body into items: a JSON array, or NDJSON (one envelope per non-empty line). */
typedef struct batch_input {
    bool is_array;          /* JSON array form (ing_json, no tree); else NDJSON */
    ing_json_array_t array; /* JSON array form */
    const char *text;       /* NDJSON form */
    size_t len, pos;
    size_t count;
} batch_input_t;

static size_t ndjson_count(const char *text, size_t len)
{
    size_t n = 0, i = 0;
    while (i < len) {
        const char *nl = memchr(text + i, '\n', len - i);
        size_t end = nl ? (size_t)(nl - text) : len;
        for (size_t k = i; k < end; k++)
            if (text[k] != ' ' && text[k] != '\t' && text[k] != '\r') {
                n++;
                break;
            }
        i = end + 1;
    }
    return n;
}

/* The next non-empty NDJSON line. */
static bool ndjson_next(batch_input_t *in, const char **line, size_t *line_len)
{
    while (in->pos < in->len) {
        const char *s = in->text + in->pos;
        const char *nl = memchr(s, '\n', in->len - in->pos);
        size_t n = nl ? (size_t)(nl - s) : in->len - in->pos;
        in->pos += n + (nl ? 1 : 0);
        size_t k = 0;
        while (k < n && (s[k] == ' ' || s[k] == '\t' || s[k] == '\r'))
            k++;
        if (k < n) {
            *line = s;
            *line_len = n;
            return true;
        }
    }
    return false;
}

static void handle_batch(gw_loop_t *loop, gw_conn_t *c, const gw_http_request_t *req,
                         const char *body, size_t body_len)
{
    int64_t now = ing_wall_us();
    ing_problem_t prob;
    memset(&prob, 0, sizeof(prob));
    batch_input_t in = {.text = body, .len = body_len};
    if (is_ndjson(gw_http_header(req, "content-type"))) {
        in.count = ndjson_count(body, body_len);
    } else {
        /* One checking pass over the text, then each element's bytes go to the same parser as
         * a single document: no tree of the whole batch (jansson's cost 10x the parse). */
        in.is_array = true;
        if (ing_json_array_open(&in.array, body, body_len, &in.count, &prob) != ING_OK) {
            respond_problem_of(c, &prob);
            return;
        }
    }
    size_t max = (size_t)gw_loop_settings(loop)->batch_max_items;
    if (in.count == 0 || in.count > max) {
        ing_problem_set(&prob, in.count ? ING_ERR_CONTENT_TOO_LARGE : ING_ERR_INVALID_JSON, "",
                        "a batch holds from 1 to %zu documents, not %zu", max, in.count);
        respond_problem_of(c, &prob);
        return;
    }
    gw_batch_t *b = calloc(1, sizeof(*b) + in.count * sizeof(b->items[0]));
    if (!b) {
        respond_err(c, ING_ERR_NOMEM, NULL);
        return;
    }
    b->handle = gw_conn_request_handle(c);
    b->count = in.count;
    size_t discarded = 0;
    /* Rate limits: the first item that reaches them pays the body's bytes and one document;
     * each further item one document. When that first one cannot pass, nothing was produced
     * yet and the whole batch is refused with 429; a later item that cannot pass is
     * 'unavailable' (code rate_limited) in the 200, to be resent. */
    submit_opts_t opts = {.bytes = (double)body_len};
    bool limiter_reached = false;
    for (size_t i = 0; i < in.count; i++) {
        gw_batch_item_t *it = &b->items[i];
        ing_envelope_t env;
        ing_envelope_init(&env);
        memset(&prob, 0, sizeof(prob));
        ing_err_t err;
        if (in.is_array) {
            ing_json_slice_t el = {NULL, 0};
            (void)ing_json_array_next(&in.array, &el);
            err = ing_envelope_parse_json(gw_loop_policy(loop), el.ptr, el.len, now, &env, &prob);
        } else {
            const char *line = NULL;
            size_t line_len = 0;
            (void)ndjson_next(&in, &line, &line_len);
            err = ing_envelope_parse_json(gw_loop_policy(loop), line, line_len, now, &env, &prob);
        }
        bool produced = false;
        if (!err) {
            err = submit_one(loop, c, req, &env, now, b, i, it->submission_id, &produced, &opts,
                             &prob);
            if (err == ING_ERR_RATE_LIMITED && !limiter_reached) {
                gw_problem_t p;
                rate_limited_problem(&p, opts.retry_after_s);
                ing_envelope_fini(&env);
                free(b);
                gw_conn_respond_problem(c, &p);
                return;
            }
            if (err != ING_ERR_SOURCE_MISMATCH) {
                limiter_reached = true;
                opts.bytes = 0;
            }
            if (err == ING_ERR_RATE_LIMITED && opts.retry_after_s > b->retry_after_s)
                b->retry_after_s = opts.retry_after_s;
        }
        if (err) {
            item_refuse(it, &prob);
        } else if (!produced) {
            it->state = ITEM_DISCARDED;
            discarded++;
        } else {
            it->state = ITEM_PENDING;
            b->pending++;
        }
        ing_envelope_fini(&env);
    }
    ing_log(ING_LOG_DEBUG, "api", "thread=%d batch items=%zu produced=%zu", gw_loop_thread_no(loop),
            b->count, b->pending);
    if (b->pending == 0) {
        if (discarded == b->count)
            gw_conn_respond(c, 204, NULL, NULL, 0, NULL); /* sink discard, every item valid */
        else
            respond_batch(c, b);
        free(b);
    }
}

void gw_api_on_delivery(void *opaque, gw_producer_msg_t *msg, ing_err_t err, const char *reason)
{
    gw_loop_t *loop = opaque;
    gw_pending_post_t *pp = (gw_pending_post_t *)((char *)msg - offsetof(gw_pending_post_t, msg));
    const gw_accepted_t *a = &pp->accepted;
    long ms = (long)((ing_mono_us() - pp->started_us) / 1000);
    gw_batch_t *b = pp->batch;
    gw_loop_kafka_bytes(loop, -(long long)pp->record_bytes);
    gw_conn_t *c = b ? NULL : gw_loop_waiting_conn(loop, pp->handle);
    bool client = b ? gw_loop_waiting_conn(loop, b->handle) != NULL : c != NULL;
    if (err == ING_OK)
        submission_accepted(loop, a, ms, client);
    else
        submission_failed(loop, a, ms, err, reason);
    if (err != ING_OK && delivery_verdict(err) == ING_ERR_UNAVAILABLE && (b || c))
        gw_metrics_unavailable(gw_loop_metrics(loop), GW_UNAVAIL_DELIVERY);
    if (b) {
        gw_batch_item_t *it = &b->items[pp->index];
        if (err == ING_OK) {
            it->state = ITEM_ACCEPTED;
        } else {
            ing_problem_t prob;
            ing_err_t verdict = delivery_verdict(err);
            ing_problem_set(&prob, verdict, verdict == ING_ERR_UNAVAILABLE ? "" : "content", "%s",
                            delivery_detail(verdict));
            item_refuse(it, &prob);
        }
        batch_item_done(loop, b);
    } else if (c && err == ING_OK) {
        /* Prefer: wait=N: held until the final status (200) or N s (202); else 202 now. */
        if (gw_sync_begin(gw_loop_api(loop)->sync, c, a->submission_id, pp->wait_s, ing_mono_us()))
            gw_metrics_add(&gw_loop_metrics(loop)->waits_started, 1);
        else
            gw_sync_respond_accepted(c, a->submission_id);
    } else if (c) {
        respond_err(c, delivery_verdict(err), delivery_detail(delivery_verdict(err)));
    }
    free(pp);
}

static bool is_submission_id(gw_slice_t id)
{
    if (id.len != ING_SUBMISSION_ID_LEN)
        return false;
    for (size_t i = 0; i < id.len; i++)
        if (!((id.ptr[i] >= '0' && id.ptr[i] <= '9') || (id.ptr[i] >= 'a' && id.ptr[i] <= 'f')))
            return false;
    return true;
}

static void respond_db_unavailable(gw_loop_t *loop, gw_conn_t *c)
{
    gw_metrics_unavailable(gw_loop_metrics(loop), GW_UNAVAIL_DATABASE);
    respond_err(c, ING_ERR_UNAVAILABLE, "the submission store is unavailable; retry later");
}

static void respond_not_found(gw_conn_t *c)
{
    gw_problem_t p;
    gw_problem_http(&p, 404, "no such submission for this organisation");
    gw_conn_respond_problem(c, &p);
}

static void handle_get(gw_loop_t *loop, gw_conn_t *c, const gw_http_request_t *req)
{
    gw_slice_t id;
    (void)route_of(req->target, &id);
    const char *org = gw_conn_identity(c)->org; /* "" under loopback trust: any organisation */
    if (!is_submission_id(id)) {
        respond_not_found(c);
        return;
    }
    char sid[ING_SUBMISSION_ID_LEN + 1];
    memcpy(sid, id.ptr, id.len);
    sid[id.len] = '\0';
    gw_metrics_t *all = gw_loop_metrics_all(loop);
    gw_pending_get_t *pg =
        calloc(1, sizeof(*pg) + (size_t)gw_metrics_threads(all) * sizeof(pg->snap[0]));
    if (!pg) {
        respond_err(c, ING_ERR_NOMEM, NULL);
        return;
    }
    pg->handle = gw_conn_request_handle(c);
    snprintf(pg->org, sizeof(pg->org), "%s", org);
    memcpy(pg->submission_id, sid, sizeof(pg->submission_id));
    pg->arrived_us = ing_mono_us();
    gw_metrics_inserts_snapshot(all, pg->snap);
    pg->final = gw_metrics_inserts_caught_up(all, pg->snap);
    if (gw_status_get(gw_loop_status(loop), sid, (uint64_t)(uintptr_t)pg) != ING_OK) {
        free(pg);
        respond_db_unavailable(loop, c);
    }
}

/* gw_defer_fn: the next query of a miss. Finality is decided before the query is sent, so a
 * final miss ran after every insert queued before the GET had committed. */
static void requery_submission(gw_loop_t *loop, void *arg, bool cancelled)
{
    gw_pending_get_t *pg = arg;
    gw_conn_t *c = cancelled ? NULL : gw_loop_waiting_conn(loop, pg->handle);
    if (!c) {
        free(pg);
        return;
    }
    pg->final = gw_metrics_inserts_caught_up(gw_loop_metrics_all(loop), pg->snap);
    pg->requeries++;
    if (gw_status_get(gw_loop_status(loop), pg->submission_id, (uint64_t)(uintptr_t)pg) != ING_OK) {
        free(pg);
        respond_db_unavailable(loop, c);
    }
}

void gw_api_on_submission(void *opaque, uint64_t ref, ing_err_t err, const gw_submission_t *row)
{
    gw_loop_t *loop = opaque;
    gw_pending_get_t *pg = (gw_pending_get_t *)(uintptr_t)ref;
    gw_conn_t *c = gw_loop_waiting_conn(loop, pg->handle);
    if (c && !err && !row && !pg->final && ing_mono_us() - pg->arrived_us < GET_CATCH_UP_US) {
        /* A miss while an insert queued before this GET (on any thread) was not done yet:
         * ask again a little later. */
        if (gw_loop_defer(loop, requery_submission, pg) == ING_OK)
            return;
        err = ING_ERR_UNAVAILABLE;
    }
    if (c && !err && !row && pg->requeries)
        ing_log(ING_LOG_DEBUG, "api", "thread=%d submission_id=%s miss after %d re-queries%s",
                gw_loop_thread_no(loop), pg->submission_id, pg->requeries,
                pg->final ? "" : " (gave up)");
    if (!c) {
        /* the client left, or the request timed out */
    } else if (err) {
        respond_db_unavailable(loop, c);
    } else if (!row || (pg->org[0] && strcmp(pg->org, row->org_finess) != 0)) {
        /* Another organisation's submission does not exist, as far as this caller knows. */
        respond_not_found(c);
    } else {
        respond_json(c, 200, gw_sync_submission_json(row), NULL);
    }
    free(pg);
}

static void handle_readyz(gw_loop_t *loop, gw_conn_t *c)
{
    char why[128];
    if (gw_metrics_ready(gw_loop_metrics_all(loop), why, sizeof(why))) {
        respond_json(c, 200, json_pack("{s:s}", "status", "ready"), NULL);
        return;
    }
    gw_problem_t p;
    gw_problem_http(&p, 503, why);
    gw_conn_respond_problem(c, &p);
}

static void handle_metrics(gw_loop_t *loop, gw_conn_t *c)
{
    ing_buf_t text;
    ing_buf_init(&text, 1 << 20);
    if (gw_metrics_render(gw_loop_metrics_all(loop), &text) != ING_OK) {
        ing_buf_fini(&text);
        respond_err(c, ING_ERR_INTERNAL, "cannot render the metrics");
        return;
    }
    gw_conn_respond(c, 200, "text/plain; version=0.0.4; charset=utf-8", text.data, text.len, NULL);
    ing_buf_fini(&text);
}

void gw_api_handle(gw_loop_t *loop, gw_conn_t *c, const gw_http_request_t *req, const char *body,
                   size_t body_len)
{
    switch (route_of(req->target, NULL)) {
    case GW_ROUTE_DOCUMENTS:
        handle_post(loop, c, req, body, body_len);
        return;
    case GW_ROUTE_SUBMISSION:
        handle_get(loop, c, req);
        return;
    case GW_ROUTE_HEALTHZ:
        respond_json(c, 200, json_pack("{s:s}", "status", "ok"), NULL);
        return;
    case GW_ROUTE_READYZ:
        handle_readyz(loop, c);
        return;
    case GW_ROUTE_METRICS:
        handle_metrics(loop, c);
        return;
    case GW_ROUTE_BATCH:
        handle_batch(loop, c, req, body, body_len);
        return;
    case GW_ROUTE_OTHER:
    case GW_ROUTE__COUNT:
        break;
    }
    gw_problem_t p; /* gw_api_precheck let it through: cannot happen */
    gw_problem_http(&p, 404, "no resource at this path");
    gw_conn_respond_problem(c, &p);
}
