/*
 * gw_orgs: the orgs file's parser (every refusal with its line) and the lookups by API key
 * and by certificate fingerprint, as tables. "@K1@" in a file text stands for the hex SHA-256
 * of KEY1, "@C1@" for the fingerprint FP1, and so on, so that the rows stay readable.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gw_orgs.h"
#include "ing_codec.h"
#include "ing_test.h"

#define KEY1 "6b1f0c8e2f4a4d0f9a3b7c5e1d2f3a4b5c6d7e8f90a1b2c3d4e5f60718293a4b"
#define KEY2 "d2c1b0a9f8e7d6c5b4a39281706f5e4d3c2b1a09f8e7d6c5b4a3928170615243"
#define KEY3 "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"
#define ORG_A "750712184"
#define ORG_B "010780054"
#define ORG_C "130783236"

static const uint8_t FP1[ING_SHA256_LEN] = {1, 2, 3, 4, 5, 6, 7, 8, 9};
static const uint8_t FP2[ING_SHA256_LEN] = {0xfe, 0xed, 0xfa, 0xce};
static const uint8_t FP3[ING_SHA256_LEN] = {0x42};

static void hex_of_key(const char *key, char out[ING_SHA256_HEX_LEN + 1])
{
    uint8_t h[ING_SHA256_LEN];
    ing_sha256(key, strlen(key), h);
    ing_hex_encode(h, sizeof(h), out);
}

/* Expands the @K1@ / @C1@ placeholders (and @U1@: the key hash upper-cased). */
static char *expand(const char *text)
{
    size_t cap = strlen(text) * 4 + 256;
    char *out = malloc(cap);
    size_t n = 0;
    for (const char *p = text; *p;) {
        char hex[ING_SHA256_HEX_LEN + 1] = "";
        if (p[0] == '@' && p[3] == '@' && (p[2] >= '1' && p[2] <= '3')) {
            int i = p[2] - '1';
            static const char *const keys[] = {KEY1, KEY2, KEY3};
            static const uint8_t *const fps[] = {FP1, FP2, FP3};
            if (p[1] == 'K' || p[1] == 'U')
                hex_of_key(keys[i], hex);
            else if (p[1] == 'C')
                ing_hex_encode(fps[i], ING_SHA256_LEN, hex);
            if (p[1] == 'U')
                for (char *h = hex; *h; h++)
                    *h = (char)(*h >= 'a' && *h <= 'f' ? *h - 32 : *h);
        }
        if (hex[0]) {
            memcpy(out + n, hex, ING_SHA256_HEX_LEN);
            n += ING_SHA256_HEX_LEN;
            p += 4;
        } else {
            out[n++] = *p++;
        }
    }
    out[n] = '\0';
    return out;
}

static const char good_file[] = "# test organisations\n"
                                "\n"
                                "finess " ORG_A " api_key_sha256 @K1@\n"
                                "   # an indented comment\n"
                                "finess\t" ORG_A "\tcert_sha256\t@C1@\r\n"
                                "finess " ORG_B " api_key_sha256 @U2@   \n"
                                "finess " ORG_B " cert_sha256 @C2@\n"
                                "finess " ORG_C " cert_sha256 @C3@"; /* no final newline */

static const struct {
    const char *name;
    const char *text;
    ing_err_t want;
    size_t count;         /* when ING_OK */
    const char *in_error; /* a part of the message when refused */
} parse_rows[] = {
    {"good file", good_file, ING_OK, 5, NULL},
    {"empty file", "", ING_OK, 0, NULL},
    {"only comments", "# nothing yet\n\n  \n", ING_OK, 0, NULL},
    {"same org, two keys",
     "finess " ORG_A " api_key_sha256 @K1@\nfiness " ORG_A " api_key_sha256 @K2@\n", ING_OK, 2,
     NULL},
    {"same hash as key and as cert",
     "finess " ORG_A " api_key_sha256 @K1@\nfiness " ORG_B " cert_sha256 @K1@\n", ING_OK, 2, NULL},
    {"duplicate key, same org",
     "finess " ORG_A " api_key_sha256 @K1@\nfiness " ORG_A " api_key_sha256 @K1@\n", ING_ERR_CONFIG,
     0, "t:2: duplicate api_key_sha256 (first on line 1)"},
    {"duplicate key, upper case",
     "finess " ORG_A " api_key_sha256 @K1@\nfiness " ORG_B " api_key_sha256 @U1@\n", ING_ERR_CONFIG,
     0, "t:2: duplicate"},
    {"duplicate cert, other org",
     "finess " ORG_A " cert_sha256 @C1@\n# x\nfiness " ORG_B " cert_sha256 @C1@\n", ING_ERR_CONFIG,
     0, "t:3: duplicate cert_sha256 (first on line 1)"},
    {"bad FINESS key", "finess 750712185 api_key_sha256 @K1@\n", ING_ERR_CONFIG, 0,
     "t:1: \"750712185\" is not a valid FINESS"},
    {"FINESS too short", "finess 75071218 api_key_sha256 @K1@\n", ING_ERR_CONFIG, 0,
     "not a valid FINESS"},
    {"hash too short", "finess " ORG_A " api_key_sha256 0123abcd\n", ING_ERR_CONFIG, 0,
     "t:1: api_key_sha256 must be 64 hex digits"},
    {"hash too long", "finess " ORG_A " cert_sha256 @C1@0\n", ING_ERR_CONFIG, 0,
     "cert_sha256 must be 64 hex digits"},
    {"hash not hex",
     "finess " ORG_A " api_key_sha256 "
     "zz00000000000000000000000000000000000000000000000000000000000000\n",
     ING_ERR_CONFIG, 0, "must be 64 hex digits"},
    {"unknown credential", "finess " ORG_A " password @K1@\n", ING_ERR_CONFIG, 0,
     "t:1: unknown credential \"password\""},
    {"missing field", "finess " ORG_A " api_key_sha256\n", ING_ERR_CONFIG, 0, "t:1: expected"},
    {"extra field", "finess " ORG_A " api_key_sha256 @K1@ extra\n", ING_ERR_CONFIG, 0,
     "t:1: expected"},
    {"not a finess line", "org " ORG_A " api_key_sha256 @K1@\n", ING_ERR_CONFIG, 0,
     "t:1: expected"},
    {"error on a later line", "finess " ORG_A " api_key_sha256 @K1@\n\n\nbogus\n", ING_ERR_CONFIG,
     0, "t:4: expected"},
};

static void test_parse(ing_test_counts_t *t)
{
    for (size_t i = 0; i < sizeof(parse_rows) / sizeof(parse_rows[0]); i++) {
        char *text = expand(parse_rows[i].text);
        gw_orgs_t *orgs = NULL;
        char errstr[256] = "";
        ing_err_t err = gw_orgs_parse(text, strlen(text), "t", &orgs, errstr, sizeof(errstr));
        CHECK(t, err == parse_rows[i].want, "%s: %s (%s)", parse_rows[i].name, ing_err_name(err),
              errstr);
        if (!err)
            CHECK(t, gw_orgs_count(orgs) == parse_rows[i].count, "%s: count %zu",
                  parse_rows[i].name, gw_orgs_count(orgs));
        if (parse_rows[i].in_error)
            CHECK(t, strstr(errstr, parse_rows[i].in_error) != NULL, "%s: message \"%s\"",
                  parse_rows[i].name, errstr);
        gw_orgs_destroy(orgs);
        free(text);
    }
    /* A NUL byte inside a line is not text. */
    static const char nul[] = "finess 750712184\0 api_key_sha256 x\n";
    gw_orgs_t *orgs = NULL;
    char errstr[256];
    CHECK(t,
          gw_orgs_parse(nul, sizeof(nul) - 1, "t", &orgs, errstr, sizeof(errstr)) == ING_ERR_CONFIG,
          "NUL byte refused");
}

static const struct {
    const char *name;
    const char *key; /* NULL: look the fingerprint up instead */
    const uint8_t *fp;
    const char *want; /* NULL: unknown */
} lookup_rows[] = {
    {"key 1", KEY1, NULL, ORG_A},
    {"key 2 (stored upper-case)", KEY2, NULL, ORG_B},
    {"unknown key", KEY3, NULL, NULL},
    {"empty key", "", NULL, NULL},
    {"key 1 with a trailing space", KEY1 " ", NULL, NULL},
    {"key 1 cut short", "6b1f0c8e2f4a4d0f9a3b7c5e1d2f3a4b5c6d7e8f90a1b2c3d4e5f60718293a4", NULL,
     NULL},
    {"cert 1", NULL, FP1, ORG_A},
    {"cert 2", NULL, FP2, ORG_B},
    {"cert 3", NULL, FP3, ORG_C},
};

static void test_lookup(ing_test_counts_t *t)
{
    char *text = expand(good_file);
    gw_orgs_t *orgs = NULL;
    char errstr[256];
    CHECK(t, gw_orgs_parse(text, strlen(text), "t", &orgs, errstr, sizeof(errstr)) == ING_OK,
          "good file: %s", errstr);
    free(text);
    if (!orgs)
        return;
    for (size_t i = 0; i < sizeof(lookup_rows) / sizeof(lookup_rows[0]); i++) {
        const char *got = lookup_rows[i].key
                              ? gw_orgs_by_key(orgs, lookup_rows[i].key, strlen(lookup_rows[i].key))
                              : gw_orgs_by_cert(orgs, lookup_rows[i].fp);
        bool ok = lookup_rows[i].want ? got && strcmp(got, lookup_rows[i].want) == 0 : got == NULL;
        CHECK(t, ok, "%s: got %s", lookup_rows[i].name, got ? got : "(none)");
    }
    /* A key's hash is not a certificate fingerprint, nor the reverse. */
    uint8_t h[ING_SHA256_LEN];
    ing_sha256(KEY1, strlen(KEY1), h);
    CHECK(t, gw_orgs_by_cert(orgs, h) == NULL, "key hash used as a fingerprint");
    char hex[ING_SHA256_HEX_LEN + 1];
    ing_hex_encode(FP1, ING_SHA256_LEN, hex);
    CHECK(t, gw_orgs_by_key(orgs, hex, strlen(hex)) == NULL, "fingerprint hex used as a key");
    char longkey[GW_ORGS_MAX_KEY_LEN + 2];
    memset(longkey, 'a', sizeof(longkey) - 1);
    longkey[sizeof(longkey) - 1] = '\0';
    CHECK(t, gw_orgs_by_key(orgs, longkey, strlen(longkey)) == NULL, "over-long key");
    CHECK(t, gw_orgs_by_key(NULL, KEY1, strlen(KEY1)) == NULL, "no table");
    gw_orgs_destroy(orgs);
}

static void test_load(ing_test_counts_t *t)
{
    char path[] = "/tmp/test_gw_orgs_XXXXXX";
    int fd = mkstemp(path);
    CHECK(t, fd >= 0, "mkstemp");
    if (fd < 0)
        return;
    char *text = expand(good_file);
    CHECK(t, write(fd, text, strlen(text)) == (ssize_t)strlen(text), "write");
    close(fd);
    free(text);
    gw_orgs_t *orgs = NULL;
    char errstr[256];
    CHECK(t, gw_orgs_load(path, &orgs, errstr, sizeof(errstr)) == ING_OK, "load: %s", errstr);
    CHECK(t, gw_orgs_count(orgs) == 5, "loaded count %zu", gw_orgs_count(orgs));
    gw_orgs_destroy(orgs);
    unlink(path);
    orgs = NULL;
    CHECK(t, gw_orgs_load(path, &orgs, errstr, sizeof(errstr)) == ING_ERR_IO && !orgs,
          "missing file");
    CHECK(t, strstr(errstr, path) != NULL, "message names the file: %s", errstr);
}

int main(void)
{
    ing_test_counts_t t = {0, 0};
    test_parse(&t);
    test_lookup(&t);
    test_load(&t);
    return ING_TEST_END(&t);
}
