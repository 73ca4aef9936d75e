#include "wk_pgarray.h"

#include <string.h>

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

void wk_pgarray_init(wk_pgarray_t *a, size_t limit)
{
    memset(a, 0, sizeof(*a));
    /* libpq takes a parameter's length as an int. */
    ing_buf_init(&a->buf, limit < (size_t)INT32_MAX ? limit : (size_t)INT32_MAX);
}

void wk_pgarray_fini(wk_pgarray_t *a)
{
    ing_buf_fini(&a->buf);
}

void wk_pgarray_start(wk_pgarray_t *a, uint32_t elem_oid)
{
    ing_buf_reset(&a->buf);
    a->elem_oid = elem_oid;
    a->count = 0;
    a->has_null = false;
    /* The header is written by finish, once the count is known. */
    uint8_t *w;
    a->err = ing_buf_reserve(&a->buf, WK_PGARRAY_HEADER, &w);
    if (!a->err)
        ing_buf_commit(&a->buf, WK_PGARRAY_HEADER);
}

void wk_pgarray_add(wk_pgarray_t *a, const void *data, size_t len)
{
    if (a->err)
        return;
    if (a->count == INT32_MAX || (data && len > (size_t)INT32_MAX)) {
        a->err = ING_ERR_TOO_BIG;
        return;
    }
    size_t need = 4 + (data ? len : 0);
    uint8_t *w;
    a->err = ing_buf_reserve(&a->buf, need, &w);
    if (a->err)
        return;
    put32(w, data ? (uint32_t)len : UINT32_MAX); /* -1: NULL */
    if (data && len)
        memcpy(w + 4, data, len);
    ing_buf_commit(&a->buf, need);
    a->count++;
    a->has_null |= data == NULL;
}

void wk_pgarray_add_text(wk_pgarray_t *a, const char *s)
{
    wk_pgarray_add(a, s, s ? strlen(s) : 0);
}

void wk_pgarray_add_opt(wk_pgarray_t *a, const char *s)
{
    wk_pgarray_add_text(a, s && s[0] ? s : NULL);
}

void wk_pgarray_add_int4(wk_pgarray_t *a, int32_t v)
{
    uint8_t b[4];
    put32(b, (uint32_t)v);
    wk_pgarray_add(a, b, sizeof(b));
}

void wk_pgarray_add_int8(wk_pgarray_t *a, int64_t v)
{
    uint8_t b[8];
    put32(b, (uint32_t)((uint64_t)v >> 32));
    put32(b + 4, (uint32_t)v);
    wk_pgarray_add(a, b, sizeof(b));
}

void wk_pgarray_add_bool(wk_pgarray_t *a, bool v)
{
    uint8_t b = v ? 1 : 0;
    wk_pgarray_add(a, &b, 1);
}

ing_err_t wk_pgarray_finish(wk_pgarray_t *a, const uint8_t **data, size_t *len)
{
    if (a->err)
        return a->err;
    uint8_t *h = a->buf.data;
    if (a->count == 0) {
        /* ndim 0, no null, element type: 12 bytes, no dimension. */
        put32(h, 0);
        put32(h + 4, 0);
        put32(h + 8, a->elem_oid);
        *data = h;
        *len = 12;
        return ING_OK;
    }
    put32(h, 1);
    put32(h + 4, a->has_null ? 1 : 0);
    put32(h + 8, a->elem_oid);
    put32(h + 12, (uint32_t)a->count);
    put32(h + 16, 1); /* lower bound */
    *data = h;
    *len = a->buf.len;
    return ING_OK;
}
