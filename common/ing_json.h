/*
 * ing_json: a strict, single-pass, allocation-light JSON reader made for the submission envelope
 * (shared/DOMAIN.md). It replaces jansson on the gateway's hot path: the envelope's fields are
 * decoded straight into an ing_envelope_t and the big base64 `content` string is found with a
 * 16-bytes-at-a-time scan and decoded straight from the request bytes, without a tree or a copy.
 *
 * The verdicts are exactly those of the jansson path it replaces (json_loadb with
 * JSON_REJECT_DUPLICATES, then field extraction): same machine code, same field, for every input.
 * That includes jansson's limits: nesting deeper than 2048 values, integers outside int64 and
 * reals that overflow a double are invalid JSON; `\u0000`, unpaired surrogates, invalid UTF-8
 * (anywhere, also in skipped strings and keys) and duplicate keys (at any depth) too. A syntax
 * error anywhere wins over a field error, as it did when jansson parsed the whole text first.
 * tests/unit/test_json.c and tests/fuzz/fuzz_envelope.c hold the two implementations together.
 *
 * Pure functions over bytes: no I/O, no globals; memory is allocated only for the decoded
 * content and, on rare inputs (unknown keys, escapes in keys), for duplicate-key bookkeeping.
 * Any thread.
 */
#ifndef ING_JSON_H
#define ING_JSON_H

#include <stdbool.h>
#include <stddef.h>

#include "ing_envelope.h"

/** jansson's JSON_PARSER_MAX_DEPTH: a value nested deeper is invalid JSON. */
#define ING_JSON_MAX_DEPTH 2048

/** A byte range of the caller's input. */
typedef struct ing_json_slice {
    const char *ptr;
    size_t len;
} ing_json_slice_t;

/**
 * The structural half of ing_envelope_parse_json: JSON text -> envelope fields, without
 * ing_envelope_validate. env must be init'ed.
 * @returns ING_OK, or invalid_json / missing_field / invalid_field / content_too_large /
 *          content_invalid_base64 / nomem with *problem filled. On failure the envelope's
 *          fields are unspecified (bounded and NUL-terminated) and content_owned may be set:
 *          ing_envelope_fini frees it.
 */
ing_err_t ing_json_envelope(const ing_policy_t *policy, const char *json, size_t len,
                            ing_envelope_t *env, ing_problem_t *problem) ING_MUST_CHECK;

/**
 * Checks a whole JSON text as json_loadb(JSON_REJECT_DUPLICATES) would: the top level is an
 * object or an array, followed by nothing but whitespace.
 * @returns ING_OK or ING_ERR_INVALID_JSON (field "", detail "invalid JSON at line L column C:
 *          ..."), or ING_ERR_NOMEM.
 */
ing_err_t ing_json_check(const char *json, size_t len, ing_problem_t *problem) ING_MUST_CHECK;

/**
 * Iterates over the elements of a top-level JSON array (a batch body) without building a tree.
 * ing_json_array_open checks the whole text first (one pass, as jansson did before a batch was
 * looked at) and counts the elements; ing_json_array_next then yields each element's bytes, on
 * which ing_envelope_parse_json gives the verdict ing_envelope_from_jansson gave on the element.
 * Plain value type, caller's storage; it borrows the text.
 */
typedef struct ing_json_array {
    const char *json;
    size_t len;
    size_t pos;
    size_t left; /* elements not yet yielded */
} ing_json_array_t;

/**
 * @returns ING_OK with *count set, or ING_ERR_INVALID_JSON (also when the text is valid JSON
 *          but not an array: "a batch is a JSON array"), or ING_ERR_NOMEM.
 */
ing_err_t ing_json_array_open(ing_json_array_t *it, const char *json, size_t len, size_t *count,
                              ing_problem_t *problem) ING_MUST_CHECK;

/** The next element (leading/trailing whitespace excluded); false after the last one. */
bool ing_json_array_next(ing_json_array_t *it, ing_json_slice_t *element);

/**
 * Strict standard base64 (the semantics of ing_base64_decode), table-driven and faster; out must
 * hold ing_base64_decoded_max(len) bytes. Exposed for the differential tests.
 */
ing_err_t ing_json_base64_decode(const char *in, size_t len, uint8_t *out,
                                 size_t *out_len) ING_MUST_CHECK;

#endif
