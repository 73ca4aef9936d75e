/*
 * The envelope contract, one row per way a submission can be wrong: each row changes one field
 * of a valid envelope (or replaces the body) and names the machine code and field expected.
 * Also the submission id's determinism.
 */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "ing_envelope.h"
#include "ing_test.h"
#include "ing_time.h"

#define CONTENT "Compte rendu de biologie: glycemie 5.1 mmol/L"
#define DELETE NULL

static ing_policy_t *policy;

/* A valid envelope as a jansson object (caller decrefs). */
static json_t *valid_envelope(void)
{
    uint8_t digest[ING_SHA256_LEN];
    char sha[ING_SHA256_HEX_LEN + 1], b64[256];
    ing_sha256(CONTENT, strlen(CONTENT), digest);
    ing_hex_encode(digest, sizeof(digest), sha);
    ing_base64_encode((const uint8_t *)CONTENT, strlen(CONTENT), b64);
    return json_pack("{s:s, s:i, s:{s:s, s:s}, s:{s:s}, s:{s:s}, s:s, s:s, s:s, s:s, s:s, s:s, "
                     "s:b, s:s, s:s}",
                     "document_id", "LAB-2026-000123", "version", 1, "patient", "ins",
                     "295109912611193", "oid", "1.2.250.1.213.1.4.10", "source", "finess",
                     "750712184", "author", "rpps", "10003456786", "type_code", "11502-2",
                     "media_type", "text/plain", "format_code", "urn:ihe:iti:xds-sd:text:2008",
                     "title", "Compte rendu de biologie", "created_at", "2026-11-28T09:30:00Z",
                     "confidentiality", "N", "hidden_from_patient", 0, "sha256", sha, "content",
                     b64);
}

/* Sets (value_json != NULL) or deletes the member at a dotted path. */
static void mutate(json_t *root, const char *path, const char *value_json)
{
    char buf[64];
    snprintf(buf, sizeof(buf), "%s", path);
    json_t *obj = root;
    char *dot = strchr(buf, '.');
    if (dot) {
        *dot = '\0';
        obj = json_object_get(root, buf);
        path = dot + 1;
    } else {
        path = buf;
    }
    if (!value_json) {
        json_object_del(obj, path);
        return;
    }
    json_t *v = json_loads(value_json, JSON_DECODE_ANY, NULL);
    if (!v) {
        fprintf(stderr, "bad test value %s\n", value_json);
        exit(2);
    }
    json_object_set_new(obj, path, v);
}

static const struct {
    const char *name;
    const char *path;  /* NULL: no change */
    const char *value; /* JSON text, or DELETE */
    ing_err_t want;
    const char *want_field;
} field_cases[] = {
    {"valid", NULL, NULL, ING_OK, ""},
    {"minimal valid", "author", DELETE, ING_OK, ""},
    {"no version", "version", DELETE, ING_OK, ""},
    {"no format code", "format_code", DELETE, ING_OK, ""},
    {"corsica ins", "patient.ins", "\"253072A07300443\"", ING_OK, ""},
    {"offset time", "created_at", "\"2026-11-28T10:30:00.123+01:00\"", ING_OK, ""},
    {"missing document_id", "document_id", DELETE, ING_ERR_MISSING_FIELD, "document_id"},
    {"missing patient", "patient", DELETE, ING_ERR_MISSING_FIELD, "patient"},
    {"missing ins", "patient.ins", DELETE, ING_ERR_MISSING_FIELD, "patient.ins"},
    {"missing oid", "patient.oid", DELETE, ING_ERR_MISSING_FIELD, "patient.oid"},
    {"missing source", "source", DELETE, ING_ERR_MISSING_FIELD, "source"},
    {"missing finess", "source.finess", DELETE, ING_ERR_MISSING_FIELD, "source.finess"},
    {"missing type", "type_code", DELETE, ING_ERR_MISSING_FIELD, "type_code"},
    {"missing media", "media_type", DELETE, ING_ERR_MISSING_FIELD, "media_type"},
    {"missing created_at", "created_at", DELETE, ING_ERR_MISSING_FIELD, "created_at"},
    {"missing sha256", "sha256", DELETE, ING_ERR_MISSING_FIELD, "sha256"},
    {"missing content", "content", DELETE, ING_ERR_MISSING_FIELD, "content"},
    {"unknown field", "extra", "1", ING_ERR_INVALID_FIELD, "extra"},
    {"unknown nested field", "patient.name", "\"X\"", ING_ERR_INVALID_FIELD, "patient"},
    {"version string", "version", "\"1\"", ING_ERR_INVALID_FIELD, "version"},
    {"version zero", "version", "0", ING_ERR_INVALID_FIELD, "version"},
    {"version float", "version", "1.5", ING_ERR_INVALID_FIELD, "version"},
    {"ins number", "patient.ins", "295109912611193", ING_ERR_INVALID_FIELD, "patient.ins"},
    {"patient array", "patient", "[]", ING_ERR_INVALID_FIELD, "patient"},
    {"deep nesting", "title", "{\"a\":{\"b\":{}}}", ING_ERR_INVALID_FIELD, "title"},
    {"null field", "type_code", "null", ING_ERR_INVALID_FIELD, "type_code"},
    {"hidden not bool", "hidden_from_patient", "\"no\"", ING_ERR_INVALID_FIELD,
     "hidden_from_patient"},
    {"ins bad key", "patient.ins", "\"295109912611199\"", ING_ERR_INS_INVALID, "patient.ins"},
    {"oid production", "patient.oid", "\"1.2.250.1.213.1.4.8\"", ING_ERR_OID_NOT_ALLOWED,
     "patient.oid"},
    {"finess bad key", "source.finess", "\"750712185\"", ING_ERR_FINESS_INVALID, "source.finess"},
    {"rpps bad key", "author.rpps", "\"10003456787\"", ING_ERR_RPPS_INVALID, "author.rpps"},
    {"author without rpps", "author.rpps", DELETE, ING_ERR_MISSING_FIELD, "author.rpps"},
    {"type unknown", "type_code", "\"99999-9\"", ING_ERR_TYPE_CODE_UNKNOWN, "type_code"},
    {"type retired", "type_code", "\"11528-7\"", ING_ERR_TYPE_CODE_RETIRED, "type_code"},
    {"media not allowed", "media_type", "\"application/zip\"", ING_ERR_MEDIA_TYPE_NOT_ALLOWED,
     "media_type"},
    {"format mismatch", "format_code", "\"urn:ihe:iti:xds-sd:pdf:2008\"",
     ING_ERR_FORMAT_CODE_MISMATCH, "format_code"},
    {"bad base64", "content", "\"not base64!\"", ING_ERR_CONTENT_INVALID_BASE64, "content"},
    {"hash mismatch", "sha256",
     "\"0000000000000000000000000000000000000000000000000000000000000000\"", ING_ERR_HASH_MISMATCH,
     "sha256"},
    {"sha256 uppercase", "sha256",
     "\"AB00000000000000000000000000000000000000000000000000000000000000\"", ING_ERR_INVALID_FIELD,
     "sha256"},
    {"empty document_id", "document_id", "\"\"", ING_ERR_INVALID_FIELD, "document_id"},
    {"control char id", "document_id", "\"A\\u0001B\"", ING_ERR_INVALID_FIELD, "document_id"},
    {"bad date", "created_at", "\"28/11/2026\"", ING_ERR_INVALID_FIELD, "created_at"},
    {"bad month", "created_at", "\"2026-13-28T09:30:00Z\"", ING_ERR_INVALID_FIELD, "created_at"},
    {"no zone", "created_at", "\"2026-11-28T09:30:00\"", ING_ERR_INVALID_FIELD, "created_at"},
    {"no such day", "created_at", "\"2026-02-29T09:30:00Z\"", ING_ERR_INVALID_FIELD, "created_at"},
    {"confidentiality", "confidentiality", "\"X\"", ING_ERR_INVALID_FIELD, "confidentiality"},
    {"content too large", "content",
     "\"QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUF"
     "BQUFBQUFBQUFBQUFBQUFBQUFBQUFB\"",
     ING_ERR_CONTENT_TOO_LARGE, "content"},
};

static const struct {
    const char *name;
    const char *body;
    ing_err_t want;
} body_cases[] = {
    {"empty body", "", ING_ERR_INVALID_JSON},
    {"truncated", "{\"document_id\": \"x\"", ING_ERR_INVALID_JSON},
    {"array root", "[]", ING_ERR_INVALID_JSON},
    {"duplicate key", "{\"document_id\": \"a\", \"document_id\": \"b\"}", ING_ERR_INVALID_JSON},
    {"invalid utf-8", "{\"title\": \"\xc3\x28\"}", ING_ERR_INVALID_JSON},
    {"nul escape", "{\"title\": \"a\\u0000b\"}", ING_ERR_INVALID_JSON},
};

static void run_field_cases(ing_test_counts_t *t)
{
    int64_t now = ing_wall_us();
    for (size_t i = 0; i < sizeof(field_cases) / sizeof(field_cases[0]); i++) {
        json_t *root = valid_envelope();
        if (field_cases[i].path)
            mutate(root, field_cases[i].path, field_cases[i].value);
        char *body = json_dumps(root, JSON_COMPACT);
        ing_envelope_t env;
        ing_problem_t problem = {0};
        ing_envelope_init(&env);
        ing_err_t got = ing_envelope_parse_json(policy, body, strlen(body), now, &env, &problem);
        CHECK(t, got == field_cases[i].want && problem.code == got, "%s: got %s (%s), want %s",
              field_cases[i].name, ing_err_name(got), problem.detail,
              ing_err_name(field_cases[i].want));
        if (got != ING_OK)
            CHECK(t, strcmp(problem.field, field_cases[i].want_field) == 0 && problem.detail[0],
                  "%s: field \"%s\", want \"%s\"", field_cases[i].name, problem.field,
                  field_cases[i].want_field);
        else
            CHECK(t,
                  env.content_len == strlen(CONTENT) &&
                      memcmp(env.content, CONTENT, env.content_len) == 0,
                  "%s: content decoded", field_cases[i].name);
        ing_envelope_fini(&env);
        free(body);
        json_decref(root);
    }
}

static void run_body_cases(ing_test_counts_t *t)
{
    for (size_t i = 0; i < sizeof(body_cases) / sizeof(body_cases[0]); i++) {
        ing_envelope_t env;
        ing_problem_t problem = {0};
        ing_envelope_init(&env);
        ing_err_t got = ing_envelope_parse_json(
            policy, body_cases[i].body, strlen(body_cases[i].body), ing_wall_us(), &env, &problem);
        CHECK(t, got == body_cases[i].want, "%s: got %s", body_cases[i].name, ing_err_name(got));
        ing_envelope_fini(&env);
    }
}

static void run_submission_id(ing_test_counts_t *t)
{
    uint8_t sha[ING_SHA256_LEN] = {1, 2, 3};
    char a[ING_SUBMISSION_ID_LEN + 1], b[ING_SUBMISSION_ID_LEN + 1];
    ing_submission_id(NULL, "750712184", "LAB-1", 1, sha, a);
    ing_submission_id(NULL, "750712184", "LAB-1", 1, sha, b);
    CHECK(t, strcmp(a, b) == 0 && strlen(a) == ING_SUBMISSION_ID_LEN, "deterministic: %s", a);
    ing_submission_id(NULL, "010780054", "LAB-1", 1, sha, b);
    CHECK(t, strcmp(a, b) != 0, "other organisation, other id");
    ing_submission_id(NULL, "750712184", "LAB-1", 2, sha, b);
    CHECK(t, strcmp(a, b) != 0, "other version, other id");
    ing_submission_id(NULL, "750712184", "LAB-11", 1, sha, b);
    CHECK(t, strcmp(a, b) != 0, "other document id, other id");
    sha[31] = 1;
    ing_submission_id(NULL, "750712184", "LAB-1", 1, sha, b);
    CHECK(t, strcmp(a, b) != 0, "other content, other id");
    /* Field boundaries are kept: ("LAB-1", 11) and ("LAB-11", 1) must differ. */
    sha[31] = 0;
    ing_submission_id(NULL, "750712184", "LAB-1", 11, sha, a);
    ing_submission_id(NULL, "750712184", "LAB-11", 1, sha, b);
    CHECK(t, strcmp(a, b) != 0, "boundaries");
    /* The policy's digest derives the same id as the one-shot. */
    ing_digest_t *dg = NULL;
    CHECK(t, ing_digest_create(&dg) == ING_OK, "digest");
    ing_submission_id(dg, "750712184", "LAB-1", 11, sha, b);
    CHECK(t, strcmp(a, b) == 0, "with a digest: %s, without: %s", b, a);
    ing_digest_destroy(dg);
}

int main(void)
{
    ing_test_counts_t t = {0};
    char errstr[256];
    ing_policy_conf_t conf = {.type_codes_path = ING_SOURCE_DIR "/config/type_codes.tsv",
                              .allowed_oids = "1.2.250.1.213.1.4.10,1.2.250.1.213.1.4.11",
                              .max_content_bytes = 64};
    if (ing_policy_create(&conf, &policy, errstr, sizeof(errstr)) != ING_OK) {
        fprintf(stderr, "policy: %s\n", errstr);
        return 1;
    }
    run_field_cases(&t);
    run_body_cases(&t);
    run_submission_id(&t);
    ing_policy_destroy(policy);
    return ING_TEST_END(&t);
}
