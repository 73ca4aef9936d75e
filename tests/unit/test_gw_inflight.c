/* The gateway's admission against its share of gateway.max_inflight_bytes (gw_inflight_admit):
 * 503 only when the request would fit once the thread drains, 413 when it never could (a 503
 * there sends a client that honours Retry-After into an endless loop). */
#include "gw_loop.h"
#include "ing_test.h"

#define KIB 1024
#define MIB (1024 * 1024)

static const struct {
    const char *name;
    size_t held, extra, own, cap;
    int want;
} cases[] = {
    {"idle thread, small body", 0, 20 * KIB, 20 * KIB, 1 * MIB, 0},
    {"exactly the share", 16 * KIB, 1 * MIB - 16 * KIB, 1 * MIB, 1 * MIB, 0},
    {"others hold the room: retry later", 800 * KIB, 400 * KIB, 400 * KIB, 1 * MIB, 503},
    {"one byte over with others", 600 * KIB, 424 * KIB + 1, 400 * KIB, 1 * MIB, 503},
    {"alone over the share: never", 16 * KIB, 2 * MIB, 2 * MIB + 16 * KIB, 1 * MIB, 413},
    {"over the share on an idle thread", 0, 1 * MIB + 1, 1 * MIB + 1, 1 * MIB, 413},
    {"never fits, even with others holding", 900 * KIB, 3 * MIB, 3 * MIB, 1 * MIB, 413},
    {"chunked growth within the share", 300 * KIB, 200 * KIB, 600 * KIB, 1 * MIB, 0},
    {"chunked growth past the share", 0, 600 * KIB, 1200 * KIB, 1 * MIB, 413},
    {"nothing more to hold", 1 * MIB, 0, 16 * KIB, 1 * MIB, 0},
};

int main(void)
{
    ing_test_counts_t t = {0};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int got = gw_inflight_admit(cases[i].held, cases[i].extra, cases[i].own, cases[i].cap);
        CHECK(&t, got == cases[i].want, "%s: got %d, want %d", cases[i].name, got, cases[i].want);
    }
    return ING_TEST_END(&t);
}
