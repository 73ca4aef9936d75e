/*
 * Unit tests of bench/bt_model (the suite's CPU model and results-table rendering) and of the
 * pure helpers of bt_copy / bt_fill: table-driven, no services.
 */
#include <math.h>
#include <string.h>

#include "bt_copy.h"
#include "bt_fill.h"
#include "bt_model.h"
#include "ing_test.h"

static void test_model(ing_test_counts_t *t)
{
    static const struct {
        const char *name;
        const char *lines[4];
        double cores, cpu, predicted;
        bool ok;
    } cases[] = {
        {"two stages",
         {"json\tgateway\t0.0001\n", "pg\tpostgres\t0.0003\tper row\n"},
         2,
         0.0004,
         5000,
         true},
        {"comments skipped",
         {"# stage\twhere\tcpu\n", "\n", "sha\tworker\t0.001\n"},
         2,
         0.001,
         2000,
         true},
        {"one core", {"x\tw\t0.0005\n"}, 1, 0.0005, 2000, true},
        {"no stages", {NULL}, 2, 0, 0, true},
        {"not a number", {"x\tw\tabc\n"}, 2, 0, 0, false},
        {"negative cost", {"x\tw\t-1\n"}, 2, 0, 0, false},
        {"too few fields", {"x\t0.1\n"}, 2, 0, 0, false},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        bt_model_t m = {0};
        bool ok = true;
        for (int k = 0; k < 4 && cases[i].lines[k]; k++)
            ok = ok && bt_model_parse_line(&m, cases[i].lines[k]);
        CHECK(t, ok == cases[i].ok, "%s: parse", cases[i].name);
        if (!cases[i].ok)
            continue;
        CHECK(t, fabs(bt_model_cpu_per_doc(&m) - cases[i].cpu) < 1e-12, "%s: cpu", cases[i].name);
        CHECK(t, fabs(bt_model_predict(&m, cases[i].cores) - cases[i].predicted) < 1e-6,
              "%s: predicted %g", cases[i].name, bt_model_predict(&m, cases[i].cores));
    }
    bt_model_t m = {0};
    CHECK(t, bt_model_parse_line(&m, "sha256\tgateway\t0.000002\tnote\n"), "render: parse");
    CHECK(t, bt_model_parse_line(&m, "zstd\tworker\t0.000008\n"), "render: parse");
    ing_buf_t out;
    ing_buf_init(&out, 1 << 16);
    CHECK(t, bt_model_render(&m, 2, &out) == ING_OK, "render");
    CHECK(t, out.data && strstr((char *)out.data, "| sha256 | gateway | 2.000 | 20.0 % | note |"),
          "render: stage row: %.*s", (int)out.len, out.data);
    CHECK(t, out.data && strstr((char *)out.data, "**200000 documents/s**"),
          "render: prediction: %.*s", (int)out.len, out.data);
    ing_buf_fini(&out);
}

static void test_table(ing_test_counts_t *t)
{
    static const struct {
        const char *line, *want;
    } cases[] = {
        {"produce\t50\t200\tMB/s\tnote", "| produce | 50.00 MB/s | 200.0 MB/s | 0.25 | note |\n"},
        {"intake\tnot measured: gateway.sink missing\t1234.6\tdocs/s\t",
         "| intake | not measured: gateway.sink missing | 1235 docs/s | — |  |\n"},
        {"zero\t0\t10\tx\tn", "| zero | 0.000 x | 10.00 x | — | n |\n"},
        {"no unit\t3\t4\t\t", "| no unit | 3.000 | 4.000 | 0.75 |  |\n"},
        {"tiny\t0.000123\t0.000246\ts\t", "| tiny | 0.000123 s | 0.000246 s | 0.50 |  |\n"},
        {"missing fields\t1\t2", NULL},
        {"\t1\t2\tu\tn", NULL},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        ing_buf_t out;
        ing_buf_init(&out, 1 << 16);
        bool ok = bt_table_row(cases[i].line, &out);
        CHECK(t, ok == (cases[i].want != NULL), "table %zu: verdict", i);
        if (ok && cases[i].want)
            CHECK(t,
                  out.len == strlen(cases[i].want) && memcmp(out.data, cases[i].want, out.len) == 0,
                  "table %zu: got %.*s", i, (int)out.len, out.data);
        ing_buf_fini(&out);
    }
}

static void test_payload_byte(ing_test_counts_t *t)
{
    static const struct {
        unsigned char in, want;
    } cases[] = {{'a', 'a'}, {' ', ' '},  {'~', '~'},  {'\n', '.'},
                 {0, '.'},   {0x7f, '.'}, {0xc3, '.'}, {0xff, '.'}};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        CHECK(t, bt_payload_byte(cases[i].in) == cases[i].want, "payload byte 0x%02x", cases[i].in);
}

int main(void)
{
    ing_test_counts_t t = {0};
    test_model(&t);
    test_table(&t);
    test_payload_byte(&t);
    return ING_TEST_END(&t);
}
