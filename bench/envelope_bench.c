/*
 * ingest-envelope-bench: the cost of ing_envelope_parse_json per envelope, ing_json against the
 * jansson path it replaced, for envelopes of 2 KB, 8 KB, 30 KB and 500 KB (a valid lab report
 * whose content is random bytes). Also the parts of the new path: the JSON reading alone
 * (ing_json_envelope) and the SHA-256 of the content that ing_envelope_validate computes.
 *
 * Usage: ingest-envelope-bench [seconds per measurement, default 0.3]
 * Single thread; each figure is the best of 5 rounds (least disturbed by other load).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ing_codec.h"
#include "ing_envelope.h"
#include "ing_json.h"
#include "ing_policy.h"
#include "ing_time.h"

typedef enum { RUN_JANSSON, RUN_ING_JSON, RUN_READ_ONLY, RUN_SHA256 } run_t;

static char *make_envelope(size_t target, size_t *len, size_t *content_len)
{
    const size_t overhead = 520; /* the other fields, measured */
    size_t raw = target > overhead ? (target - overhead) / 4 * 3 : 3;
    uint8_t *doc = malloc(raw);
    uint64_t x = 0x2545f4914f6cdd1dULL;
    for (size_t i = 0; i < raw; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        doc[i] = (uint8_t)x;
    }
    uint8_t digest[ING_SHA256_LEN];
    char sha[ING_SHA256_HEX_LEN + 1];
    ing_sha256(doc, raw, digest);
    ing_hex_encode(digest, sizeof(digest), sha);
    char *b64 = malloc(ing_base64_encoded_len(raw) + 1);
    ing_base64_encode(doc, raw, b64);
    size_t cap = strlen(b64) + 1024;
    char *json = malloc(cap);
    int n = snprintf(json, cap,
                     "{\"document_id\":\"LAB-2026-000123\",\"version\":1,\"patient\":{\"ins\":"
                     "\"295109912611193\",\"oid\":\"1.2.250.1.213.1.4.10\"},\"source\":{"
                     "\"finess\":\"750712184\"},\"author\":{\"rpps\":\"10003456786\"},"
                     "\"type_code\":\"11502-2\",\"media_type\":\"application/pdf\","
                     "\"format_code\":\"urn:ihe:iti:xds-sd:pdf:2008\",\"title\":\"Compte rendu "
                     "de biologie \xc3\xa9lectrolytes\",\"created_at\":\"2026-11-28T09:30:00Z\","
                     "\"confidentiality\":\"N\",\"hidden_from_patient\":false,\"sha256\":\"%s\","
                     "\"content\":\"%s\"}",
                     sha, b64);
    free(doc);
    free(b64);
    *len = (size_t)n;
    *content_len = raw;
    return json;
}

/* Seconds per call of one kind of run, best of 5 rounds of about `seconds` each. */
static double measure(const ing_policy_t *policy, run_t run, const char *json, size_t len,
                      double seconds)
{
    double best = 1e9;
    long iters = 1;
    for (int round = 0; round < 6; round++) {
        int64_t t0 = ing_mono_us();
        for (long i = 0; i < iters; i++) {
            ing_envelope_t env;
            ing_problem_t prob;
            ing_envelope_init(&env);
            ing_err_t err = ING_OK;
            switch (run) {
            case RUN_JANSSON:
                err =
                    ing_envelope_parse_json_jansson(policy, json, len, ing_wall_us(), &env, &prob);
                break;
            case RUN_ING_JSON:
                err = ing_envelope_parse_json(policy, json, len, ing_wall_us(), &env, &prob);
                break;
            case RUN_READ_ONLY:
                err = ing_json_envelope(policy, json, len, &env, &prob);
                break;
            case RUN_SHA256: {
                uint8_t d[ING_SHA256_LEN];
                ing_sha256(json, len / 4 * 3, d);
                env.version = d[0];
                break;
            }
            }
            if (err) {
                fprintf(stderr, "envelope refused: %s %s\n", ing_err_name(err), prob.detail);
                exit(1);
            }
            ing_envelope_fini(&env);
        }
        double dt = (double)(ing_mono_us() - t0) / 1e6;
        if (round == 0) { /* calibration */
            iters = (long)(seconds / (dt > 1e-7 ? dt : 1e-7));
            iters = iters < 10 ? 10 : iters;
            continue;
        }
        if (dt / (double)iters < best)
            best = dt / (double)iters;
    }
    return best;
}

int main(int argc, char **argv)
{
    double seconds = argc > 1 ? atof(argv[1]) : 0.3;
    char errstr[256];
    ing_policy_t *policy;
    ing_policy_conf_t conf = {.type_codes_path = EB_SOURCE_DIR "/config/type_codes.tsv",
                              .allowed_oids = "1.2.250.1.213.1.4.10",
                              .max_content_bytes = 20u << 20};
    if (ing_policy_create(&conf, &policy, errstr, sizeof(errstr)) != ING_OK) {
        fprintf(stderr, "policy: %s\n", errstr);
        return 1;
    }
    static const size_t sizes[] = {2 << 10, 8 << 10, 30 << 10, 500 << 10};
    printf("ing_envelope_parse_json, one thread, best of 5 rounds of %.2f s\n", seconds);
    printf("%9s %9s | %12s %9s | %12s %9s | %7s | %13s %12s\n", "envelope", "content", "jansson us",
           "MB/s", "ing_json us", "MB/s", "speedup", "read-only us", "sha256 us");
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        size_t len, content_len;
        char *json = make_envelope(sizes[i], &len, &content_len);
        double old_s = measure(policy, RUN_JANSSON, json, len, seconds);
        double new_s = measure(policy, RUN_ING_JSON, json, len, seconds);
        double read_s = measure(policy, RUN_READ_ONLY, json, len, seconds);
        double sha_s = measure(policy, RUN_SHA256, json, len, seconds);
        printf("%9zu %9zu | %12.1f %9.0f | %12.1f %9.0f | %6.1fx | %13.1f %12.1f\n", len,
               content_len, old_s * 1e6, (double)len / old_s / 1e6, new_s * 1e6,
               (double)len / new_s / 1e6, old_s / new_s, read_s * 1e6, sha_s * 1e6);
        free(json);
    }
    ing_policy_destroy(policy);
    return 0;
}
