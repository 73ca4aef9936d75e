/* Binary array parameters: byte for byte what PostgreSQL's own array_send produces (the
 * expected hex below is `SELECT encode(array_send(ARRAY[...]::T[]), 'hex')` on PostgreSQL 15),
 * NULLs, the sticky size limit, and reuse of one builder for several arrays. */
#include <stdio.h>
#include <string.h>

#include "ing_test.h"
#include "wk_pgarray.h"

/* One add: kind and value. */
typedef struct op {
    enum { TEXT, OPT, INT4, INT8, BOOL, BYTES, NUL } kind;
    const char *s;
    int64_t v;
} op_t;

static void apply(wk_pgarray_t *a, const op_t *o)
{
    switch (o->kind) {
    case TEXT:
        wk_pgarray_add_text(a, o->s);
        break;
    case OPT:
        wk_pgarray_add_opt(a, o->s);
        break;
    case INT4:
        wk_pgarray_add_int4(a, (int32_t)o->v);
        break;
    case INT8:
        wk_pgarray_add_int8(a, o->v);
        break;
    case BOOL:
        wk_pgarray_add_bool(a, o->v != 0);
        break;
    case BYTES:
        wk_pgarray_add(a, o->s, (size_t)o->v);
        break;
    case NUL:
        wk_pgarray_add(a, NULL, 0);
        break;
    }
}

static void hex(const uint8_t *p, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++)
        sprintf(out + 2 * i, "%02x", p[i]);
    out[2 * n] = '\0';
}

int main(void)
{
    ing_test_counts_t t = {0};
    static const struct {
        const char *name;
        uint32_t oid;
        op_t ops[4];
        int nops;
        const char *want; /* hex */
    } cases[] = {
        {"text with NULL and empty",
         WK_PG_TEXT,
         {{TEXT, "ab", 0}, {TEXT, NULL, 0}, {TEXT, "", 0}},
         3,
         "0000000100000001000000190000000300000001000000026162ffffffff00000000"},
        {"optional text: empty is NULL",
         WK_PG_TEXT,
         {{OPT, "ab", 0}, {OPT, "", 0}, {OPT, "", 0}},
         3,
         "0000000100000001000000190000000300000001000000026162ffffffffffffffff"},
        {"int4, negative",
         WK_PG_INT4,
         {{INT4, NULL, 1}, {INT4, NULL, -2}},
         2,
         "0000000100000000000000170000000200000001000000040000000100000004fffffffe"},
        {"int8 over 32 bits",
         WK_PG_INT8,
         {{INT8, NULL, -1}, {INT8, NULL, 4294967296LL}},
         2,
         "000000010000000000000014000000020000000100000008ffffffffffffffff00000008000000010000000"
         "0"},
        {"bool",
         WK_PG_BOOL,
         {{BOOL, NULL, 1}, {BOOL, NULL, 0}},
         2,
         "000000010000000000000010000000020000000100000001010000000100"},
        {"bytea with a zero byte",
         WK_PG_BYTEA,
         {{BYTES, "\x00\xff", 2}},
         1,
         "00000001000000000000001100000001000000010000000200ff"},
        {"int4 NULL element sets the flag",
         WK_PG_INT4,
         {{NUL, NULL, 0}, {INT4, NULL, 7}},
         2,
         "0000000100000001000000170000000200000001ffffffff0000000400000007"},
        {"empty: no dimension", WK_PG_BYTEA, {{TEXT, NULL, 0}}, 0, "000000000000000000000011"},
    };
    wk_pgarray_t a;
    wk_pgarray_init(&a, 1 << 20);
    char got[512];
    /* One builder for every case: start must forget the previous array entirely. */
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        wk_pgarray_start(&a, cases[i].oid);
        for (int k = 0; k < cases[i].nops; k++)
            apply(&a, &cases[i].ops[k]);
        const uint8_t *data = NULL;
        size_t len = 0;
        ing_err_t err = wk_pgarray_finish(&a, &data, &len);
        CHECK(&t, err == ING_OK, "%s: %s", cases[i].name, ing_err_name(err));
        if (err)
            continue;
        CHECK(&t, len * 2 < sizeof(got), "%s: %zu bytes", cases[i].name, len);
        if (len * 2 >= sizeof(got))
            continue;
        hex(data, len, got);
        CHECK(&t, strcmp(got, cases[i].want) == 0, "%s:\n got  %s\n want %s", cases[i].name, got,
              cases[i].want);
        /* finish twice gives the same bytes: binding is idempotent. */
        const uint8_t *again;
        size_t len2;
        CHECK(&t,
              wk_pgarray_finish(&a, &again, &len2) == ING_OK && len2 == len &&
                  memcmp(again, data, len) == 0,
              "%s: second finish differs", cases[i].name);
    }
    wk_pgarray_fini(&a);

    /* The limit: the add that crosses it fails, later adds do nothing, finish reports it;
     * start clears the error. */
    wk_pgarray_init(&a, WK_PGARRAY_HEADER + 3 * 8);
    wk_pgarray_start(&a, WK_PG_INT4);
    for (int k = 0; k < 3; k++)
        wk_pgarray_add_int4(&a, k);
    const uint8_t *data;
    size_t len;
    CHECK(&t, wk_pgarray_finish(&a, &data, &len) == ING_OK && len == WK_PGARRAY_HEADER + 24,
          "three int4 fit exactly: len %zu", len);
    wk_pgarray_add_int4(&a, 3);
    wk_pgarray_add_text(&a, NULL); /* 4 bytes would fit if the error were not sticky */
    CHECK(&t, wk_pgarray_finish(&a, &data, &len) == ING_ERR_TOO_BIG, "over the limit");
    CHECK(&t, a.count == 3, "count after failure %d", (int)a.count);
    wk_pgarray_start(&a, WK_PG_INT4);
    wk_pgarray_add_int4(&a, 1);
    CHECK(&t, wk_pgarray_finish(&a, &data, &len) == ING_OK && len == WK_PGARRAY_HEADER + 8,
          "start clears the error");
    wk_pgarray_fini(&a);

    /* A limit smaller than the header: start itself fails, finish says so. */
    wk_pgarray_init(&a, 8);
    wk_pgarray_start(&a, WK_PG_TEXT);
    wk_pgarray_add_text(&a, "x");
    CHECK(&t, wk_pgarray_finish(&a, &data, &len) == ING_ERR_TOO_BIG, "header over the limit");
    wk_pgarray_fini(&a);
    return ING_TEST_END(&t);
}
