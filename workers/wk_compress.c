#include "wk_compress.h"

#include <stdlib.h>

#include <zstd.h>

#include "ing_log.h"

struct wk_compressor {
    ZSTD_CCtx *cctx;
    int level;
};

ing_err_t wk_compressor_create(int level, wk_compressor_t **out)
{
    wk_compressor_t *c = calloc(1, sizeof(*c));
    if (!c)
        return ING_ERR_NOMEM;
    c->cctx = ZSTD_createCCtx();
    if (!c->cctx) {
        free(c);
        return ING_ERR_NOMEM;
    }
    c->level = level;
    *out = c;
    return ING_OK;
}

void wk_compressor_destroy(wk_compressor_t *c)
{
    if (!c)
        return;
    ZSTD_freeCCtx(c->cctx);
    free(c);
}

ing_err_t wk_compress(wk_compressor_t *c, const void *src, size_t len, ing_buf_t *out)
{
    size_t bound = ZSTD_compressBound(len);
    uint8_t *where;
    ing_err_t err = ing_buf_reserve(out, bound, &where);
    if (err)
        return err;
    size_t n = ZSTD_compressCCtx(c->cctx, where, bound, src, len, c->level);
    if (ZSTD_isError(n)) {
        ing_log(ING_LOG_ERROR, "zstd", "compress: %s", ZSTD_getErrorName(n));
        return ING_ERR_INTERNAL;
    }
    ing_buf_commit(out, n);
    return ING_OK;
}

ing_err_t wk_decompress(const void *src, size_t len, size_t max_len, ing_buf_t *out)
{
    unsigned long long size = ZSTD_getFrameContentSize(src, len);
    if (size == ZSTD_CONTENTSIZE_ERROR || size == ZSTD_CONTENTSIZE_UNKNOWN)
        return ING_ERR_RECORD;
    if (size > max_len)
        return ING_ERR_TOO_BIG;
    uint8_t *where;
    ing_err_t err = ing_buf_reserve(out, (size_t)size + 1, &where);
    if (err)
        return err;
    size_t n = ZSTD_decompress(where, (size_t)size + 1, src, len);
    if (ZSTD_isError(n) || n != size)
        return ING_ERR_RECORD;
    ing_buf_commit(out, n);
    return ING_OK;
}
