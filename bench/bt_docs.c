#include "bt_docs.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ing_policy.h"
#include "ing_time.h"
#include "lg_gen.h"

struct bt_docs {
    lg_pool_t *pool;      /* @owns */
    ing_policy_t *policy; /* @owns */
};

void bt_run_id(uint64_t n, char out[9])
{
    static const char digits[] = "0123456789abcdefghijklmnopqrstuvwxyz";
    for (int k = 7; k >= 0; k--) {
        out[k] = digits[n % 36];
        n /= 36;
    }
    out[8] = '\0';
}

ing_err_t bt_docs_create(const bt_docs_conf_t *conf, bt_docs_t **out, char *errstr,
                         size_t errstr_size)
{
    bt_docs_t *d = calloc(1, sizeof(*d));
    if (!d) {
        snprintf(errstr, errstr_size, "out of memory");
        return ING_ERR_NOMEM;
    }
    ing_policy_conf_t pc = {
        .type_codes_path = conf->type_codes_path,
        .allowed_oids = LG_TEST_OID,
        .max_content_bytes = 20u << 20,
    };
    ing_err_t err = ing_policy_create(&pc, &d->policy, errstr, errstr_size);
    if (err)
        goto fail;
    lg_gen_conf_t gc = {
        .seed = conf->seed,
        .mix = {[LG_KIND_LAB] = 1.0},
        .patients = conf->patients,
        .pool = conf->pool,
        .pool_max_bytes = (size_t)512 << 20,
        .now_wall_us = ing_wall_us(),
    };
    if (conf->size) {
        gc.size_lo[LG_KIND_LAB] = conf->size;
        gc.size_hi[LG_KIND_LAB] = conf->size;
    }
    memcpy(gc.run_id, conf->run_id, sizeof(gc.run_id));
    err = lg_pool_create(&gc, &d->pool, errstr, errstr_size);
    if (err)
        goto fail;
    *out = d;
    return ING_OK;
fail:
    bt_docs_destroy(d);
    return err;
}

const ing_policy_t *bt_docs_policy(const bt_docs_t *d)
{
    return d->policy;
}

void bt_docs_destroy(bt_docs_t *d)
{
    if (!d)
        return;
    lg_pool_destroy(d->pool);
    ing_policy_destroy(d->policy);
    free(d);
}

ing_err_t bt_docs_get(bt_docs_t *d, uint64_t i, ing_buf_t *json, ing_envelope_t *env,
                      ing_record_meta_t *meta, ing_problem_t *problem)
{
    ing_buf_reset(json);
    ing_err_t err = lg_pool_render(d->pool, (size_t)i, i, LG_VARIANT_VALID, json, NULL);
    if (err)
        return ing_problem_set(problem, err, "", "rendering document %llu", (unsigned long long)i);
    ing_envelope_fini(env);
    ing_envelope_init(env);
    int64_t now = ing_wall_us();
    err =
        ing_envelope_parse_json(d->policy, (const char *)json->data, json->len, now, env, problem);
    if (err)
        return err;
    memset(meta, 0, sizeof(*meta));
    memcpy(meta->org_finess, env->finess, sizeof(meta->org_finess));
    ing_submission_id(NULL, env->finess, env->document_id, env->version, env->sha256,
                      meta->submission_id);
    meta->received_at_us = now;
    return ING_OK;
}
