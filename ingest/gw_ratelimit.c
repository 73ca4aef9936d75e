#include "gw_ratelimit.h"

#include <stdlib.h>
#include <string.h>

#define ORG_MAX 15 /* a FINESS is 9 characters; longer keys are cut (never collide in use) */

typedef struct bucket {
    double level;
    double rate, burst; /* rate 0: unlimited */
} bucket_t;

typedef struct entry {
    bool used;
    char org[ORG_MAX + 1];
    int64_t at_us; /* when the levels were last refilled */
    bucket_t docs, bytes;
} entry_t;

struct gw_ratelimit {
    gw_ratelimit_conf_t conf;
    entry_t *slots;
    size_t cap; /* power of two, at least twice max_orgs: probes stay short */
    size_t count;
    uint64_t fail_open;
};

static double burst_of(double rate, double burst)
{
    return burst > 0 ? burst : rate;
}

ing_err_t gw_ratelimit_create(const gw_ratelimit_conf_t *conf, gw_ratelimit_t **out)
{
    gw_ratelimit_t *rl = calloc(1, sizeof(*rl));
    if (!rl)
        return ING_ERR_NOMEM;
    rl->conf = *conf;
    rl->conf.docs_burst = burst_of(conf->docs_per_s, conf->docs_burst);
    rl->conf.bytes_burst = burst_of(conf->bytes_per_s, conf->bytes_burst);
    if (rl->conf.max_orgs == 0)
        rl->conf.max_orgs = 1;
    rl->cap = 4;
    while (rl->cap < 2 * rl->conf.max_orgs)
        rl->cap *= 2;
    rl->slots = calloc(rl->cap, sizeof(*rl->slots));
    if (!rl->slots) {
        free(rl);
        return ING_ERR_NOMEM;
    }
    *out = rl;
    return ING_OK;
}

void gw_ratelimit_destroy(gw_ratelimit_t *rl)
{
    if (!rl)
        return;
    free(rl->slots);
    free(rl);
}

bool gw_ratelimit_unlimited(const gw_ratelimit_t *rl)
{
    return rl->conf.docs_per_s <= 0 && rl->conf.bytes_per_s <= 0;
}

static size_t hash(const char *org)
{
    size_t h = 1469598103934665603ULL; /* FNV-1a */
    for (; *org; org++)
        h = (h ^ (unsigned char)*org) * 1099511628211ULL;
    return h;
}

static void refill(bucket_t *b, double dt_s)
{
    if (b->rate <= 0)
        return;
    b->level += b->rate * dt_s;
    if (b->level > b->burst)
        b->level = b->burst;
}

static void refill_entry(entry_t *e, int64_t now_us)
{
    if (now_us > e->at_us) {
        double dt = (double)(now_us - e->at_us) / 1e6;
        refill(&e->docs, dt);
        refill(&e->bytes, dt);
        e->at_us = now_us;
    }
}

static bool is_full(const entry_t *e)
{
    return (e->docs.rate <= 0 || e->docs.level >= e->docs.burst) &&
           (e->bytes.rate <= 0 || e->bytes.level >= e->bytes.burst);
}

/* The slot of org, or the empty slot where it would go. */
static entry_t *probe(gw_ratelimit_t *rl, const char *key)
{
    size_t i = hash(key) & (rl->cap - 1);
    while (rl->slots[i].used && strcmp(rl->slots[i].org, key) != 0)
        i = (i + 1) & (rl->cap - 1);
    return &rl->slots[i];
}

/* Forgets the buckets that refilled completely: they behave exactly like absent ones. */
static void sweep(gw_ratelimit_t *rl, int64_t now_us)
{
    entry_t *old = rl->slots;
    entry_t *fresh = calloc(rl->cap, sizeof(*fresh));
    if (!fresh)
        return;
    rl->slots = fresh;
    rl->count = 0;
    for (size_t i = 0; i < rl->cap; i++) {
        if (!old[i].used)
            continue;
        refill_entry(&old[i], now_us);
        if (is_full(&old[i]))
            continue;
        *probe(rl, old[i].org) = old[i];
        rl->count++;
    }
    free(old);
}

/* org's entry, refilled to now_us; NULL when the table is full of active organisations. */
static entry_t *lookup(gw_ratelimit_t *rl, const char *org, int64_t now_us)
{
    char key[ORG_MAX + 1];
    size_t n = strnlen(org, ORG_MAX);
    memcpy(key, org, n);
    key[n] = '\0';
    entry_t *e = probe(rl, key);
    if (!e->used) {
        if (rl->count >= rl->conf.max_orgs) {
            sweep(rl, now_us);
            if (rl->count >= rl->conf.max_orgs)
                return NULL;
            e = probe(rl, key);
        }
        *e = (entry_t){.used = true, .at_us = now_us};
        memcpy(e->org, key, n + 1);
        e->docs = (bucket_t){rl->conf.docs_burst, rl->conf.docs_per_s, rl->conf.docs_burst};
        e->bytes = (bucket_t){rl->conf.bytes_burst, rl->conf.bytes_per_s, rl->conf.bytes_burst};
        rl->count++;
    }
    refill_entry(e, now_us);
    return e;
}

/* Microseconds until b can pay cost (0: now). A bucket in debt pays once it holds
 * min(cost, burst). */
static int64_t wait_us(const bucket_t *b, double cost)
{
    if (b->rate <= 0 || cost <= 0)
        return 0;
    double need = cost < b->burst ? cost : b->burst;
    if (b->level >= need)
        return 0;
    double us = (need - b->level) / b->rate * 1e6;
    int64_t w = (int64_t)us;
    if ((double)w < us) /* rounded up: waiting w never falls short */
        w++;
    return w < 1 ? 1 : w;
}

static int64_t check(gw_ratelimit_t *rl, const char *org, double docs, double bytes, int64_t now_us,
                     bool take)
{
    if (gw_ratelimit_unlimited(rl))
        return 0;
    entry_t *e = lookup(rl, org, now_us);
    if (!e) {
        rl->fail_open += take;
        return 0;
    }
    int64_t wd = wait_us(&e->docs, docs), wb = wait_us(&e->bytes, bytes);
    int64_t w = wd > wb ? wd : wb;
    if (w == 0 && take) {
        if (e->docs.rate > 0)
            e->docs.level -= docs;
        if (e->bytes.rate > 0)
            e->bytes.level -= bytes;
    }
    return w;
}

int64_t gw_ratelimit_peek(gw_ratelimit_t *rl, const char *org, double docs, double bytes,
                          int64_t now_us)
{
    return check(rl, org, docs, bytes, now_us, false);
}

int64_t gw_ratelimit_take(gw_ratelimit_t *rl, const char *org, double docs, double bytes,
                          int64_t now_us)
{
    return check(rl, org, docs, bytes, now_us, true);
}

int gw_ratelimit_retry_after(int64_t wait_us)
{
    int64_t s = (wait_us + 999999) / 1000000;
    if (s < 1)
        return 1;
    return s > 3600 ? 3600 : (int)s;
}

size_t gw_ratelimit_orgs(const gw_ratelimit_t *rl)
{
    return rl->count;
}

uint64_t gw_ratelimit_fail_open(const gw_ratelimit_t *rl)
{
    return rl->fail_open;
}

bool gw_ratelimit_body_too_slow(uint64_t body_bytes, int64_t elapsed_us, int64_t min_rate,
                                int64_t grace_us)
{
    if (min_rate <= 0 || elapsed_us <= grace_us)
        return false;
    return (double)body_bytes < (double)min_rate * ((double)elapsed_us / 1e6);
}
