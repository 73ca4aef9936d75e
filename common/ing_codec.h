/*
 * ing_codec: the byte encodings the envelope uses (strict standard base64, lowercase hex) and
 * SHA-256. Pure functions: the caller owns every buffer.
 */
#ifndef ING_CODEC_H
#define ING_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ing_error.h"

#define ING_SHA256_LEN 32
#define ING_SHA256_HEX_LEN 64

/** Upper bound of the decoded size of len base64 characters. */
static inline size_t ing_base64_decoded_max(size_t len)
{
    return len / 4 * 3;
}

/**
 * Decodes standard base64 (RFC 4648 section 4, '=' padding required, no line breaks or
 * whitespace). out must hold ing_base64_decoded_max(len) bytes.
 * @returns ING_OK with *out_len set, or ING_ERR_CONTENT_INVALID_BASE64.
 */
ing_err_t ing_base64_decode(const char *in, size_t len, uint8_t *out,
                            size_t *out_len) ING_MUST_CHECK;

/** Size of the base64 text for len bytes, without a terminating NUL. */
static inline size_t ing_base64_encoded_len(size_t len)
{
    return (len + 2) / 3 * 4;
}

/** Encodes len bytes; out must hold ing_base64_encoded_len(len) + 1 bytes (NUL-terminated). */
void ing_base64_encode(const uint8_t *in, size_t len, char *out);

/** Writes 2*len lowercase hex digits and a NUL into out. */
void ing_hex_encode(const uint8_t *in, size_t len, char *out);

/** Decodes exactly 2*out_len lowercase hex digits. @returns false on any other input. */
bool ing_hex_decode_lower(const char *in, size_t in_len, uint8_t *out, size_t out_len);

/** The most digits ing_decimal_u64 writes (UINT64_MAX has 20). */
#define ING_DECIMAL_U64_MAX 20

/** Writes v in decimal at out (no sign, no NUL; at most ING_DECIMAL_U64_MAX bytes) and returns
 * the count: the hot paths' numbers without printf's format parsing. */
size_t ing_decimal_u64(uint64_t v, char *out);

/** SHA-256 of len bytes into out[32]. */
void ing_sha256(const void *data, size_t len, uint8_t out[ING_SHA256_LEN]);

/**
 * SHA-256 with OpenSSL's implementation fetched once. ing_sha256 (SHA256()) fetches it again on
 * every call, a lookup under a lock that cost 0.6 µs: more than hashing a submission id, a
 * tenth of hashing an 8 KB document. Created once per process, read-only after, so threads
 * share one.
 */
typedef struct ing_digest ing_digest_t;

/** @returns ING_OK and *out (caller destroys), or ING_ERR_INTERNAL. */
ing_err_t ing_digest_create(ing_digest_t **out) ING_MUST_CHECK;
void ing_digest_destroy(ing_digest_t *digest);

/** SHA-256 of len bytes into out[32], on any thread. digest NULL: ing_sha256. */
void ing_digest_sha256(const ing_digest_t *digest, const void *data, size_t len,
                       uint8_t out[ING_SHA256_LEN]);

#endif
