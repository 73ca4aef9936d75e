/* lg_hist: percentiles of known distributions, precision, clamping, merge. */
#include <math.h>
#include <stdlib.h>

#include "ing_test.h"
#include "lg_hist.h"

static lg_hist_t *make(int sub_bits)
{
    lg_hist_t *h = NULL;
    if (lg_hist_create(LG_HIST_MAX_US_DEFAULT, sub_bits, &h) != ING_OK)
        abort();
    return h;
}

/* |got - want| within the histogram's resolution at want (one slot). */
static int close_to(const lg_hist_t *h, int64_t got, int64_t want)
{
    return got >= lg_hist_lowest_equivalent(h, want) && got <= lg_hist_highest_equivalent(h, want);
}

int main(void)
{
    ing_test_counts_t t = {0};
    lg_hist_t *h = make(11);

    CHECK(&t, lg_hist_percentile(h, 99) == 0 && lg_hist_count(h) == 0, "empty histogram");

    /* Uniform 1..100000 us, each once: percentile p is p * 1000 us. */
    for (int64_t v = 1; v <= 100000; v++)
        lg_hist_record(h, v);
    static const struct {
        double p;
        int64_t want;
    } uniform[] = {{50, 50000}, {90, 90000}, {99, 99000}, {99.9, 99900}, {100, 100000}};
    for (size_t i = 0; i < sizeof(uniform) / sizeof(uniform[0]); i++) {
        int64_t got = lg_hist_percentile(h, uniform[i].p);
        CHECK(&t, close_to(h, got, uniform[i].want), "uniform p%g = %lld, want %lld", uniform[i].p,
              (long long)got, (long long)uniform[i].want);
    }
    CHECK(&t, lg_hist_max(h) == 100000 && lg_hist_min(h) == 1, "exact min/max");
    CHECK(&t, fabs(lg_hist_mean(h) - 50000.5) < 1e-6, "exact mean %f", lg_hist_mean(h));
    CHECK(&t, fabs(lg_hist_stddev(h) - 28867.5) < 1.0, "stddev %f", lg_hist_stddev(h));
    CHECK(&t, lg_hist_count_le(h, 1000) == 1000, "count at or below 1000: %llu",
          (unsigned long long)lg_hist_count_le(h, 1000));

    /* Relative precision: one slot is at most 1/1024 of its values (sub_bits = 11). */
    int precise = 1;
    for (int64_t v = 1; v < LG_HIST_MAX_US_DEFAULT; v = v * 3 + 7) {
        int64_t lo = lg_hist_lowest_equivalent(h, v), hi = lg_hist_highest_equivalent(h, v);
        if (lo > v || hi < v || (double)(hi - lo) > (double)v / 1024.0 + 0.5)
            precise = 0;
    }
    CHECK(&t, precise, "slot width within 0.1%% of the value");

    /* Bimodal: 99 % fast (1 ms) and 1 % slow (100 ms), as a stalled server produces. */
    lg_hist_t *b = make(11);
    lg_hist_record_n(b, 1000, 9900);
    lg_hist_record_n(b, 100000, 100);
    CHECK(&t, close_to(b, lg_hist_percentile(b, 99), 1000), "bimodal p99 %lld",
          (long long)lg_hist_percentile(b, 99));
    CHECK(&t, close_to(b, lg_hist_percentile(b, 99.01), 100000), "bimodal p99.01 %lld",
          (long long)lg_hist_percentile(b, 99.01));
    CHECK(&t, lg_hist_percentile(b, 0) == 1000, "p0 is the minimum");

    /* Merge: two halves give the whole. */
    lg_hist_t *lo = make(11), *hi = make(11);
    for (int64_t v = 1; v <= 100000; v++)
        lg_hist_record(v <= 50000 ? lo : hi, v);
    CHECK(&t, lg_hist_merge(lo, hi) == ING_OK, "merge");
    int same = lg_hist_count(lo) == lg_hist_count(h) && lg_hist_max(lo) == lg_hist_max(h);
    for (double p = 0; p <= 100; p += 0.5)
        same &= lg_hist_percentile(lo, p) == lg_hist_percentile(h, p);
    CHECK(&t, same, "merged halves equal the whole histogram");
    lg_hist_t *coarse = make(7);
    CHECK(&t, lg_hist_merge(lo, coarse) == ING_ERR_CONFIG, "merging other shapes is refused");

    /* Out of range: clamped to 60 s and counted; negatives count as 0. */
    lg_hist_t *c = make(7);
    lg_hist_record(c, 120LL * 1000 * 1000);
    lg_hist_record(c, -5);
    CHECK(&t, lg_hist_clamped(c) == 1 && lg_hist_max(c) == LG_HIST_MAX_US_DEFAULT,
          "clamped %llu max %lld", (unsigned long long)lg_hist_clamped(c),
          (long long)lg_hist_max(c));
    CHECK(&t, lg_hist_min(c) == 0 && lg_hist_percentile(c, 50) == 0, "negative recorded as 0");
    lg_hist_reset(c);
    CHECK(&t, lg_hist_count(c) == 0 && lg_hist_max(c) == 0, "reset");

    lg_hist_t *bad = NULL;
    CHECK(&t, lg_hist_create(10, 11, &bad) == ING_ERR_CONFIG && !bad, "too small a range");
    CHECK(&t, lg_hist_create(1000000, 3, &bad) == ING_ERR_CONFIG, "too few sub-buckets");

    lg_hist_destroy(h);
    lg_hist_destroy(b);
    lg_hist_destroy(lo);
    lg_hist_destroy(hi);
    lg_hist_destroy(coarse);
    lg_hist_destroy(c);
    return ING_TEST_END(&t);
}
