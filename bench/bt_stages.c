#include "bt_stages.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zstd.h>

#include "ing_crypto.h"
#include "ing_policy.h"

static const char *const names[BT_STAGE__COUNT] = {
    [BT_STAGE_JSON_PARSE] = "json_parse",
    [BT_STAGE_BASE64_DECODE] = "base64_decode",
    [BT_STAGE_SHA256] = "sha256",
    [BT_STAGE_ENVELOPE] = "envelope_check",
    [BT_STAGE_RECORD_ENCODE] = "record_encode",
    [BT_STAGE_RECORD_DECODE] = "record_decode",
    [BT_STAGE_ZSTD] = "zstd_compress",
    [BT_STAGE_AES_GCM] = "aes256_gcm_seal",
};

const char *bt_stage_name(bt_stage_t s)
{
    return s < BT_STAGE__COUNT ? names[s] : "?";
}

static double thread_cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The sample, prepared once: every stage's input for every document. */
typedef struct sample_doc {
    ing_buf_t json; /* envelope */
    char *b64;      /* @owns: the content field as sent */
    size_t b64_len;
    ing_buf_t record; /* the Kafka record */
    ing_buf_t z;      /* zstd frame of the content */
    ing_envelope_t env;
    ing_record_meta_t meta;
} sample_doc_t;

typedef struct ctx {
    sample_doc_t *docs;
    size_t n;
    int level;
    ZSTD_CCtx *cctx;
    ing_sealer_t *sealer;
    const ing_policy_t *policy;
    ing_buf_t scratch;
    uint8_t *raw; /* base64 output, sized for the largest document */
} ctx_t;

/* Runs stage s once on document d; returns its input bytes, or 0 on failure. */
static size_t run_stage(ctx_t *c, bt_stage_t s, sample_doc_t *d)
{
    ing_buf_reset(&c->scratch);
    switch (s) {
    case BT_STAGE_JSON_PARSE: {
        json_t *j =
            json_loadb((const char *)d->json.data, d->json.len, JSON_REJECT_DUPLICATES, NULL);
        if (!j)
            return 0;
        json_decref(j);
        return d->json.len;
    }
    case BT_STAGE_BASE64_DECODE: {
        size_t n;
        return ing_base64_decode(d->b64, d->b64_len, c->raw, &n) ? 0 : d->b64_len;
    }
    case BT_STAGE_SHA256: {
        uint8_t h[ING_SHA256_LEN];
        ing_digest_sha256(ing_policy_digest(c->policy), d->env.content, d->env.content_len, h);
        return d->env.content_len;
    }
    case BT_STAGE_ENVELOPE: {
        ing_envelope_t e;
        ing_problem_t p;
        ing_envelope_init(&e);
        ing_err_t err = ing_envelope_parse_json(c->policy, (const char *)d->json.data, d->json.len,
                                                d->meta.received_at_us, &e, &p);
        ing_envelope_fini(&e);
        return err ? 0 : d->json.len;
    }
    case BT_STAGE_RECORD_ENCODE:
        return ing_record_encode(&d->env, &d->meta, &c->scratch) ? 0 : d->record.len;
    case BT_STAGE_RECORD_DECODE: {
        ing_envelope_t e;
        ing_record_meta_t m;
        ing_envelope_init(&e);
        ing_err_t err = ing_record_decode(d->record.data, d->record.len, &e, &m);
        ing_envelope_fini(&e);
        return err ? 0 : d->record.len;
    }
    case BT_STAGE_ZSTD: {
        uint8_t *w;
        size_t bound = ZSTD_compressBound(d->env.content_len);
        if (ing_buf_reserve(&c->scratch, bound, &w))
            return 0;
        size_t n =
            ZSTD_compressCCtx(c->cctx, w, bound, d->env.content, d->env.content_len, c->level);
        return ZSTD_isError(n) ? 0 : d->env.content_len;
    }
    case BT_STAGE_AES_GCM: {
        uint8_t nonce[ING_GCM_NONCE_LEN], aad[512];
        const char *key_id;
        size_t aad_len = ing_document_aad(d->env.ins, d->env.finess, d->env.document_id,
                                          d->env.version, aad, sizeof(aad));
        return ing_seal(c->sealer, aad, aad_len, d->z.data, d->z.len, nonce, &key_id, &c->scratch)
                   ? 0
                   : d->z.len;
    }
    default:
        return 0;
    }
}

/* A throw-away keyring (random key, mode 0600) in /tmp, removed once loaded. */
static ing_err_t temp_keyring(ing_keyring_t **out, char *errstr, size_t errstr_size)
{
    char path[] = "/tmp/bt-keyring.XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0) {
        snprintf(errstr, errstr_size, "cannot create a temporary keyring");
        return ING_ERR_IO;
    }
    uint8_t key[32];
    FILE *r = fopen("/dev/urandom", "rb");
    size_t got = r ? fread(key, 1, sizeof(key), r) : 0;
    if (r)
        fclose(r);
    char hex[65];
    ing_hex_encode(key, sizeof(key), hex);
    char line[128];
    int n = snprintf(line, sizeof(line), "bench\t%s\tactive\n", hex);
    bool ok = got == sizeof(key) && fchmod(fd, 0600) == 0 && write(fd, line, (size_t)n) == n;
    close(fd);
    ing_err_t err = ok ? ing_keyring_load(path, out, errstr, errstr_size) : ING_ERR_IO;
    if (!ok)
        snprintf(errstr, errstr_size, "cannot write a temporary keyring");
    unlink(path);
    return err;
}

ing_err_t bt_stages_measure(bt_docs_t *docs, size_t sample, int zstd_level, double min_cpu_s,
                            bt_stage_cost_t costs[BT_STAGE__COUNT], char *errstr,
                            size_t errstr_size)
{
    ctx_t c = {.n = sample, .level = zstd_level};
    ing_keyring_t *keyring = NULL;
    ing_err_t err = ING_OK;
    size_t max_content = 0;
    ing_buf_init(&c.scratch, (size_t)64 << 20);
    memset(costs, 0, sizeof(*costs) * BT_STAGE__COUNT);
    c.docs = calloc(sample, sizeof(*c.docs));
    c.cctx = ZSTD_createCCtx();
    if (!c.docs || !c.cctx) {
        snprintf(errstr, errstr_size, "out of memory");
        err = ING_ERR_NOMEM;
        goto out;
    }
    for (size_t i = 0; i < sample; i++) {
        sample_doc_t *d = &c.docs[i];
        ing_buf_init(&d->json, (size_t)64 << 20);
        ing_buf_init(&d->record, (size_t)64 << 20);
        ing_buf_init(&d->z, (size_t)64 << 20);
        ing_envelope_init(&d->env);
    }
    err = temp_keyring(&keyring, errstr, errstr_size);
    if (!err)
        err = ing_sealer_create(keyring, &c.sealer);
    for (size_t i = 0; i < sample && !err; i++) {
        sample_doc_t *d = &c.docs[i];
        ing_problem_t problem;
        err = bt_docs_get(docs, i, &d->json, &d->env, &d->meta, &problem);
        if (err) {
            snprintf(errstr, errstr_size, "document %zu: %s", i, problem.detail);
            break;
        }
        json_t *j = json_loadb((const char *)d->json.data, d->json.len, 0, NULL);
        const char *b64 = j ? json_string_value(json_object_get(j, "content")) : NULL;
        d->b64 = b64 ? strdup(b64) : NULL;
        d->b64_len = d->b64 ? strlen(d->b64) : 0;
        json_decref(j);
        err = d->b64 ? ing_record_encode(&d->env, &d->meta, &d->record) : ING_ERR_NOMEM;
        uint8_t *w;
        size_t bound = ZSTD_compressBound(d->env.content_len);
        if (!err)
            err = ing_buf_reserve(&d->z, bound, &w);
        if (!err)
            ing_buf_commit(&d->z, ZSTD_compressCCtx(c.cctx, w, bound, d->env.content,
                                                    d->env.content_len, zstd_level));
        if (d->env.content_len > max_content)
            max_content = d->env.content_len;
    }
    if (err) {
        if (!errstr[0])
            snprintf(errstr, errstr_size, "preparing the sample: %s", ing_err_str(err));
        goto out;
    }
    c.raw = malloc(max_content + 16);
    c.policy = bt_docs_policy(docs);
    if (!c.raw) {
        err = ING_ERR_NOMEM;
        goto out;
    }
    for (int s = 0; s < BT_STAGE__COUNT && !err; s++) {
        double t0 = thread_cpu_s(), t;
        unsigned long long runs = 0;
        double bytes = 0;
        do {
            for (size_t i = 0; i < sample; i++) {
                size_t b = run_stage(&c, (bt_stage_t)s, &c.docs[i]);
                if (!b) {
                    snprintf(errstr, errstr_size, "stage %s failed on document %zu", names[s], i);
                    err = ING_ERR_INTERNAL;
                    break;
                }
                bytes += (double)b;
                runs++;
            }
            t = thread_cpu_s() - t0;
        } while (!err && t < min_cpu_s);
        costs[s].runs = runs;
        costs[s].bytes_per_doc = bytes / (double)runs;
        costs[s].cpu_s_per_doc = t / (double)runs;
        costs[s].cpu_ns_per_byte = t * 1e9 / bytes;
    }
out:
    for (size_t i = 0; c.docs && i < sample; i++) {
        ing_buf_fini(&c.docs[i].json);
        ing_buf_fini(&c.docs[i].record);
        ing_buf_fini(&c.docs[i].z);
        ing_envelope_fini(&c.docs[i].env);
        free(c.docs[i].b64);
    }
    free(c.docs);
    free(c.raw);
    ing_buf_fini(&c.scratch);
    ZSTD_freeCCtx(c.cctx);
    ing_sealer_destroy(c.sealer);
    ing_keyring_destroy(keyring);
    return err;
}
