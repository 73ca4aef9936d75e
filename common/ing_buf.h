/*
 * ing_buf: a growable byte buffer with a hard cap (curl's dynbuf). Going over the cap is
 * ING_ERR_TOO_BIG, which callers turn into an answer the client sees (413), never into an
 * out-of-memory. Not thread-safe: a buffer belongs to one thread.
 */
#ifndef ING_BUF_H
#define ING_BUF_H

#include <stddef.h>
#include <stdint.h>

#include "ing_error.h"

typedef struct ing_buf {
    uint8_t *data; /* @owns; NULL until the first append */
    size_t len;
    size_t cap;   /* allocated */
    size_t limit; /* hard cap on len */
} ing_buf_t;

/** Initialises caller-owned storage; allocates nothing. */
void ing_buf_init(ing_buf_t *b, size_t limit);

/** Frees the data; the buffer may be init'ed again. */
void ing_buf_fini(ing_buf_t *b);

/** Forgets the contents and keeps the allocation for reuse. */
static inline void ing_buf_reset(ing_buf_t *b)
{
    b->len = 0;
}

ing_err_t ing_buf_append(ing_buf_t *b, const void *data, size_t len) ING_MUST_CHECK;

/** printf-style append; the text is not NUL-terminated in len but a NUL follows in memory. */
ing_err_t ing_buf_printf(ing_buf_t *b, const char *fmt, ...) ING_MUST_CHECK
    __attribute__((format(printf, 2, 3)));

/** Makes room for n more bytes and returns where they go (commit with ing_buf_commit). */
ing_err_t ing_buf_reserve(ing_buf_t *b, size_t n, uint8_t **where) ING_MUST_CHECK;

static inline void ing_buf_commit(ing_buf_t *b, size_t n)
{
    b->len += n;
}

/** Drops the first n bytes (consumed input). */
void ing_buf_consume(ing_buf_t *b, size_t n);

#endif
