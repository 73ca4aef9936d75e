/* lg_sched: intended send times of the open-loop schedule, over threads, batches and time. */
#include <stdint.h>

#include "ing_test.h"
#include "lg_sched.h"

int main(void)
{
    ing_test_counts_t t = {0};
    static const struct {
        const char *name;
        double rate;
        int batch, thread, threads;
        uint64_t k;
        int64_t want; /* microseconds after start */
    } cases[] = {
        {"first request at start", 1000, 1, 0, 1, 0, 0},
        {"1000/s: 1 ms apart", 1000, 1, 0, 1, 5, 5000},
        {"3/s: floor of thirds", 3, 1, 0, 1, 1, 333333},
        {"3/s: no drift after 3", 3, 1, 0, 1, 3, 1000000},
        {"3/s: no drift after a day", 3, 1, 0, 1, 3 * 86400, 86400000000LL},
        {"0.5/s: 2 s apart", 0.5, 1, 0, 1, 2, 4000000},
        {"thread 1 of 2 starts one slot later", 1000, 1, 1, 2, 0, 1000},
        {"thread 0 of 2 every other slot", 1000, 1, 0, 2, 1, 2000},
        {"thread 2 of 3, k=2", 300, 1, 2, 3, 2, 26666},
        {"batch 10 at 1000 docs/s: 100 requests/s", 1000, 10, 0, 1, 3, 30000},
        {"batch 3 at 1000 docs/s", 1000, 3, 0, 1, 1, 3000},
        {"high rate, far index", 250000, 1, 0, 1, 1000000000ULL, 4000000000LL},
    };
    const int64_t start = 1000000000;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        lg_sched_t s;
        lg_sched_init(&s, start, INT64_MAX, cases[i].rate, cases[i].batch, cases[i].thread,
                      cases[i].threads);
        int64_t got = lg_sched_intended(&s, cases[i].k) - start;
        CHECK(&t, got == cases[i].want, "%s: %lld, want %lld", cases[i].name, (long long)got,
              (long long)cases[i].want);
    }

    /* Two threads together cover every slot exactly once, in order. */
    lg_sched_t a, b;
    lg_sched_init(&a, start, INT64_MAX, 7, 1, 0, 2);
    lg_sched_init(&b, start, INT64_MAX, 7, 1, 1, 2);
    lg_sched_t one;
    lg_sched_init(&one, start, INT64_MAX, 7, 1, 0, 1);
    int interleaved = 1;
    for (uint64_t j = 0; j < 1000; j++)
        interleaved &= lg_sched_intended(j % 2 ? &b : &a, j / 2) == lg_sched_intended(&one, j);
    CHECK(&t, interleaved, "threads interleave the single-thread schedule");

    /* Due counts and take: 10/s for 1 s (end excluded) is 10 requests. */
    lg_sched_t s;
    lg_sched_init(&s, start, start + 1000000, 10, 1, 0, 1);
    CHECK(&t, lg_sched_due_count(&s, start - 1) == 0, "nothing due before start");
    CHECK(&t, lg_sched_due_count(&s, start) == 1, "one due at start");
    CHECK(&t, lg_sched_due_count(&s, start + 99999) == 1, "one due just before the second");
    CHECK(&t, lg_sched_due_count(&s, start + 100000) == 2, "two due at 100 ms");
    CHECK(&t, lg_sched_due_count(&s, start + 5000000) == 10, "ten over the step, not more");
    lg_sched_t s2;
    lg_sched_init(&s2, start, start + 1000000, 10, 1, 1, 2);
    CHECK(&t, lg_sched_due_count(&s2, start + 150000) == 1, "thread 1 of 2: one due at 150 ms");
    CHECK(&t, lg_sched_due_count(&s2, start + 5000000) == 5, "thread 1 of 2: five in total");

    int64_t when;
    int taken = 0;
    int64_t last = -1;
    int ordered = 1;
    while (lg_sched_take(&s, start + 450000, &when)) {
        ordered &= when > last;
        last = when;
        taken++;
    }
    CHECK(&t, taken == 5 && ordered, "take at 450 ms yields 5 in order, got %d", taken);
    CHECK(&t, lg_sched_next_time(&s) == start + 500000, "next at 500 ms");
    while (lg_sched_take(&s, start + 10000000, &when))
        taken++;
    CHECK(&t, taken == 10 && lg_sched_next_time(&s) == INT64_MAX, "schedule ends at end: %d",
          taken);
    return ING_TEST_END(&t);
}
