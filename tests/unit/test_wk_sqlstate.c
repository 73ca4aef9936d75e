/* SQLSTATE -> transient (redeliver the batch) or permanent (isolate and dead-letter). */
#include <stddef.h>

#include "ing_test.h"
#include "wk_sqlstate.h"

int main(void)
{
    static const struct {
        const char *state;
        ing_err_t want;
    } cases[] = {
        {NULL, ING_ERR_UNAVAILABLE}, /* connection lost: no error field */
        {"", ING_ERR_UNAVAILABLE},      {"08000", ING_ERR_UNAVAILABLE}, /* connection exception */
        {"08006", ING_ERR_UNAVAILABLE},                                 /* connection failure */
        {"08P01", ING_ERR_UNAVAILABLE}, /* protocol violation: class 08 */
        {"40001", ING_ERR_UNAVAILABLE}, /* serialization failure */
        {"40P01", ING_ERR_UNAVAILABLE}, /* deadlock */
        {"40002", ING_ERR_INTERNAL},    /* integrity constraint violation at commit */
        {"57P01", ING_ERR_UNAVAILABLE}, /* admin shutdown */
        {"57P02", ING_ERR_UNAVAILABLE}, /* crash shutdown */
        {"57P03", ING_ERR_UNAVAILABLE}, /* cannot connect now */
        {"57014", ING_ERR_TIMEOUT},     /* statement timeout */
        {"53100", ING_ERR_UNAVAILABLE}, /* disk full */
        {"53200", ING_ERR_UNAVAILABLE}, /* out of memory */
        {"53300", ING_ERR_UNAVAILABLE}, /* too many connections */
        {"55P03", ING_ERR_UNAVAILABLE}, /* lock not available */
        {"58030", ING_ERR_UNAVAILABLE}, /* io error */
        {"23505", ING_ERR_INTERNAL},    /* unique violation */
        {"23503", ING_ERR_INTERNAL},    /* foreign key violation */
        {"23514", ING_ERR_INTERNAL},    /* check violation */
        {"22007", ING_ERR_INTERNAL},    /* invalid datetime format */
        {"22021", ING_ERR_INTERNAL},    /* invalid byte sequence */
        {"42P01", ING_ERR_INTERNAL},    /* undefined table: a missing migration */
        {"25006", ING_ERR_INTERNAL},    /* read-only transaction */
        {"XX000", ING_ERR_INTERNAL},    {"0800", ING_ERR_INTERNAL}, /* malformed */
        {"080000", ING_ERR_INTERNAL},
    };
    ing_test_counts_t t = {0};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        ing_err_t got = wk_sqlstate_classify(cases[i].state);
        CHECK(&t, got == cases[i].want, "%s: got %s, want %s",
              cases[i].state ? cases[i].state : "(null)", ing_err_name(got),
              ing_err_name(cases[i].want));
        CHECK(&t, ing_err_is_retriable(got) == (cases[i].want != ING_ERR_INTERNAL), "%s: retriable",
              cases[i].state ? cases[i].state : "(null)");
    }
    return ING_TEST_END(&t);
}
