/*
 * bt_docs: the documents every benchtool measure uses — the load generator's own generator
 * (lg_gen, same seed, same kinds, same patients), so a figure from ingest-benchtool and one from
 * ingest-loadgen are about the same bytes. Document i is rendered as the JSON envelope a sender
 * posts, parsed and checked exactly as the gateway does (ing_envelope_parse_json), and given the
 * metadata the gateway adds (deterministic submission id, authenticated organisation, receive
 * time), so ing_record_encode of it is the Kafka record the gateway would have produced.
 *
 * Generation is never inside a timed section. One bt_docs_t belongs to one thread.
 */
#ifndef BT_DOCS_H
#define BT_DOCS_H

#include <stddef.h>
#include <stdint.h>

#include "ing_buf.h"
#include "ing_envelope.h"
#include "ing_policy.h"
#include "ing_record.h"

typedef struct bt_docs_conf {
    uint64_t seed;               /* loadgen's `seed` */
    size_t size;                 /* content bytes of each lab report; 0 = loadgen's lab range */
    size_t pool;                 /* distinct generated bodies, cycled (loadgen's `pool`) */
    size_t patients;             /* synthetic INS under the test OID */
    char run_id[9];              /* [0-9a-z]{8}: document ids are LG-<run_id>-<i> */
    const char *type_codes_path; /* config/type_codes.tsv */
} bt_docs_conf_t;

typedef struct bt_docs bt_docs_t;

/** @returns ING_OK and *out (caller destroys), or an error with a reason in errstr. */
ing_err_t bt_docs_create(const bt_docs_conf_t *conf, bt_docs_t **out, char *errstr,
                         size_t errstr_size) ING_MUST_CHECK;
void bt_docs_destroy(bt_docs_t *docs);

/**
 * Renders and parses document i. json receives the envelope (reset first); env is fini'ed and
 * refilled (it owns its decoded content); meta gets the gateway's metadata.
 * @returns ING_OK, or the envelope's problem code (a generator bug) with problem filled.
 */
ing_err_t bt_docs_get(bt_docs_t *docs, uint64_t i, ing_buf_t *json, ing_envelope_t *env,
                      ing_record_meta_t *meta, ing_problem_t *problem) ING_MUST_CHECK;

/** The policy documents are checked with (borrowed: lives as long as docs). */
const ing_policy_t *bt_docs_policy(const bt_docs_t *docs);

/** Makes an 8-character [0-9a-z] run id from a number (the clock, usually). */
void bt_run_id(uint64_t n, char out[9]);

#endif
