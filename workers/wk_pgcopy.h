/*
 * wk_pgcopy: rows in PostgreSQL's binary COPY format (`COPY ... FROM STDIN (FORMAT binary)`),
 * built field by field. The store writes a batch's documents this way: COPY is PostgreSQL's
 * cheapest path for new rows (no statement per row, no array to unpack), and the bytes go as
 * they are.
 *
 * Each field is int32 length (-1: NULL) and its bytes in the binary format of its column's
 * type; each row starts with its int16 field count; the stream starts with the fixed
 * signature, flags and header extension, and ends with int16 -1.
 *
 * Errors are sticky: a call after a failure does nothing, and wk_pgcopy_finish reports the
 * first one (ING_ERR_TOO_BIG past the limit, ING_ERR_NOMEM). Pure: no I/O; caller's storage
 * (init/fini), reused batch after batch.
 */
#ifndef WK_PGCOPY_H
#define WK_PGCOPY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ing_buf.h"
#include "ing_error.h"

/* Microseconds from the Unix epoch to PostgreSQL's (2000-01-01): timestamptz counts from it. */
#define WK_PG_EPOCH_UNIX_US 946684800000000LL

typedef struct wk_pgcopy {
    ing_buf_t buf;
    uint64_t rows;
    ing_err_t err; /* the first failure, sticky until wk_pgcopy_start */
} wk_pgcopy_t;

/** Caller's storage; allocates nothing. limit caps the stream's size. */
void wk_pgcopy_init(wk_pgcopy_t *c, size_t limit);

void wk_pgcopy_fini(wk_pgcopy_t *c);

/** Starts a new stream (its header), keeping the allocation. */
void wk_pgcopy_start(wk_pgcopy_t *c);

/** Starts a row of nfields fields; exactly that many field calls must follow. */
void wk_pgcopy_row(wk_pgcopy_t *c, uint16_t nfields);

/** A field of len bytes already in its type's binary format; data NULL is SQL NULL. */
void wk_pgcopy_field(wk_pgcopy_t *c, const void *data, size_t len);

/** text, varchar, char(n): the string's bytes; NULL is SQL NULL. */
void wk_pgcopy_text(wk_pgcopy_t *c, const char *s);

/** Optional text: "" (an absent optional field) and NULL are SQL NULL. */
void wk_pgcopy_opt(wk_pgcopy_t *c, const char *s);

void wk_pgcopy_int4(wk_pgcopy_t *c, int32_t v);
void wk_pgcopy_int8(wk_pgcopy_t *c, int64_t v);
void wk_pgcopy_bool(wk_pgcopy_t *c, bool v);

/** timestamptz from microseconds since the Unix epoch. */
void wk_pgcopy_timestamptz(wk_pgcopy_t *c, int64_t unix_us);

/** Ends the stream. On ING_OK *data and *len are the whole stream, valid until the next start
 * or fini. */
ing_err_t wk_pgcopy_finish(wk_pgcopy_t *c, const uint8_t **data, size_t *len) ING_MUST_CHECK;

#endif
