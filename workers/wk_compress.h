/*
 * wk_compress: zstd compression of stored content. One compressor per worker thread, reused
 * for every document (a ZSTD_CCtx keeps its tables between frames). Frames carry their
 * content size, so the reader needs nothing else — except, for a frame compressed with a
 * dictionary, that dictionary: the stored document's dict_id says which one (see wk_dict).
 *
 * A wk_zdict_t is one trained dictionary digested for both directions (ZSTD_CDict at the
 * compressor's level, ZSTD_DDict). It is read-only once created; the worker keeps one set per
 * thread (wk_dict), so no locking is needed.
 */
#ifndef WK_COMPRESS_H
#define WK_COMPRESS_H

#include <stddef.h>

#include "ing_buf.h"
#include "ing_error.h"

typedef struct wk_compressor wk_compressor_t;
typedef struct wk_zdict wk_zdict_t;

/** @returns ING_OK and *out (caller destroys), or ING_ERR_NOMEM. */
ing_err_t wk_compressor_create(int level, wk_compressor_t **out) ING_MUST_CHECK;

void wk_compressor_destroy(wk_compressor_t *c);

/**
 * Digests a dictionary (the bytes are copied) for compression at level and for decompression.
 * @returns ING_OK and *out (caller destroys), ING_ERR_RECORD when zstd refuses the bytes.
 */
ing_err_t wk_zdict_create(const void *dict, size_t len, int level, wk_zdict_t **out) ING_MUST_CHECK;

void wk_zdict_destroy(wk_zdict_t *d);

/** Appends one zstd frame of src to out (bounded by out's limit: ING_ERR_TOO_BIG). dict may be
 * NULL (no dictionary). */
ing_err_t wk_compress(wk_compressor_t *c, const wk_zdict_t *dict, const void *src, size_t len,
                      ing_buf_t *out) ING_MUST_CHECK;

/**
 * Decompresses one frame into out (appended), refusing a frame whose declared size exceeds
 * max_len. dict: the dictionary the frame was compressed with, or NULL.
 * @returns ING_OK, ING_ERR_TOO_BIG, or ING_ERR_RECORD for a corrupt frame or the wrong
 *          dictionary.
 */
ing_err_t wk_decompress(const wk_zdict_t *dict, const void *src, size_t len, size_t max_len,
                        ing_buf_t *out) ING_MUST_CHECK;

/**
 * Trains a dictionary of at most capacity bytes from samples (concatenated in samples, sizes
 * in sizes[0..n-1]) with ZDICT_trainFromBuffer; appends it to out.
 * @returns ING_OK, or ING_ERR_RECORD with zdict's reason in errstr (too few or too small
 *          samples, typically).
 */
ing_err_t wk_zdict_train(const void *samples, const size_t *sizes, unsigned n, size_t capacity,
                         ing_buf_t *out, char *errstr, size_t errstr_size) ING_MUST_CHECK;

#endif
