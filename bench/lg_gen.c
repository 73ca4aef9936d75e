#include "lg_gen.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define TOKEN_LEN LG_DOC_ID_LEN /* the token in the content is the document id */
#define TAIL_MAX 256            /* content bytes hashed per send: must stay small */

static const char *const test_finess[] = {"750712184", "010780054", "130783236"};
static const char *const test_rpps[] = {"10003456786", "10012345673"};

typedef struct kind_desc {
    const char *name, *type_code, *media_type, *format_code, *title;
    size_t lo, hi;
} kind_desc_t;

static const kind_desc_t kinds[LG_KIND__COUNT] = {
    [LG_KIND_LAB] = {"lab", "11502-2", "text/xml", "urn:ihe:lab:xd-lab:2008",
                     "Compte rendu d'examens biologiques", 4096, 40960},
    [LG_KIND_PDF] = {"pdf", "34112-3", "application/pdf", "urn:ihe:iti:xds-sd:pdf:2008",
                     "Compte rendu d'hospitalisation", 50000, 500000},
    [LG_KIND_FHIR] = {"fhir", "57833-6", "application/fhir+json", "urn:hl7:fhir:r4", "Prescription",
                      2048, 10240},
};

typedef struct lg_entry {
    char *json; /* @owns: the rendered envelope with placeholder fields */
    size_t json_len;
    size_t off_docid, off_ins, off_sha, off_tok_b64;
    EVP_MD_CTX *prefix;     /* @owns: SHA-256 over content[0, tail_start) */
    uint8_t tail[TAIL_MAX]; /* content[tail_start, end) */
    size_t tail_len, tok_in_tail;
    size_t content_len;
    lg_kind_t kind;
    uint8_t finess; /* index in test_finess */
} lg_entry_t;

struct lg_pool {
    lg_entry_t *entries;
    size_t count, bytes, max_envelope;
    char (*ins)[16]; /* @owns: the synthetic patients */
    size_t patients;
    uint64_t seed;
    char run_id[LG_RUN_ID_LEN + 1];
};

/* ---- random numbers ---------------------------------------------------------------------- */

uint64_t lg_mix64(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

void lg_rng_seed(lg_rng_t *r, uint64_t seed)
{
    for (int i = 0; i < 4; i++) {
        seed += 0x9e3779b97f4a7c15ULL;
        r->s[i] = lg_mix64(seed);
    }
}

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

uint64_t lg_rng_next(lg_rng_t *r)
{
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

uint64_t lg_rng_below(lg_rng_t *r, uint64_t n)
{
    return (uint64_t)(((unsigned __int128)lg_rng_next(r) * n) >> 64);
}

double lg_rng_double(lg_rng_t *r)
{
    return (double)(lg_rng_next(r) >> 11) * 0x1.0p-53;
}

/* ---- identifiers ------------------------------------------------------------------------- */

const char *lg_kind_name(lg_kind_t kind)
{
    return kind < LG_KIND__COUNT ? kinds[kind].name : "?";
}

lg_kind_t lg_kind_from_name(const char *name, size_t len)
{
    for (int k = 0; k < LG_KIND__COUNT; k++)
        if (strlen(kinds[k].name) == len && memcmp(kinds[k].name, name, len) == 0)
            return (lg_kind_t)k;
    return LG_KIND__COUNT;
}

void lg_ins_key(const char body[13], char key[3])
{
    /* body mod 97, digit by digit; the Corsican departments count as 19 and 18. */
    unsigned rem = 0;
    for (int i = 0; i < 13; i++) {
        int d;
        if (i == 5 && body[5] == '2' && (body[6] == 'A' || body[6] == 'B')) {
            rem = (rem * 10 + 1) % 97;
            d = body[6] == 'A' ? 9 : 8;
            i++;
        } else {
            d = body[i] - '0';
        }
        rem = (rem * 10 + (unsigned)d) % 97;
    }
    unsigned k = 97 - rem;
    key[0] = (char)('0' + k / 10);
    key[1] = (char)('0' + k % 10);
    key[2] = '\0';
}

void lg_synthetic_ins(lg_rng_t *r, char out[16])
{
    /* The same fields and ranges as ingsamples.synthetic_ins. */
    char body[80]; /* room for any int, so the compiler sees no truncation */
    snprintf(body, sizeof(body), "%d%02d%02d%02d%03d%03d", 1 + (int)lg_rng_below(r, 2),
             (int)lg_rng_below(r, 100), 1 + (int)lg_rng_below(r, 12), 1 + (int)lg_rng_below(r, 95),
             1 + (int)lg_rng_below(r, 989), 1 + (int)lg_rng_below(r, 998));
    memcpy(out, body, 13);
    lg_ins_key(out, out + 13);
}

/* ---- content ----------------------------------------------------------------------------- */

static ing_err_t lab_body(lg_rng_t *r, size_t size, ing_buf_t *c)
{
    static const char *const tests[] = {
        "Glycemie",  "Creatinine",        "Hemoglobine", "Leucocytes", "Plaquettes", "Sodium",
        "Potassium", "Cholesterol total", "TSH",         "Ferritine",  "CRP",        "ALAT"};
    ing_err_t err =
        ing_buf_printf(c, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ClinicalDocument "
                          "xmlns=\"urn:hl7-org:v3\"><code code=\"11502-2\" "
                          "codeSystem=\"2.16.840.1.113883.6.1\"/><title>Compte rendu d'examens "
                          "biologiques</title><component><structuredBody>");
    while (!err && c->len + 64 < size)
        err = ing_buf_printf(c,
                             "<observation><code displayName=\"%s\"/><value value=\"%.2f\" "
                             "unit=\"mmol/L\"/><interpretationCode code=\"%c\"/></observation>\n",
                             tests[lg_rng_below(r, 12)], 0.1 + lg_rng_double(r) * 399.9,
                             "NLH"[lg_rng_below(r, 3)]);
    return err;
}

static ing_err_t pdf_body(lg_rng_t *r, size_t size, ing_buf_t *c)
{
    ing_err_t err = ing_buf_append(c, "%PDF-1.7\n%\xe2\xe3\xcf\xd3\n", 15);
    uint8_t *w;
    size_t n = size > 96 ? size - 96 : 0;
    if (!err)
        err = ing_buf_reserve(c, n + 8, &w);
    if (err)
        return err;
    for (size_t i = 0; i < n; i += 8) {
        uint64_t v = lg_rng_next(r);
        memcpy(w + i, &v, 8);
    }
    ing_buf_commit(c, n);
    return ING_OK;
}

static ing_err_t fhir_body(lg_rng_t *r, size_t size, ing_buf_t *c)
{
    static const char *const meds[] = {"Paracetamol 1 g", "Amoxicilline 500 mg",
                                       "Metformine 850 mg"};
    ing_err_t err = ing_buf_printf(c, "{\"resourceType\": \"Bundle\", \"type\": \"document\", "
                                      "\"entry\": [");
    bool first = true;
    while (!err && c->len + 200 < size) {
        err = ing_buf_printf(c,
                             "%s{\"resource\": {\"resourceType\": \"MedicationRequest\", "
                             "\"status\": \"active\", \"intent\": \"order\", "
                             "\"medicationCodeableConcept\": {\"text\": \"%s\"}, "
                             "\"dosageInstruction\": [{\"text\": \"%d fois par jour\"}]}}",
                             first ? "" : ", ", meds[lg_rng_below(r, 3)],
                             1 + (int)lg_rng_below(r, 3));
        first = false;
    }
    if (!err)
        err = ing_buf_append(c, "]", 1);
    return err;
}

/*
 * Builds one document: the kind's body, padding so that the token starts at a multiple of 3,
 * the token placeholder, and the kind's closing bytes. *tok is the token's offset.
 */
static ing_err_t make_content(lg_rng_t *r, lg_kind_t kind, size_t size, ing_buf_t *c, size_t *tok)
{
    static const struct {
        const char *open, *close;
    } wrap[LG_KIND__COUNT] = {
        [LG_KIND_LAB] = {"<id root=\"" LG_TEST_OID ".99\" extension=\"",
                         "\"/></structuredBody></component></ClinicalDocument>\n"},
        [LG_KIND_PDF] = {"%LG-ID ", "\n%%EOF\n"},
        [LG_KIND_FHIR] = {", \"identifier\": {\"value\": \"", "\"}}"},
    };
    ing_buf_reset(c);
    ing_err_t err = kind == LG_KIND_LAB   ? lab_body(r, size, c)
                    : kind == LG_KIND_PDF ? pdf_body(r, size, c)
                                          : fhir_body(r, size, c);
    size_t open_len = strlen(wrap[kind].open);
    /* Whitespace padding is valid where it goes in each format (between elements). */
    while (!err && (c->len + open_len) % 3 != 0)
        err = ing_buf_append(c, kind == LG_KIND_PDF ? "\n" : " ", 1);
    if (!err)
        err = ing_buf_append(c, wrap[kind].open, open_len);
    *tok = c->len;
    if (!err)
        err = ing_buf_append(c, "LG-00000000-000000000000000", TOKEN_LEN);
    if (!err)
        err = ing_buf_append(c, wrap[kind].close, strlen(wrap[kind].close));
    return err;
}

/* ---- the pool ---------------------------------------------------------------------------- */

static void format_time(int64_t wall_us, char out[32])
{
    time_t t = (time_t)(wall_us / 1000000);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static lg_kind_t pick_kind(lg_rng_t *r, const double mix[LG_KIND__COUNT])
{
    double total = 0;
    for (int k = 0; k < LG_KIND__COUNT; k++)
        total += mix[k];
    double x = lg_rng_double(r) * total;
    for (int k = 0; k < LG_KIND__COUNT; k++) {
        if (x < mix[k])
            return (lg_kind_t)k;
        x -= mix[k];
    }
    for (int k = LG_KIND__COUNT - 1; k >= 0; k--)
        if (mix[k] > 0)
            return (lg_kind_t)k;
    return LG_KIND_LAB;
}

static ing_err_t make_entry(lg_pool_t *p, const lg_gen_conf_t *conf, lg_rng_t *r,
                            ing_buf_t *content, ing_buf_t *json, lg_entry_t *e)
{
    e->kind = pick_kind(r, conf->mix);
    const kind_desc_t *d = &kinds[e->kind];
    size_t lo = conf->size_lo[e->kind] ? conf->size_lo[e->kind] : d->lo;
    size_t hi = conf->size_hi[e->kind] ? conf->size_hi[e->kind] : d->hi;
    size_t size = lo + (size_t)lg_rng_below(r, hi - lo + 1);
    size_t tok;
    ing_err_t err = make_content(r, e->kind, size, content, &tok);
    if (err)
        return err;
    e->content_len = content->len;
    size_t tail_start = tok / 64 * 64;
    e->tail_len = content->len - tail_start;
    e->tok_in_tail = tok - tail_start;
    if (e->tail_len > TAIL_MAX)
        return ING_ERR_INTERNAL;
    memcpy(e->tail, content->data + tail_start, e->tail_len);
    e->prefix = EVP_MD_CTX_new();
    if (!e->prefix || !EVP_DigestInit_ex(e->prefix, EVP_sha256(), NULL) ||
        !EVP_DigestUpdate(e->prefix, content->data, tail_start))
        return ING_ERR_NOMEM;

    e->finess = (uint8_t)lg_rng_below(r, 3); /* drawn anyway: the other draws stay the same */
    for (uint8_t i = 0; conf->finess && conf->finess[0] && i < 3; i++)
        if (strcmp(conf->finess, test_finess[i]) == 0)
            e->finess = i;
    char created[32];
    format_time(conf->now_wall_us - (int64_t)lg_rng_below(r, 3 * 86400) * 1000000, created);
    ing_buf_reset(json);
    err = ing_buf_printf(json, "{\"document_id\":\"");
    e->off_docid = json->len;
    if (!err)
        err = ing_buf_printf(json, "%.*s\",\"version\":1,\"patient\":{\"ins\":\"", TOKEN_LEN,
                             "LG-00000000-000000000000000");
    e->off_ins = json->len;
    if (!err)
        err = ing_buf_printf(
            json,
            "000000000000000\",\"oid\":\"" LG_TEST_OID "\"},\"source\":{\"finess\":\"%s\"},"
            "\"author\":{\"rpps\":\"%s\"},\"type_code\":\"%s\",\"media_type\":\"%s\","
            "\"format_code\":\"%s\",\"title\":\"%s\",\"created_at\":\"%s\",\"sha256\":\"",
            test_finess[e->finess], test_rpps[lg_rng_below(r, 2)], d->type_code, d->media_type,
            d->format_code, d->title, created);
    e->off_sha = json->len;
    if (!err)
        err = ing_buf_printf(json, "%064d\",\"content\":\"", 0);
    size_t b64_start = json->len;
    e->off_tok_b64 = b64_start + tok / 3 * 4;
    uint8_t *w;
    if (!err)
        err = ing_buf_reserve(json, ing_base64_encoded_len(content->len) + 1, &w);
    if (err)
        return err;
    ing_base64_encode(content->data, content->len, (char *)w);
    ing_buf_commit(json, ing_base64_encoded_len(content->len));
    err = ing_buf_append(json, "\"}", 2);
    if (err)
        return err;
    e->json = malloc(json->len);
    if (!e->json)
        return ING_ERR_NOMEM;
    memcpy(e->json, json->data, json->len);
    e->json_len = json->len;
    p->bytes += json->len;
    if (json->len > p->max_envelope)
        p->max_envelope = json->len;
    return ING_OK;
}

ing_err_t lg_pool_create(const lg_gen_conf_t *conf, lg_pool_t **out, char *errstr,
                         size_t errstr_size)
{
    *out = NULL;
    double wsum = 0;
    for (int k = 0; k < LG_KIND__COUNT; k++) {
        if (conf->mix[k] < 0 || conf->size_lo[k] > conf->size_hi[k]) {
            snprintf(errstr, errstr_size, "bad mix weight or size range for %s", kinds[k].name);
            return ING_ERR_CONFIG;
        }
        wsum += conf->mix[k];
    }
    bool finess_known = !conf->finess || !conf->finess[0];
    for (int i = 0; i < 3 && !finess_known; i++)
        finess_known = strcmp(conf->finess, test_finess[i]) == 0;
    if (!finess_known) {
        snprintf(errstr, errstr_size, "finess must be one of the test organisations %s, %s, %s",
                 test_finess[0], test_finess[1], test_finess[2]);
        return ING_ERR_CONFIG;
    }
    if (wsum <= 0 || conf->pool < 1 || conf->pool > LG_POOL_MAX_ENTRIES || conf->patients < 1 ||
        conf->patients > LG_PATIENTS_MAX || strlen(conf->run_id) != LG_RUN_ID_LEN) {
        snprintf(errstr, errstr_size,
                 "pool needs a positive mix, 1..%d entries, 1..%d patients and an %d-character "
                 "run id",
                 LG_POOL_MAX_ENTRIES, LG_PATIENTS_MAX, LG_RUN_ID_LEN);
        return ING_ERR_CONFIG;
    }
    lg_pool_t *p = calloc(1, sizeof(*p));
    ing_buf_t content, json;
    ing_buf_init(&content, 4u << 20);
    ing_buf_init(&json, 8u << 20);
    ing_err_t err = ING_ERR_NOMEM;
    if (!p)
        goto out;
    p->seed = conf->seed;
    memcpy(p->run_id, conf->run_id, sizeof(p->run_id));
    p->entries = calloc(conf->pool, sizeof(lg_entry_t));
    p->ins = malloc(conf->patients * sizeof(*p->ins));
    if (!p->entries || !p->ins)
        goto out;
    lg_rng_t r;
    lg_rng_seed(&r, conf->seed);
    p->patients = conf->patients;
    for (size_t i = 0; i < conf->patients; i++)
        lg_synthetic_ins(&r, p->ins[i]);
    err = ING_OK;
    while (!err && p->count < conf->pool && (p->count == 0 || p->bytes < conf->pool_max_bytes)) {
        err = make_entry(p, conf, &r, &content, &json, &p->entries[p->count]);
        p->count++; /* a failed entry is still freed by destroy */
    }
    if (err)
        snprintf(errstr, errstr_size, "generating document %zu: %s", p->count, ing_err_str(err));
out:
    ing_buf_fini(&content);
    ing_buf_fini(&json);
    if (err) {
        if (err == ING_ERR_NOMEM && !errstr[0])
            snprintf(errstr, errstr_size, "out of memory generating the pool");
        lg_pool_destroy(p);
        return err;
    }
    *out = p;
    return ING_OK;
}

void lg_pool_destroy(lg_pool_t *p)
{
    if (!p)
        return;
    for (size_t i = 0; p->entries && i < p->count; i++) {
        free(p->entries[i].json);
        EVP_MD_CTX_free(p->entries[i].prefix);
    }
    free(p->entries);
    free(p->ins);
    free(p);
}

size_t lg_pool_count(const lg_pool_t *p)
{
    return p->count;
}

size_t lg_pool_bytes(const lg_pool_t *p)
{
    return p->bytes;
}

size_t lg_pool_max_envelope(const lg_pool_t *p)
{
    return p->max_envelope;
}

lg_kind_t lg_pool_kind(const lg_pool_t *p, size_t entry)
{
    return p->entries[entry % p->count].kind;
}

ing_err_t lg_pool_render(const lg_pool_t *p, size_t entry, uint64_t counter, lg_variant_t variant,
                         ing_buf_t *out, lg_doc_info_t *info)
{
    const lg_entry_t *e = &p->entries[entry % p->count];
    size_t at = out->len;
    ing_err_t err = ing_buf_append(out, e->json, e->json_len);
    if (err)
        return err;
    char *j = (char *)out->data + at;

    /* Document id = the content token: unique per (run, counter). */
    char id[LG_DOC_ID_LEN + 1];
    snprintf(id, sizeof(id), "LG-%s-%015llu", p->run_id,
             (unsigned long long)(counter % 1000000000000000ULL));
    memcpy(j + e->off_docid, id, LG_DOC_ID_LEN);

    /* The patient follows the counter, so a small pool still spreads over every patient. */
    const char *ins = p->ins[lg_mix64(counter ^ p->seed) % p->patients];
    memcpy(j + e->off_ins, ins, 15);

    uint8_t tail[TAIL_MAX];
    memcpy(tail, e->tail, e->tail_len);
    memcpy(tail + e->tok_in_tail, id, LG_DOC_ID_LEN);
    char b64[ing_base64_encoded_len(LG_DOC_ID_LEN) + 1];
    ing_base64_encode((const uint8_t *)id, LG_DOC_ID_LEN, b64);
    memcpy(j + e->off_tok_b64, b64, ing_base64_encoded_len(LG_DOC_ID_LEN));

    uint8_t sha[ING_SHA256_LEN];
    unsigned sha_len = 0;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    bool ok = ctx && EVP_MD_CTX_copy_ex(ctx, e->prefix) &&
              EVP_DigestUpdate(ctx, tail, e->tail_len) && EVP_DigestFinal_ex(ctx, sha, &sha_len);
    EVP_MD_CTX_free(ctx);
    if (!ok || sha_len != ING_SHA256_LEN) {
        out->len = at;
        return ING_ERR_NOMEM;
    }
    char hex[ING_SHA256_HEX_LEN + 1];
    ing_hex_encode(sha, ING_SHA256_LEN, hex);
    if (variant == LG_VARIANT_BAD_HASH)
        hex[0] = hex[0] == '0' ? '1' : '0';
    memcpy(j + e->off_sha, hex, ING_SHA256_HEX_LEN);
    if (variant == LG_VARIANT_BAD_INS) {
        /* Any other key is wrong: shift it by 50 (mod 100). */
        int key = (ins[13] - '0') * 10 + (ins[14] - '0');
        key = (key + 50) % 100;
        j[e->off_ins + 13] = (char)('0' + key / 10);
        j[e->off_ins + 14] = (char)('0' + key % 10);
    }

    if (info) {
        memcpy(info->document_id, id, sizeof(info->document_id));
        memcpy(info->ins, j + e->off_ins, 15);
        info->ins[15] = '\0';
        memcpy(info->finess, test_finess[e->finess], 10);
        memcpy(info->sha256, sha, sizeof(sha));
        info->kind = e->kind;
        info->content_len = e->content_len;
    }
    return ING_OK;
}
