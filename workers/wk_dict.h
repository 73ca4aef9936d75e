/*
 * wk_dict: per-type zstd dictionaries and their table, zstd_dictionary (migration 003).
 *
 * `ingestctl dict train` trains a dictionary from sample documents of one type code and
 * inserts it sealed with the keyring (a dictionary trained from stored documents holds pieces
 * of them). Each worker thread keeps a wk_dicts_t: the newest dictionary of every type code,
 * loaded at start and refreshed every worker.dict_refresh_s between batches on the thread's
 * own connection. A document compressed with one records its id (document.dict_id); readers
 * fetch it by that id (wk_dict_fetch). A failed refresh keeps the dictionaries in hand:
 * compression without the newest one is still correct, only larger. A dictionary that can
 * never load (sealed with a key this keyring lacks, damaged) is logged once and skipped.
 */
#ifndef WK_DICT_H
#define WK_DICT_H

#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "ing_buf.h"
#include "ing_crypto.h"
#include "ing_error.h"
#include "wk_compress.h"

#define WK_DICT_MAX_BYTES (1 << 20)
#define WK_DICT_TYPE_CODE_MAX 15

typedef struct wk_dicts wk_dicts_t;

/** @param keyring borrowed, outlives the set. @locality the creating thread only. */
ing_err_t wk_dicts_create(const ing_keyring_t *keyring, int level, wk_dicts_t **out) ING_MUST_CHECK;

void wk_dicts_destroy(wk_dicts_t *d);

/**
 * Loads the newest dictionary of every type code whose newest id changed since the last
 * refresh (nothing else is fetched). Must not run inside the batch's transaction.
 * @returns ING_OK (also when some dictionary was unusable: logged, skipped); a retriable error
 *          (database) with errstr, the dictionaries in hand kept.
 */
ing_err_t wk_dicts_refresh(wk_dicts_t *d, PGconn *conn, char *errstr,
                           size_t errstr_size) ING_MUST_CHECK;

/** The dictionary for type_code and its id, or NULL (compress without one; *id = 0). */
const wk_zdict_t *wk_dicts_find(const wk_dicts_t *d, const char *type_code, int32_t *id);

/** How many type codes have a dictionary. */
int wk_dicts_count(const wk_dicts_t *d);

/**
 * Fetches and opens dictionary id; appends its bytes to out, its type code to type_code.
 * @returns ING_OK, ING_ERR_CONFIG (unknown id or key), ING_ERR_RECORD (does not open),
 *          ING_ERR_UNAVAILABLE / ING_ERR_INTERNAL (database) with errstr.
 */
ing_err_t wk_dict_fetch(PGconn *conn, ing_sealer_t *sealer, int32_t id, ing_buf_t *out,
                        char type_code[WK_DICT_TYPE_CODE_MAX + 1], char *errstr,
                        size_t errstr_size) ING_MUST_CHECK;

/**
 * Seals and inserts a dictionary; *id receives its id. Runs in the caller's transaction if one
 * is open.
 */
ing_err_t wk_dict_insert(PGconn *conn, ing_sealer_t *sealer, const char *type_code,
                         const void *dict, size_t len, unsigned samples, int32_t *id, char *errstr,
                         size_t errstr_size) ING_MUST_CHECK;

#endif
