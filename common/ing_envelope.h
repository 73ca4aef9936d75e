/*
 * ing_envelope: the submission envelope of shared/DOMAIN.md — parsing it from JSON and checking
 * everything that needs no database. The gateway runs it on every HTTP body and the worker runs
 * ing_envelope_validate again on every Kafka record (Kafka data is untrusted).
 *
 * Pure with respect to I/O: bytes and a policy in, a verdict and a problem (code, field, detail)
 * out, so it is fuzzable and table-testable without sockets.
 */
#ifndef ING_ENVELOPE_H
#define ING_ENVELOPE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ing_codec.h"
#include "ing_error.h"
#include "ing_ids.h"
#include "ing_policy.h"

#define ING_DOCUMENT_ID_MAX 128
#define ING_TITLE_MAX_CHARS 256
#define ING_SUBMISSION_ID_LEN 32

/** What was wrong with a submission, as a sender sees it in problem+json. */
typedef struct ing_problem {
    ing_err_t code;
    char field[48];   /* JSON path of the offending field, e.g. "patient.ins"; "" for the body */
    char detail[192]; /* one human sentence */
} ing_problem_t;

/** A parsed envelope. Plain value type: fixed, bounded fields plus the content bytes. */
typedef struct ing_envelope {
    char document_id[ING_DOCUMENT_ID_MAX + 1];
    uint32_t version;
    char ins[ING_INS_LEN + 1];
    char oid[64];
    char finess[ING_FINESS_LEN + 1];
    char rpps[ING_RPPS_LEN + 1]; /* "" when there is no author */
    char type_code[16];
    char media_type[64];
    char format_code[64]; /* "" when not given */
    char title[ING_TITLE_MAX_CHARS * 4 + 1];
    char created_at[40];
    char confidentiality; /* 'N', 'R' or 'V' */
    bool hidden_from_patient;
    uint8_t sha256[ING_SHA256_LEN];
    const uint8_t *content; /* decoded document bytes: content_owned, or borrowed (records) */
    size_t content_len;
    uint8_t *content_owned; /* @owns when not NULL; freed by ing_envelope_fini */
} ing_envelope_t;

void ing_envelope_init(ing_envelope_t *env);

/** Frees what the envelope owns; it may be init'ed and reused. */
void ing_envelope_fini(ing_envelope_t *env);

/**
 * Parses one JSON envelope (duplicate keys, unknown fields, wrong types, invalid UTF-8 refused)
 * with ing_json (one pass, no tree; the content is decoded straight from the request bytes)
 * and runs ing_envelope_validate on it.
 * @param now_us wall-clock time of the submission (type code validity).
 * @returns ING_OK, or the contract code with *problem filled. On success env owns the decoded
 *          content; on failure env holds nothing that needs freeing beyond ing_envelope_fini.
 */
ing_err_t ing_envelope_parse_json(const ing_policy_t *policy, const char *json, size_t len,
                                  int64_t now_us, ing_envelope_t *env,
                                  ing_problem_t *problem) ING_MUST_CHECK;

/**
 * The jansson-based parser that ing_envelope_parse_json used until ing_json replaced it: the
 * reference the differential test (tests/unit/test_json.c), the fuzzer and the benchmark compare
 * the new parser with. Same contract; slower (it builds a tree and copies the content twice).
 */
ing_err_t ing_envelope_parse_json_jansson(const ing_policy_t *policy, const char *json, size_t len,
                                          int64_t now_us, ing_envelope_t *env,
                                          ing_problem_t *problem) ING_MUST_CHECK;

/**
 * Same, from an already parsed jansson object (one item of a batch). The json_t is borrowed;
 * declared as void * so that this header does not pull jansson into every includer.
 */
ing_err_t ing_envelope_from_jansson(const ing_policy_t *policy, const void *json_object,
                                    int64_t now_us, ing_envelope_t *env,
                                    ing_problem_t *problem) ING_MUST_CHECK;

/**
 * Every check of an envelope that needs no database: identifiers and their keys, OID
 * allow-list, type code and its validity on the submission day, media type and format code,
 * field formats, size, and the SHA-256 of the content.
 */
ing_err_t ing_envelope_validate(const ing_policy_t *policy, const ing_envelope_t *env,
                                int64_t now_us, ing_problem_t *problem) ING_MUST_CHECK;

/**
 * The deterministic submission id: the same organisation sending the same (document_id,
 * version, sha256) gets the same id, so a retried request is harmless. 32 lowercase hex digits.
 * @param digest the policy's (ing_policy_digest), or NULL (tests, tools: ing_sha256).
 */
void ing_submission_id(const ing_digest_t *digest, const char *org_finess, const char *document_id,
                       uint32_t version, const uint8_t sha256[ING_SHA256_LEN],
                       char out[ING_SUBMISSION_ID_LEN + 1]);

/** Fills a problem; returns its code so that callers can `return ing_problem_set(...)`. */
ing_err_t ing_problem_set(ing_problem_t *problem, ing_err_t code, const char *field,
                          const char *fmt, ...) __attribute__((format(printf, 4, 5)));

#endif
