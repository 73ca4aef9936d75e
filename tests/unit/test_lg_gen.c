/*
 * lg_gen: every generated envelope passes the gateway's own checks (ing_envelope_parse_json:
 * valid INS key, sha256 of the decoded base64 content), the deliberately bad ones fail with
 * the expected code, sends are distinct documents, and a seed reproduces the pool.
 */
#include <stdlib.h>
#include <string.h>

#include "ing_envelope.h"
#include "ing_ids.h"
#include "ing_policy.h"
#include "ing_test.h"
#include "ing_time.h"
#include "lg_gen.h"

static lg_gen_conf_t conf(uint64_t seed, double lab, double pdf, double fhir)
{
    lg_gen_conf_t c = {
        .seed = seed,
        .mix = {lab, pdf, fhir},
        /* small documents keep the test fast; the framing is the same */
        .size_lo = {4096, 50000, 2048},
        .size_hi = {8192, 60000, 4096},
        .patients = 50,
        .pool = 12,
        .pool_max_bytes = 64u << 20,
        .run_id = "t3st0run",
        .now_wall_us = 1795000000000000LL,
    };
    return c;
}

int main(void)
{
    ing_test_counts_t t = {0};
    char err[256] = "";

    /* INS keys of the DOMAIN.md test values, Corsica included. */
    static const char *const valid_ins[] = {"295109912611193", "253072B07300470", "253072A07300443",
                                            "279035121518989"};
    for (size_t i = 0; i < 4; i++) {
        char key[3];
        lg_ins_key(valid_ins[i], key);
        CHECK(&t, memcmp(key, valid_ins[i] + 13, 2) == 0, "key of %s: %s", valid_ins[i], key);
    }
    lg_rng_t rng;
    lg_rng_seed(&rng, 42);
    int all_valid = 1;
    for (int i = 0; i < 1000; i++) {
        char ins[16];
        lg_synthetic_ins(&rng, ins);
        all_valid &= strlen(ins) == 15 && ing_ins_check(ins, 15) == ING_OK;
    }
    CHECK(&t, all_valid, "1000 synthetic INS pass ing_ins_check");

    ing_policy_t *policy = NULL;
    ing_policy_conf_t pc = {ING_SOURCE_DIR "/config/type_codes.tsv", LG_TEST_OID, 20u << 20};
    CHECK(&t, ing_policy_create(&pc, &policy, err, sizeof(err)) == ING_OK, "policy: %s", err);
    if (!policy)
        return ING_TEST_END(&t);

    static const struct {
        const char *name;
        double mix[3];
        const char *content_starts;
    } kinds[] = {
        {"lab", {1, 0, 0}, "<?xml"},
        {"pdf", {0, 1, 0}, "%PDF-1.7"},
        {"fhir", {0, 0, 1}, "{\"resourceType\": \"Bundle\""},
    };
    ing_buf_t out;
    ing_buf_init(&out, 16u << 20);
    for (size_t k = 0; k < 3; k++) {
        lg_gen_conf_t gc = conf(7, kinds[k].mix[0], kinds[k].mix[1], kinds[k].mix[2]);
        lg_pool_t *pool = NULL;
        CHECK(&t, lg_pool_create(&gc, &pool, err, sizeof(err)) == ING_OK, "%s pool: %s",
              kinds[k].name, err);
        if (!pool)
            continue;
        CHECK(&t, lg_pool_count(pool) == 12, "%s: 12 entries", kinds[k].name);
        uint8_t prev_sha[ING_SHA256_LEN] = {0};
        for (uint64_t counter = 0; counter < 30; counter++) {
            ing_buf_reset(&out);
            lg_doc_info_t info;
            CHECK(&t,
                  lg_pool_render(pool, counter * 7, counter * 1000003, LG_VARIANT_VALID, &out,
                                 &info) == ING_OK,
                  "render");
            ing_envelope_t env;
            ing_problem_t problem;
            ing_envelope_init(&env);
            ing_err_t rc = ing_envelope_parse_json(policy, (const char *)out.data, out.len,
                                                   ing_wall_us(), &env, &problem);
            CHECK(&t, rc == ING_OK, "%s #%llu refused: %s %s %s", kinds[k].name,
                  (unsigned long long)counter, ing_err_name(rc), problem.field, problem.detail);
            if (rc == ING_OK) {
                size_t sl = strlen(kinds[k].content_starts);
                CHECK(&t,
                      env.content_len == info.content_len && env.content_len > sl &&
                          memcmp(env.content, kinds[k].content_starts, sl) == 0,
                      "%s content shape", kinds[k].name);
                CHECK(&t,
                      memmem(env.content, env.content_len, info.document_id, LG_DOC_ID_LEN) != NULL,
                      "%s content carries its document id", kinds[k].name);
                CHECK(&t,
                      strcmp(env.document_id, info.document_id) == 0 &&
                          strcmp(env.ins, info.ins) == 0 &&
                          memcmp(env.sha256, info.sha256, ING_SHA256_LEN) == 0,
                      "%s info matches the envelope", kinds[k].name);
                CHECK(&t, memcmp(prev_sha, info.sha256, ING_SHA256_LEN) != 0,
                      "%s: consecutive sends have distinct content", kinds[k].name);
                memcpy(prev_sha, info.sha256, ING_SHA256_LEN);
            }
            ing_envelope_fini(&env);
        }

        /* Deliberately bad envelopes fail with the code the workload expects. */
        static const struct {
            lg_variant_t v;
            ing_err_t want;
        } bad[] = {{LG_VARIANT_BAD_INS, ING_ERR_INS_INVALID},
                   {LG_VARIANT_BAD_HASH, ING_ERR_HASH_MISMATCH}};
        for (size_t b = 0; b < 2; b++) {
            for (uint64_t counter = 0; counter < 10; counter++) {
                ing_buf_reset(&out);
                CHECK(&t, lg_pool_render(pool, counter, counter, bad[b].v, &out, NULL) == ING_OK,
                      "render bad");
                ing_envelope_t env;
                ing_problem_t problem;
                ing_envelope_init(&env);
                ing_err_t rc = ing_envelope_parse_json(policy, (const char *)out.data, out.len,
                                                       ing_wall_us(), &env, &problem);
                CHECK(&t, rc == bad[b].want, "%s variant %d: got %s", kinds[k].name, (int)bad[b].v,
                      ing_err_name(rc));
                ing_envelope_fini(&env);
            }
        }

        /* The same (entry, counter) renders the same bytes: that is what a duplicate is. */
        ing_buf_t again;
        ing_buf_init(&again, 16u << 20);
        ing_buf_reset(&out);
        CHECK(&t,
              lg_pool_render(pool, 3, 99, LG_VARIANT_VALID, &out, NULL) == ING_OK &&
                  lg_pool_render(pool, 3, 99, LG_VARIANT_VALID, &again, NULL) == ING_OK &&
                  out.len == again.len && memcmp(out.data, again.data, out.len) == 0,
              "%s: identical re-render", kinds[k].name);
        ing_buf_fini(&again);
        lg_pool_destroy(pool);
    }

    /* A seed reproduces the pool; another seed does not. */
    lg_gen_conf_t mixed = conf(11, 0.7, 0.1, 0.2);
    lg_pool_t *p1 = NULL, *p2 = NULL, *p3 = NULL;
    CHECK(&t,
          lg_pool_create(&mixed, &p1, err, sizeof(err)) == ING_OK &&
              lg_pool_create(&mixed, &p2, err, sizeof(err)) == ING_OK,
          "mixed pools: %s", err);
    mixed.seed = 12;
    CHECK(&t, lg_pool_create(&mixed, &p3, err, sizeof(err)) == ING_OK, "third pool: %s", err);
    if (p1 && p2 && p3) {
        ing_buf_t a, b, c;
        ing_buf_init(&a, 64u << 20);
        ing_buf_init(&b, 64u << 20);
        ing_buf_init(&c, 64u << 20);
        for (size_t i = 0; i < lg_pool_count(p1); i++) {
            if (lg_pool_render(p1, i, i, LG_VARIANT_VALID, &a, NULL) ||
                lg_pool_render(p2, i, i, LG_VARIANT_VALID, &b, NULL) ||
                lg_pool_render(p3, i, i, LG_VARIANT_VALID, &c, NULL))
                abort();
        }
        CHECK(&t, a.len == b.len && memcmp(a.data, b.data, a.len) == 0, "same seed, same pool");
        CHECK(&t, a.len != c.len || memcmp(a.data, c.data, a.len) != 0, "other seed, other pool");
        ing_buf_fini(&a);
        ing_buf_fini(&b);
        ing_buf_fini(&c);
    }
    lg_pool_destroy(p1);
    lg_pool_destroy(p2);
    lg_pool_destroy(p3);

    /* Bad configurations are refused with a reason. */
    lg_gen_conf_t none = conf(1, 0, 0, 0);
    lg_pool_t *np = NULL;
    err[0] = '\0';
    CHECK(&t, lg_pool_create(&none, &np, err, sizeof(err)) == ING_ERR_CONFIG && !np && err[0],
          "an empty mix is refused");

    ing_buf_fini(&out);
    ing_policy_destroy(policy);
    return ING_TEST_END(&t);
}
