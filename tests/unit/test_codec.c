/* base64 (strict), hex and SHA-256 against RFC 4648 and FIPS 180-2 vectors. */
#include <string.h>

#include "ing_codec.h"
#include "ing_test.h"

static const struct {
    const char *plain;
    const char *b64;
} vectors[] = {
    {"", ""},
    {"f", "Zg=="},
    {"fo", "Zm8="},
    {"foo", "Zm9v"},
    {"foob", "Zm9vYg=="},
    {"fooba", "Zm9vYmE="},
    {"foobar", "Zm9vYmFy"},
};

static const char *const bad_b64[] = {
    "Zg=",      /* not a multiple of 4 */
    "Zm9v\n",   /* whitespace */
    "Zm 9v",    /* space */
    "Zh==",     /* non-zero padding bits */
    "Zm9=",     /* non-zero padding bits */
    "Z===",     /* too much padding */
    "Zg==Zg==", /* padding in the middle */
    "Zm9v-_==", /* URL-safe alphabet */
    "=m9v",     /* padding first */
};

static void test_decimal(ing_test_counts_t *t)
{
    static const struct {
        uint64_t v;
        const char *want;
    } cases[] = {{0, "0"},
                 {7, "7"},
                 {10, "10"},
                 {202, "202"},
                 {1000000, "1000000"},
                 {1764377058123456ull, "1764377058123456"},
                 {18446744073709551615ull, "18446744073709551615"}};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char out[ING_DECIMAL_U64_MAX + 1];
        memset(out, 'x', sizeof(out));
        size_t n = ing_decimal_u64(cases[i].v, out);
        CHECK(t, n == strlen(cases[i].want) && !memcmp(out, cases[i].want, n) && out[n] == 'x',
              "decimal %s: got %.*s", cases[i].want, (int)n, out);
    }
}

int main(void)
{
    ing_test_counts_t t = {0};
    test_decimal(&t);
    for (size_t i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
        uint8_t out[16];
        size_t n = 99;
        const char *b = vectors[i].b64;
        ing_err_t err = ing_base64_decode(b, strlen(b), out, &n);
        CHECK(&t,
              err == ING_OK && n == strlen(vectors[i].plain) &&
                  memcmp(out, vectors[i].plain, n) == 0,
              "decode %s", b);
        char enc[32];
        ing_base64_encode((const uint8_t *)vectors[i].plain, strlen(vectors[i].plain), enc);
        CHECK(&t, strcmp(enc, b) == 0, "encode %s: got %s", vectors[i].plain, enc);
    }
    for (size_t i = 0; i < sizeof(bad_b64) / sizeof(bad_b64[0]); i++) {
        uint8_t out[16];
        size_t n;
        CHECK(&t,
              ing_base64_decode(bad_b64[i], strlen(bad_b64[i]), out, &n) ==
                  ING_ERR_CONTENT_INVALID_BASE64,
              "bad base64 #%zu accepted", i);
    }
    /* Every byte value survives a round trip. */
    uint8_t all[256], back[256];
    for (int i = 0; i < 256; i++)
        all[i] = (uint8_t)i;
    char enc[400];
    ing_base64_encode(all, sizeof(all), enc);
    size_t n = 0;
    CHECK(&t,
          ing_base64_decode(enc, strlen(enc), back, &n) == ING_OK && n == 256 &&
              memcmp(all, back, 256) == 0,
          "256-byte round trip");

    uint8_t digest[ING_SHA256_LEN];
    char hex[ING_SHA256_HEX_LEN + 1];
    ing_sha256("abc", 3, digest);
    ing_hex_encode(digest, sizeof(digest), hex);
    CHECK(&t, strcmp(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad") == 0,
          "sha256(abc) = %s", hex);
    uint8_t round[ING_SHA256_LEN];
    CHECK(&t,
          ing_hex_decode_lower(hex, strlen(hex), round, sizeof(round)) &&
              memcmp(round, digest, sizeof(round)) == 0,
          "hex round trip");
    hex[0] = 'B';
    CHECK(&t, !ing_hex_decode_lower(hex, strlen(hex), round, sizeof(round)), "uppercase hex");
    CHECK(&t, !ing_hex_decode_lower("abc", 3, round, 2), "odd hex length");

    /* The fetched-once digest gives the one-shot's answers, short and long inputs. */
    ing_digest_t *dg = NULL;
    CHECK(&t, ing_digest_create(&dg) == ING_OK, "digest create");
    uint8_t fetched[ING_SHA256_LEN];
    ing_digest_sha256(dg, "abc", 3, fetched);
    ing_sha256("abc", 3, digest);
    CHECK(&t, memcmp(fetched, digest, sizeof(digest)) == 0, "digest: sha256(abc)");
    static uint8_t doc[8192];
    for (size_t i = 0; i < sizeof(doc); i++)
        doc[i] = (uint8_t)(i * 31 + 7);
    ing_sha256(doc, sizeof(doc), digest);
    ing_digest_sha256(dg, doc, sizeof(doc), fetched);
    CHECK(&t, memcmp(fetched, digest, sizeof(digest)) == 0, "digest: 8 KB");
    ing_digest_sha256(NULL, doc, sizeof(doc), fetched);
    CHECK(&t, memcmp(fetched, digest, sizeof(digest)) == 0, "no digest: the one-shot");
    ing_digest_destroy(dg);
    return ING_TEST_END(&t);
}
