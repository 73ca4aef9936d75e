/*
 * ing_json_diff: what the differential test (tests/unit/test_json.c) and the fuzzer
 * (tests/fuzz/fuzz_envelope.c) share when they hold ing_json and the jansson path together:
 * envelope equality, and the one input shape where the two disagree on purpose.
 */
#ifndef ING_JSON_DIFF_H
#define ING_JSON_DIFF_H

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include "ing_envelope.h"

/* A NUL byte right after what can end a number or a literal: jansson silently drops it, the
 * strict ing_json refuses the input (RFC 8259). */
static inline bool json_known_divergence(const void *data, size_t len)
{
    const unsigned char *s = data;
    for (size_t i = 1; i < len; i++)
        if (s[i] == '\0' &&
            ((s[i - 1] >= '0' && s[i - 1] <= '9') || (s[i - 1] >= 'a' && s[i - 1] <= 'z')))
            return true;
    return false;
}

static inline bool json_envs_equal(const ing_envelope_t *a, const ing_envelope_t *b)
{
    return strcmp(a->document_id, b->document_id) == 0 && a->version == b->version &&
           strcmp(a->ins, b->ins) == 0 && strcmp(a->oid, b->oid) == 0 &&
           strcmp(a->finess, b->finess) == 0 && strcmp(a->rpps, b->rpps) == 0 &&
           strcmp(a->type_code, b->type_code) == 0 && strcmp(a->media_type, b->media_type) == 0 &&
           strcmp(a->format_code, b->format_code) == 0 && strcmp(a->title, b->title) == 0 &&
           strcmp(a->created_at, b->created_at) == 0 && a->confidentiality == b->confidentiality &&
           a->hidden_from_patient == b->hidden_from_patient &&
           memcmp(a->sha256, b->sha256, sizeof(a->sha256)) == 0 &&
           a->content_len == b->content_len &&
           (a->content_len == 0 || memcmp(a->content, b->content, a->content_len) == 0);
}

#endif
