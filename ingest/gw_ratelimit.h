/*
 * gw_ratelimit: per-organisation token buckets — documents per second and request-body bytes
 * per second — so that one sender's nightly batch cannot take the whole gateway. Over the
 * limit the API answers 429 rate_limited with Retry-After (the seconds until enough tokens).
 *
 * Pure: the caller passes the time, so the refill arithmetic is table-tested without clocks.
 * One table per I/O thread, never shared: each thread's buckets get rate / threads and
 * burst / threads. That is acceptable because SO_REUSEPORT spreads connections over the
 * threads' sockets, so an organisation's traffic splits about evenly between them; a sender
 * with one long-lived connection is held to a thread's share (it can open more connections).
 * No lock, no atomic on the hot path, and the error is bounded by the spread of connections.
 *
 * A bucket may go into debt: a request passes when the bucket holds min(cost, burst) tokens,
 * then pays its full cost. So a body larger than the burst still passes when the bucket is
 * full, and the debt holds back what follows for as long as the body was "too large".
 *
 * The table holds at most max_orgs organisations; when it is full, buckets that refilled
 * completely (the same as absent ones) are forgotten first; if none is, the request passes
 * (fail open, counted): the organisations are authenticated, so the set is bounded anyway.
 *
 * @locality the owning loop's thread.
 */
#ifndef GW_RATELIMIT_H
#define GW_RATELIMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ing_error.h"

typedef struct gw_ratelimit gw_ratelimit_t;

typedef struct gw_ratelimit_conf {
    double docs_per_s;  /* 0 = unlimited */
    double docs_burst;  /* tokens of a full bucket; 0 = one second of docs_per_s */
    double bytes_per_s; /* 0 = unlimited */
    double bytes_burst; /* 0 = one second of bytes_per_s */
    size_t max_orgs;
} gw_ratelimit_conf_t;

/** @returns ING_OK and *out (@owns: gw_ratelimit_destroy), or ING_ERR_NOMEM. */
ing_err_t gw_ratelimit_create(const gw_ratelimit_conf_t *conf, gw_ratelimit_t **out) ING_MUST_CHECK;

void gw_ratelimit_destroy(gw_ratelimit_t *rl);

/** True when both rates are 0: nothing to check. */
bool gw_ratelimit_unlimited(const gw_ratelimit_t *rl);

/**
 * Would (docs, bytes) pass for org at now_us? Takes nothing (the cheap check before a body
 * is read).
 * @returns 0 when it would pass, else the microseconds until it would (> 0).
 */
int64_t gw_ratelimit_peek(gw_ratelimit_t *rl, const char *org, double docs, double bytes,
                          int64_t now_us);

/**
 * Takes (docs, bytes) from org's buckets when both can pay; takes nothing otherwise.
 * @returns 0 when taken, else the microseconds until it would pass (> 0).
 */
int64_t gw_ratelimit_take(gw_ratelimit_t *rl, const char *org, double docs, double bytes,
                          int64_t now_us);

/** Retry-After for a wait: whole seconds, rounded up, at least 1. */
int gw_ratelimit_retry_after(int64_t wait_us);

/**
 * Slowloris: true when a request body still incomplete after elapsed_us has come slower than
 * min_rate bytes/s on average, once grace_us has passed (min_rate 0: never).
 */
bool gw_ratelimit_body_too_slow(uint64_t body_bytes, int64_t elapsed_us, int64_t min_rate,
                                int64_t grace_us);

/** Organisations currently in the table; requests let through because it was full. */
size_t gw_ratelimit_orgs(const gw_ratelimit_t *rl);
uint64_t gw_ratelimit_fail_open(const gw_ratelimit_t *rl);

#endif
