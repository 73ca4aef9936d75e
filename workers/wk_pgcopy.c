#include "wk_pgcopy.h"

#include <string.h>

/* "PGCOPY\n\377\r\n\0", then int32 flags 0 and int32 header extension length 0. */
static const uint8_t copy_header[19] = {'P', 'G', 'C', 'O', 'P', 'Y', '\n', 0xff, '\r', '\n', 0};

static void put(wk_pgcopy_t *c, const void *data, size_t len)
{
    if (!c->err)
        c->err = ing_buf_append(&c->buf, data, len);
}

static void put16(wk_pgcopy_t *c, uint16_t v)
{
    uint8_t b[2] = {(uint8_t)(v >> 8), (uint8_t)v};
    put(c, b, sizeof(b));
}

static void put32(wk_pgcopy_t *c, uint32_t v)
{
    uint8_t b[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
    put(c, b, sizeof(b));
}

void wk_pgcopy_init(wk_pgcopy_t *c, size_t limit)
{
    memset(c, 0, sizeof(*c));
    ing_buf_init(&c->buf, limit);
}

void wk_pgcopy_fini(wk_pgcopy_t *c)
{
    ing_buf_fini(&c->buf);
}

void wk_pgcopy_start(wk_pgcopy_t *c)
{
    ing_buf_reset(&c->buf);
    c->rows = 0;
    c->err = ING_OK;
    put(c, copy_header, sizeof(copy_header));
}

void wk_pgcopy_row(wk_pgcopy_t *c, uint16_t nfields)
{
    put16(c, nfields);
    c->rows++;
}

void wk_pgcopy_field(wk_pgcopy_t *c, const void *data, size_t len)
{
    if (!data) {
        put32(c, UINT32_MAX); /* -1: NULL */
        return;
    }
    if (len > (size_t)INT32_MAX) {
        if (!c->err)
            c->err = ING_ERR_TOO_BIG;
        return;
    }
    put32(c, (uint32_t)len);
    put(c, data, len);
}

void wk_pgcopy_text(wk_pgcopy_t *c, const char *s)
{
    wk_pgcopy_field(c, s, s ? strlen(s) : 0);
}

void wk_pgcopy_opt(wk_pgcopy_t *c, const char *s)
{
    wk_pgcopy_text(c, s && s[0] ? s : NULL);
}

void wk_pgcopy_int4(wk_pgcopy_t *c, int32_t v)
{
    put32(c, 4);
    put32(c, (uint32_t)v);
}

void wk_pgcopy_int8(wk_pgcopy_t *c, int64_t v)
{
    put32(c, 8);
    put32(c, (uint32_t)((uint64_t)v >> 32));
    put32(c, (uint32_t)v);
}

void wk_pgcopy_bool(wk_pgcopy_t *c, bool v)
{
    uint8_t b = v ? 1 : 0;
    wk_pgcopy_field(c, &b, 1);
}

void wk_pgcopy_timestamptz(wk_pgcopy_t *c, int64_t unix_us)
{
    wk_pgcopy_int8(c, unix_us - WK_PG_EPOCH_UNIX_US);
}

ing_err_t wk_pgcopy_finish(wk_pgcopy_t *c, const uint8_t **data, size_t *len)
{
    put16(c, UINT16_MAX); /* -1: end of data */
    if (c->err)
        return c->err;
    *data = c->buf.data;
    *len = c->buf.len;
    return ING_OK;
}
