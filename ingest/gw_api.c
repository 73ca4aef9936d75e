#include "gw_api.h"

#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "gw_auth.h"
#include "ing_log.h"
#include "ing_record.h"
#include "ing_time.h"

/* What a produced record carries back to its delivery report. */
typedef struct gw_pending_post {
    uint64_t handle; /* the waiting request, if its connection is still there */
    int64_t started_us;
    gw_accepted_t accepted;
} gw_pending_post_t;

/* What a submission read carries back to its result. */
typedef struct gw_pending_get {
    uint64_t handle;
    char org[ING_FINESS_LEN + 1]; /* "" = any organisation */
} gw_pending_get_t;

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
        {"/v1/documents", GW_ROUTE_DOCUMENTS},
        {"/healthz", GW_ROUTE_HEALTHZ},
        {"/readyz", GW_ROUTE_READYZ},
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

/* application/json, parameters (charset) allowed. */
static bool is_json(const gw_slice_t *ct)
{
    if (!ct)
        return false;
    static const char json[] = "application/json";
    size_t n = sizeof(json) - 1;
    if (ct->len < n || strncasecmp(ct->ptr, json, n) != 0)
        return false;
    return ct->len == n || ct->ptr[n] == ';' || ct->ptr[n] == ' ' || ct->ptr[n] == '\t';
}

bool gw_api_precheck(const gw_http_request_t *req, gw_problem_t *p)
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
    if (r == GW_ROUTE_DOCUMENTS && !is_json(gw_http_header(req, "content-type"))) {
        gw_problem_http(p, 415, "the body must be application/json");
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

static void handle_post(gw_loop_t *loop, gw_conn_t *c, const gw_http_request_t *req,
                        const char *body, size_t body_len)
{
    int64_t now = ing_wall_us();
    ing_envelope_t env;
    ing_envelope_init(&env);
    ing_problem_t prob;
    memset(&prob, 0, sizeof(prob));
    gw_problem_t p;
    ing_buf_t rec;
    ing_buf_init(&rec, (size_t)gw_loop_settings(loop)->max_content_bytes + 65536);
    char org[ING_FINESS_LEN + 1];
    ing_err_t err = ing_envelope_parse_json(gw_loop_policy(loop), body, body_len, now, &env, &prob);
    if (!err)
        err = gw_auth_org(gw_loop_auth(loop), gw_conn_peer(c), req, env.finess, org, &prob);
    if (!err && strcmp(org, env.finess) != 0)
        err = ing_problem_set(&prob, ING_ERR_SOURCE_MISMATCH, "source.finess",
                              "source.finess is not the authenticated organisation");
    if (err) {
        ing_log(ING_LOG_DEBUG, "api", "thread=%d refused code=%s field=%s", gw_loop_thread_no(loop),
                ing_err_name(prob.code), prob.field);
        gw_problem_from_ing(&p, &prob);
        gw_conn_respond_problem(c, &p);
        goto done;
    }
    gw_pending_post_t *pp = calloc(1, sizeof(*pp));
    if (!pp) {
        respond_err(c, ING_ERR_NOMEM, NULL);
        goto done;
    }
    pp->handle = gw_conn_request_handle(c);
    pp->started_us = ing_mono_us();
    gw_accepted_t *a = &pp->accepted;
    ing_submission_id(org, env.document_id, env.version, env.sha256, a->submission_id);
    memcpy(a->org_finess, org, sizeof(a->org_finess));
    snprintf(a->document_id, sizeof(a->document_id), "%s", env.document_id);
    a->version = env.version;
    a->received_at_us = now;
    ing_record_meta_t meta = {.received_at_us = now};
    memcpy(meta.submission_id, a->submission_id, sizeof(meta.submission_id));
    memcpy(meta.org_finess, org, sizeof(meta.org_finess));
    err = ing_record_encode(&env, &meta, &rec);
    if (err) {
        free(pp);
        respond_err(c, err == ING_ERR_TOO_BIG ? ING_ERR_CONTENT_TOO_LARGE : err, NULL);
        goto done;
    }
    char why[256];
    err = gw_producer_send(gw_loop_producer(loop), env.ins, strlen(env.ins), rec.data, rec.len, pp,
                           why, sizeof(why));
    if (err) {
        ing_log(ING_LOG_WARN, "api", "thread=%d submission_id=%s not produced: %s",
                gw_loop_thread_no(loop), a->submission_id, why);
        free(pp);
        if (err == ING_ERR_CONTENT_TOO_LARGE)
            respond_err(c, err, "the record is larger than the broker accepts");
        else
            respond_err(c, ING_ERR_UNAVAILABLE, "the gateway is overloaded; retry later");
        goto done;
    }
    ing_buf_init(&rec, 0); /* librdkafka owns the bytes now */
    ing_log(ING_LOG_DEBUG, "api", "thread=%d submission_id=%s produced bytes=%zu",
            gw_loop_thread_no(loop), a->submission_id, env.content_len);
done:
    ing_buf_fini(&rec);
    ing_envelope_fini(&env);
}

void gw_api_on_delivery(void *opaque, void *msg_opaque, ing_err_t err, const char *reason)
{
    gw_loop_t *loop = opaque;
    gw_pending_post_t *pp = msg_opaque;
    gw_conn_t *c = gw_loop_waiting_conn(loop, pp->handle);
    const gw_accepted_t *a = &pp->accepted;
    long ms = (long)((ing_mono_us() - pp->started_us) / 1000);
    if (err == ING_OK) {
        gw_metrics_add(&gw_loop_metrics(loop)->documents_accepted, 1);
        gw_status_accepted(gw_loop_status(loop), a);
        ing_log(ING_LOG_INFO, "api", "thread=%d submission_id=%s accepted delivery_ms=%ld%s",
                gw_loop_thread_no(loop), a->submission_id, ms, c ? "" : " client_gone=1");
        if (c) {
            char location[96];
            snprintf(location, sizeof(location), "Location: /v1/submissions/%s\r\n",
                     a->submission_id);
            respond_json(
                c, 202,
                json_pack("{s:s, s:s}", "submission_id", a->submission_id, "status", "accepted"),
                location);
        }
    } else {
        gw_metrics_add(&gw_loop_metrics(loop)->delivery_failures, 1);
        ing_log(ING_LOG_WARN, "api",
                "thread=%d submission_id=%s delivery failed code=%s reason=\"%s\" "
                "delivery_ms=%ld",
                gw_loop_thread_no(loop), a->submission_id, ing_err_name(err), reason, ms);
        if (c) {
            if (err == ING_ERR_CONTENT_TOO_LARGE)
                respond_err(c, err, "the record is larger than the broker accepts");
            else
                respond_err(c, ING_ERR_UNAVAILABLE,
                            "the document could not be stored in time; retry later");
        }
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
    ing_problem_t prob;
    char org[ING_FINESS_LEN + 1];
    if (gw_auth_org(gw_loop_auth(loop), gw_conn_peer(c), req, NULL, org, &prob) != ING_OK) {
        gw_problem_t p;
        gw_problem_from_ing(&p, &prob);
        gw_conn_respond_problem(c, &p);
        return;
    }
    if (!is_submission_id(id)) {
        respond_not_found(c);
        return;
    }
    char sid[ING_SUBMISSION_ID_LEN + 1];
    memcpy(sid, id.ptr, id.len);
    sid[id.len] = '\0';
    gw_pending_get_t *pg = calloc(1, sizeof(*pg));
    if (!pg) {
        respond_err(c, ING_ERR_NOMEM, NULL);
        return;
    }
    pg->handle = gw_conn_request_handle(c);
    memcpy(pg->org, org, sizeof(pg->org));
    if (gw_status_get(gw_loop_status(loop), sid, (uint64_t)(uintptr_t)pg) != ING_OK) {
        free(pg);
        respond_err(c, ING_ERR_UNAVAILABLE, "the submission store is unavailable; retry later");
    }
}

void gw_api_on_submission(void *opaque, uint64_t ref, ing_err_t err, const gw_submission_t *row)
{
    gw_loop_t *loop = opaque;
    gw_pending_get_t *pg = (gw_pending_get_t *)(uintptr_t)ref;
    gw_conn_t *c = gw_loop_waiting_conn(loop, pg->handle);
    if (!c) {
        /* the client left, or the request timed out */
    } else if (err) {
        respond_err(c, ING_ERR_UNAVAILABLE, "the submission store is unavailable; retry later");
    } else if (!row || (pg->org[0] && strcmp(pg->org, row->org_finess) != 0)) {
        /* Another organisation's submission does not exist, as far as this caller knows. */
        respond_not_found(c);
    } else {
        json_t *o = json_pack("{s:s, s:s, s:s, s:I, s:s}", "submission_id", row->submission_id,
                              "status", row->status, "document_id", row->document_id, "version",
                              (json_int_t)row->version, "updated_at", row->updated_at);
        if (o && row->code[0])
            json_object_set_new(o, "code", json_string(row->code));
        if (o && row->detail[0])
            json_object_set_new(o, "detail", json_string(row->detail));
        respond_json(c, 200, o, NULL);
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
    case GW_ROUTE_OTHER:
    case GW_ROUTE__COUNT:
        break;
    }
    gw_problem_t p; /* gw_api_precheck let it through: cannot happen */
    gw_problem_http(&p, 404, "no resource at this path");
    gw_conn_respond_problem(c, &p);
}
