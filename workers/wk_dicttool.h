/*
 * wk_dicttool: the operators' side of zstd dictionaries — `ingestctl dict train` (samples from
 * a folder of files or from the newest stored documents of the type code, ZDICT training,
 * sealed insert into zstd_dictionary, audited when documents were read) and `ingestctl dict
 * bench` (ratio and speed with and without a dictionary, no database). Runs on the operator's
 * command line, single-threaded.
 */
#ifndef WK_DICTTOOL_H
#define WK_DICTTOOL_H

#include <stddef.h>
#include <stdio.h>

#include "ing_crypto.h"
#include "ing_error.h"

#define WK_DICT_DEFAULT_BYTES (110 * 1024) /* zstd's own default dictionary size (112640) */

typedef struct wk_dict_train_req {
    const char *db_url;
    const ing_keyring_t *keyring;
    const char *type_code;
    const char *from_dir; /* one sample per regular file; or NULL */
    long from_db;         /* else: the newest N stored documents of the type code */
    size_t capacity;      /* largest dictionary, bytes */
    int level;            /* to check the dictionary digests */
    const char *actor;    /* audit */
} wk_dict_train_req_t;

/** Trains and stores; prints the new dictionary's id, size and sample count to report. */
ing_err_t wk_dicttool_train(const wk_dict_train_req_t *req, FILE *report, char *errstr,
                            size_t errstr_size) ING_MUST_CHECK;

/**
 * Trains on train_dir's files, then compresses and decompresses every file of test_dir with
 * and without the dictionary at level; prints ratio and MB/s of both to out.
 */
ing_err_t wk_dicttool_bench(const char *train_dir, const char *test_dir, int level, size_t capacity,
                            FILE *out, char *errstr, size_t errstr_size) ING_MUST_CHECK;

#endif
