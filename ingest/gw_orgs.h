/*
 * gw_orgs: which organisation (FINESS) a credential belongs to — the table behind gw_auth.
 * Loaded once at start-up from gateway.orgs, read-only afterwards and shared by every I/O
 * thread. Pure: no socket, no TLS session; the caller hashes nothing itself.
 *
 * File format (also in README, "Identity"): one credential per line, `#` comments and blank
 * lines ignored, fields separated by spaces or tabs:
 *
 *   finess <FINESS> api_key_sha256 <64 hex digits: SHA-256 of the API key's characters>
 *   finess <FINESS> cert_sha256    <64 hex digits: SHA-256 of the client certificate's DER>
 *
 * An organisation may have several lines (key rotation, several certificates); the same
 * credential on two lines is refused, as is an invalid FINESS (ing_finess_check) or a hash
 * that is not exactly 64 hex digits. API keys are random 256-bit secrets, so one SHA-256 is
 * the right storage (no slow password hash); the file holds no secret.
 */
#ifndef GW_ORGS_H
#define GW_ORGS_H

#include <stddef.h>
#include <stdint.h>

#include "ing_codec.h"
#include "ing_error.h"
#include "ing_ids.h"

typedef struct gw_orgs gw_orgs_t;

/** The longest API key accepted (the recipe's keys are 64 hex characters). */
#define GW_ORGS_MAX_KEY_LEN 256

/**
 * Parses the text of an orgs file. name prefixes the error messages ("name:line: ...").
 * @returns ING_OK and *out (@owns: gw_orgs_destroy), or ING_ERR_CONFIG / ING_ERR_NOMEM with a
 *          one-line reason in errstr.
 */
ing_err_t gw_orgs_parse(const char *text, size_t len, const char *name, gw_orgs_t **out,
                        char *errstr, size_t errstr_size) ING_MUST_CHECK;

/** Reads and parses the file at path (at most 16 MiB). Same contract as gw_orgs_parse. */
ing_err_t gw_orgs_load(const char *path, gw_orgs_t **out, char *errstr,
                       size_t errstr_size) ING_MUST_CHECK;

void gw_orgs_destroy(gw_orgs_t *orgs);

/** Credentials in the table (lines that are not comments). */
size_t gw_orgs_count(const gw_orgs_t *orgs);

/**
 * The organisation of an API key (the characters after "Bearer "), or NULL when unknown. The
 * key is hashed and compared with every stored key hash in constant time (CRYPTO_memcmp, no
 * early exit). The result is borrowed from the table.
 * @locality any thread.
 */
const char *gw_orgs_by_key(const gw_orgs_t *orgs, const char *key, size_t key_len);

/** The organisation of a client certificate's SHA-256 fingerprint (of its DER), or NULL. */
const char *gw_orgs_by_cert(const gw_orgs_t *orgs, const uint8_t fingerprint[ING_SHA256_LEN]);

#endif
