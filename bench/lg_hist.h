/*
 * lg_hist: a compact HDR-style latency histogram (the HdrHistogram layout, our own code).
 *
 * Values are microseconds from 0 to a fixed maximum (60 s by default). Buckets are log-linear:
 * every power of two is split into 2^(sub_bits-1) equal slots, so the relative error of any
 * recorded value is at most 2^-(sub_bits-1) (sub_bits = 11: 0.1 %, three significant digits;
 * sub_bits = 7 for the small per-second histograms: 1.6 %). Larger values are clamped to the
 * maximum and counted in `clamped`. Two histograms of the same shape merge by adding counts.
 *
 * A histogram belongs to one thread; merge them after the threads have joined.
 */
#ifndef LG_HIST_H
#define LG_HIST_H

#include <stddef.h>
#include <stdint.h>

#include "ing_error.h"

#define LG_HIST_MAX_US_DEFAULT (60LL * 1000 * 1000)

typedef struct lg_hist lg_hist_t;

/**
 * @param max_us highest trackable value (>= 2^sub_bits)
 * @param sub_bits 4..16: log2 of the slots per power of two, plus one
 * @returns ING_OK and *out (caller destroys), ING_ERR_CONFIG or ING_ERR_NOMEM.
 */
ing_err_t lg_hist_create(int64_t max_us, int sub_bits, lg_hist_t **out) ING_MUST_CHECK;
void lg_hist_destroy(lg_hist_t *h);

/** Records one value (negative values count as 0, larger than the maximum as the maximum). */
void lg_hist_record(lg_hist_t *h, int64_t value_us);
/** Records the same value n times. */
void lg_hist_record_n(lg_hist_t *h, int64_t value_us, uint64_t n);
void lg_hist_reset(lg_hist_t *h);

/** Adds src's counts into dst. @returns ING_ERR_CONFIG when the shapes differ. */
ing_err_t lg_hist_merge(lg_hist_t *dst, const lg_hist_t *src) ING_MUST_CHECK;

uint64_t lg_hist_count(const lg_hist_t *h);
/** Exact minimum, maximum (of the clamped values) and mean; 0 when empty. */
int64_t lg_hist_min(const lg_hist_t *h);
int64_t lg_hist_max(const lg_hist_t *h);
double lg_hist_mean(const lg_hist_t *h);
double lg_hist_stddev(const lg_hist_t *h);
uint64_t lg_hist_clamped(const lg_hist_t *h);

/**
 * The value at percentile p (0..100): the highest value equivalent to the slot where the
 * cumulative count first reaches ceil(p/100 * count), never above the exact maximum.
 * 0 when empty.
 */
int64_t lg_hist_percentile(const lg_hist_t *h, double p);

/** How many recorded values share a slot at or below v's slot. */
uint64_t lg_hist_count_le(const lg_hist_t *h, int64_t v);

/** Bucket and slot counts, for the percentile table footer. */
int lg_hist_bucket_count(const lg_hist_t *h);
int lg_hist_sub_bucket_count(const lg_hist_t *h);

/** Lowest and highest values sharing the slot of v (for tests and reports). */
int64_t lg_hist_lowest_equivalent(const lg_hist_t *h, int64_t v);
int64_t lg_hist_highest_equivalent(const lg_hist_t *h, int64_t v);

#endif
