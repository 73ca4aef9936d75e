/* Workload parsing of the load generator: mix and sizes strings, and a workload file's
 * refusals. */
#include <string.h>

#include "ing_test.h"
#include "lg_workload.h"

int main(void)
{
    ing_test_counts_t t = {0};
    size_t lo[LG_KIND__COUNT], hi[LG_KIND__COUNT];

    CHECK(&t, lg_parse_sizes("", lo, hi) && lo[LG_KIND_LAB] == 0 && hi[LG_KIND_PDF] == 0,
          "empty: defaults");
    CHECK(&t,
          lg_parse_sizes("lab:8192", lo, hi) && lo[LG_KIND_LAB] == 8192 &&
              hi[LG_KIND_LAB] == 8192 && lo[LG_KIND_PDF] == 0,
          "one fixed size");
    CHECK(&t,
          lg_parse_sizes("lab:4096-40960,pdf:50000-500000", lo, hi) && lo[LG_KIND_LAB] == 4096 &&
              hi[LG_KIND_LAB] == 40960 && lo[LG_KIND_PDF] == 50000 && hi[LG_KIND_PDF] == 500000,
          "ranges");
    static const char *const bad[] = {
        "lab",    "lab:",      "xml:8192",        "lab:8192x", "lab:9000-8000",
        "lab:10", "lab:8192,", "lab:99999999999", "lab:-5",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        CHECK(&t, !lg_parse_sizes(bad[i], lo, hi), "accepted bad sizes \"%s\"", bad[i]);

    double mix[LG_KIND__COUNT];
    CHECK(&t,
          lg_parse_mix("lab:0.7,pdf:0.1,fhir:0.2", mix) && mix[LG_KIND_LAB] > 0.69 &&
              mix[LG_KIND_FHIR] > 0.19,
          "mix");
    CHECK(&t, !lg_parse_mix("lab:-1", mix), "negative weight");
    return ING_TEST_END(&t);
}
