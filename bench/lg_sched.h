/*
 * lg_sched: the open-loop schedule (wrk2's model). Request j of a run has an intended send time
 * start + j * batch / rate, fixed before the run starts; latency is measured from that time,
 * so a server that stalls cannot hide its stalls by slowing the generator down (coordinated
 * omission). With T threads, thread t owns the requests j = t, t + T, t + 2T, ... so the
 * threads together keep the exact global rate without talking to each other.
 *
 * Integer arithmetic from j on every call: no drift accumulates over a long run.
 * A schedule belongs to one thread.
 */
#ifndef LG_SCHED_H
#define LG_SCHED_H

#include <stdbool.h>
#include <stdint.h>

typedef struct lg_sched {
    int64_t start_us;
    int64_t end_us;     /* nothing is intended at or after this time */
    int64_t rate_mdocs; /* documents per 1000 s (rate * 1000, rounded) */
    int64_t batch;      /* documents per request */
    int64_t thread, threads;
    uint64_t next; /* this thread's next request (k); its global index is k * threads + thread */
} lg_sched_t;

/** @param rate_docs documents per second, > 0; @param batch documents per request, >= 1. */
void lg_sched_init(lg_sched_t *s, int64_t start_us, int64_t end_us, double rate_docs, int batch,
                   int thread, int threads);

/** Intended send time of this thread's k-th request. */
int64_t lg_sched_intended(const lg_sched_t *s, uint64_t k);

/** How many of this thread's requests are intended at or before now (and before end). */
uint64_t lg_sched_due_count(const lg_sched_t *s, int64_t now_us);

/**
 * When the next request is due at or before now_us (and before end), stores its intended
 * time, advances and returns true.
 */
bool lg_sched_take(lg_sched_t *s, int64_t now_us, int64_t *intended_us);

/** Intended time of the next request, or INT64_MAX when the schedule is over. */
int64_t lg_sched_next_time(const lg_sched_t *s);

#endif
