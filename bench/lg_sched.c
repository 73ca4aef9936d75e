#include "lg_sched.h"

#include <math.h>

void lg_sched_init(lg_sched_t *s, int64_t start_us, int64_t end_us, double rate_docs, int batch,
                   int thread, int threads)
{
    s->start_us = start_us;
    s->end_us = end_us;
    s->rate_mdocs = (int64_t)llround(rate_docs * 1000.0);
    if (s->rate_mdocs < 1)
        s->rate_mdocs = 1;
    s->batch = batch < 1 ? 1 : batch;
    s->threads = threads < 1 ? 1 : threads;
    s->thread = thread;
    s->next = 0;
}

static int64_t global_intended(const lg_sched_t *s, uint64_t j)
{
    /* j * batch / (rate_mdocs / 1000) seconds, in microseconds; 128 bits cannot overflow. */
    __int128 num = (__int128)j * s->batch * 1000000000;
    return s->start_us + (int64_t)(num / s->rate_mdocs);
}

int64_t lg_sched_intended(const lg_sched_t *s, uint64_t k)
{
    return global_intended(s, k * (uint64_t)s->threads + (uint64_t)s->thread);
}

uint64_t lg_sched_due_count(const lg_sched_t *s, int64_t now_us)
{
    if (now_us >= s->end_us)
        now_us = s->end_us - 1;
    if (now_us < s->start_us)
        return 0;
    /* Largest j with global_intended(j) <= now: floor((now - start) * rate / (batch * 1e9)). */
    __int128 j = (__int128)(now_us - s->start_us) * s->rate_mdocs / (s->batch * 1000000000LL);
    while (global_intended(s, (uint64_t)j + 1) <= now_us) /* guard against rounding */
        j++;
    while (j >= 0 && global_intended(s, (uint64_t)j) > now_us)
        j--;
    if (j < s->thread)
        return 0;
    return (uint64_t)((j - s->thread) / s->threads) + 1;
}

bool lg_sched_take(lg_sched_t *s, int64_t now_us, int64_t *intended_us)
{
    int64_t t = lg_sched_intended(s, s->next);
    if (t > now_us || t >= s->end_us)
        return false;
    *intended_us = t;
    s->next++;
    return true;
}

int64_t lg_sched_next_time(const lg_sched_t *s)
{
    int64_t t = lg_sched_intended(s, s->next);
    return t >= s->end_us ? INT64_MAX : t;
}
