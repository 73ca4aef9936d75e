/* The worker's verdict on one record: one row per kind of record, valid or damaged. */
#include <string.h>

#include "ing_test.h"
#include "wk_process.h"

typedef void (*mutate_fn)(ing_envelope_t *env, ing_record_meta_t *meta, ing_buf_t *out);

static void none(ing_envelope_t *e, ing_record_meta_t *m, ing_buf_t *o)
{
}
static void bad_magic(ing_envelope_t *e, ing_record_meta_t *m, ing_buf_t *o)
{
    o->data[0] = 'X';
}
static void truncated(ing_envelope_t *e, ing_record_meta_t *m, ing_buf_t *o)
{
    o->len -= 1;
}
static void bad_ins(ing_envelope_t *e, ing_record_meta_t *m, ing_buf_t *o)
{
    strcpy(e->ins, "295109912611199");
}
static void other_source(ing_envelope_t *e, ing_record_meta_t *m, ing_buf_t *o)
{
    strcpy(e->finess, "010780054");
}
static void forged_id(ing_envelope_t *e, ing_record_meta_t *m, ing_buf_t *o)
{
    m->submission_id[0] = m->submission_id[0] == 'a' ? 'b' : 'a';
}
static void hash_mismatch(ing_envelope_t *e, ing_record_meta_t *m, ing_buf_t *o)
{
    e->content = (const uint8_t *)"other bytes";
    e->content_len = 11;
}
static void retired_code(ing_envelope_t *e, ing_record_meta_t *m, ing_buf_t *o)
{
    strcpy(e->type_code, "11528-7");
}
static void bad_oid(ing_envelope_t *e, ing_record_meta_t *m, ing_buf_t *o)
{
    strcpy(e->oid, "1.2.250.1.213.1.4.8");
}
static void bad_doc_id(ing_envelope_t *e, ing_record_meta_t *m, ing_buf_t *o)
{
    strcpy(e->document_id, "LAB\x01");
}

int main(void)
{
    ing_test_counts_t t = {0};
    char errstr[256];
    ing_policy_conf_t pc = {.type_codes_path = ING_SOURCE_DIR "/config/type_codes.tsv",
                            .allowed_oids = "1.2.250.1.213.1.4.10",
                            .max_content_bytes = 1 << 20};
    ing_policy_t *policy = NULL;
    CHECK(&t, ing_policy_create(&pc, &policy, errstr, sizeof(errstr)) == ING_OK, "policy: %s",
          errstr);
    if (!policy)
        return ING_TEST_END(&t);

    static const struct {
        const char *name;
        mutate_fn before_encode; /* changes the envelope or meta */
        mutate_fn after_encode;  /* damages the bytes */
        wk_outcome_t outcome;
        ing_err_t err;
        wk_stage_t stage;
        bool id_known;
    } cases[] = {
        {"valid", none, none, WK_OUT_PENDING, ING_OK, 0, true},
        {"bad magic", none, bad_magic, WK_OUT_DEAD, ING_ERR_RECORD, WK_STAGE_DECODE, false},
        {"truncated", none, truncated, WK_OUT_DEAD, ING_ERR_RECORD, WK_STAGE_DECODE, false},
        {"forged submission id", forged_id, none, WK_OUT_DEAD, ING_ERR_RECORD, WK_STAGE_DECODE,
         false},
        {"bad INS key", bad_ins, none, WK_OUT_DEAD, ING_ERR_INS_INVALID, WK_STAGE_VALIDATE, true},
        {"OID not allowed", bad_oid, none, WK_OUT_DEAD, ING_ERR_OID_NOT_ALLOWED, WK_STAGE_VALIDATE,
         true},
        {"retired type code", retired_code, none, WK_OUT_DEAD, ING_ERR_TYPE_CODE_RETIRED,
         WK_STAGE_VALIDATE, true},
        {"content does not match sha256", hash_mismatch, none, WK_OUT_DEAD, ING_ERR_HASH_MISMATCH,
         WK_STAGE_VALIDATE, true},
        {"source is not the organisation", other_source, none, WK_OUT_DEAD, ING_ERR_SOURCE_MISMATCH,
         WK_STAGE_VALIDATE, true},
        {"control character in document_id", bad_doc_id, none, WK_OUT_DEAD, ING_ERR_INVALID_FIELD,
         WK_STAGE_VALIDATE, false},
    };
    ing_buf_t buf;
    ing_buf_init(&buf, 1 << 20);
    static wk_item_t item;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        ing_envelope_t env;
        ing_record_meta_t meta = {0};
        ing_envelope_init(&env);
        strcpy(env.document_id, "LAB-2026-000123");
        strcpy(env.ins, "295109912611193");
        strcpy(env.oid, "1.2.250.1.213.1.4.10");
        strcpy(env.finess, "750712184");
        strcpy(env.type_code, "11502-2");
        strcpy(env.media_type, "text/plain");
        strcpy(env.created_at, "2026-11-28T09:30:00Z");
        env.content = (const uint8_t *)"Glyc\xc3\xa9mie 5.1";
        env.content_len = strlen((const char *)env.content);
        ing_sha256(env.content, env.content_len, env.sha256);
        strcpy(meta.org_finess, "750712184");
        meta.received_at_us = 1795858200000000LL;
        cases[i].before_encode(&env, &meta, &buf);
        char id[ING_SUBMISSION_ID_LEN + 1];
        ing_submission_id(NULL, meta.org_finess, env.document_id, env.version, env.sha256, id);
        if (cases[i].before_encode != forged_id)
            strcpy(meta.submission_id, id);
        ing_buf_reset(&buf);
        CHECK(&t, ing_record_encode(&env, &meta, &buf) == ING_OK, "%s: encode", cases[i].name);
        cases[i].after_encode(&env, &meta, &buf);

        wk_process_record(policy, buf.data, buf.len, &item);
        CHECK(&t, item.outcome == cases[i].outcome, "%s: outcome %d", cases[i].name, item.outcome);
        CHECK(&t, item.err == cases[i].err, "%s: err %s, want %s", cases[i].name,
              ing_err_name(item.err), ing_err_name(cases[i].err));
        if (cases[i].outcome == WK_OUT_DEAD) {
            CHECK(&t, item.stage == cases[i].stage, "%s: stage %s", cases[i].name,
                  wk_stage_name(item.stage));
            CHECK(&t, item.detail[0] != '\0', "%s: a detail", cases[i].name);
            for (const char *p = item.detail; *p; p++)
                CHECK(&t, *p >= 0x20 && *p <= 0x7e, "%s: detail printable", cases[i].name);
        }
        CHECK(&t, item.id_known == cases[i].id_known, "%s: id_known %d", cases[i].name,
              item.id_known);
    }
    /* No payload at all (a tombstone) is a framing failure too. */
    wk_process_record(policy, NULL, 0, &item);
    CHECK(&t, item.outcome == WK_OUT_DEAD && item.err == ING_ERR_RECORD, "null payload");
    ing_buf_fini(&buf);
    ing_policy_destroy(policy);
    return ING_TEST_END(&t);
}
