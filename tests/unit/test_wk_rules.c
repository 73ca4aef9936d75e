/* The status rules of shared/DOMAIN.md, one row per situation. */
#include <string.h>

#include "ing_test.h"
#include "wk_rules.h"

int main(void)
{
    ing_test_counts_t t = {0};
    static const struct {
        const char *situation;
        wk_facts_t facts;
        const char *rule;
        wk_status_t status;
        ing_err_t code;
        bool store, supersede_others, superseded, dead_letter;
        int64_t ref;
    } cases[] = {
        {"valid, new",
         {.version = 1},
         "current",
         WK_STATUS_STORED,
         ING_OK,
         true,
         false, /* version 1: nothing lower to supersede */
         false,
         false,
         0},
        {"valid, version 2 first seen (version 1 may come later or be stored meanwhile)",
         {.version = 2},
         "current",
         WK_STATUS_STORED,
         ING_OK,
         true,
         true,
         false,
         false,
         0},
        {"retry: same key, same sha256",
         {.same_key = WK_KEY_SAME_SHA, .same_key_ref = 41, .current_version = 1, .version = 1},
         "retry",
         WK_STATUS_NONE,
         ING_OK,
         false,
         false,
         false,
         false,
         41},
        {"retry wins over a later opposition",
         {.opposed = true, .same_key = WK_KEY_SAME_SHA, .same_key_ref = 41, .version = 1},
         "retry",
         WK_STATUS_NONE,
         ING_OK,
         false,
         false,
         false,
         false,
         41},
        {"resent after a refusal, opposition since lifted",
         {.decided = true, .version = 1},
         "decided",
         WK_STATUS_NONE,
         ING_OK,
         false,
         false,
         false,
         false,
         0},
        {"same key, other sha256",
         {.same_key = WK_KEY_OTHER_SHA, .same_key_ref = 41, .current_version = 1, .version = 1},
         "conflict",
         WK_STATUS_REJECTED,
         ING_ERR_VERSION_CONFLICT,
         false,
         false,
         false,
         true,
         0},
        {"patient opposed",
         {.opposed = true, .version = 1},
         "opposed",
         WK_STATUS_REFUSED,
         ING_ERR_PATIENT_OPPOSED,
         false,
         false,
         false,
         false,
         0},
        {"opposed beats conflict",
         {.opposed = true, .same_key = WK_KEY_OTHER_SHA, .version = 1},
         "opposed",
         WK_STATUS_REFUSED,
         ING_ERR_PATIENT_OPPOSED,
         false,
         false,
         false,
         false,
         0},
        {"opposed beats duplicate",
         {.opposed = true, .duplicate_of = 7, .version = 1},
         "opposed",
         WK_STATUS_REFUSED,
         ING_ERR_PATIENT_OPPOSED,
         false,
         false,
         false,
         false,
         0},
        {"same patient+sha256+type, other document_id",
         {.duplicate_of = 7, .version = 1},
         "duplicate",
         WK_STATUS_DUPLICATE,
         ING_OK,
         false,
         false,
         false,
         false,
         7},
        {"higher version",
         {.current_version = 2, .version = 3},
         "current",
         WK_STATUS_STORED,
         ING_OK,
         true,
         true,
         false,
         false,
         0},
        {"lower version than current",
         {.current_version = 5, .version = 3},
         "older",
         WK_STATUS_STORED,
         ING_OK,
         true,
         false,
         true,
         false,
         0},
        {"conflict beats older version",
         {.same_key = WK_KEY_OTHER_SHA, .current_version = 5, .version = 3},
         "conflict",
         WK_STATUS_REJECTED,
         ING_ERR_VERSION_CONFLICT,
         false,
         false,
         false,
         true,
         0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        wk_decision_t d = wk_rules_decide(&cases[i].facts);
        const char *s = cases[i].situation;
        CHECK(&t, strcmp(d.rule, cases[i].rule) == 0, "%s: rule %s, want %s", s, d.rule,
              cases[i].rule);
        CHECK(&t, d.status == cases[i].status, "%s: status %s, want %s", s,
              wk_status_name(d.status), wk_status_name(cases[i].status));
        CHECK(&t, d.code == cases[i].code, "%s: code %s", s, ing_err_name(d.code));
        CHECK(&t, d.store == cases[i].store, "%s: store %d", s, d.store);
        CHECK(&t, d.supersede_others == cases[i].supersede_others, "%s: supersede_others %d", s,
              d.supersede_others);
        CHECK(&t, d.superseded == cases[i].superseded, "%s: superseded %d", s, d.superseded);
        CHECK(&t, d.dead_letter == cases[i].dead_letter, "%s: dead_letter %d", s, d.dead_letter);
        CHECK(&t, d.document_ref == cases[i].ref, "%s: ref %lld", s, (long long)d.document_ref);
    }
    return ING_TEST_END(&t);
}
