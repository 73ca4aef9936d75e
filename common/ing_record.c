#include "ing_record.h"

#include <string.h>

#define RECORD_FIXED_LEN 50

static void put_u16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static void put_u32(uint8_t *p, uint32_t v)
{
    for (int i = 3; i >= 0; i--, v >>= 8)
        p[i] = (uint8_t)v;
}

static void put_u64(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--, v >>= 8)
        p[i] = (uint8_t)v;
}

static uint64_t get_be(const uint8_t *p, int n)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++)
        v = v << 8 | p[i];
    return v;
}

/* The strings in record order, as (pointer, capacity) pairs into the structs. */
typedef struct record_field {
    char *s;
    size_t cap;
} record_field_t;

#define RECORD_N_STRINGS 12

static void record_fields(ing_envelope_t *env, ing_record_meta_t *meta,
                          record_field_t f[RECORD_N_STRINGS])
{
    record_field_t all[RECORD_N_STRINGS] = {
        {meta->submission_id, sizeof(meta->submission_id)},
        {meta->org_finess, sizeof(meta->org_finess)},
        {env->document_id, sizeof(env->document_id)},
        {env->ins, sizeof(env->ins)},
        {env->oid, sizeof(env->oid)},
        {env->finess, sizeof(env->finess)},
        {env->rpps, sizeof(env->rpps)},
        {env->type_code, sizeof(env->type_code)},
        {env->media_type, sizeof(env->media_type)},
        {env->format_code, sizeof(env->format_code)},
        {env->title, sizeof(env->title)},
        {env->created_at, sizeof(env->created_at)},
    };
    memcpy(f, all, sizeof(all));
}

ing_err_t ing_record_encode(const ing_envelope_t *env, const ing_record_meta_t *meta,
                            ing_buf_t *out)
{
    record_field_t f[RECORD_N_STRINGS];
    /* The field table needs mutable pointers for decoding; encoding only reads through them. */
    record_fields((ing_envelope_t *)env, (ing_record_meta_t *)meta, f);
    size_t total = RECORD_FIXED_LEN + 4 + env->content_len;
    for (int i = 0; i < RECORD_N_STRINGS; i++)
        total += 2 + strlen(f[i].s);
    uint8_t *p;
    ing_err_t err = ing_buf_reserve(out, total, &p);
    if (err)
        return err;
    p[0] = 'D';
    p[1] = 'R';
    p[2] = ING_RECORD_FORMAT_VERSION;
    p[3] = env->hidden_from_patient ? 1 : 0;
    p[4] = (uint8_t)env->confidentiality;
    p[5] = 0;
    put_u32(p + 6, env->version);
    put_u64(p + 10, (uint64_t)meta->received_at_us);
    memcpy(p + 18, env->sha256, ING_SHA256_LEN);
    size_t o = RECORD_FIXED_LEN;
    for (int i = 0; i < RECORD_N_STRINGS; i++) {
        size_t n = strlen(f[i].s);
        put_u16(p + o, (uint16_t)n);
        memcpy(p + o + 2, f[i].s, n);
        o += 2 + n;
    }
    put_u32(p + o, (uint32_t)env->content_len);
    memcpy(p + o + 4, env->content, env->content_len);
    ing_buf_commit(out, total);
    return ING_OK;
}

ing_err_t ing_record_decode(const void *data, size_t len, ing_envelope_t *env,
                            ing_record_meta_t *meta)
{
    const uint8_t *p = data;
    if (len < RECORD_FIXED_LEN || p[0] != 'D' || p[1] != 'R' || p[2] != ING_RECORD_FORMAT_VERSION ||
        (p[3] & ~1u) || p[5] != 0)
        return ING_ERR_RECORD;
    ing_envelope_init(env);
    memset(meta, 0, sizeof(*meta));
    env->hidden_from_patient = p[3] & 1;
    env->confidentiality = (char)p[4];
    env->version = (uint32_t)get_be(p + 6, 4);
    meta->received_at_us = (int64_t)get_be(p + 10, 8);
    memcpy(env->sha256, p + 18, ING_SHA256_LEN);
    size_t o = RECORD_FIXED_LEN;
    record_field_t f[RECORD_N_STRINGS];
    record_fields(env, meta, f);
    for (int i = 0; i < RECORD_N_STRINGS; i++) {
        if (len - o < 2)
            return ING_ERR_RECORD;
        size_t n = (size_t)get_be(p + o, 2);
        o += 2;
        if (n >= f[i].cap || len - o < n || memchr(p + o, '\0', n))
            return ING_ERR_RECORD;
        memcpy(f[i].s, p + o, n);
        f[i].s[n] = '\0';
        o += n;
    }
    if (len - o < 4)
        return ING_ERR_RECORD;
    size_t content_len = (size_t)get_be(p + o, 4);
    o += 4;
    if (len - o != content_len)
        return ING_ERR_RECORD;
    env->content = p + o;
    env->content_len = content_len;
    return ING_OK;
}
