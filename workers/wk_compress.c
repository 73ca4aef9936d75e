#include "wk_compress.h"

#include <stdio.h>
#include <stdlib.h>

#include <zdict.h>
#include <zstd.h>

#include "ing_log.h"

struct wk_compressor {
    ZSTD_CCtx *cctx;
    int level;
};

struct wk_zdict {
    ZSTD_CDict *cdict;
    ZSTD_DDict *ddict;
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

ing_err_t wk_zdict_create(const void *dict, size_t len, int level, wk_zdict_t **out)
{
    /* A raw-content "dictionary" would be accepted by zstd; ours are always trained ones. */
    if (ZDICT_getDictID(dict, len) == 0)
        return ING_ERR_RECORD;
    wk_zdict_t *d = calloc(1, sizeof(*d));
    if (!d)
        return ING_ERR_NOMEM;
    d->cdict = ZSTD_createCDict(dict, len, level);
    d->ddict = ZSTD_createDDict(dict, len);
    if (!d->cdict || !d->ddict) {
        wk_zdict_destroy(d);
        return ING_ERR_RECORD;
    }
    *out = d;
    return ING_OK;
}

void wk_zdict_destroy(wk_zdict_t *d)
{
    if (!d)
        return;
    ZSTD_freeCDict(d->cdict);
    ZSTD_freeDDict(d->ddict);
    free(d);
}

ing_err_t wk_compress(wk_compressor_t *c, const wk_zdict_t *dict, const void *src, size_t len,
                      ing_buf_t *out)
{
    size_t bound = ZSTD_compressBound(len);
    uint8_t *where;
    ing_err_t err = ing_buf_reserve(out, bound, &where);
    if (err)
        return err;
    size_t n = dict ? ZSTD_compress_usingCDict(c->cctx, where, bound, src, len, dict->cdict)
                    : ZSTD_compressCCtx(c->cctx, where, bound, src, len, c->level);
    if (ZSTD_isError(n)) {
        ing_log(ING_LOG_ERROR, "zstd", "compress: %s", ZSTD_getErrorName(n));
        return ING_ERR_INTERNAL;
    }
    ing_buf_commit(out, n);
    return ING_OK;
}

ing_err_t wk_decompress(const wk_zdict_t *dict, const void *src, size_t len, size_t max_len,
                        ing_buf_t *out)
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
    size_t n;
    if (dict) {
        ZSTD_DCtx *dctx = ZSTD_createDCtx();
        if (!dctx)
            return ING_ERR_NOMEM;
        n = ZSTD_decompress_usingDDict(dctx, where, (size_t)size + 1, src, len, dict->ddict);
        ZSTD_freeDCtx(dctx);
    } else {
        n = ZSTD_decompress(where, (size_t)size + 1, src, len);
    }
    if (ZSTD_isError(n) || n != size)
        return ING_ERR_RECORD;
    ing_buf_commit(out, n);
    return ING_OK;
}

ing_err_t wk_zdict_train(const void *samples, const size_t *sizes, unsigned n, size_t capacity,
                         ing_buf_t *out, char *errstr, size_t errstr_size)
{
    uint8_t *where;
    ing_err_t err = ing_buf_reserve(out, capacity, &where);
    if (err)
        return err;
    size_t got = ZDICT_trainFromBuffer(where, capacity, samples, sizes, n);
    if (ZDICT_isError(got)) {
        snprintf(errstr, errstr_size, "zstd dictionary training failed: %s (%u samples)",
                 ZDICT_getErrorName(got), n);
        return ING_ERR_RECORD;
    }
    ing_buf_commit(out, got);
    return ING_OK;
}
