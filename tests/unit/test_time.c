/* ing_time_parse_rfc3339: every accepted form against timegm (an independent implementation),
 * a few instants known by heart, and what PostgreSQL's timestamptz refuses. */
#define _DEFAULT_SOURCE
#include <string.h>
#include <time.h>

#include "ing_test.h"
#include "ing_time.h"

/* Microseconds of a UTC civil time through the C library. */
static int64_t libc_us(int y, int mo, int d, int h, int mi, int s, int64_t frac_us)
{
    struct tm tm = {.tm_year = y - 1900,
                    .tm_mon = mo - 1,
                    .tm_mday = d,
                    .tm_hour = h,
                    .tm_min = mi,
                    .tm_sec = s};
    return (int64_t)timegm(&tm) * 1000000 + frac_us;
}

int main(void)
{
    ing_test_counts_t t = {0};
    static const struct {
        const char *in;
        int y, mo, d, h, mi, s;
        int64_t frac_us, offset_min;
    } valid[] = {
        {"2026-11-28T09:30:00Z", 2026, 11, 28, 9, 30, 0, 0, 0},
        {"2026-11-28t09:30:00z", 2026, 11, 28, 9, 30, 0, 0, 0},
        {"2024-02-29T23:59:59Z", 2024, 2, 29, 23, 59, 59, 0, 0},
        {"2000-02-29T00:00:00Z", 2000, 2, 29, 0, 0, 0, 0, 0},
        {"2026-12-31T23:59:60Z", 2027, 1, 1, 0, 0, 0, 0, 0},
        {"2026-11-28T10:30:00.123+01:00", 2026, 11, 28, 10, 30, 0, 123000, 60},
        {"2026-11-28T10:30:00.1234565Z", 2026, 11, 28, 10, 30, 0, 123457, 0},
        {"2026-11-28T10:30:00.1234564999Z", 2026, 11, 28, 10, 30, 0, 123456, 0},
        {"2026-11-28T10:30:59.9999996Z", 2026, 11, 28, 10, 31, 0, 0, 0},
        {"2026-11-28T10:30:00.5-05:30", 2026, 11, 28, 10, 30, 0, 500000, -330},
        {"2026-11-28T00:30:00+15:59", 2026, 11, 28, 0, 30, 0, 0, 959},
        {"1969-07-20T20:17:40Z", 1969, 7, 20, 20, 17, 40, 0, 0},
        {"0001-01-01T00:00:00Z", 1, 1, 1, 0, 0, 0, 0, 0},
    };
    for (size_t i = 0; i < sizeof(valid) / sizeof(valid[0]); i++) {
        int64_t got = -1;
        bool ok = ing_time_parse_rfc3339(valid[i].in, &got);
        int64_t want = libc_us(valid[i].y, valid[i].mo, valid[i].d, valid[i].h, valid[i].mi,
                               valid[i].s, valid[i].frac_us) -
                       valid[i].offset_min * 60 * 1000000;
        CHECK(&t, ok && got == want, "%s: ok %d got %lld want %lld", valid[i].in, ok,
              (long long)got, (long long)want);
    }
    /* Known instants, so the test does not rest on timegm alone. */
    int64_t us = 0;
    CHECK(&t, ing_time_parse_rfc3339("1970-01-01T00:00:00Z", &us) && us == 0, "epoch %lld",
          (long long)us);
    CHECK(&t, ing_time_parse_rfc3339("2000-01-01T00:00:00Z", &us) && us == 946684800000000LL,
          "2000 %lld", (long long)us);
    CHECK(&t, ing_time_parse_rfc3339("2000-01-01T01:00:00+01:00", &us) && us == 946684800000000LL,
          "2000 at +01:00 %lld", (long long)us);

    static const char *const invalid[] = {
        "",
        "28/11/2026",
        "2026-11-28",
        "2026-11-28T09:30:00",
        "2026-11-28 09:30:00Z",
        "2026-13-28T09:30:00Z",
        "2026-00-28T09:30:00Z",
        "2026-11-00T09:30:00Z",
        "2026-02-29T09:30:00Z",
        "1900-02-29T09:30:00Z",
        "2026-04-31T09:30:00Z",
        "2026-11-28T24:00:00Z",
        "2026-11-28T09:60:00Z",
        "2026-11-28T09:30:61Z",
        "0000-01-01T00:00:00Z",
        "2026-11-28T09:30:00.Z",
        "2026-11-28T09:30:00+16:00",
        "2026-11-28T09:30:00+01:60",
        "2026-11-28T09:30:00+0100",
        "2026-11-28T09:30:00+01:00x",
        "2026-11-28T09:30:00Zx",
        "2026-11-28T09:30:0aZ",
        "+2026-11-28T09:30:00Z",
    };
    for (size_t i = 0; i < sizeof(invalid) / sizeof(invalid[0]); i++) {
        int64_t out = 42;
        CHECK(&t, !ing_time_parse_rfc3339(invalid[i], &out) && out == 42, "accepted '%s'",
              invalid[i]);
    }
    return ING_TEST_END(&t);
}
