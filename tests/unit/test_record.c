/* The Kafka record format: round trip, and refusal of every kind of damaged record. */
#include <string.h>

#include "ing_record.h"
#include "ing_test.h"

static void fill(ing_envelope_t *env, ing_record_meta_t *meta, const char *content)
{
    ing_envelope_init(env);
    strcpy(env->document_id, "LAB-2026-000123");
    env->version = 7;
    strcpy(env->ins, "295109912611193");
    strcpy(env->oid, "1.2.250.1.213.1.4.10");
    strcpy(env->finess, "750712184");
    strcpy(env->rpps, "10003456786");
    strcpy(env->type_code, "11502-2");
    strcpy(env->media_type, "text/plain");
    strcpy(env->title, "Compte rendu \xc3\xa9t\xc3\xa9");
    strcpy(env->created_at, "2026-11-28T09:30:00Z");
    env->confidentiality = 'R';
    env->hidden_from_patient = true;
    env->content = (const uint8_t *)content;
    env->content_len = strlen(content);
    ing_sha256(env->content, env->content_len, env->sha256);
    memset(meta, 0, sizeof(*meta));
    ing_submission_id(NULL, env->finess, env->document_id, env->version, env->sha256,
                      meta->submission_id);
    strcpy(meta->org_finess, "750712184");
    meta->received_at_us = 1796000000123456;
}

int main(void)
{
    ing_test_counts_t t = {0};
    ing_envelope_t in, out;
    ing_record_meta_t min, mout;
    fill(&in, &min, "hello\0world");
    ing_buf_t buf;
    ing_buf_init(&buf, 1 << 20);
    CHECK(&t, ing_record_encode(&in, &min, &buf) == ING_OK, "encode");
    CHECK(&t, ing_record_decode(buf.data, buf.len, &out, &mout) == ING_OK, "decode");
    CHECK(&t,
          strcmp(out.document_id, in.document_id) == 0 && out.version == 7 &&
              strcmp(out.ins, in.ins) == 0 && strcmp(out.oid, in.oid) == 0 &&
              strcmp(out.finess, in.finess) == 0 && strcmp(out.rpps, in.rpps) == 0 &&
              strcmp(out.type_code, in.type_code) == 0 &&
              strcmp(out.media_type, in.media_type) == 0 && out.format_code[0] == '\0' &&
              strcmp(out.title, in.title) == 0 && strcmp(out.created_at, in.created_at) == 0 &&
              out.confidentiality == 'R' && out.hidden_from_patient &&
              memcmp(out.sha256, in.sha256, 32) == 0,
          "metadata round trip");
    CHECK(&t,
          out.content_len == in.content_len && memcmp(out.content, in.content, in.content_len) == 0,
          "content round trip");
    CHECK(&t,
          strcmp(mout.submission_id, min.submission_id) == 0 &&
              strcmp(mout.org_finess, "750712184") == 0 &&
              mout.received_at_us == min.received_at_us,
          "meta round trip");
    CHECK(&t, out.content >= buf.data && out.content < buf.data + buf.len,
          "content borrowed from the record, not copied");

    /* Every truncation is refused, never read past. */
    int truncations_refused = 0;
    for (size_t n = 0; n < buf.len; n++)
        truncations_refused += ing_record_decode(buf.data, n, &out, &mout) == ING_ERR_RECORD;
    CHECK(&t, truncations_refused == (int)buf.len, "%d of %zu truncations refused",
          truncations_refused, buf.len);

    static const struct {
        const char *name;
        size_t offset;
        uint8_t value;
    } damage[] = {
        {"magic", 0, 'X'},
        {"format version", 2, 2},
        {"unknown flag", 3, 0x80},
        {"reserved", 5, 1},
        {"string length overruns", 50, 0xff},
    };
    for (size_t i = 0; i < sizeof(damage) / sizeof(damage[0]); i++) {
        uint8_t saved = buf.data[damage[i].offset];
        buf.data[damage[i].offset] = damage[i].value;
        CHECK(&t, ing_record_decode(buf.data, buf.len, &out, &mout) == ING_ERR_RECORD,
              "damaged %s accepted", damage[i].name);
        buf.data[damage[i].offset] = saved;
    }
    /* Trailing bytes are refused too. */
    CHECK(&t, ing_buf_append(&buf, "x", 1) == ING_OK, "append");
    CHECK(&t, ing_record_decode(buf.data, buf.len, &out, &mout) == ING_ERR_RECORD,
          "trailing byte accepted");
    ing_buf_fini(&buf);
    return ING_TEST_END(&t);
}
