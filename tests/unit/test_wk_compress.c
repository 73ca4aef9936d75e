/* zstd round trip, a reused context, bounds and corrupt frames. */
#include <stdlib.h>
#include <string.h>

#include "ing_test.h"
#include "wk_compress.h"

int main(void)
{
    ing_test_counts_t t = {0};
    wk_compressor_t *c = NULL;
    CHECK(&t, wk_compressor_create(3, &c) == ING_OK, "create");
    size_t big_len = 1 << 20;
    uint8_t *big = malloc(big_len);
    for (size_t i = 0; i < big_len; i++)
        big[i] = (uint8_t)("<observation code=\"11502-2\"/>"[i % 29] ^ (i % 7 == 0));
    static const struct {
        const char *name;
        const char *data; /* NULL: the 1 MiB buffer */
        size_t len;
    } cases[] = {
        {"one byte", "x", 1},
        {"text", "Compte rendu de biologie: glyc\xc3\xa9mie 5.1 mmol/L", 46},
        {"binary with NUL", "%PDF-1.7\0\0\1\2\3", 13},
        {"1 MiB repetitive", NULL, 0},
    };
    ing_buf_t z, back;
    ing_buf_init(&z, 4 << 20);
    ing_buf_init(&back, 4 << 20);
    for (int round = 0; round < 2; round++) /* the same context, reused */
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
            const void *src = cases[i].data ? (const void *)cases[i].data : (const void *)big;
            size_t len = cases[i].data ? cases[i].len : big_len;
            ing_buf_reset(&z);
            ing_buf_reset(&back);
            CHECK(&t, wk_compress(c, src, len, &z) == ING_OK, "%s: compress", cases[i].name);
            CHECK(&t, wk_decompress(z.data, z.len, len, &back) == ING_OK, "%s: decompress",
                  cases[i].name);
            CHECK(&t, back.len == len && memcmp(back.data, src, len) == 0, "%s: round trip",
                  cases[i].name);
            if (!cases[i].data)
                CHECK(&t, z.len < len / 10, "%s: %zu bytes compressed", cases[i].name, z.len);
            /* A frame larger than allowed, a truncated frame, garbage. */
            ing_buf_reset(&back);
            CHECK(&t, len < 2 || wk_decompress(z.data, z.len, len - 1, &back) == ING_ERR_TOO_BIG,
                  "%s: over max_len", cases[i].name);
            ing_buf_reset(&back);
            CHECK(&t, wk_decompress(z.data, z.len - 1, len, &back) == ING_ERR_RECORD,
                  "%s: truncated", cases[i].name);
        }
    ing_buf_reset(&back);
    CHECK(&t, wk_decompress("not zstd at all", 15, 100, &back) == ING_ERR_RECORD, "garbage");
    /* Appending past the output buffer's cap is ING_ERR_TOO_BIG, not a crash. */
    ing_buf_t tiny;
    ing_buf_init(&tiny, 16);
    CHECK(&t, wk_compress(c, big, big_len, &tiny) == ING_ERR_TOO_BIG, "output cap");
    ing_buf_fini(&tiny);
    ing_buf_fini(&z);
    ing_buf_fini(&back);
    free(big);
    wk_compressor_destroy(c);
    return ING_TEST_END(&t);
}
