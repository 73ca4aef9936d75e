#include "ing_error.h"

#include <string.h>

typedef struct ing_err_desc {
    const char *name;
    const char *text;
    int http_status;
    bool retriable;
} ing_err_desc_t;

static const ing_err_desc_t ing_err_table[ING_ERR__COUNT] = {
    [ING_OK] = {"ok", "success", 200, false},
    [ING_ERR_INVALID_JSON] = {"invalid_json", "the body is not well-formed JSON", 400, false},
    [ING_ERR_MISSING_FIELD] = {"missing_field", "a required field is missing", 422, false},
    [ING_ERR_INVALID_FIELD] = {"invalid_field", "a field has a wrong type or value", 422, false},
    [ING_ERR_INS_INVALID] = {"ins_invalid", "the patient INS is not valid", 422, false},
    [ING_ERR_OID_NOT_ALLOWED] = {"oid_not_allowed",
                                 "the INS identifier system is not accepted here", 422, false},
    [ING_ERR_FINESS_INVALID] = {"finess_invalid", "the FINESS number is not valid", 422, false},
    [ING_ERR_RPPS_INVALID] = {"rpps_invalid", "the RPPS number is not valid", 422, false},
    [ING_ERR_TYPE_CODE_UNKNOWN] = {"type_code_unknown", "the document type code is not known", 422,
                                   false},
    [ING_ERR_TYPE_CODE_RETIRED] = {"type_code_retired", "the document type code is retired", 422,
                                   false},
    [ING_ERR_MEDIA_TYPE_NOT_ALLOWED] = {"media_type_not_allowed", "the media type is not accepted",
                                        422, false},
    [ING_ERR_FORMAT_CODE_MISMATCH] = {"format_code_mismatch",
                                      "the format code does not match the media type", 422, false},
    [ING_ERR_CONTENT_TOO_LARGE] = {"content_too_large", "the document is larger than allowed", 413,
                                   false},
    [ING_ERR_CONTENT_INVALID_BASE64] = {"content_invalid_base64",
                                        "the content is not valid standard base64", 422, false},
    [ING_ERR_HASH_MISMATCH] = {"hash_mismatch", "the sha256 does not match the decoded content",
                               422, false},
    [ING_ERR_SOURCE_MISMATCH] = {"source_mismatch",
                                 "source.finess is not the authenticated organisation", 403, false},
    [ING_ERR_VERSION_CONFLICT] = {"version_conflict",
                                  "this document id and version were sent with other content", 409,
                                  false},
    [ING_ERR_PATIENT_OPPOSED] = {"patient_opposed",
                                 "the patient has objected to their health record being filled",
                                 409, false},
    [ING_ERR_NOMEM] = {"out_of_memory", "out of memory", 503, true},
    [ING_ERR_TOO_BIG] = {"too_big", "a size limit was exceeded", 413, false},
    [ING_ERR_IO] = {"io_error", "input/output error", 500, true},
    [ING_ERR_CONFIG] = {"config_error", "invalid configuration", 500, false},
    [ING_ERR_RECORD] = {"record_invalid", "the Kafka record is not in a known format", 500, false},
    [ING_ERR_UNAVAILABLE] = {"unavailable", "a dependency is unavailable, retry later", 503, true},
    [ING_ERR_TIMEOUT] = {"timeout", "the operation timed out, retry later", 503, true},
    [ING_ERR_INTERNAL] = {"internal_error", "internal error", 500, false},
    [ING_ERR_RATE_LIMITED] = {"rate_limited", "the organisation's rate is exceeded, retry later",
                              429, true},
};

static const ing_err_desc_t *ing_err_desc(ing_err_t err)
{
    if ((unsigned)err >= ING_ERR__COUNT)
        return &ing_err_table[ING_ERR_INTERNAL];
    return &ing_err_table[err];
}

const char *ing_err_name(ing_err_t err)
{
    return ing_err_desc(err)->name;
}

const char *ing_err_str(ing_err_t err)
{
    return ing_err_desc(err)->text;
}

bool ing_err_is_retriable(ing_err_t err)
{
    return ing_err_desc(err)->retriable;
}

int ing_err_http_status(ing_err_t err)
{
    return ing_err_desc(err)->http_status;
}

ing_err_t ing_err_from_name(const char *name)
{
    for (int i = 0; i < ING_ERR__COUNT; i++)
        if (strcmp(ing_err_table[i].name, name) == 0)
            return (ing_err_t)i;
    return ING_ERR__COUNT;
}
