#include "gw_wait.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define NIL UINT32_MAX

typedef struct waiter {
    char sid[ING_SUBMISSION_ID_LEN + 1];
    uint64_t handle;
    int64_t deadline_us;
    uint32_t next; /* in its hash chain (in order of addition), or in the free list */
    bool used;
} waiter_t;

struct gw_wait {
    waiter_t *pool;
    size_t max;
    uint32_t *heads; /* hash chains by submission id */
    size_t nbuckets; /* power of two */
    uint32_t free_head;
    size_t count;
    /* The earliest deadline, or a lower bound of it: recomputed by the scan that expires. */
    int64_t next_deadline;
};

ing_err_t gw_wait_create(size_t max_waiters, gw_wait_t **out)
{
    gw_wait_t *w = calloc(1, sizeof(*w));
    if (!w)
        return ING_ERR_NOMEM;
    w->max = max_waiters ? max_waiters : 1;
    w->nbuckets = 16;
    while (w->nbuckets < w->max)
        w->nbuckets *= 2;
    w->pool = calloc(w->max, sizeof(*w->pool));
    w->heads = malloc(w->nbuckets * sizeof(*w->heads));
    if (!w->pool || !w->heads) {
        gw_wait_destroy(w);
        return ING_ERR_NOMEM;
    }
    for (size_t i = 0; i < w->nbuckets; i++)
        w->heads[i] = NIL;
    for (size_t i = 0; i < w->max; i++)
        w->pool[i].next = i + 1 < w->max ? (uint32_t)(i + 1) : NIL;
    w->free_head = 0;
    w->next_deadline = INT64_MAX;
    *out = w;
    return ING_OK;
}

void gw_wait_destroy(gw_wait_t *w)
{
    if (!w)
        return;
    free(w->pool);
    free(w->heads);
    free(w);
}

static bool is_ows(char c)
{
    return c == ' ' || c == '\t';
}

int gw_wait_parse_prefer(const char *value, size_t len)
{
    size_t i = 0;
    while (i < len) {
        /* one preference: token [ "=" value ] *( ";" parameter ), up to the next comma */
        size_t end = i;
        bool quoted = false;
        while (end < len && (quoted || value[end] != ',')) {
            if (value[end] == '"')
                quoted = !quoted;
            end++;
        }
        size_t a = i;
        while (a < end && is_ows(value[a]))
            a++;
        if (end - a >= 4 && strncasecmp(value + a, "wait", 4) == 0) {
            size_t p = a + 4;
            while (p < end && is_ows(value[p]))
                p++;
            if (p < end && value[p] == '=') {
                p++;
                while (p < end && is_ows(value[p]))
                    p++;
                bool q = p < end && value[p] == '"';
                p += q;
                size_t digits = 0;
                long n = 0;
                while (p < end && value[p] >= '0' && value[p] <= '9') {
                    if (n <= GW_WAIT_MAX_S)
                        n = n * 10 + (value[p] - '0');
                    p++;
                    digits++;
                }
                if (q && p < end && value[p] == '"')
                    p++;
                else if (q)
                    digits = 0;
                while (p < end && is_ows(value[p]))
                    p++;
                /* parameters after ';' are allowed and ignored */
                if (digits && (p == end || value[p] == ';'))
                    return n > GW_WAIT_MAX_S ? GW_WAIT_MAX_S : (int)n;
                return -1; /* "wait" with an invalid value: ignored */
            }
        }
        i = end + 1;
    }
    return -1;
}

static size_t bucket_of(const gw_wait_t *w, const char *sid)
{
    size_t h = 1469598103934665603ULL; /* FNV-1a */
    for (; *sid; sid++)
        h = (h ^ (unsigned char)*sid) * 1099511628211ULL;
    return h & (w->nbuckets - 1);
}

ing_err_t gw_wait_add(gw_wait_t *w, const char *sid, uint64_t handle, int64_t deadline_us)
{
    if (w->free_head == NIL)
        return ING_ERR_UNAVAILABLE;
    uint32_t i = w->free_head;
    waiter_t *n = &w->pool[i];
    w->free_head = n->next;
    snprintf(n->sid, sizeof(n->sid), "%s", sid);
    n->handle = handle;
    n->deadline_us = deadline_us;
    n->next = NIL;
    n->used = true;
    /* appended: waiters of one id are answered in arrival order */
    uint32_t *link = &w->heads[bucket_of(w, n->sid)];
    while (*link != NIL)
        link = &w->pool[*link].next;
    *link = i;
    w->count++;
    if (deadline_us < w->next_deadline)
        w->next_deadline = deadline_us;
    return ING_OK;
}

bool gw_wait_has(const gw_wait_t *w, const char *sid)
{
    for (uint32_t i = w->heads[bucket_of(w, sid)]; i != NIL; i = w->pool[i].next)
        if (strcmp(w->pool[i].sid, sid) == 0)
            return true;
    return false;
}

/* Unlinks *link's node, returns it to the free list, then calls fn (which may add waiters). */
static void remove_at(gw_wait_t *w, uint32_t *link, gw_wait_fn *fn, void *arg)
{
    uint32_t i = *link;
    waiter_t *n = &w->pool[i];
    *link = n->next;
    uint64_t handle = n->handle;
    char sid[ING_SUBMISSION_ID_LEN + 1];
    memcpy(sid, n->sid, sizeof(sid));
    n->used = false;
    n->next = w->free_head;
    w->free_head = i;
    w->count--;
    if (fn)
        fn(arg, handle, sid);
}

size_t gw_wait_take(gw_wait_t *w, const char *sid, gw_wait_fn *fn, void *arg)
{
    /* Unlinked first, called back after: fn may add waiters (a new request on the same
     * connection) without disturbing the walk. */
    uint64_t found[64];
    size_t total = 0;
    for (;;) {
        size_t k = 0;
        uint32_t *link = &w->heads[bucket_of(w, sid)];
        while (*link != NIL && k < sizeof(found) / sizeof(found[0])) {
            if (strcmp(w->pool[*link].sid, sid) == 0) {
                found[k++] = w->pool[*link].handle;
                remove_at(w, link, NULL, NULL);
            } else {
                link = &w->pool[*link].next;
            }
        }
        for (size_t j = 0; j < k && fn; j++)
            fn(arg, found[j], sid);
        total += k;
        if (k < sizeof(found) / sizeof(found[0]))
            return total;
    }
}

size_t gw_wait_expire(gw_wait_t *w, int64_t now_us, gw_wait_fn *fn, void *arg)
{
    if (now_us < w->next_deadline)
        return 0;
    size_t n = 0;
    int64_t next = INT64_MAX;
    w->next_deadline = INT64_MAX; /* lowered by what fn adds meanwhile */
    for (size_t b = 0; b < w->nbuckets; b++) {
        uint32_t *link = &w->heads[b];
        while (*link != NIL) {
            waiter_t *x = &w->pool[*link];
            if (x->deadline_us <= now_us) {
                remove_at(w, link, fn, arg);
                n++;
            } else {
                if (x->deadline_us < next)
                    next = x->deadline_us;
                link = &x->next;
            }
        }
    }
    if (next < w->next_deadline)
        w->next_deadline = next;
    return n;
}

int64_t gw_wait_next_deadline(const gw_wait_t *w)
{
    return w->count ? w->next_deadline : INT64_MAX;
}

void gw_wait_each_sid(const gw_wait_t *w, void (*fn)(void *arg, const char *sid), void *arg)
{
    for (size_t b = 0; b < w->nbuckets; b++)
        for (uint32_t i = w->heads[b]; i != NIL; i = w->pool[i].next) {
            bool first = true; /* the first of its id in this chain */
            for (uint32_t j = w->heads[b]; j != i; j = w->pool[j].next)
                if (strcmp(w->pool[j].sid, w->pool[i].sid) == 0)
                    first = false;
            if (first)
                fn(arg, w->pool[i].sid);
        }
}

size_t gw_wait_count(const gw_wait_t *w)
{
    return w->count;
}
