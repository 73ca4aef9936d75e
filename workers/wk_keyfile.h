/*
 * wk_keyfile: writes the keyring file that common/ing_crypto reads (ingestctl keyring init and
 * keyring rotate). Keys never come from anywhere but OpenSSL's RAND_bytes and never leave the
 * file: no key is ever committed, printed or logged, only key ids.
 *
 * A key id is `k-<yyyymmdd>-<4 hex>` (UTC day of creation, random suffix, unique in the file).
 * init creates the file with one active key, mode 0600, and refuses to overwrite an existing
 * file (that would make every stored document unreadable). rotate retires the active key and
 * adds a new active one: the new file is written beside the old one, checked by loading it with
 * ing_keyring_load, then renamed over it, so a crash leaves either the old or the new keyring.
 * Running workers keep the keyring they loaded: restart them after a rotation.
 */
#ifndef WK_KEYFILE_H
#define WK_KEYFILE_H

#include <stddef.h>

#include "ing_crypto.h"
#include "ing_error.h"

/**
 * Creates path with one new active key; new_id receives its id.
 * @returns ING_OK; ING_ERR_CONFIG when the file exists; ING_ERR_IO with the reason in errstr.
 */
ing_err_t wk_keyfile_init(const char *path, char new_id[ING_KEY_ID_MAX + 1], char *errstr,
                          size_t errstr_size) ING_MUST_CHECK;

/**
 * Retires the active key of path and adds a new active one.
 * @returns ING_OK with both ids; ING_ERR_CONFIG (unreadable or invalid keyring, too many keys)
 *          or ING_ERR_IO with the reason in errstr. The file is unchanged on error.
 */
ing_err_t wk_keyfile_rotate(const char *path, char new_id[ING_KEY_ID_MAX + 1],
                            char retired_id[ING_KEY_ID_MAX + 1], char *errstr,
                            size_t errstr_size) ING_MUST_CHECK;

#endif
