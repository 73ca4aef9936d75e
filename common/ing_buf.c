#include "ing_buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void ing_buf_init(ing_buf_t *b, size_t limit)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    b->limit = limit;
}

void ing_buf_fini(ing_buf_t *b)
{
    free(b->data);
    ing_buf_init(b, b->limit);
}

ing_err_t ing_buf_reserve(ing_buf_t *b, size_t n, uint8_t **where)
{
    /* +1 keeps room for the NUL that ing_buf_printf writes. */
    if (n > b->limit - b->len)
        return ING_ERR_TOO_BIG;
    size_t need = b->len + n + 1;
    if (need > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < need)
            cap *= 2;
        if (cap > b->limit + 1)
            cap = b->limit + 1;
        uint8_t *d = realloc(b->data, cap);
        if (!d)
            return ING_ERR_NOMEM;
        b->data = d;
        b->cap = cap;
    }
    *where = b->data + b->len;
    return ING_OK;
}

ing_err_t ing_buf_append(ing_buf_t *b, const void *data, size_t len)
{
    uint8_t *w;
    ing_err_t err = ing_buf_reserve(b, len, &w);
    if (err)
        return err;
    if (len)
        memcpy(w, data, len);
    b->len += len;
    return ING_OK;
}

ing_err_t ing_buf_printf(ing_buf_t *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return ING_ERR_INTERNAL;
    uint8_t *w;
    ing_err_t err = ing_buf_reserve(b, (size_t)n, &w);
    if (err)
        return err;
    va_start(ap, fmt);
    vsnprintf((char *)w, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return ING_OK;
}

void ing_buf_consume(ing_buf_t *b, size_t n)
{
    if (n >= b->len) {
        b->len = 0;
        return;
    }
    memmove(b->data, b->data + n, b->len - n);
    b->len -= n;
}
