/*
 * lg_gen: synthetic submissions for the load generator — the same kinds of documents as
 * bench/samples/ingsamples.py (CDA-like XML lab reports, PDF-like binaries, FHIR JSON
 * bundles), synthetic patients under the test INS OID and the three test FINESS.
 *
 * Generation is out of the timed path: lg_pool_create renders a bounded pool of envelopes
 * from the seed before the run. At send time lg_pool_render copies one and patches a few
 * fixed-width fields: the document id (run id + counter), the patient's INS, and a 27-byte
 * token inside the content (at an offset that is a multiple of 3, so only 36 base64 characters
 * change). The content's SHA-256 is finished from a context precomputed over the content up to
 * the token's 64-byte block, so each send costs a copy and a hash of a few hundred bytes. Every
 * send is therefore a distinct document (distinct sha256 and document id): duplicates are only
 * those the workload asks for, by rendering an earlier (entry, counter) again.
 *
 * The pool is read-only once created and may be shared by every thread.
 */
#ifndef LG_GEN_H
#define LG_GEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ing_buf.h"
#include "ing_codec.h"
#include "ing_error.h"

#define LG_TEST_OID "1.2.250.1.213.1.4.10"
#define LG_RUN_ID_LEN 8
#define LG_DOC_ID_LEN 27 /* "LG-" + run id + "-" + 15 digits */
#define LG_POOL_MAX_ENTRIES 100000
#define LG_PATIENTS_MAX 1000000

typedef enum lg_kind { LG_KIND_LAB, LG_KIND_PDF, LG_KIND_FHIR, LG_KIND__COUNT } lg_kind_t;

/** What a send is meant to test. */
typedef enum lg_variant {
    LG_VARIANT_VALID,
    LG_VARIANT_BAD_INS,  /* INS key off: expect 422 ins_invalid */
    LG_VARIANT_BAD_HASH, /* one hex digit of sha256 changed: expect 422 hash_mismatch */
} lg_variant_t;

/** A small, fast, seedable generator (xoshiro256**, seeded by splitmix64). */
typedef struct lg_rng {
    uint64_t s[4];
} lg_rng_t;

void lg_rng_seed(lg_rng_t *r, uint64_t seed);
uint64_t lg_rng_next(lg_rng_t *r);
/** Uniform in [0, n), n > 0. */
uint64_t lg_rng_below(lg_rng_t *r, uint64_t n);
/** Uniform in [0, 1). */
double lg_rng_double(lg_rng_t *r);
/** A 64-bit mix of x (splitmix64's finaliser), for stateless choices from a counter. */
uint64_t lg_mix64(uint64_t x);

typedef struct lg_gen_conf {
    uint64_t seed;
    double mix[LG_KIND__COUNT];                              /* weights, at least one > 0 */
    size_t size_lo[LG_KIND__COUNT], size_hi[LG_KIND__COUNT]; /* content bytes; 0,0 = default */
    size_t patients;                                         /* synthetic INS, 1..LG_PATIENTS_MAX */
    size_t pool;                                             /* envelopes, 1..LG_POOL_MAX_ENTRIES */
    size_t pool_max_bytes;          /* generation stops early past this (at least one entry) */
    char run_id[LG_RUN_ID_LEN + 1]; /* [0-9a-z]{8}: makes document ids unique across runs */
    int64_t now_wall_us;            /* created_at values are shortly before this */
    const char *finess; /* NULL or "": spread over the test organisations; else one of them */
} lg_gen_conf_t;

/** What one render produced. */
typedef struct lg_doc_info {
    char document_id[LG_DOC_ID_LEN + 1];
    char ins[16];
    char finess[10];
    uint8_t sha256[ING_SHA256_LEN]; /* of the content actually sent (before a bad-hash edit) */
    lg_kind_t kind;
    size_t content_len;
} lg_doc_info_t;

typedef struct lg_pool lg_pool_t;

const char *lg_kind_name(lg_kind_t kind);
/** @returns the kind, or LG_KIND__COUNT when unknown. */
lg_kind_t lg_kind_from_name(const char *name, size_t len);

/** Writes the 2-digit key of a 13-character INS body (2A/2B count as 19/18) and a NUL. */
void lg_ins_key(const char body[13], char key[3]);
/** A synthetic INS like ingsamples.synthetic_ins: 15 characters and a NUL. */
void lg_synthetic_ins(lg_rng_t *r, char out[16]);

/**
 * Generates the pool. @returns ING_OK and *out (caller destroys), or ING_ERR_CONFIG /
 * ING_ERR_NOMEM with a reason in errstr.
 */
ing_err_t lg_pool_create(const lg_gen_conf_t *conf, lg_pool_t **out, char *errstr,
                         size_t errstr_size) ING_MUST_CHECK;
void lg_pool_destroy(lg_pool_t *pool);

size_t lg_pool_count(const lg_pool_t *pool);
/** Envelope bytes held (the pool's memory, roughly). */
size_t lg_pool_bytes(const lg_pool_t *pool);
/** Largest envelope, to size request buffers. */
size_t lg_pool_max_envelope(const lg_pool_t *pool);
lg_kind_t lg_pool_kind(const lg_pool_t *pool, size_t entry);

/**
 * Appends the JSON envelope of pool entry (entry mod count) for document counter `counter`
 * to out. The same (entry, counter, variant) always gives the same bytes.
 * @returns ING_OK, or ING_ERR_TOO_BIG / ING_ERR_NOMEM from out. Thread-safe (pool read-only).
 */
ing_err_t lg_pool_render(const lg_pool_t *pool, size_t entry, uint64_t counter,
                         lg_variant_t variant, ing_buf_t *out, lg_doc_info_t *info) ING_MUST_CHECK;

#endif
