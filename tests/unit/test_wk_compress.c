/* zstd round trip, a reused context, bounds and corrupt frames; trained dictionaries. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ing_test.h"
#include "wk_compress.h"

/* A lab-report-like sample: shared markup, varying values (seeded, deterministic). */
static size_t lab_sample(unsigned *seed, char *out, size_t size)
{
    static const char *tests[] = {"Glycemie", "Creatinine", "Hemoglobine", "Sodium", "TSH"};
    size_t n = (size_t)snprintf(out, size,
                                "<?xml version=\"1.0\"?><ClinicalDocument><code code=\"11502-2\"/>"
                                "<patient id=\"%u\"/><structuredBody>",
                                (unsigned)rand_r(seed));
    while (n + 200 < size) {
        n += (size_t)snprintf(out + n, size - n,
                              "<observation><code displayName=\"%s\"/><value value=\"%d.%02d\" "
                              "unit=\"mmol/L\"/></observation>\n",
                              tests[rand_r(seed) % 5], rand_r(seed) % 400, rand_r(seed) % 100);
    }
    n += (size_t)snprintf(out + n, size - n, "</structuredBody></ClinicalDocument>\n");
    return n;
}

static void test_dictionaries(ing_test_counts_t *t, wk_compressor_t *c)
{
    enum { NSAMPLES = 300, SAMPLE = 2048 };
    char *samples = malloc((size_t)NSAMPLES * SAMPLE);
    size_t sizes[NSAMPLES], off = 0;
    unsigned seed = 42;
    for (int i = 0; i < NSAMPLES; i++) {
        sizes[i] = lab_sample(&seed, samples + off, SAMPLE);
        off += sizes[i];
    }
    ing_buf_t dict, other, z, zplain, back;
    ing_buf_init(&dict, 1 << 20);
    ing_buf_init(&other, 1 << 20);
    ing_buf_init(&z, 1 << 20);
    ing_buf_init(&zplain, 1 << 20);
    ing_buf_init(&back, 1 << 20);
    char err[256] = "";
    CHECK(t, wk_zdict_train(samples, sizes, NSAMPLES, 16384, &dict, err, sizeof(err)) == ING_OK,
          "train: %s", err);
    CHECK(t, dict.len > 0 && dict.len <= 16384, "dictionary of %zu bytes", dict.len);
    /* Too few samples: zdict's error, translated. */
    CHECK(t, wk_zdict_train(samples, sizes, 2, 16384, &other, err, sizeof(err)) == ING_ERR_RECORD,
          "two samples train");
    ing_buf_reset(&other);
    CHECK(t,
          wk_zdict_train(samples + sizes[0], sizes + 1, NSAMPLES - 1, 8192, &other, err,
                         sizeof(err)) == ING_OK,
          "train another: %s", err);
    wk_zdict_t *d = NULL, *d2 = NULL, *bad = NULL;
    CHECK(t, wk_zdict_create(dict.data, dict.len, 3, &d) == ING_OK, "digest");
    CHECK(t, wk_zdict_create(other.data, other.len, 3, &d2) == ING_OK, "digest other");
    CHECK(t, wk_zdict_create("not a dictionary", 16, 3, &bad) == ING_ERR_RECORD, "raw bytes");
    char doc[SAMPLE];
    unsigned seed2 = 7; /* a document the dictionary never saw */
    size_t len = lab_sample(&seed2, doc, sizeof(doc));
    CHECK(t, d && wk_compress(c, d, doc, len, &z) == ING_OK, "compress with dictionary");
    CHECK(t, wk_compress(c, NULL, doc, len, &zplain) == ING_OK, "compress without");
    CHECK(t, z.len < zplain.len, "dictionary helps: %zu vs %zu bytes", z.len, zplain.len);
    static const struct {
        const char *name;
        int which; /* 0 the right dictionary, 1 none, 2 another */
        ing_err_t want;
    } reads[] = {
        {"right dictionary", 0, ING_OK},
        {"no dictionary", 1, ING_ERR_RECORD},
        {"wrong dictionary", 2, ING_ERR_RECORD},
    };
    for (size_t i = 0; i < sizeof(reads) / sizeof(reads[0]); i++) {
        ing_buf_reset(&back);
        const wk_zdict_t *with = reads[i].which == 0 ? d : reads[i].which == 2 ? d2 : NULL;
        CHECK(t, wk_decompress(with, z.data, z.len, len, &back) == reads[i].want, "%s",
              reads[i].name);
        if (reads[i].want == ING_OK)
            CHECK(t, back.len == len && memcmp(back.data, doc, len) == 0, "%s: round trip",
                  reads[i].name);
    }
    wk_zdict_destroy(d);
    wk_zdict_destroy(d2);
    ing_buf_fini(&dict);
    ing_buf_fini(&other);
    ing_buf_fini(&z);
    ing_buf_fini(&zplain);
    ing_buf_fini(&back);
    free(samples);
}

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
            CHECK(&t, wk_compress(c, NULL, src, len, &z) == ING_OK, "%s: compress", cases[i].name);
            CHECK(&t, wk_decompress(NULL, z.data, z.len, len, &back) == ING_OK, "%s: decompress",
                  cases[i].name);
            CHECK(&t, back.len == len && memcmp(back.data, src, len) == 0, "%s: round trip",
                  cases[i].name);
            if (!cases[i].data)
                CHECK(&t, z.len < len / 10, "%s: %zu bytes compressed", cases[i].name, z.len);
            /* A frame larger than allowed, a truncated frame, garbage. */
            ing_buf_reset(&back);
            CHECK(&t,
                  len < 2 || wk_decompress(NULL, z.data, z.len, len - 1, &back) == ING_ERR_TOO_BIG,
                  "%s: over max_len", cases[i].name);
            ing_buf_reset(&back);
            CHECK(&t, wk_decompress(NULL, z.data, z.len - 1, len, &back) == ING_ERR_RECORD,
                  "%s: truncated", cases[i].name);
        }
    ing_buf_reset(&back);
    CHECK(&t, wk_decompress(NULL, "not zstd at all", 15, 100, &back) == ING_ERR_RECORD, "garbage");
    /* Appending past the output buffer's cap is ING_ERR_TOO_BIG, not a crash. */
    ing_buf_t tiny;
    ing_buf_init(&tiny, 16);
    CHECK(&t, wk_compress(c, NULL, big, big_len, &tiny) == ING_ERR_TOO_BIG, "output cap");
    ing_buf_fini(&tiny);
    ing_buf_fini(&z);
    ing_buf_fini(&back);
    free(big);
    test_dictionaries(&t, c);
    wk_compressor_destroy(c);
    return ING_TEST_END(&t);
}
