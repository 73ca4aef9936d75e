#include "lg_hist.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

struct lg_hist {
    int64_t max_us;
    int sub_bits;      /* sub_bucket_count = 2^sub_bits */
    int half_bits;     /* sub_bits - 1 */
    int64_t sub_mask;  /* sub_bucket_count - 1 */
    int bucket_count;  /* powers of two covered */
    size_t counts_len; /* (bucket_count + 1) << half_bits */
    uint64_t total;
    uint64_t clamped;
    int64_t min, max;
    double sum, sum_sq;
    uint64_t *counts;
};

static int bucket_index(const lg_hist_t *h, int64_t v)
{
    /* Position of the highest bit of (v | sub_mask), minus the bits one bucket spans. */
    int pow2ceiling = 64 - __builtin_clzll((uint64_t)(v | h->sub_mask));
    return pow2ceiling - (h->half_bits + 1);
}

static size_t counts_index(const lg_hist_t *h, int64_t v)
{
    int b = bucket_index(h, v);
    int64_t sub = v >> b;
    return ((size_t)(b + 1) << h->half_bits) + (size_t)(sub - ((int64_t)1 << h->half_bits));
}

static int64_t value_at_index(const lg_hist_t *h, size_t idx, int *shift)
{
    int b = (int)(idx >> h->half_bits) - 1;
    int64_t sub = (int64_t)(idx & (((size_t)1 << h->half_bits) - 1)) + ((int64_t)1 << h->half_bits);
    if (b < 0) {
        sub -= (int64_t)1 << h->half_bits;
        b = 0;
    }
    *shift = b;
    return sub << b;
}

ing_err_t lg_hist_create(int64_t max_us, int sub_bits, lg_hist_t **out)
{
    *out = NULL;
    if (sub_bits < 4 || sub_bits > 16 || max_us < ((int64_t)1 << sub_bits) ||
        max_us > ((int64_t)1 << 50))
        return ING_ERR_CONFIG;
    lg_hist_t *h = calloc(1, sizeof(*h));
    if (!h)
        return ING_ERR_NOMEM;
    h->max_us = max_us;
    h->sub_bits = sub_bits;
    h->half_bits = sub_bits - 1;
    h->sub_mask = ((int64_t)1 << sub_bits) - 1;
    /* Smallest number of buckets whose top covers max_us. */
    int64_t top = (int64_t)1 << sub_bits;
    h->bucket_count = 1;
    while (top <= max_us) {
        top <<= 1;
        h->bucket_count++;
    }
    h->counts_len = (size_t)(h->bucket_count + 1) << h->half_bits;
    h->counts = calloc(h->counts_len, sizeof(uint64_t));
    if (!h->counts) {
        free(h);
        return ING_ERR_NOMEM;
    }
    lg_hist_reset(h);
    *out = h;
    return ING_OK;
}

void lg_hist_destroy(lg_hist_t *h)
{
    if (!h)
        return;
    free(h->counts);
    free(h);
}

void lg_hist_reset(lg_hist_t *h)
{
    memset(h->counts, 0, h->counts_len * sizeof(uint64_t));
    h->total = h->clamped = 0;
    h->min = INT64_MAX;
    h->max = 0;
    h->sum = h->sum_sq = 0;
}

void lg_hist_record_n(lg_hist_t *h, int64_t v, uint64_t n)
{
    if (n == 0)
        return;
    if (v < 0)
        v = 0;
    if (v > h->max_us) {
        v = h->max_us;
        h->clamped += n;
    }
    h->counts[counts_index(h, v)] += n;
    h->total += n;
    if (v < h->min)
        h->min = v;
    if (v > h->max)
        h->max = v;
    h->sum += (double)v * (double)n;
    h->sum_sq += (double)v * (double)v * (double)n;
}

void lg_hist_record(lg_hist_t *h, int64_t v)
{
    lg_hist_record_n(h, v, 1);
}

ing_err_t lg_hist_merge(lg_hist_t *dst, const lg_hist_t *src)
{
    if (dst->counts_len != src->counts_len || dst->sub_bits != src->sub_bits)
        return ING_ERR_CONFIG;
    if (src->total == 0)
        return ING_OK;
    for (size_t i = 0; i < src->counts_len; i++)
        dst->counts[i] += src->counts[i];
    dst->total += src->total;
    dst->clamped += src->clamped;
    if (src->min < dst->min)
        dst->min = src->min;
    if (src->max > dst->max)
        dst->max = src->max;
    dst->sum += src->sum;
    dst->sum_sq += src->sum_sq;
    return ING_OK;
}

uint64_t lg_hist_count(const lg_hist_t *h)
{
    return h->total;
}

int64_t lg_hist_min(const lg_hist_t *h)
{
    return h->total ? h->min : 0;
}

int64_t lg_hist_max(const lg_hist_t *h)
{
    return h->max;
}

double lg_hist_mean(const lg_hist_t *h)
{
    return h->total ? h->sum / (double)h->total : 0.0;
}

double lg_hist_stddev(const lg_hist_t *h)
{
    if (!h->total)
        return 0.0;
    double mean = lg_hist_mean(h);
    double var = h->sum_sq / (double)h->total - mean * mean;
    return var > 0 ? sqrt(var) : 0.0;
}

uint64_t lg_hist_clamped(const lg_hist_t *h)
{
    return h->clamped;
}

int lg_hist_bucket_count(const lg_hist_t *h)
{
    return h->bucket_count;
}

int lg_hist_sub_bucket_count(const lg_hist_t *h)
{
    return 1 << h->sub_bits;
}

int64_t lg_hist_lowest_equivalent(const lg_hist_t *h, int64_t v)
{
    int shift = 0;
    return value_at_index(h, counts_index(h, v < 0 ? 0 : v), &shift);
}

int64_t lg_hist_highest_equivalent(const lg_hist_t *h, int64_t v)
{
    int shift = 0;
    int64_t low = value_at_index(h, counts_index(h, v < 0 ? 0 : v), &shift);
    return low + ((int64_t)1 << shift) - 1;
}

int64_t lg_hist_percentile(const lg_hist_t *h, double p)
{
    if (!h->total)
        return 0;
    if (p < 0)
        p = 0;
    if (p > 100)
        p = 100;
    uint64_t want = (uint64_t)ceil(p / 100.0 * (double)h->total);
    if (want == 0)
        want = 1;
    uint64_t seen = 0;
    for (size_t i = 0; i < h->counts_len; i++) {
        seen += h->counts[i];
        if (seen >= want) {
            int shift = 0;
            int64_t low = value_at_index(h, i, &shift); /* sets shift: a statement of its own */
            int64_t v = low + ((int64_t)1 << shift) - 1;
            if (v > h->max)
                v = h->max;
            if (v < h->min)
                v = h->min;
            return v;
        }
    }
    return h->max;
}

uint64_t lg_hist_count_le(const lg_hist_t *h, int64_t v)
{
    if (v < 0)
        return 0;
    if (v > h->max_us)
        v = h->max_us;
    size_t last = counts_index(h, v);
    uint64_t n = 0;
    for (size_t i = 0; i <= last; i++)
        n += h->counts[i];
    return n;
}
