/*
 * wk_compress: zstd compression of stored content. One compressor per worker thread, reused
 * for every document (a ZSTD_CCtx keeps its tables between frames). Frames carry their
 * content size, so the reader needs nothing else. Per-type dictionaries (issue 4) will plug in
 * here: the stored dict_id says which one a frame needs.
 */
#ifndef WK_COMPRESS_H
#define WK_COMPRESS_H

#include <stddef.h>

#include "ing_buf.h"
#include "ing_error.h"

typedef struct wk_compressor wk_compressor_t;

/** @returns ING_OK and *out (caller destroys), or ING_ERR_NOMEM. */
ing_err_t wk_compressor_create(int level, wk_compressor_t **out) ING_MUST_CHECK;

void wk_compressor_destroy(wk_compressor_t *c);

/** Appends one zstd frame of src to out (bounded by out's limit: ING_ERR_TOO_BIG). */
ing_err_t wk_compress(wk_compressor_t *c, const void *src, size_t len,
                      ing_buf_t *out) ING_MUST_CHECK;

/**
 * Decompresses one frame into out (appended), refusing a frame whose declared size exceeds
 * max_len. @returns ING_OK, ING_ERR_TOO_BIG, or ING_ERR_RECORD for a corrupt frame.
 */
ing_err_t wk_decompress(const void *src, size_t len, size_t max_len, ing_buf_t *out) ING_MUST_CHECK;

#endif
