/* Identifier checks: the test values of shared/DOMAIN.md and the ways each can be wrong. */
#include <string.h>

#include "ing_ids.h"
#include "ing_test.h"

typedef ing_err_t (*check_fn)(const char *, size_t);

static const struct {
    const char *name;
    check_fn check;
    const char *value;
    ing_err_t want;
} cases[] = {
    {"ins valid", ing_ins_check, "295109912611193", ING_OK},
    {"ins valid 2B", ing_ins_check, "253072B07300470", ING_OK},
    {"ins valid 2A", ing_ins_check, "253072A07300443", ING_OK},
    {"ins valid 4", ing_ins_check, "279035121518989", ING_OK},
    {"ins bad key", ing_ins_check, "295109912611199", ING_ERR_INS_INVALID},
    {"ins short", ing_ins_check, "29510991261119", ING_ERR_INS_INVALID},
    {"ins long", ing_ins_check, "2951099126111930", ING_ERR_INS_INVALID},
    {"ins letter", ing_ins_check, "29510991261119X", ING_ERR_INS_INVALID},
    {"ins 2A elsewhere", ing_ins_check, "2A5109912611193", ING_ERR_INS_INVALID},
    {"ins 2A wrong key", ing_ins_check, "253072A07300470", ING_ERR_INS_INVALID},
    {"ins 2C", ing_ins_check, "253072C07300443", ING_ERR_INS_INVALID},
    {"ins empty", ing_ins_check, "", ING_ERR_INS_INVALID},
    {"finess valid 1", ing_finess_check, "750712184", ING_OK},
    {"finess valid 2", ing_finess_check, "010780054", ING_OK},
    {"finess valid 3", ing_finess_check, "130783236", ING_OK},
    {"finess bad key", ing_finess_check, "750712185", ING_ERR_FINESS_INVALID},
    {"finess short", ing_finess_check, "75071218", ING_ERR_FINESS_INVALID},
    {"finess letter", ing_finess_check, "7507121X4", ING_ERR_FINESS_INVALID},
    {"finess 2C", ing_finess_check, "2C0712184", ING_ERR_FINESS_INVALID},
    {"rpps valid 1", ing_rpps_check, "10003456786", ING_OK},
    {"rpps valid 2", ing_rpps_check, "10012345673", ING_OK},
    {"rpps bad key", ing_rpps_check, "10003456787", ING_ERR_RPPS_INVALID},
    {"rpps short", ing_rpps_check, "1000345678", ING_ERR_RPPS_INVALID},
    {"rpps letter", ing_rpps_check, "1000345678A", ING_ERR_RPPS_INVALID},
};

int main(void)
{
    ing_test_counts_t t = {0};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        ing_err_t got = cases[i].check(cases[i].value, strlen(cases[i].value));
        CHECK(&t, got == cases[i].want, "%s: got %s, want %s", cases[i].name, ing_err_name(got),
              ing_err_name(cases[i].want));
    }
    /* A length shorter than the string must be honoured (no reading past len). */
    CHECK(&t, ing_ins_check("295109912611193", 14) == ING_ERR_INS_INVALID, "len honoured");
    return ING_TEST_END(&t);
}
