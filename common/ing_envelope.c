#include "ing_envelope.h"

#include "ing_json.h"
#include "ing_time.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

ing_err_t ing_problem_set(ing_problem_t *problem, ing_err_t code, const char *field,
                          const char *fmt, ...)
{
    problem->code = code;
    snprintf(problem->field, sizeof(problem->field), "%s", field);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(problem->detail, sizeof(problem->detail), fmt, ap);
    va_end(ap);
    return code;
}

void ing_envelope_init(ing_envelope_t *env)
{
    memset(env, 0, sizeof(*env));
    env->version = 1;
    env->confidentiality = 'N';
}

void ing_envelope_fini(ing_envelope_t *env)
{
    free(env->content_owned);
    ing_envelope_init(env);
}

/* --- structure: JSON -> envelope ------------------------------------------------------------ */

/* Copies a string member. Absent: missing_field when required, else leaves dst untouched. */
static ing_err_t take_string(const json_t *obj, const char *key, const char *path, bool required,
                             char *dst, size_t dst_size, ing_problem_t *problem)
{
    const json_t *v = json_object_get(obj, key);
    if (!v) {
        if (required)
            return ing_problem_set(problem, ING_ERR_MISSING_FIELD, path, "%s is required", path);
        return ING_OK;
    }
    if (!json_is_string(v))
        return ing_problem_set(problem, ING_ERR_INVALID_FIELD, path, "%s must be a string", path);
    size_t len = json_string_length(v);
    if (len >= dst_size)
        return ing_problem_set(problem, ING_ERR_INVALID_FIELD, path, "%s is longer than %zu bytes",
                               path, dst_size - 1);
    const char *s = json_string_value(v);
    if (memchr(s, '\0', len))
        return ing_problem_set(problem, ING_ERR_INVALID_FIELD, path, "%s contains a NUL", path);
    memcpy(dst, s, len);
    dst[len] = '\0';
    return ING_OK;
}

/* Checks that obj has only the listed keys; the first unknown one is the problem. */
static ing_err_t only_keys(const json_t *obj, const char *prefix, const char *const *keys,
                           ing_problem_t *problem)
{
    const char *key;
    const json_t *v;
    json_object_foreach((json_t *)obj, key, v)
    {
        bool known = false;
        for (const char *const *k = keys; *k; k++)
            known = known || strcmp(*k, key) == 0;
        if (!known)
            return ing_problem_set(problem, ING_ERR_INVALID_FIELD, prefix[0] ? prefix : key,
                                   "unknown field \"%.64s%s%.64s\"", prefix, prefix[0] ? "." : "",
                                   key);
    }
    return ING_OK;
}

/* A nested object member ("patient", "source", "author"). */
static ing_err_t take_object(const json_t *obj, const char *key, bool required,
                             const char *const *keys, const json_t **out, ing_problem_t *problem)
{
    const json_t *v = json_object_get(obj, key);
    *out = NULL;
    if (!v)
        return required
                   ? ing_problem_set(problem, ING_ERR_MISSING_FIELD, key, "%s is required", key)
                   : ING_OK;
    if (!json_is_object(v))
        return ing_problem_set(problem, ING_ERR_INVALID_FIELD, key, "%s must be an object", key);
    ing_err_t err = only_keys(v, key, keys, problem);
    if (err)
        return err;
    *out = v;
    return ING_OK;
}

static ing_err_t take_content(const ing_policy_t *policy, const json_t *obj, ing_envelope_t *env,
                              ing_problem_t *problem)
{
    const json_t *v = json_object_get(obj, "content");
    if (!v)
        return ing_problem_set(problem, ING_ERR_MISSING_FIELD, "content", "content is required");
    if (!json_is_string(v))
        return ing_problem_set(problem, ING_ERR_INVALID_FIELD, "content",
                               "content must be a base64 string");
    size_t len = json_string_length(v);
    size_t max = ing_policy_max_content(policy);
    /* Refuse before allocating: the decoded size is at least 3/4 of the text minus padding. */
    if (ing_base64_decoded_max(len) > max + 2)
        return ing_problem_set(problem, ING_ERR_CONTENT_TOO_LARGE, "content",
                               "the document is larger than %zu bytes", max);
    env->content_owned = malloc(ing_base64_decoded_max(len) + 1);
    if (!env->content_owned)
        return ing_problem_set(problem, ING_ERR_NOMEM, "content", "out of memory");
    size_t out_len = 0;
    if (ing_base64_decode(json_string_value(v), len, env->content_owned, &out_len) != ING_OK)
        return ing_problem_set(problem, ING_ERR_CONTENT_INVALID_BASE64, "content",
                               "content is not valid standard base64 (RFC 4648, padded, no "
                               "whitespace)");
    env->content = env->content_owned;
    env->content_len = out_len;
    return ING_OK;
}

static const char *const top_keys[] = {
    "document_id", "version",     "patient", "source",     "author",          "type_code",
    "media_type",  "format_code", "title",   "created_at", "confidentiality", "hidden_from_patient",
    "sha256",      "content",     NULL};
static const char *const patient_keys[] = {"ins", "oid", NULL};
static const char *const source_keys[] = {"finess", NULL};
static const char *const author_keys[] = {"rpps", NULL};

static ing_err_t envelope_from_object(const ing_policy_t *policy, const json_t *obj,
                                      ing_envelope_t *env, ing_problem_t *problem)
{
    if (!json_is_object(obj))
        return ing_problem_set(problem, ING_ERR_INVALID_JSON, "",
                               "the envelope must be a JSON object");
    ing_err_t err = only_keys(obj, "", top_keys, problem);
    if (err)
        return err;

    const json_t *patient, *source, *author;
    char conf[2] = "N", sha_hex[ING_SHA256_HEX_LEN + 1] = "";
    if ((err = take_string(obj, "document_id", "document_id", true, env->document_id,
                           sizeof(env->document_id), problem)) ||
        (err = take_object(obj, "patient", true, patient_keys, &patient, problem)) ||
        (err = take_string(patient, "ins", "patient.ins", true, env->ins, sizeof(env->ins),
                           problem)) ||
        (err = take_string(patient, "oid", "patient.oid", true, env->oid, sizeof(env->oid),
                           problem)) ||
        (err = take_object(obj, "source", true, source_keys, &source, problem)) ||
        (err = take_string(source, "finess", "source.finess", true, env->finess,
                           sizeof(env->finess), problem)) ||
        (err = take_object(obj, "author", false, author_keys, &author, problem)) ||
        (author && (err = take_string(author, "rpps", "author.rpps", true, env->rpps,
                                      sizeof(env->rpps), problem))) ||
        (err = take_string(obj, "type_code", "type_code", true, env->type_code,
                           sizeof(env->type_code), problem)) ||
        (err = take_string(obj, "media_type", "media_type", true, env->media_type,
                           sizeof(env->media_type), problem)) ||
        (err = take_string(obj, "format_code", "format_code", false, env->format_code,
                           sizeof(env->format_code), problem)) ||
        (err =
             take_string(obj, "title", "title", false, env->title, sizeof(env->title), problem)) ||
        (err = take_string(obj, "created_at", "created_at", true, env->created_at,
                           sizeof(env->created_at), problem)) ||
        (err = take_string(obj, "confidentiality", "confidentiality", false, conf, sizeof(conf),
                           problem)) ||
        (err = take_string(obj, "sha256", "sha256", true, sha_hex, sizeof(sha_hex), problem)))
        return err;

    const json_t *v = json_object_get(obj, "version");
    if (v) {
        if (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > INT32_MAX)
            return ing_problem_set(problem, ING_ERR_INVALID_FIELD, "version",
                                   "version must be an integer from 1 to %d", INT32_MAX);
        env->version = (uint32_t)json_integer_value(v);
    }
    v = json_object_get(obj, "hidden_from_patient");
    if (v) {
        if (!json_is_boolean(v))
            return ing_problem_set(problem, ING_ERR_INVALID_FIELD, "hidden_from_patient",
                                   "hidden_from_patient must be true or false");
        env->hidden_from_patient = json_is_true(v);
    }
    env->confidentiality = conf[0];
    if (!ing_hex_decode_lower(sha_hex, strlen(sha_hex), env->sha256, sizeof(env->sha256)))
        return ing_problem_set(problem, ING_ERR_INVALID_FIELD, "sha256",
                               "sha256 must be 64 lowercase hex digits");
    return take_content(policy, obj, env, problem);
}

ing_err_t ing_envelope_from_jansson(const ing_policy_t *policy, const void *json_object,
                                    int64_t now_us, ing_envelope_t *env, ing_problem_t *problem)
{
    ing_err_t err = envelope_from_object(policy, json_object, env, problem);
    if (err)
        return err;
    return ing_envelope_validate(policy, env, now_us, problem);
}

ing_err_t ing_envelope_parse_json(const ing_policy_t *policy, const char *json, size_t len,
                                  int64_t now_us, ing_envelope_t *env, ing_problem_t *problem)
{
    ing_err_t err = ing_json_envelope(policy, json, len, env, problem);
    if (err)
        return err;
    return ing_envelope_validate(policy, env, now_us, problem);
}

ing_err_t ing_envelope_parse_json_jansson(const ing_policy_t *policy, const char *json, size_t len,
                                          int64_t now_us, ing_envelope_t *env,
                                          ing_problem_t *problem)
{
    json_error_t jerr;
    /* Duplicate keys are refused by jansson itself; invalid UTF-8 too. */
    json_t *root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root)
        return ing_problem_set(problem, ING_ERR_INVALID_JSON, "",
                               "invalid JSON at line %d column %d: %s", jerr.line, jerr.column,
                               jerr.text);
    ing_err_t err = ing_envelope_from_jansson(policy, root, now_us, env, problem);
    json_decref(root);
    return err;
}

/* --- semantics: checks shared by gateway and worker ----------------------------------------- */

/* Number of code points of valid UTF-8, or -1 (records come from Kafka: re-check). */
static long utf8_chars(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    long n = 0;
    while (*p) {
        int extra;
        unsigned cp;
        if (*p < 0x80) {
            extra = 0;
            cp = *p;
        } else if ((*p & 0xe0) == 0xc0) {
            extra = 1;
            cp = *p & 0x1f;
        } else if ((*p & 0xf0) == 0xe0) {
            extra = 2;
            cp = *p & 0x0f;
        } else if ((*p & 0xf8) == 0xf0) {
            extra = 3;
            cp = *p & 0x07;
        } else {
            return -1;
        }
        for (int i = 1; i <= extra; i++) {
            if ((p[i] & 0xc0) != 0x80)
                return -1;
            cp = cp << 6 | (p[i] & 0x3f);
        }
        static const unsigned min_cp[] = {0, 0x80, 0x800, 0x10000};
        if (cp < min_cp[extra] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return -1; /* overlong, out of range, or a surrogate */
        p += extra + 1;
        n++;
    }
    return n;
}

ing_err_t ing_envelope_validate(const ing_policy_t *policy, const ing_envelope_t *env,
                                int64_t now_us, ing_problem_t *problem)
{
    size_t id_len = strlen(env->document_id);
    if (id_len == 0)
        return ing_problem_set(problem, ING_ERR_INVALID_FIELD, "document_id",
                               "document_id must not be empty");
    for (size_t i = 0; i < id_len; i++)
        if (env->document_id[i] < 0x20 || env->document_id[i] > 0x7e)
            return ing_problem_set(problem, ING_ERR_INVALID_FIELD, "document_id",
                                   "document_id must be printable ASCII");
    if (env->version < 1 || env->version > INT32_MAX)
        return ing_problem_set(problem, ING_ERR_INVALID_FIELD, "version",
                               "version must be an integer from 1 to %d", INT32_MAX);
    if (ing_ins_check(env->ins, strlen(env->ins)) != ING_OK)
        return ing_problem_set(problem, ING_ERR_INS_INVALID, "patient.ins",
                               "patient.ins is not a valid INS (15 characters, key mod 97)");
    if (ing_policy_check_oid(policy, env->oid) != ING_OK)
        return ing_problem_set(problem, ING_ERR_OID_NOT_ALLOWED, "patient.oid",
                               "patient.oid \"%.64s\" is not accepted here", env->oid);
    if (ing_finess_check(env->finess, strlen(env->finess)) != ING_OK)
        return ing_problem_set(problem, ING_ERR_FINESS_INVALID, "source.finess",
                               "source.finess is not a valid FINESS number (9 characters, Luhn)");
    if (env->rpps[0] && ing_rpps_check(env->rpps, strlen(env->rpps)) != ING_OK)
        return ing_problem_set(problem, ING_ERR_RPPS_INVALID, "author.rpps",
                               "author.rpps is not a valid RPPS number (11 digits, Luhn)");
    ing_err_t err = ing_policy_check_type_code(policy, env->type_code, ing_policy_day(now_us));
    if (err == ING_ERR_TYPE_CODE_RETIRED)
        return ing_problem_set(problem, err, "type_code", "type_code %.16s is retired",
                               env->type_code);
    if (err)
        return ing_problem_set(problem, err, "type_code", "type_code %.16s is not known",
                               env->type_code);
    err = ing_policy_check_media(env->media_type, env->format_code);
    if (err == ING_ERR_FORMAT_CODE_MISMATCH)
        return ing_problem_set(problem, err, "format_code",
                               "format_code does not match media_type %.64s", env->media_type);
    if (err)
        return ing_problem_set(problem, err, "media_type", "media_type %.64s is not accepted",
                               env->media_type);
    long title_chars = utf8_chars(env->title);
    if (title_chars < 0 || title_chars > ING_TITLE_MAX_CHARS)
        return ing_problem_set(problem, ING_ERR_INVALID_FIELD, "title",
                               "title must be UTF-8 of at most %d characters", ING_TITLE_MAX_CHARS);
    int64_t created_us;
    if (!ing_time_parse_rfc3339(env->created_at, &created_us))
        return ing_problem_set(problem, ING_ERR_INVALID_FIELD, "created_at",
                               "created_at must be an RFC 3339 date-time");
    if (env->confidentiality != 'N' && env->confidentiality != 'R' && env->confidentiality != 'V')
        return ing_problem_set(problem, ING_ERR_INVALID_FIELD, "confidentiality",
                               "confidentiality must be N, R or V");
    if (env->content_len > ing_policy_max_content(policy))
        return ing_problem_set(problem, ING_ERR_CONTENT_TOO_LARGE, "content",
                               "the document is larger than %zu bytes",
                               ing_policy_max_content(policy));
    if (env->content_len == 0)
        return ing_problem_set(problem, ING_ERR_INVALID_FIELD, "content",
                               "content must not be empty");
    uint8_t digest[ING_SHA256_LEN];
    ing_digest_sha256(ing_policy_digest(policy), env->content, env->content_len, digest);
    if (memcmp(digest, env->sha256, sizeof(digest)) != 0)
        return ing_problem_set(problem, ING_ERR_HASH_MISMATCH, "sha256",
                               "sha256 does not match the decoded content");
    return ING_OK;
}

void ing_submission_id(const ing_digest_t *digest, const char *org_finess, const char *document_id,
                       uint32_t version, const uint8_t sha256[ING_SHA256_LEN],
                       char out[ING_SUBMISSION_ID_LEN + 1])
{
    /* NUL separators keep ("ab","c") and ("a","bc") apart; "v1" versions the derivation. */
    char buf[16 + ING_FINESS_LEN + ING_DOCUMENT_ID_MAX + 16 + ING_SHA256_LEN];
    size_t n = 0;
    int w = snprintf(buf, sizeof(buf), "v1%c%s%c%s%c%u%c", 0, org_finess, 0, document_id, 0,
                     version, 0);
    n = w > 0 && (size_t)w < sizeof(buf) - ING_SHA256_LEN ? (size_t)w : 0;
    memcpy(buf + n, sha256, ING_SHA256_LEN);
    uint8_t id_hash[ING_SHA256_LEN];
    ing_digest_sha256(digest, buf, n + ING_SHA256_LEN, id_hash);
    ing_hex_encode(id_hash, ING_SUBMISSION_ID_LEN / 2, out);
}
