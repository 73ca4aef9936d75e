/*
 * gw_wait: the Prefer header (RFC 7240) as a table of values and verdicts, and the waiters'
 * index (take by id, expiry by deadline, the bound, re-reading every id after a reconnect).
 */
#include <stdio.h>
#include <string.h>

#include "gw_wait.h"
#include "ing_test.h"

static void test_prefer(ing_test_counts_t *t)
{
    static const struct {
        const char *value;
        int want;
    } rows[] = {
        {"wait=10", 10},
        {"WAIT=10", 10},
        {"wait = 5", 5},
        {"  wait=0", 0},
        {"wait=60", 60},
        {"wait=61", 60}, /* a longer preference is capped */
        {"wait=99999999999999999999", 60},
        {"wait=\"7\"", 7},
        {"respond-async, wait=3", 3},
        {"return=minimal,wait=4;foo=bar", 4},
        {"handling=lenient, wait=12 , return=representation", 12},
        {"", -1},
        {"wait", -1},
        {"wait=", -1},
        {"wait=-1", -1},
        {"wait=abc", -1},
        {"wait=1.5", -1},
        {"wait=\"7", -1},
        {"waiting=5", -1},
        {"respond-async", -1},
        {"x=\"a,wait=3\"", -1}, /* inside a quoted value of another preference */
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        int got = gw_wait_parse_prefer(rows[i].value, strlen(rows[i].value));
        CHECK(t, got == rows[i].want, "Prefer: %s -> %d, want %d", rows[i].value, got,
              rows[i].want);
    }
}

typedef struct seen {
    uint64_t handles[16];
    char sids[16][ING_SUBMISSION_ID_LEN + 1];
    size_t n;
} seen_t;

static void record(void *arg, uint64_t handle, const char *sid)
{
    seen_t *s = arg;
    if (s->n < 16) {
        snprintf(s->sids[s->n], sizeof(s->sids[0]), "%s", sid);
        s->handles[s->n++] = handle;
    }
}

static void count_sid(void *arg, const char *sid)
{
    (void)sid;
    (*(size_t *)arg)++;
}

static const char A[] = "0123456789abcdef0123456789abcdef";
static const char B[] = "fedcba9876543210fedcba9876543210";
static const char C[] = "00000000000000000000000000000000";

static void test_index(ing_test_counts_t *t)
{
    gw_wait_t *w = NULL;
    CHECK(t, gw_wait_create(4, &w) == ING_OK, "create");
    if (!w)
        return;
    CHECK(t, gw_wait_next_deadline(w) == INT64_MAX, "empty: no deadline");
    CHECK(t, gw_wait_add(w, A, 1, 5000) == ING_OK, "add a1");
    CHECK(t, gw_wait_add(w, B, 2, 3000) == ING_OK, "add b");
    CHECK(t, gw_wait_add(w, A, 3, 9000) == ING_OK, "add a2");
    CHECK(t, gw_wait_add(w, C, 4, 7000) == ING_OK, "add c");
    CHECK(t, gw_wait_add(w, C, 5, 7000) == ING_ERR_UNAVAILABLE, "over the bound");
    CHECK(t, gw_wait_count(w) == 4 && gw_wait_next_deadline(w) == 3000, "count %zu next %lld",
          gw_wait_count(w), (long long)gw_wait_next_deadline(w));
    size_t ids = 0;
    gw_wait_each_sid(w, count_sid, &ids);
    CHECK(t, ids == 3, "distinct ids %zu", ids);

    seen_t s = {0};
    CHECK(t, gw_wait_take(w, A, record, &s) == 2, "take a");
    CHECK(t, s.n == 2 && s.handles[0] == 1 && s.handles[1] == 3, "a's waiters in order");
    CHECK(t, !gw_wait_has(w, A) && gw_wait_has(w, B), "a gone, b there");
    CHECK(t, gw_wait_take(w, A, record, &s) == 0, "take a again: nobody");

    memset(&s, 0, sizeof(s));
    CHECK(t, gw_wait_expire(w, 2999, record, &s) == 0, "nothing due before 3000");
    CHECK(t, gw_wait_expire(w, 3000, record, &s) == 1 && s.handles[0] == 2, "b expires");
    CHECK(t, strcmp(s.sids[0], B) == 0, "with its id: %s", s.sids[0]);
    CHECK(t, gw_wait_next_deadline(w) == 7000, "next %lld", (long long)gw_wait_next_deadline(w));
    CHECK(t, gw_wait_add(w, B, 6, 4000) == ING_OK, "room again");
    CHECK(t, gw_wait_next_deadline(w) == 4000, "a nearer deadline");
    memset(&s, 0, sizeof(s));
    CHECK(t, gw_wait_expire(w, INT64_MAX - 1, record, &s) == 2, "all expire at shut-down");
    CHECK(t, gw_wait_count(w) == 0 && gw_wait_next_deadline(w) == INT64_MAX, "empty again");
    gw_wait_destroy(w);
}

/* Many waiters on one id (more than take's batch of 64) are all answered. */
static void test_many_on_one_id(ing_test_counts_t *t)
{
    gw_wait_t *w = NULL;
    CHECK(t, gw_wait_create(200, &w) == ING_OK, "create");
    if (!w)
        return;
    for (uint64_t h = 1; h <= 150; h++)
        CHECK(t, gw_wait_add(w, A, h, 1000) == ING_OK, "add %llu", (unsigned long long)h);
    CHECK(t, gw_wait_add(w, B, 999, 1000) == ING_OK, "another id");
    CHECK(t, gw_wait_take(w, A, NULL, NULL) == 150, "150 taken");
    CHECK(t, gw_wait_count(w) == 1 && gw_wait_has(w, B), "b stays");
    gw_wait_destroy(w);
}

int main(void)
{
    ing_test_counts_t t = {0};
    test_prefer(&t);
    test_index(&t);
    test_many_on_one_id(&t);
    return ING_TEST_END(&t);
}
