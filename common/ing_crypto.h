/*
 * ing_crypto: encryption at rest of stored documents — AES-256-GCM (OpenSSL EVP) with keys
 * from a keyring file kept outside the database.
 *
 * Keyring file: one key per line, `key_id <TAB> 64 hex digits <TAB> active|retired`, `#`
 * comments. Exactly one key is active: new documents are sealed with it. Retired keys stay to
 * open older documents, whose key id is stored beside them. The file must not be readable by
 * group or others (refused otherwise): whoever steals the database does not get the keys.
 *
 * Each document gets a fresh random 96-bit nonce; the additional authenticated data binds the
 * ciphertext to its patient and document, so a row copied into another patient's space or
 * under another document id does not open.
 *
 * A keyring is read-only after loading and may be shared by threads; an ing_sealer_t (the
 * reusable cipher context, the active key's schedule and a small pool of random nonces)
 * belongs to one thread, and to one process: a forked child must create its own.
 */
#ifndef ING_CRYPTO_H
#define ING_CRYPTO_H

#include <stddef.h>
#include <stdint.h>

#include "ing_buf.h"
#include "ing_error.h"

#define ING_GCM_NONCE_LEN 12
#define ING_GCM_TAG_LEN 16
#define ING_KEY_ID_MAX 32

typedef struct ing_keyring ing_keyring_t;
typedef struct ing_sealer ing_sealer_t;

/** @returns ING_OK and *out (caller destroys), or ING_ERR_CONFIG/IO with errstr filled. */
ing_err_t ing_keyring_load(const char *path, ing_keyring_t **out, char *errstr,
                           size_t errstr_size) ING_MUST_CHECK;
void ing_keyring_destroy(ing_keyring_t *keyring);

/** The id of the key new documents are sealed with. */
const char *ing_keyring_active_id(const ing_keyring_t *keyring);

/** @param keyring borrowed; must outlive the sealer. */
ing_err_t ing_sealer_create(const ing_keyring_t *keyring, ing_sealer_t **out) ING_MUST_CHECK;
void ing_sealer_destroy(ing_sealer_t *sealer);

/**
 * Encrypts plain with the active key and a fresh random nonce; appends ciphertext then tag
 * (len + ING_GCM_TAG_LEN bytes) to out. *key_id points into the keyring.
 */
ing_err_t ing_seal(ing_sealer_t *sealer, const void *aad, size_t aad_len, const void *plain,
                   size_t len, uint8_t nonce[ING_GCM_NONCE_LEN], const char **key_id,
                   ing_buf_t *out) ING_MUST_CHECK;

/**
 * Decrypts ciphertext||tag sealed with key_id; appends the plaintext to out.
 * @returns ING_OK, ING_ERR_CONFIG for an unknown key id, ING_ERR_RECORD when the tag does not
 *          verify (wrong key, wrong AAD, damaged bytes).
 */
ing_err_t ing_open(ing_sealer_t *sealer, const char *key_id, const uint8_t nonce[ING_GCM_NONCE_LEN],
                   const void *aad, size_t aad_len, const void *sealed, size_t sealed_len,
                   ing_buf_t *out) ING_MUST_CHECK;

/**
 * The additional authenticated data of a stored document: patient and document identity.
 * Writes at most out_size bytes; returns the length.
 */
size_t ing_document_aad(const char *ins, const char *source_finess, const char *document_id,
                        uint32_t version, uint8_t *out, size_t out_size);

#endif
