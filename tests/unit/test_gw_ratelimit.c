/*
 * gw_ratelimit: per-organisation token buckets. Each scenario is a configuration and a list
 * of steps (time, organisation, cost, take or peek) with the expected wait in microseconds
 * (0: passes). Time is given, never read, so every row is exact.
 */
#include <string.h>

#include "gw_ratelimit.h"
#include "ing_test.h"

typedef struct step {
    int64_t t_ms;
    const char *org;
    double docs, bytes;
    bool peek;
    int64_t want_us; /* 0: passes */
} step_t;

#define STEPS_MAX 12

static const struct scenario {
    const char *name;
    gw_ratelimit_conf_t conf;
    step_t steps[STEPS_MAX];
} scenarios[] = {
    {"unlimited",
     {.max_orgs = 4},
     {{0, "750712184", 1000, 1e9, false, 0}, {0, "750712184", 1000, 1e9, false, 0}}},
    {"docs: burst then refill at the rate",
     {.docs_per_s = 2, .docs_burst = 3, .max_orgs = 4},
     {{0, "750712184", 1, 0, false, 0},
      {0, "750712184", 1, 0, false, 0},
      {0, "750712184", 1, 0, false, 0},
      {0, "750712184", 1, 0, false, 500000}, /* empty: one token at 2/s = 0.5 s */
      {250, "750712184", 1, 0, false, 250000},
      {500, "750712184", 1, 0, false, 0},
      {500, "750712184", 1, 0, false, 500000}}},
    {"organisations are independent",
     {.docs_per_s = 1, .docs_burst = 1, .max_orgs = 4},
     {{0, "750712184", 1, 0, false, 0},
      {0, "750712184", 1, 0, false, 1000000},
      {0, "010780054", 1, 0, false, 0},
      {0, "130783236", 1, 0, false, 0},
      {0, "010780054", 1, 0, false, 1000000}}},
    {"peek takes nothing",
     {.docs_per_s = 1, .docs_burst = 1, .max_orgs = 4},
     {{0, "750712184", 1, 0, true, 0},
      {0, "750712184", 1, 0, true, 0},
      {0, "750712184", 1, 0, false, 0},
      {0, "750712184", 1, 0, true, 1000000}}},
    {"bytes: a refused request takes nothing from the docs bucket",
     {.docs_per_s = 10, .docs_burst = 2, .bytes_per_s = 1000, .bytes_burst = 1000, .max_orgs = 4},
     {{0, "750712184", 1, 800, false, 0},
      {0, "750712184", 1, 800, false, 600000}, /* 200 left, needs 800: 600 more at 1000/s */
      {0, "750712184", 1, 100, false, 0},      /* the docs bucket still had its second token */
      {0, "750712184", 1, 100, false, 100000}}},
    {"a body over the burst passes on a full bucket, then its debt holds the next ones",
     {.bytes_per_s = 1000, .bytes_burst = 1000, .max_orgs = 4},
     {{0, "750712184", 1, 3000, false, 0}, /* level 1000 - 3000 = -2000 */
      {0, "750712184", 1, 10, false, 2010000},
      {2000, "750712184", 1, 10, false, 10000},
      {2010, "750712184", 1, 10, false, 0}}},
    {"the slower of the two buckets decides",
     {.docs_per_s = 1, .docs_burst = 1, .bytes_per_s = 100, .bytes_burst = 100, .max_orgs = 4},
     {{0, "750712184", 1, 100, false, 0}, {0, "750712184", 1, 50, false, 1000000}}},
    {"refill never exceeds the burst",
     {.docs_per_s = 1, .docs_burst = 2, .max_orgs = 4},
     {{0, "750712184", 1, 0, false, 0},
      {60000, "750712184", 1, 0, false, 0},
      {60000, "750712184", 1, 0, false, 0},
      {60000, "750712184", 1, 0, false, 1000000}}},
    {"burst 0 means one second of the rate",
     {.docs_per_s = 2, .max_orgs = 4},
     {{0, "750712184", 1, 0, false, 0},
      {0, "750712184", 1, 0, false, 0},
      {0, "750712184", 1, 0, false, 500000}}},
    {"a full table forgets refilled buckets, and fails open when all are active",
     {.docs_per_s = 1, .docs_burst = 1, .max_orgs = 2},
     {{0, "750712184", 1, 0, false, 0},
      {0, "010780054", 1, 0, false, 0},
      {0, "130783236", 1, 0, false, 0},          /* both active: fails open */
      {0, "130783236", 1, 0, false, 0},          /* still not in the table */
      {2000, "130783236", 1, 0, false, 0},       /* the others refilled: forgotten, room */
      {2000, "130783236", 1, 0, false, 1000000}, /* now it has its own bucket */
      {2000, "750712184", 1, 0, false, 0}}},     /* forgotten = a full bucket again */
};

static void run_scenario(ing_test_counts_t *t, const struct scenario *sc)
{
    gw_ratelimit_t *rl = NULL;
    CHECK(t, gw_ratelimit_create(&sc->conf, &rl) == ING_OK, "%s: create", sc->name);
    if (!rl)
        return;
    for (size_t i = 0; i < STEPS_MAX && sc->steps[i].org; i++) {
        const step_t *s = &sc->steps[i];
        int64_t now = 1000000000 + s->t_ms * 1000;
        int64_t got = s->peek ? gw_ratelimit_peek(rl, s->org, s->docs, s->bytes, now)
                              : gw_ratelimit_take(rl, s->org, s->docs, s->bytes, now);
        CHECK(t, got == s->want_us, "%s: step %zu waits %lld us, want %lld", sc->name, i,
              (long long)got, (long long)s->want_us);
    }
    gw_ratelimit_destroy(rl);
}

static void test_fail_open_counted(ing_test_counts_t *t)
{
    gw_ratelimit_conf_t conf = {.docs_per_s = 1, .max_orgs = 1};
    gw_ratelimit_t *rl = NULL;
    CHECK(t, gw_ratelimit_create(&conf, &rl) == ING_OK, "create");
    if (!rl)
        return;
    CHECK(t, gw_ratelimit_take(rl, "750712184", 1, 0, 0) == 0, "first org");
    CHECK(t, gw_ratelimit_take(rl, "010780054", 1, 0, 0) == 0, "second org: fails open");
    CHECK(t, gw_ratelimit_orgs(rl) == 1 && gw_ratelimit_fail_open(rl) == 1, "counts %zu %llu",
          gw_ratelimit_orgs(rl), (unsigned long long)gw_ratelimit_fail_open(rl));
    gw_ratelimit_destroy(rl);
}

static void test_retry_after(ing_test_counts_t *t)
{
    static const struct {
        int64_t wait_us;
        int want;
    } rows[] = {{1, 1},       {999999, 1},  {1000000, 1},
                {1000001, 2}, {2500000, 3}, {INT64_C(1) << 40, 3600}};
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
        CHECK(t, gw_ratelimit_retry_after(rows[i].wait_us) == rows[i].want, "%lld us -> %d",
              (long long)rows[i].wait_us, gw_ratelimit_retry_after(rows[i].wait_us));
}

static void test_body_rate(ing_test_counts_t *t)
{
    static const struct {
        uint64_t bytes;
        int64_t elapsed_ms, min_rate, grace_ms;
        bool too_slow;
    } rows[] = {
        {0, 9999, 1024, 10000, false},      /* within the grace: anything goes */
        {0, 10000, 1024, 10000, false},     /* the grace's last instant */
        {0, 10001, 1024, 10000, true},      /* nothing after the grace */
        {10240, 10001, 1024, 10000, true},  /* 10240 B in 10.001 s: below 1024 B/s */
        {10300, 10001, 1024, 10000, false}, /* just above */
        {1 << 20, 600000, 1024, 10000, false},
        {0, 600000, 0, 10000, false}, /* no minimum */
        {100, 5, 1024, 0, false},     /* no grace: 100 B in 5 ms is fast */
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
        CHECK(t,
              gw_ratelimit_body_too_slow(rows[i].bytes, rows[i].elapsed_ms * 1000, rows[i].min_rate,
                                         rows[i].grace_ms * 1000) == rows[i].too_slow,
              "row %zu: %llu B after %lld ms", i, (unsigned long long)rows[i].bytes,
              (long long)rows[i].elapsed_ms);
}

int main(void)
{
    ing_test_counts_t t = {0};
    for (size_t i = 0; i < sizeof(scenarios) / sizeof(scenarios[0]); i++)
        run_scenario(&t, &scenarios[i]);
    test_fail_open_counted(&t);
    test_retry_after(&t);
    test_body_rate(&t);
    return ING_TEST_END(&t);
}
