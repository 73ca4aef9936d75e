/*
 * gw_api: the endpoints of the submission contract (shared/DOMAIN.md) on top of gw_loop.
 *   POST /v1/documents            validate, produce to Kafka, 202 only after the delivery report
 *   POST /v1/documents:batch      a JSON array or NDJSON; 200 with one result per item, once
 *                                 every produced item has its delivery report
 *   GET  /v1/submissions/{id}     the submission's status, to its organisation only
 *   GET  /healthz                 liveness, no dependency checked
 *   GET  /readyz                  readiness: database and Kafka reachable, not draining
 *   GET  /metrics                 Prometheus counters of every thread
 * Every error body is application/problem+json (gw_response).
 *
 * @locality the loop's thread, like the connection it answers.
 */
#ifndef GW_API_H
#define GW_API_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gw_http.h"
#include "gw_loop.h"

/** The route of a request, for the counters. */
gw_route_t gw_api_route(const gw_http_request_t *req);

/**
 * Called once the head is complete, before the body is read: refuses unknown routes, wrong
 * methods, callers without valid credentials (401) and content types without buffering the
 * body (and before 100 Continue). Fills *id for the routes that need an identity (documents,
 * batches, submissions); /healthz, /readyz and /metrics need none.
 * @returns true to go on, false with *p filled.
 */
bool gw_api_precheck(const gw_http_request_t *req, const gw_auth_conf_t *auth,
                     const gw_auth_peer_t *peer, gw_auth_id_t *id, gw_problem_t *p);

/**
 * Handles a complete request. body is borrowed for the call (decoded if it was chunked).
 * The answer goes through gw_conn_respond, now or later.
 */
void gw_api_handle(gw_loop_t *loop, gw_conn_t *c, const gw_http_request_t *req, const char *body,
                   size_t body_len);

/** The API's state of one I/O thread: rate limits, requests waiting for a final status. */
typedef struct gw_api_state gw_api_state_t;

/** Creates the loop's API state (the loop's settings must be readable). */
ing_err_t gw_api_state_create(gw_loop_t *loop, gw_api_state_t **out) ING_MUST_CHECK;
void gw_api_state_destroy(gw_api_state_t *st);

/** Requests of this thread waiting for a final status (Prefer: wait) now. */
size_t gw_api_waiting(gw_loop_t *loop);

/** The API's timers (Prefer: wait deadlines, shut-down). @returns the next deadline. */
int64_t gw_api_tick(gw_loop_t *loop, int64_t now_us);

/**
 * Before a body is read (after gw_api_precheck): the organisation's rate limits, when the
 * organisation is known from the head and the size from Content-Length.
 * @returns true to go on, false with *p (429 rate_limited, Retry-After).
 */
bool gw_api_admit_body(gw_loop_t *loop, gw_conn_t *c, const gw_http_request_t *req,
                       gw_problem_t *p);

/** gw_status_notify_fn of the loop's status module (cb_opaque: the loop). */
void gw_api_on_notify(void *loop, const char *payload);

/** gw_delivery_fn of the loop's producer lane (cb_opaque: the loop). */
void gw_api_on_delivery(void *loop, gw_producer_msg_t *msg, ing_err_t err, const char *reason);

/** gw_status_get_fn of the loop's status module (cb_opaque: the loop). */
void gw_api_on_submission(void *loop, uint64_t ref, ing_err_t err, const gw_submission_t *row);

#endif
