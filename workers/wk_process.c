#include "wk_process.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void wk_item_fail(wk_item_t *item, ing_err_t err, wk_stage_t stage, const char *fmt, ...)
{
    item->outcome = WK_OUT_DEAD;
    item->err = err;
    item->stage = stage;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(item->detail, sizeof(item->detail), fmt, ap);
    va_end(ap);
    /* Details quote record fields: never let bytes from Kafka reach SQL text or headers raw. */
    for (char *p = item->detail; *p; p++)
        if (*p < 0x20 || *p > 0x7e)
            *p = '?';
}

static bool printable_ascii(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++)
        if (*s < 0x20 || *s > 0x7e)
            return false;
    return true;
}

void wk_process_record(const ing_policy_t *policy, const void *data, size_t len, wk_item_t *item)
{
    ing_envelope_init(&item->env);
    memset(&item->meta, 0, sizeof(item->meta));
    item->id_known = false;
    item->outcome = WK_OUT_PENDING;
    item->err = ING_OK;
    item->detail[0] = '\0';
    item->zoff = item->zlen = 0;
    item->key_id = NULL;
    item->dict_id = 0;
    item->document_ref = 0;
    item->superseded = item->supersede_others = item->space_missing = false;
    item->rule = "";

    if (!data || ing_record_decode(data, len, &item->env, &item->meta) != ING_OK) {
        wk_item_fail(item, ING_ERR_RECORD, WK_STAGE_DECODE,
                     "the record is not in format version %d (%zu bytes)",
                     ING_RECORD_FORMAT_VERSION, len);
        return;
    }
    char expect[ING_SUBMISSION_ID_LEN + 1];
    ing_submission_id(ing_policy_digest(policy), item->meta.org_finess, item->env.document_id,
                      item->env.version, item->env.sha256, expect);
    if (strcmp(expect, item->meta.submission_id) != 0) {
        wk_item_fail(item, ING_ERR_RECORD, WK_STAGE_DECODE,
                     "submission id %.32s does not match its organisation, document_id, version "
                     "and sha256 (expected %s)",
                     item->meta.submission_id, expect);
        return;
    }
    /* Only then is a `rejected` row safe to write and meaningful to the sender. */
    item->id_known =
        ing_finess_check(item->meta.org_finess, strlen(item->meta.org_finess)) == ING_OK &&
        printable_ascii(item->env.document_id) && item->env.version >= 1 &&
        item->env.version <= INT32_MAX;

    ing_problem_t problem = {0};
    /* The submission day is the gateway's: a type code retired since must not flip. */
    if (ing_envelope_validate(policy, &item->env, item->meta.received_at_us, &problem) != ING_OK) {
        wk_item_fail(item, problem.code, WK_STAGE_VALIDATE, "%s", problem.detail);
        return;
    }
    if (strcmp(item->env.finess, item->meta.org_finess) != 0) {
        wk_item_fail(item, ING_ERR_SOURCE_MISMATCH, WK_STAGE_VALIDATE,
                     "source.finess %s is not the authenticated organisation %s", item->env.finess,
                     item->meta.org_finess);
        return;
    }
}
