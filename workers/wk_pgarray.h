/*
 * wk_pgarray: a one-dimensional PostgreSQL array in the binary wire format (what array_recv
 * reads), built element by element. The store sends each column of a whole batch as one such
 * array parameter, so one statement (`... FROM unnest($1::text[], $2::bytea[], ...)`) reads or
 * writes every row of the batch: PostgreSQL parses, plans and executes once per batch instead
 * of once per document, and the bytes go as they are (no text escaping of bytea).
 *
 * Errors are sticky: an add after a failure does nothing, and wk_pgarray_finish reports the
 * first one (ING_ERR_TOO_BIG past the limit, ING_ERR_NOMEM), so building a column is a plain
 * sequence of adds. Pure: no I/O; caller's storage (init/fini), reused batch after batch.
 */
#ifndef WK_PGARRAY_H
#define WK_PGARRAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ing_buf.h"
#include "ing_error.h"

/* Element type OIDs (pg_type.dat): array_recv refuses an array of another element type. */
#define WK_PG_BOOL 16u
#define WK_PG_BYTEA 17u
#define WK_PG_INT8 20u
#define WK_PG_INT4 23u
#define WK_PG_TEXT 25u

/* The header of a one-dimensional array: ndim, flags, element type, length, lower bound. */
#define WK_PGARRAY_HEADER 20

typedef struct wk_pgarray {
    ing_buf_t buf; /* header, then each element as int32 length (-1: NULL) and its bytes */
    uint32_t elem_oid;
    int32_t count;
    bool has_null;
    ing_err_t err; /* the first failure, sticky until wk_pgarray_start */
} wk_pgarray_t;

/** Caller's storage; allocates nothing. limit caps the encoded size (at most INT32_MAX). */
void wk_pgarray_init(wk_pgarray_t *a, size_t limit);

void wk_pgarray_fini(wk_pgarray_t *a);

/** Starts a new, empty array of elem_oid elements, keeping the allocation. */
void wk_pgarray_start(wk_pgarray_t *a, uint32_t elem_oid);

/** Appends an element of len bytes already in the binary format of the element type;
 * data NULL appends SQL NULL. */
void wk_pgarray_add(wk_pgarray_t *a, const void *data, size_t len);

/** text: the string's bytes without the NUL; NULL appends SQL NULL. */
void wk_pgarray_add_text(wk_pgarray_t *a, const char *s);

/** Optional text: "" (an absent optional field) and NULL append SQL NULL. */
void wk_pgarray_add_opt(wk_pgarray_t *a, const char *s);

void wk_pgarray_add_int4(wk_pgarray_t *a, int32_t v);
void wk_pgarray_add_int8(wk_pgarray_t *a, int64_t v);
void wk_pgarray_add_bool(wk_pgarray_t *a, bool v);

/**
 * Completes the header. On ING_OK *data and *len are the parameter's bytes (send with format
 * 1), valid until the next start or fini. An empty array is encoded with no dimension, as
 * PostgreSQL sends one.
 */
ing_err_t wk_pgarray_finish(wk_pgarray_t *a, const uint8_t **data, size_t *len) ING_MUST_CHECK;

#endif
