/*
 * ing_policy: what this deployment accepts — the INS identifier systems (OIDs), the document
 * type codes with their validity dates (a data file in config/, not code), the media types with
 * their format codes, and the maximum document size. Built once at start-up, read-only after,
 * so every thread may share one policy without locks.
 */
#ifndef ING_POLICY_H
#define ING_POLICY_H

#include <stddef.h>
#include <stdint.h>

#include "ing_codec.h"
#include "ing_error.h"

typedef struct ing_policy ing_policy_t;

typedef struct ing_policy_conf {
    const char *type_codes_path; /* TSV: code, valid_from, valid_to ("-" = open), meaning */
    const char *allowed_oids;    /* comma-separated, e.g. "1.2.250.1.213.1.4.10" */
    size_t max_content_bytes;    /* decoded size limit */
} ing_policy_conf_t;

/**
 * Loads the policy. On failure writes a one-line reason into errstr.
 * @returns ING_OK and *out (caller destroys), or ING_ERR_CONFIG / ING_ERR_IO / ING_ERR_NOMEM.
 */
ing_err_t ing_policy_create(const ing_policy_conf_t *conf, ing_policy_t **out, char *errstr,
                            size_t errstr_size) ING_MUST_CHECK;

void ing_policy_destroy(ing_policy_t *policy);

/** The SHA-256 the checks use (the content's hash, the submission id), fetched once with the
 * policy. @borrows: lives as long as the policy. */
const ing_digest_t *ing_policy_digest(const ing_policy_t *policy);

ing_err_t ing_policy_check_oid(const ing_policy_t *policy, const char *oid) ING_MUST_CHECK;

/**
 * @param day the submission day as YYYYMMDD: a code past its valid_to is retired, one not yet
 *            valid is unknown.
 */
ing_err_t ing_policy_check_type_code(const ing_policy_t *policy, const char *code,
                                     int day) ING_MUST_CHECK;

/** media_type must be accepted; format_code, when not empty, must be the media type's. */
ing_err_t ing_policy_check_media(const char *media_type, const char *format_code) ING_MUST_CHECK;

size_t ing_policy_max_content(const ing_policy_t *policy);

/** YYYYMMDD (UTC) of a wall-clock time in microseconds. */
int ing_policy_day(int64_t wall_us);

#endif
