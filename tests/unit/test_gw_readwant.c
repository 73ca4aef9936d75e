/* The gateway's read-buffer sizing (gw_read_want): memory follows the request — a small first
 * read, exactly head + Content-Length for a known body, growth by half for chunked bodies,
 * never past the head limit while the head is incomplete nor past the buffer's cap. */
#include "gw_loop.h"
#include "ing_test.h"

#define KIB 1024
#define MIB (1024 * 1024)

static const struct {
    const char *name;
    size_t buffered, head_len, body_total, max_head, limit;
    size_t want;
} cases[] = {
    {"first read", 0, 0, 0, 16 * KIB, 64 * MIB, GW_HEAD_READ},
    {"first read, small head cap", 0, 0, 0, 8 * KIB, 64 * MIB, 8 * KIB + 1},
    {"partial head: still one first-read's room", 100, 0, 0, 16 * KIB, 64 * MIB, GW_HEAD_READ},
    {"long head grows to its cap + 1", 5 * KIB, 0, 0, 8 * KIB, 64 * MIB, 8 * KIB + 1},
    {"long head doubles under a large cap", 20 * KIB, 0, 0, 64 * KIB, 64 * MIB, 40 * KIB},
    {"head over its cap: no more growth asked", 16 * KIB + 1, 0, 0, 16 * KIB, 64 * MIB,
     32 * KIB + 2},
    {"known body: exactly head + Content-Length", 10 * KIB, 300, 187 * KIB, 16 * KIB, 64 * MIB,
     187 * KIB},
    {"known body, already whole: room for what follows", 187 * KIB, 300, 187 * KIB, 16 * KIB,
     64 * MIB, 187 * KIB + 187 * KIB / 2},
    {"chunked: at least a head read more", 20 * KIB, 300, 0, 16 * KIB, 64 * MIB, 36 * KIB},
    {"chunked: grows by half", 1 * MIB, 300, 0, 16 * KIB, 64 * MIB, 1 * MIB + 512 * KIB},
    {"never past the cap (known body)", 10 * KIB, 300, 80 * MIB, 16 * KIB, 64 * MIB, 64 * MIB},
    {"never past the cap (chunked)", 60 * MIB, 300, 0, 16 * KIB, 64 * MIB, 64 * MIB},
};

int main(void)
{
    ing_test_counts_t t = {0};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        size_t got = gw_read_want(cases[i].buffered, cases[i].head_len, cases[i].body_total,
                                  cases[i].max_head, cases[i].limit);
        CHECK(&t, got == cases[i].want, "%s: got %zu, want %zu", cases[i].name, got, cases[i].want);
    }
    return ING_TEST_END(&t);
}
