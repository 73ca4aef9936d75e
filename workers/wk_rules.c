#include "wk_rules.h"

#include <stddef.h>

typedef struct wk_rule {
    const char *name;
    bool (*when)(const wk_facts_t *f);
    wk_status_t status;
    ing_err_t code;
    bool store, supersede_others, superseded, dead_letter;
    enum { REF_NONE, REF_SAME_KEY, REF_DUPLICATE, REF_NEW } ref;
} wk_rule_t;

static bool is_retry(const wk_facts_t *f)
{
    return f->same_key == WK_KEY_SAME_SHA;
}
static bool is_decided(const wk_facts_t *f)
{
    return f->decided;
}
static bool is_opposed(const wk_facts_t *f)
{
    return f->opposed;
}
static bool is_conflict(const wk_facts_t *f)
{
    return f->same_key == WK_KEY_OTHER_SHA;
}
static bool is_duplicate(const wk_facts_t *f)
{
    return f->duplicate_of != 0;
}
static bool is_older(const wk_facts_t *f)
{
    return f->current_version > f->version;
}
static bool always(const wk_facts_t *f)
{
    return true;
}

/*
 * In order. A retry comes first: the same submission gets the same answer whatever happened
 * since (even an opposition, or its lifting: a document refused while the patient objected
 * is not stored when resent unchanged). Opposition comes before anything that would store or
 * link.
 */
/* clang-format off */
static const wk_rule_t rules[] = {
    /* name        when          status               code                      store  sup.o  sup.   dlq    ref */
    {"retry",      is_retry,     WK_STATUS_NONE,      ING_OK,                   false, false, false, false, REF_SAME_KEY},
    {"decided",    is_decided,   WK_STATUS_NONE,      ING_OK,                   false, false, false, false, REF_NONE},
    {"opposed",    is_opposed,   WK_STATUS_REFUSED,   ING_ERR_PATIENT_OPPOSED,  false, false, false, false, REF_NONE},
    {"conflict",   is_conflict,  WK_STATUS_REJECTED,  ING_ERR_VERSION_CONFLICT, false, false, false, true,  REF_NONE},
    {"duplicate",  is_duplicate, WK_STATUS_DUPLICATE, ING_OK,                   false, false, false, false, REF_DUPLICATE},
    {"older",      is_older,     WK_STATUS_STORED,    ING_OK,                   true,  false, true,  false, REF_NEW},
    {"current",    always,       WK_STATUS_STORED,    ING_OK,                   true,  true,  false, false, REF_NEW},
};
/* clang-format on */

wk_decision_t wk_rules_decide(const wk_facts_t *f)
{
    for (size_t i = 0; i < sizeof(rules) / sizeof(rules[0]); i++) {
        const wk_rule_t *r = &rules[i];
        if (!r->when(f))
            continue;
        wk_decision_t d = {
            .rule = r->name,
            .status = r->status,
            .code = r->code,
            .store = r->store,
            /* Version 1 has no lower version to mark: no statement for the common case. */
            .supersede_others = r->supersede_others && f->version > 1,
            .superseded = r->superseded,
            .dead_letter = r->dead_letter,
            .document_ref = r->ref == REF_SAME_KEY    ? f->same_key_ref
                            : r->ref == REF_DUPLICATE ? f->duplicate_of
                                                      : 0,
        };
        return d;
    }
    return (wk_decision_t){.rule = "none"}; /* unreachable: the last row always matches */
}

const char *wk_status_name(wk_status_t status)
{
    static const char *names[] = {"none", "stored", "duplicate", "rejected", "refused"};
    return (unsigned)status < sizeof(names) / sizeof(names[0]) ? names[status] : "none";
}
