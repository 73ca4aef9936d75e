/*
 * bt_copy: PostgreSQL's fastest path for the rows the workers write — `COPY ... FROM STDIN
 * (FORMAT binary)` of already-compressed documents into bench_copy, a copy of the document
 * table with its indexes and constraints (`LIKE document INCLUDING ALL`), logged like the real
 * one. The reference the `storage` ratio divides by.
 *
 * Only the COPY (send, end, result = one committed transaction) is timed; compression and
 * rendering the binary stream happen before. The CPU of every `postgres` process is read from
 * /proc around the same section.
 */
#ifndef BT_COPY_H
#define BT_COPY_H

#include <stdint.h>

#include "bt_docs.h"

typedef struct bt_copy_result {
    uint64_t rows;
    uint64_t content_bytes;    /* decoded documents */
    uint64_t compressed_bytes; /* what the content column holds */
    uint64_t stream_bytes;     /* the binary COPY stream */
    double seconds;            /* COPY only */
    double pg_cpu_seconds;     /* all postgres processes, same section */
} bt_copy_result_t;

/**
 * dict (may be NULL): a zstd dictionary every row is compressed with, as a worker does with
 * its type code's trained dictionary (borrowed for the call).
 */
ing_err_t bt_copy_rows(bt_docs_t *docs, const char *pg_url, uint64_t count, int zstd_level,
                       const ing_buf_t *dict, bt_copy_result_t *res, char *errstr,
                       size_t errstr_size) ING_MUST_CHECK;

/**
 * Trains a zstd dictionary of at most capacity bytes into out (reset first) from the contents
 * of documents 0 .. samples-1 of docs, in that order: the same training as `ingestctl dict
 * train --from-dir` over the files `ingest-benchtool samples` wrote from the same documents,
 * so both get the same dictionary.
 */
ing_err_t bt_copy_train_dict(bt_docs_t *docs, uint64_t samples, size_t capacity, ing_buf_t *out,
                             char *errstr, size_t errstr_size) ING_MUST_CHECK;

/** CPU seconds (user + system) of every process whose command name is comm, from /proc. */
double bt_cpu_seconds_of(const char *comm);

#endif
