/*
 * gw_wait: the requests of one I/O thread that asked for the final status (`Prefer: wait=N`)
 * and wait for it, indexed by submission id. When the thread's database connection hears
 * `NOTIFY submission_final, '<id>'` (sent by the worker, delivered at its COMMIT), the API
 * reads that submission's status once and answers every waiter of that id (gw_wait_take); a waiter
 * whose N seconds elapse is answered 202 (gw_wait_expire). The gateway never polls the
 * database per request.
 *
 * A bounded pool (max_waiters): over it the API answers 202 at once. Waiters are request
 * handles (gw_conn_request_handle), never pointers: a client that left is simply not found.
 * Pure data structure, no I/O: the caller passes the time.
 *
 * @locality the owning loop's thread.
 */
#ifndef GW_WAIT_H
#define GW_WAIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ing_envelope.h"
#include "ing_error.h"

/** The longest wait honoured; a longer preference is capped to it. */
#define GW_WAIT_MAX_S 60

typedef struct gw_wait gw_wait_t;

/** Called for each waiter removed: its request handle and submission id (borrowed). */
typedef void gw_wait_fn(void *arg, uint64_t handle, const char *sid);

/** @returns ING_OK and *out (@owns: gw_wait_destroy), or ING_ERR_NOMEM. */
ing_err_t gw_wait_create(size_t max_waiters, gw_wait_t **out) ING_MUST_CHECK;

void gw_wait_destroy(gw_wait_t *w);

/**
 * The `wait` preference of a Prefer header value (RFC 7240: comma-separated preferences,
 * token names case-insensitive, optional whitespace, a quoted value allowed).
 * @returns N in seconds (capped to GW_WAIT_MAX_S), or -1 when there is none or its value is not
 *          a delta-seconds number — an invalid preference is ignored, not an error.
 */
int gw_wait_parse_prefer(const char *value, size_t len);

/**
 * Adds a waiter for sid until deadline_us.
 * @returns ING_OK, or ING_ERR_UNAVAILABLE when the pool is full (answer 202 at once).
 */
ing_err_t gw_wait_add(gw_wait_t *w, const char *sid, uint64_t handle,
                      int64_t deadline_us) ING_MUST_CHECK;

/** True when some request waits for sid. */
bool gw_wait_has(const gw_wait_t *w, const char *sid);

/** Removes every waiter of sid, calling fn for each (in the order they were added). */
size_t gw_wait_take(gw_wait_t *w, const char *sid, gw_wait_fn *fn, void *arg);

/** Removes the waiters whose deadline is <= now_us, calling fn for each. */
size_t gw_wait_expire(gw_wait_t *w, int64_t now_us, gw_wait_fn *fn, void *arg);

/** The earliest deadline, INT64_MAX when nobody waits. */
int64_t gw_wait_next_deadline(const gw_wait_t *w);

/** Calls fn once per distinct submission id waited for (to re-read them after a reconnect). */
void gw_wait_each_sid(const gw_wait_t *w, void (*fn)(void *arg, const char *sid), void *arg);

size_t gw_wait_count(const gw_wait_t *w);

#endif
