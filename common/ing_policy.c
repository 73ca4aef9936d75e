#include "ing_policy.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define POLICY_MAX_CODES 256
#define POLICY_MAX_OIDS 8

typedef struct policy_type_code {
    char code[16];
    int valid_from; /* YYYYMMDD */
    int valid_to;   /* YYYYMMDD, 99991231 when open */
} policy_type_code_t;

struct ing_policy {
    policy_type_code_t codes[POLICY_MAX_CODES];
    int n_codes;
    char oids[POLICY_MAX_OIDS][32];
    int n_oids;
    size_t max_content_bytes;
    ing_digest_t *digest; /* @owns */
};

static const struct {
    const char *media_type;
    const char *format_code;
} media_table[] = {
    {"application/pdf", "urn:ihe:iti:xds-sd:pdf:2008"},
    {"text/plain", "urn:ihe:iti:xds-sd:text:2008"},
    {"text/rtf", "urn:ihe:iti-fr:xds-sd:rtf:2010"},
    {"image/jpeg", "urn:ihe:iti-fr:xds-sd:jpeg:2010"},
    {"image/tiff", "urn:ihe:iti-fr:xds-sd:tiff:2010"},
    {"text/xml", "urn:ihe:lab:xd-lab:2008"},
    {"application/fhir+json", "urn:hl7:fhir:r4"},
};

static int parse_day(const char *s)
{
    if (strcmp(s, "-") == 0)
        return 99991231;
    int y, m, d;
    char tail;
    if (sscanf(s, "%4d-%2d-%2d%c", &y, &m, &d, &tail) != 3 || m < 1 || m > 12 || d < 1 || d > 31)
        return -1;
    return y * 10000 + m * 100 + d;
}

static ing_err_t policy_load_codes(ing_policy_t *p, const char *path, char *errstr, size_t errsz)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(errstr, errsz, "cannot open type code file %s: %m", path);
        return ING_ERR_IO;
    }
    ing_err_t err = ING_OK;
    char line[512];
    int lineno = 0;
    while (fgets(line, sizeof(line), f)) {
        lineno++;
        if (line[0] == '#' || line[0] == '\n')
            continue;
        char *save = NULL;
        char *code = strtok_r(line, "\t\n", &save);
        char *from = strtok_r(NULL, "\t\n", &save);
        char *to = strtok_r(NULL, "\t\n", &save);
        if (!code || !from || !to || strlen(code) >= sizeof(p->codes[0].code)) {
            snprintf(errstr, errsz, "%s:%d: expected code<TAB>valid_from<TAB>valid_to", path,
                     lineno);
            err = ING_ERR_CONFIG;
            break;
        }
        if (p->n_codes == POLICY_MAX_CODES) {
            snprintf(errstr, errsz, "%s: more than %d type codes", path, POLICY_MAX_CODES);
            err = ING_ERR_CONFIG;
            break;
        }
        policy_type_code_t *tc = &p->codes[p->n_codes];
        tc->valid_from = parse_day(from);
        tc->valid_to = parse_day(to);
        if (tc->valid_from < 0 || tc->valid_to < 0) {
            snprintf(errstr, errsz, "%s:%d: dates are YYYY-MM-DD or -", path, lineno);
            err = ING_ERR_CONFIG;
            break;
        }
        strcpy(tc->code, code);
        p->n_codes++;
    }
    fclose(f);
    if (err == ING_OK && p->n_codes == 0) {
        snprintf(errstr, errsz, "%s: no type codes", path);
        err = ING_ERR_CONFIG;
    }
    return err;
}

static ing_err_t policy_load_oids(ing_policy_t *p, const char *list, char *errstr, size_t errsz)
{
    const char *s = list;
    while (*s) {
        size_t n = strcspn(s, ",");
        if (n == 0 || n >= sizeof(p->oids[0]) || p->n_oids == POLICY_MAX_OIDS) {
            snprintf(errstr, errsz, "allowed OIDs: bad list \"%s\"", list);
            return ING_ERR_CONFIG;
        }
        memcpy(p->oids[p->n_oids], s, n);
        p->oids[p->n_oids][n] = '\0';
        p->n_oids++;
        s += n;
        if (*s == ',')
            s++;
    }
    if (p->n_oids == 0) {
        snprintf(errstr, errsz, "allowed OIDs: empty list");
        return ING_ERR_CONFIG;
    }
    return ING_OK;
}

ing_err_t ing_policy_create(const ing_policy_conf_t *conf, ing_policy_t **out, char *errstr,
                            size_t errstr_size)
{
    ing_policy_t *p = calloc(1, sizeof(*p));
    if (!p)
        return ING_ERR_NOMEM;
    p->max_content_bytes = conf->max_content_bytes;
    ing_err_t err = policy_load_codes(p, conf->type_codes_path, errstr, errstr_size);
    if (err == ING_OK)
        err = policy_load_oids(p, conf->allowed_oids, errstr, errstr_size);
    if (err == ING_OK && (err = ing_digest_create(&p->digest)) != ING_OK)
        snprintf(errstr, errstr_size, "OpenSSL has no SHA-256 implementation to fetch");
    if (err) {
        free(p);
        return err;
    }
    *out = p;
    return ING_OK;
}

void ing_policy_destroy(ing_policy_t *policy)
{
    if (!policy)
        return;
    ing_digest_destroy(policy->digest);
    free(policy);
}

const ing_digest_t *ing_policy_digest(const ing_policy_t *policy)
{
    return policy->digest;
}

ing_err_t ing_policy_check_oid(const ing_policy_t *policy, const char *oid)
{
    for (int i = 0; i < policy->n_oids; i++)
        if (strcmp(policy->oids[i], oid) == 0)
            return ING_OK;
    return ING_ERR_OID_NOT_ALLOWED;
}

ing_err_t ing_policy_check_type_code(const ing_policy_t *policy, const char *code, int day)
{
    for (int i = 0; i < policy->n_codes; i++) {
        const policy_type_code_t *tc = &policy->codes[i];
        if (strcmp(tc->code, code) != 0)
            continue;
        if (day > tc->valid_to)
            return ING_ERR_TYPE_CODE_RETIRED;
        if (day < tc->valid_from)
            return ING_ERR_TYPE_CODE_UNKNOWN;
        return ING_OK;
    }
    return ING_ERR_TYPE_CODE_UNKNOWN;
}

ing_err_t ing_policy_check_media(const char *media_type, const char *format_code)
{
    for (size_t i = 0; i < sizeof(media_table) / sizeof(media_table[0]); i++) {
        if (strcmp(media_table[i].media_type, media_type) != 0)
            continue;
        if (format_code[0] && strcmp(media_table[i].format_code, format_code) != 0)
            return ING_ERR_FORMAT_CODE_MISMATCH;
        return ING_OK;
    }
    return ING_ERR_MEDIA_TYPE_NOT_ALLOWED;
}

size_t ing_policy_max_content(const ing_policy_t *policy)
{
    return policy->max_content_bytes;
}

int ing_policy_day(int64_t wall_us)
{
    time_t t = (time_t)(wall_us / 1000000);
    struct tm tm;
    gmtime_r(&t, &tm);
    return (tm.tm_year + 1900) * 10000 + (tm.tm_mon + 1) * 100 + tm.tm_mday;
}
