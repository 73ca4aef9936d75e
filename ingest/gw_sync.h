/*
 * gw_sync: synchronous submissions (`Prefer: wait=N`, RFC 7240) for one I/O thread. After the
 * delivery report that would answer 202, the request is held until its submission's final
 * status is known (200 with the submission, as GET shows it) or N seconds pass (202).
 *
 * No polling per request: the thread's status connection LISTENs on `submission_final`
 * (gw_status; trigger of deploy/migrations/004), and a notification for an id that someone
 * waits for (gw_wait) costs one read of its row, which answers every waiter of that id. The
 * row is also read once right after the delivery (the worker may have been faster than us),
 * and every waited id again after a database reconnection (notifications sent meanwhile are
 * lost). At shut-down, waiters get their 202 at once.
 *
 * @locality the owning loop's thread.
 */
#ifndef GW_SYNC_H
#define GW_SYNC_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "gw_loop.h"

typedef struct gw_sync gw_sync_t;

/** @returns ING_OK and *out (@owns: gw_sync_destroy), or ING_ERR_NOMEM. */
ing_err_t gw_sync_create(gw_loop_t *loop, size_t max_waiters, gw_sync_t **out) ING_MUST_CHECK;

void gw_sync_destroy(gw_sync_t *s);

/**
 * The request c (delivered, about to be answered 202) waits up to wait_s seconds for sid's
 * final status. @returns true when it now waits (held off the request timeout), false when it
 * cannot (pool full, database down, shutting down): answer 202 now.
 */
bool gw_sync_begin(gw_sync_t *s, gw_conn_t *c, const char *sid, int wait_s, int64_t now_us);

/** A notification on submission_final. */
void gw_sync_on_notify(gw_sync_t *s, const char *sid);

/** Expiries, shut-down, re-reads after a reconnection. @returns the next deadline. */
int64_t gw_sync_tick(gw_sync_t *s, int64_t now_us);

/** Requests waiting now. */
size_t gw_sync_waiting(const gw_sync_t *s);

/** The JSON of a submission row, as GET /v1/submissions/{id} shows it (NULL: no memory). */
json_t *gw_sync_submission_json(const gw_submission_t *row);

/** Answers 202 {"submission_id","status":"accepted"} with Location. */
void gw_sync_respond_accepted(gw_conn_t *c, const char *sid);

#endif
