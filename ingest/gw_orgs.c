#include "gw_orgs.h"

#include <ctype.h>
#include <errno.h>
#include <openssl/crypto.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_FILE_BYTES (16 * 1024 * 1024)
#define MAX_LINE 1024
#define MAX_FIELDS 5 /* one more than a valid line has, to see the extra one */

typedef enum { CRED_KEY, CRED_CERT } cred_kind_t;

typedef struct gw_org_cred {
    uint8_t hash[ING_SHA256_LEN];
    cred_kind_t kind;
    int line;
    char finess[ING_FINESS_LEN + 1];
} gw_org_cred_t;

struct gw_orgs {
    size_t count;
    gw_org_cred_t creds[];
};

static const struct {
    const char *name;
    cred_kind_t kind;
} kinds[] = {{"api_key_sha256", CRED_KEY}, {"cert_sha256", CRED_CERT}};

/* Splits a line on spaces and tabs. @returns the number of fields (at most max). */
static int split_fields(char *line, char *fields[], int max)
{
    int n = 0;
    char *save = NULL;
    for (char *f = strtok_r(line, " \t\r", &save); f && n < max; f = strtok_r(NULL, " \t\r", &save))
        fields[n++] = f;
    return n;
}

/* 64 hex digits, either case. */
static bool parse_hash(const char *hex, uint8_t out[ING_SHA256_LEN])
{
    char lower[ING_SHA256_HEX_LEN];
    if (strlen(hex) != ING_SHA256_HEX_LEN)
        return false;
    for (size_t i = 0; i < ING_SHA256_HEX_LEN; i++)
        lower[i] = (char)tolower((unsigned char)hex[i]);
    return ing_hex_decode_lower(lower, sizeof(lower), out, ING_SHA256_LEN);
}

/* Parses one non-comment line into *c. @returns false with errstr set. */
static bool parse_line(char *line, int line_no, const char *name, gw_org_cred_t *c, char *errstr,
                       size_t errstr_size)
{
    char *f[MAX_FIELDS];
    int n = split_fields(line, f, MAX_FIELDS);
    if (n != 4 || strcmp(f[0], "finess") != 0) {
        snprintf(errstr, errstr_size,
                 "%s:%d: expected \"finess <FINESS> api_key_sha256|cert_sha256 <64 hex>\"", name,
                 line_no);
        return false;
    }
    if (strlen(f[1]) != ING_FINESS_LEN || ing_finess_check(f[1], strlen(f[1])) != ING_OK) {
        snprintf(errstr, errstr_size, "%s:%d: \"%.16s\" is not a valid FINESS", name, line_no,
                 f[1]);
        return false;
    }
    size_t k = 0;
    while (k < sizeof(kinds) / sizeof(kinds[0]) && strcmp(f[2], kinds[k].name) != 0)
        k++;
    if (k == sizeof(kinds) / sizeof(kinds[0])) {
        snprintf(errstr, errstr_size,
                 "%s:%d: unknown credential \"%.32s\" (api_key_sha256 or cert_sha256)", name,
                 line_no, f[2]);
        return false;
    }
    if (!parse_hash(f[3], c->hash)) {
        snprintf(errstr, errstr_size, "%s:%d: %s must be 64 hex digits (a SHA-256)", name, line_no,
                 f[2]);
        return false;
    }
    c->kind = kinds[k].kind;
    c->line = line_no;
    memcpy(c->finess, f[1], ING_FINESS_LEN + 1);
    return true;
}

ing_err_t gw_orgs_parse(const char *text, size_t len, const char *name, gw_orgs_t **out,
                        char *errstr, size_t errstr_size)
{
    size_t lines = 1;
    for (size_t i = 0; i < len; i++)
        lines += text[i] == '\n';
    gw_orgs_t *orgs = calloc(1, sizeof(*orgs) + lines * sizeof(orgs->creds[0]));
    if (!orgs) {
        snprintf(errstr, errstr_size, "%s: out of memory", name);
        return ING_ERR_NOMEM;
    }
    int line_no = 0;
    for (size_t pos = 0; pos < len;) {
        const char *s = text + pos;
        const char *nl = memchr(s, '\n', len - pos);
        size_t n = nl ? (size_t)(nl - s) : len - pos;
        pos += n + (nl ? 1 : 0);
        line_no++;
        if (n >= MAX_LINE || memchr(s, '\0', n)) {
            snprintf(errstr, errstr_size, "%s:%d: line too long or not text", name, line_no);
            goto fail;
        }
        char line[MAX_LINE];
        memcpy(line, s, n);
        line[n] = '\0';
        size_t k = strspn(line, " \t\r");
        if (line[k] == '\0' || line[k] == '#')
            continue;
        gw_org_cred_t *c = &orgs->creds[orgs->count];
        if (!parse_line(line, line_no, name, c, errstr, errstr_size))
            goto fail;
        for (size_t i = 0; i < orgs->count; i++) {
            const gw_org_cred_t *o = &orgs->creds[i];
            if (o->kind == c->kind && memcmp(o->hash, c->hash, ING_SHA256_LEN) == 0) {
                snprintf(errstr, errstr_size, "%s:%d: duplicate %s (first on line %d)", name,
                         line_no, kinds[c->kind].name, o->line);
                goto fail;
            }
        }
        orgs->count++;
    }
    *out = orgs;
    return ING_OK;
fail:
    free(orgs);
    return ING_ERR_CONFIG;
}

ing_err_t gw_orgs_load(const char *path, gw_orgs_t **out, char *errstr, size_t errstr_size)
{
    ing_err_t err = ING_ERR_IO;
    char *text = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(errstr, errstr_size, "gateway.orgs %s: %s", path, strerror(errno));
        return ING_ERR_IO;
    }
    text = malloc(MAX_FILE_BYTES + 1);
    if (!text) {
        snprintf(errstr, errstr_size, "gateway.orgs %s: out of memory", path);
        err = ING_ERR_NOMEM;
        goto out;
    }
    size_t len = fread(text, 1, MAX_FILE_BYTES + 1, f);
    if (ferror(f)) {
        snprintf(errstr, errstr_size, "gateway.orgs %s: %s", path, strerror(errno));
        goto out;
    }
    if (len > MAX_FILE_BYTES) {
        snprintf(errstr, errstr_size, "gateway.orgs %s: larger than %d bytes", path,
                 MAX_FILE_BYTES);
        err = ING_ERR_CONFIG;
        goto out;
    }
    err = gw_orgs_parse(text, len, path, out, errstr, errstr_size);
out:
    free(text);
    fclose(f);
    return err;
}

void gw_orgs_destroy(gw_orgs_t *orgs)
{
    free(orgs);
}

size_t gw_orgs_count(const gw_orgs_t *orgs)
{
    return orgs ? orgs->count : 0;
}

/* Every credential of the kind is compared, whatever matched before: the time does not tell
 * where (or whether) the hash is in the table. */
static const char *lookup(const gw_orgs_t *orgs, cred_kind_t kind,
                          const uint8_t hash[ING_SHA256_LEN])
{
    const char *found = NULL;
    if (!orgs)
        return NULL;
    for (size_t i = 0; i < orgs->count; i++) {
        const gw_org_cred_t *c = &orgs->creds[i];
        int same = CRYPTO_memcmp(c->hash, hash, ING_SHA256_LEN) == 0 && c->kind == kind;
        found = same ? c->finess : found;
    }
    return found;
}

const char *gw_orgs_by_key(const gw_orgs_t *orgs, const char *key, size_t key_len)
{
    if (key_len == 0 || key_len > GW_ORGS_MAX_KEY_LEN)
        return NULL;
    uint8_t hash[ING_SHA256_LEN];
    ing_sha256(key, key_len, hash);
    return lookup(orgs, CRED_KEY, hash);
}

const char *gw_orgs_by_cert(const gw_orgs_t *orgs, const uint8_t fingerprint[ING_SHA256_LEN])
{
    return lookup(orgs, CRED_CERT, fingerprint);
}
