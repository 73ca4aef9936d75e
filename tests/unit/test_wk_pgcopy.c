/* The binary COPY stream: byte for byte what PostgreSQL's own COPY ... TO STDOUT (FORMAT
 * binary) writes for the same row (the hex below is from PostgreSQL 15:
 * COPY (SELECT 42::int8, 'abc'::text, NULL::text, (-1)::int4, true,
 * '2000-01-01T00:00:01.5Z'::timestamptz, '\x00ff'::bytea, 'N'::char(1)) TO STDOUT
 * (FORMAT binary)), the sticky size limit, and reuse of one builder. */
#include <stdio.h>
#include <string.h>

#include "ing_test.h"
#include "wk_pgcopy.h"

static const char pg_row[] = "5047434f50590aff0d0a00"
                             "00000000"
                             "00000000"                 /* signature, flags, extension */
                             "0008"                     /* 8 fields */
                             "00000008000000000000002a" /* 42::int8 */
                             "00000003616263"           /* 'abc' */
                             "ffffffff"                 /* NULL */
                             "00000004ffffffff"         /* -1::int4 */
                             "0000000101"               /* true */
                             "00000008000000000016e360" /* 2000-01-01T00:00:01.5Z */
                             "0000000200ff"             /* '\x00ff' */
                             "000000014e"               /* 'N'::char(1) */
                             "ffff";                    /* end */

static void hex(const uint8_t *p, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++)
        sprintf(out + 2 * i, "%02x", p[i]);
    out[2 * n] = '\0';
}

static void one_row(wk_pgcopy_t *c)
{
    wk_pgcopy_start(c);
    wk_pgcopy_row(c, 8);
    wk_pgcopy_int8(c, 42);
    wk_pgcopy_text(c, "abc");
    wk_pgcopy_opt(c, "");
    wk_pgcopy_int4(c, -1);
    wk_pgcopy_bool(c, true);
    wk_pgcopy_timestamptz(c, WK_PG_EPOCH_UNIX_US + 1500000);
    wk_pgcopy_field(c, "\x00\xff", 2);
    wk_pgcopy_text(c, "N");
}

int main(void)
{
    ing_test_counts_t t = {0};
    char got[512];
    const uint8_t *data;
    size_t len;

    wk_pgcopy_t c;
    wk_pgcopy_init(&c, 4096);
    for (int round = 0; round < 2; round++) { /* the second reuses the allocation */
        one_row(&c);
        ing_err_t err = wk_pgcopy_finish(&c, &data, &len);
        CHECK(&t, err == ING_OK && c.rows == 1, "round %d: %s", round, ing_err_str(err));
        if (!err && len * 2 < sizeof(got)) {
            hex(data, len, got);
            CHECK(&t, strcmp(got, pg_row) == 0, "round %d:\n got %s\nwant %s", round, got, pg_row);
        }
    }
    wk_pgcopy_fini(&c);

    /* An empty stream is the header and the end marker only. */
    wk_pgcopy_init(&c, 4096);
    wk_pgcopy_start(&c);
    CHECK(&t, wk_pgcopy_finish(&c, &data, &len) == ING_OK && len == 21 && c.rows == 0,
          "empty stream: %zu bytes", len);
    wk_pgcopy_fini(&c);

    /* Past the limit: the first failure sticks, nothing is half-reported as done. */
    wk_pgcopy_init(&c, 64);
    wk_pgcopy_start(&c);
    wk_pgcopy_row(&c, 1);
    char big[100];
    memset(big, 'x', sizeof(big));
    wk_pgcopy_field(&c, big, sizeof(big));
    wk_pgcopy_int4(&c, 1);
    CHECK(&t, wk_pgcopy_finish(&c, &data, &len) == ING_ERR_TOO_BIG, "limit not enforced");
    wk_pgcopy_start(&c); /* and a new stream clears it */
    CHECK(&t, wk_pgcopy_finish(&c, &data, &len) == ING_OK, "start did not clear the error");
    wk_pgcopy_fini(&c);
    return ING_TEST_END(&t);
}
