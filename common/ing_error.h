/*
 * ing_error: the project's one error enum.
 *
 * Every fallible function in the project returns ing_err_t. The first block are the machine
 * codes of the submission contract (shared/DOMAIN.md) that a sender sees in a problem+json body
 * or a dead-letter header; the second block are operational failures. Foreign codes (librdkafka,
 * SQLSTATE, zstd, OpenSSL) are translated where they enter our code and kept in the log line.
 */
#ifndef ING_ERROR_H
#define ING_ERROR_H

#include <stdbool.h>

#define ING_MUST_CHECK __attribute__((warn_unused_result))

typedef enum ing_err {
    ING_OK = 0,
    /* Contract codes: the sender's input is wrong and retrying the same input cannot help. */
    ING_ERR_INVALID_JSON,
    ING_ERR_MISSING_FIELD,
    ING_ERR_INVALID_FIELD,
    ING_ERR_INS_INVALID,
    ING_ERR_OID_NOT_ALLOWED,
    ING_ERR_FINESS_INVALID,
    ING_ERR_RPPS_INVALID,
    ING_ERR_TYPE_CODE_UNKNOWN,
    ING_ERR_TYPE_CODE_RETIRED,
    ING_ERR_MEDIA_TYPE_NOT_ALLOWED,
    ING_ERR_FORMAT_CODE_MISMATCH,
    ING_ERR_CONTENT_TOO_LARGE,
    ING_ERR_CONTENT_INVALID_BASE64,
    ING_ERR_HASH_MISMATCH,
    ING_ERR_SOURCE_MISMATCH,
    ING_ERR_VERSION_CONFLICT,
    ING_ERR_PATIENT_OPPOSED,
    /* Operational failures. */
    ING_ERR_NOMEM,
    ING_ERR_TOO_BIG,     /* a bounded buffer's cap was reached */
    ING_ERR_IO,          /* a file or socket operation failed */
    ING_ERR_CONFIG,      /* bad configuration: fatal at start-up */
    ING_ERR_RECORD,      /* a Kafka record that is not in our format: permanent */
    ING_ERR_UNAVAILABLE, /* a dependency (broker, database) cannot be reached now */
    ING_ERR_TIMEOUT,
    ING_ERR_INTERNAL,
    ING_ERR_RATE_LIMITED, /* the sender's rate is exceeded: 429, retry later */
    ING_ERR__COUNT
} ing_err_t;

/** Machine name, stable, snake_case (e.g. "ins_invalid"). Never NULL. */
const char *ing_err_name(ing_err_t err);

/** One-line human description. Never NULL. */
const char *ing_err_str(ing_err_t err);

/** True when the same operation may succeed later without any change to its input. */
bool ing_err_is_retriable(ing_err_t err);

/** The HTTP status a gateway answers for this error (400, 403, 409, 413, 422, 503, 500...). */
int ing_err_http_status(ing_err_t err);

/** Looks a machine name up; returns ING_ERR__COUNT when unknown. */
ing_err_t ing_err_from_name(const char *name);

#endif
