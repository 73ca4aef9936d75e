/*
 * libFuzzer target: ing_json against the jansson path it replaced. Every input is parsed by
 * ing_envelope_parse_json and ing_envelope_parse_json_jansson, which must agree on the machine
 * code and the field (and on the whole envelope when it is accepted); ing_json_check must agree
 * with json_loadb on whether the text is JSON; and the input as a batch item must get the same
 * verdicts from the array iterator as from jansson's array. A disagreement aborts.
 *
 * Known, deliberate divergence (see tests/unit/test_json.c): jansson drops one NUL byte right
 * after a number or a literal; ing_json refuses it. Such inputs only need ing_json to refuse.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ing_envelope.h"
#include "ing_json.h"
#include "ing_json_diff.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static ing_policy_t *policy; /* the fuzzer's one context: created once, read-only after */
static const int64_t now = 1795858200000000; /* 2026-11-28 */

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    char errstr[256];
    ing_policy_conf_t conf = {.type_codes_path = FUZZ_SOURCE_DIR "/config/type_codes.tsv",
                              .allowed_oids = "1.2.250.1.213.1.4.10,1.2.250.1.213.1.4.11",
                              .max_content_bytes = 1024};
    if (ing_policy_create(&conf, &policy, errstr, sizeof(errstr)) != ING_OK) {
        fprintf(stderr, "policy: %s\n", errstr);
        exit(1);
    }
    return 0;
}

static void disagree(const char *what, const char *a, const char *b)
{
    fprintf(stderr, "parsers disagree (%s): jansson %s / ing_json %s\n", what, a, b);
    abort();
}

static void one_envelope(const char *s, size_t len, bool divergent)
{
    ing_envelope_t a, b;
    ing_problem_t pa = {0}, pb = {0};
    ing_envelope_init(&a);
    ing_envelope_init(&b);
    ing_err_t ea = ing_envelope_parse_json_jansson(policy, s, len, now, &a, &pa);
    ing_err_t eb = ing_envelope_parse_json(policy, s, len, now, &b, &pb);
    bool same = ea == eb && strcmp(pa.field, pb.field) == 0 && (ea || json_envs_equal(&a, &b));
    if (!same && !(divergent && eb == ING_ERR_INVALID_JSON))
        disagree("envelope", pa.detail, pb.detail);
    ing_envelope_fini(&a);
    ing_envelope_fini(&b);

    json_t *j = json_loadb(s, len, JSON_REJECT_DUPLICATES, NULL);
    ing_problem_t pc = {0};
    ing_err_t ec = ing_json_check(s, len, &pc);
    if ((j != NULL) != (ec == ING_OK) && !(divergent && ec == ING_ERR_INVALID_JSON))
        disagree("check", j ? "valid" : "invalid", pc.detail);
    json_decref(j);
}

static void one_batch(const char *s, size_t len, bool divergent)
{
    json_t *arr = json_loadb(s, len, JSON_REJECT_DUPLICATES, NULL);
    ing_json_array_t it;
    size_t count = 0;
    ing_problem_t prob = {0};
    ing_err_t err = ing_json_array_open(&it, s, len, &count, &prob);
    if (!arr || !json_is_array(arr)) {
        if (err != ING_ERR_INVALID_JSON)
            disagree("batch", "invalid", "accepted");
        json_decref(arr);
        return;
    }
    if (err || count != json_array_size(arr)) {
        if (!(divergent && err == ING_ERR_INVALID_JSON))
            disagree("batch", "array", prob.detail);
        json_decref(arr);
        return;
    }
    ing_json_slice_t el;
    for (size_t i = 0; i < count; i++) {
        if (!ing_json_array_next(&it, &el))
            disagree("batch", "more items", "end");
        ing_envelope_t a, b;
        ing_problem_t pa = {0}, pb = {0};
        ing_envelope_init(&a);
        ing_envelope_init(&b);
        ing_err_t ea = ing_envelope_from_jansson(policy, json_array_get(arr, i), now, &a, &pa);
        ing_err_t eb = ing_envelope_parse_json(policy, el.ptr, el.len, now, &b, &pb);
        if (ea != eb || strcmp(pa.field, pb.field) != 0 || (!ea && !json_envs_equal(&a, &b)))
            disagree("batch item", pa.detail, pb.detail);
        ing_envelope_fini(&a);
        ing_envelope_fini(&b);
    }
    if (ing_json_array_next(&it, &el))
        disagree("batch", "end", "more items");
    json_decref(arr);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    bool divergent = json_known_divergence(data, size);
    /* an exact-size copy: ASan sees any read past the end */
    char *s = malloc(size ? size : 1);
    memcpy(s, data, size);
    one_envelope(s, size, divergent);
    free(s);
    char *batch = malloc(size + 2);
    batch[0] = '[';
    memcpy(batch + 1, data, size);
    batch[size + 1] = ']';
    one_batch(batch, size + 2, divergent);
    one_batch(batch + 1, size, divergent);
    free(batch);
    return 0;
}
