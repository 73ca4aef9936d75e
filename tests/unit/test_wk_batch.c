/* Batch bounds (count, bytes, time) and the retry back-off. */
#include <stddef.h>

#include "ing_test.h"
#include "wk_batch.h"

int main(void)
{
    ing_test_counts_t t = {0};
    const wk_batch_limits_t L = {.max_count = 500, .max_bytes = 1000, .max_us = 50000};
    static const struct {
        const char *name;
        size_t count, bytes;
        int64_t elapsed_us;
        bool full;
        int timeout_ms; /* idle 200 */
    } cases[] = {
        {"empty never full, waits idle", 0, 0, 999999, false, 200},
        {"one record, fresh", 1, 10, 0, false, 50},
        {"time left rounds up", 1, 10, 49001, false, 1},
        {"time spent", 1, 10, 50000, true, 0},
        {"time overspent", 3, 10, 70000, true, 0},
        {"count below", 499, 10, 10, false, 50},
        {"count reached", 500, 10, 10, true, 50},
        {"bytes below", 2, 999, 10, false, 50},
        {"bytes reached", 2, 1000, 10, true, 50},
        {"one record over bytes", 1, 5000, 0, true, 50},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        bool full = wk_batch_full(&L, cases[i].count, cases[i].bytes, cases[i].elapsed_us);
        CHECK(&t, full == cases[i].full, "%s: full=%d", cases[i].name, full);
        int to = wk_batch_poll_timeout_ms(&L, cases[i].count, cases[i].elapsed_us, 200);
        CHECK(&t, to == cases[i].timeout_ms, "%s: timeout %d, want %d", cases[i].name, to,
              cases[i].timeout_ms);
    }

    static const struct {
        int attempt;
        uint32_t random;
        int want;
    } backoff[] = {
        {1, 0, 50},    {1, 50, 100},     {1, 51, 50}, /* 51 % 51 == 0 */
        {2, 0, 100},   {2, 100, 200},    {3, 0, 200},
        {7, 0, 3200},  {8, 0, 5000},     {8, 5000, 10000}, /* capped at 10 s */
        {30, 0, 5000}, {30, 4999, 9999}, {1000, 12345, 5000 + 12345 % 5001},
    };
    for (size_t i = 0; i < sizeof(backoff) / sizeof(backoff[0]); i++) {
        int got = wk_backoff_ms(backoff[i].attempt, backoff[i].random);
        CHECK(&t, got == backoff[i].want, "backoff(%d, %u) = %d, want %d", backoff[i].attempt,
              backoff[i].random, got, backoff[i].want);
    }
    for (int a = 1; a < 50; a++)
        for (uint32_t r = 0; r < 20000; r += 997) {
            int got = wk_backoff_ms(a, r);
            CHECK(&t, got >= 50 && got <= 10000, "backoff(%d, %u) = %d out of [50, 10000]", a, r,
                  got);
        }
    return ING_TEST_END(&t);
}
