/*
 * wk_document: reading stored documents back — the reverse of the worker's write path: open
 * (AES-256-GCM, additional data binding patient and document), decompress (with the
 * dictionary the row names), check the SHA-256. Used by `ingestctl document show` (one
 * document, audited) and `ingestctl dict train --from-db` (samples). Runs on the operator's
 * command line with one short-lived connection; never in the workers.
 */
#ifndef WK_DOCUMENT_H
#define WK_DOCUMENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <libpq-fe.h>

#include "ing_buf.h"
#include "ing_crypto.h"
#include "ing_error.h"

typedef struct wk_doc_reader wk_doc_reader_t;

/** @param conn, keyring borrowed; they outlive the reader. */
ing_err_t wk_doc_reader_create(PGconn *conn, const ing_keyring_t *keyring,
                               wk_doc_reader_t **out) ING_MUST_CHECK;

void wk_doc_reader_destroy(wk_doc_reader_t *r);

/**
 * Reads document row id: appends its plaintext to out (bounded by out's limit) after checking
 * its SHA-256.
 * @returns ING_OK; ING_ERR_CONFIG (no such row, key not in the keyring), ING_ERR_RECORD (does
 *          not open, bad frame), ING_ERR_HASH_MISMATCH, database errors — reason in errstr.
 */
ing_err_t wk_doc_read(wk_doc_reader_t *r, int64_t id, ing_buf_t *out, char *errstr,
                      size_t errstr_size) ING_MUST_CHECK;

/**
 * ingestctl document show: finds the document of submission_id, writes the audit row
 * (document_show, actor) first, then reads it, prints its metadata to meta (never the content)
 * and, when out_path is set, writes the content to that new file (mode 0600, never
 * overwritten).
 * @returns ING_OK; ING_ERR_CONFIG for an unknown submission or one without a document;
 *          otherwise as wk_doc_read, or ING_ERR_IO for the output file.
 */
ing_err_t wk_document_show(const char *db_url, const ing_keyring_t *keyring,
                           const char *submission_id, const char *out_path, const char *actor,
                           FILE *meta, char *errstr, size_t errstr_size) ING_MUST_CHECK;

/** Connects with the operator-tool defaults. @returns NULL with errstr on failure. */
PGconn *wk_document_connect(const char *db_url, char *errstr, size_t errstr_size);

#endif
