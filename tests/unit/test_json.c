/*
 * ing_json against the jansson path it replaced: both parsers run on every input and must give
 * the same machine code and the same field (the detail text may differ); on success the two
 * envelopes must be equal. Inputs: every row of test_envelope.c's tables, then a generated
 * corpus — truncations, byte flips, insertions and deletions at every offset, \u escapes,
 * duplicate keys at every level, deep nesting around jansson's limit, every JSON type in every
 * field, invalid UTF-8 of each kind, surrogates, BOM, huge numbers, bounded strings at their
 * limits, content escapes and padding — and seeded random mutations. Batches: the array
 * iterator against jansson's array. And the fast base64 decoder against ing_base64_decode.
 *
 * One known, deliberate divergence: jansson silently drops one NUL byte that directly follows a
 * number or a true/false/null (its stream_unget loses it), so it accepts {"version":1\0,...};
 * ing_json refuses it as invalid JSON. json_json_known_divergence() (ing_json_diff.h) recognises
 * those inputs.
 */
#define main test_envelope_main
int test_envelope_main(void);
#include "test_envelope.c" /* its tables (field_cases, body_cases) and helpers, kept in sync */
#undef main

#include "ing_json.h"
#include "ing_json_diff.h"

static ing_policy_t *policy_big; /* 1 MiB documents; `policy` (64 bytes) is test_envelope's */
static int64_t now;
static long n_compared, n_divergent;

/* ---- comparing the two parsers ----------------------------------------------------------- */

static void show(const char *s, size_t len)
{
    fprintf(stderr, "  input (%zu bytes): ", len);
    for (size_t i = 0; i < len && i < 400; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c < 0x7f && c != '\\')
            fputc(c, stderr);
        else
            fprintf(stderr, "\\x%02x", c);
    }
    fputc('\n', stderr);
}

/* The batch path: jansson's array + from_jansson per item, against the iterator + parse_json. */
static bool batch_agrees(const ing_policy_t *pol, const char *body, size_t len)
{
    json_error_t jerr;
    json_t *arr = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
    ing_json_array_t it;
    size_t count = 0;
    ing_problem_t prob = {0};
    ing_err_t err = ing_json_array_open(&it, body, len, &count, &prob);
    bool ok;
    if (!arr || !json_is_array(arr)) {
        ok = err == ING_ERR_INVALID_JSON;
    } else {
        ok = err == ING_OK && count == json_array_size(arr);
        ing_json_slice_t el;
        for (size_t i = 0; ok && i < count; i++) {
            ok = ing_json_array_next(&it, &el);
            if (!ok)
                break;
            ing_envelope_t a, b;
            ing_problem_t pa = {0}, pb = {0};
            ing_envelope_init(&a);
            ing_envelope_init(&b);
            ing_err_t ea = ing_envelope_from_jansson(pol, json_array_get(arr, i), now, &a, &pa);
            ing_err_t eb = ing_envelope_parse_json(pol, el.ptr, el.len, now, &b, &pb);
            ok = ea == eb && strcmp(pa.field, pb.field) == 0 &&
                 (ea != ING_OK || json_envs_equal(&a, &b));
            ing_envelope_fini(&a);
            ing_envelope_fini(&b);
        }
        ok = ok && !ing_json_array_next(&it, &el);
    }
    json_decref(arr);
    return ok;
}

static void compare_with(ing_test_counts_t *t, const ing_policy_t *pol, const char *name,
                         const char *body, size_t len)
{
    ing_envelope_t a, b;
    ing_problem_t pa = {0}, pb = {0};
    ing_envelope_init(&a);
    ing_envelope_init(&b);
    ing_err_t ea = ing_envelope_parse_json_jansson(pol, body, len, now, &a, &pa);
    ing_err_t eb = ing_envelope_parse_json(pol, body, len, now, &b, &pb);
    bool same = ea == eb && pa.code == pb.code && strcmp(pa.field, pb.field) == 0 &&
                (ea != ING_OK || json_envs_equal(&a, &b)) && (eb == ING_OK || pb.detail[0]);
    json_t *j = json_loadb(body, len, JSON_REJECT_DUPLICATES, NULL);
    ing_problem_t pc = {0};
    bool same_syntax = (j != NULL) == (ing_json_check(body, len, &pc) == ING_OK);
    json_decref(j);
    bool divergent = json_known_divergence(body, len);
    if (divergent && (!same || !same_syntax) && eb == ING_ERR_INVALID_JSON) {
        n_divergent++;
        same = same_syntax = true;
    }
    n_compared++;
    CHECK(t, same && same_syntax,
          "%s: jansson %s field \"%s\" (%s), ing_json %s field \"%s\" (%s)%s", name,
          ing_err_name(ea), pa.field, pa.detail, ing_err_name(eb), pb.field, pb.detail,
          same_syntax ? "" : ", syntax verdicts differ");
    if (!(same && same_syntax))
        show(body, len);
    ing_envelope_fini(&a);
    ing_envelope_fini(&b);
}

static void compare(ing_test_counts_t *t, const char *name, const char *body, size_t len)
{
    compare_with(t, policy, name, body, len);
    compare_with(t, policy_big, name, body, len);
    if (!body)
        return;
    /* the same text as the first item of a batch */
    size_t blen = len + 8;
    char *batch = malloc(blen + 1);
    memcpy(batch, "[ ", 2);
    memcpy(batch + 2, body, len);
    memcpy(batch + 2 + len, " ,{} ]", 6);
    bool ok = batch_agrees(policy_big, batch, blen) || json_known_divergence(batch, blen);
    CHECK(t, ok, "%s: batch verdicts differ", name);
    if (!ok)
        show(batch, blen);
    free(batch);
}

static void compare_str(ing_test_counts_t *t, const char *name, const char *body)
{
    compare(t, name, body, strlen(body));
}

/* ---- an envelope as text, each member's value raw (may be invalid JSON on purpose) -------- */

enum {
    M_DOCUMENT_ID,
    M_VERSION,
    M_PATIENT,
    M_SOURCE,
    M_AUTHOR,
    M_TYPE_CODE,
    M_MEDIA_TYPE,
    M_FORMAT_CODE,
    M_TITLE,
    M_CREATED_AT,
    M_CONFIDENTIALITY,
    M_HIDDEN,
    M_SHA256,
    M_CONTENT,
    M_INS,
    M_OID,
    M_FINESS,
    M_RPPS,
    M__COUNT
};
static const char *const member_key[M__COUNT] = {
    "document_id", "version",     "patient", "source",     "author",          "type_code",
    "media_type",  "format_code", "title",   "created_at", "confidentiality", "hidden_from_patient",
    "sha256",      "content",     "ins",     "oid",        "finess",          "rpps"};
static const char *const member_path[M__COUNT] = {
    "document_id",   "version",    "patient",         "source",
    "author",        "type_code",  "media_type",      "format_code",
    "title",         "created_at", "confidentiality", "hidden_from_patient",
    "sha256",        "content",    "patient.ins",     "patient.oid",
    "source.finess", "author.rpps"};

typedef struct doc {
    const char *value[M__COUNT]; /* raw JSON text; NULL: member absent */
    const char *key[M__COUNT];   /* raw key text between the quotes; NULL: the plain name */
    const char *extra_top;       /* raw members appended to the top object (", ..." not needed) */
    const char *extra_patient;
    const char *ws; /* between tokens */
} doc_t;

static char sha_valid[ING_SHA256_HEX_LEN + 3], b64_valid[256];

static void doc_valid(doc_t *d)
{
    memset(d, 0, sizeof(*d));
    d->value[M_DOCUMENT_ID] = "\"LAB-2026-000123\"";
    d->value[M_VERSION] = "1";
    d->value[M_TYPE_CODE] = "\"11502-2\"";
    d->value[M_MEDIA_TYPE] = "\"text/plain\"";
    d->value[M_FORMAT_CODE] = "\"urn:ihe:iti:xds-sd:text:2008\"";
    d->value[M_TITLE] = "\"Compte rendu de biologie\"";
    d->value[M_CREATED_AT] = "\"2026-11-28T09:30:00Z\"";
    d->value[M_CONFIDENTIALITY] = "\"N\"";
    d->value[M_HIDDEN] = "false";
    d->value[M_SHA256] = sha_valid;
    d->value[M_CONTENT] = b64_valid;
    d->value[M_INS] = "\"295109912611193\"";
    d->value[M_OID] = "\"1.2.250.1.213.1.4.10\"";
    d->value[M_FINESS] = "\"750712184\"";
    d->value[M_RPPS] = "\"10003456786\"";
    d->ws = "";
}

typedef struct out {
    char *s;
    size_t len, cap;
} out_t;

static void put(out_t *o, const char *s, size_t n)
{
    if (o->len + n + 1 > o->cap) {
        o->cap = (o->len + n + 1) * 2;
        o->s = realloc(o->s, o->cap);
    }
    memcpy(o->s + o->len, s, n);
    o->len += n;
    o->s[o->len] = '\0';
}

static void puts_(out_t *o, const char *s)
{
    put(o, s, strlen(s));
}

static void member(out_t *o, const doc_t *d, int m, bool *first)
{
    if (!*first) {
        puts_(o, d->ws);
        puts_(o, ",");
    }
    *first = false;
    puts_(o, d->ws);
    puts_(o, "\"");
    puts_(o, d->key[m] ? d->key[m] : member_key[m]);
    puts_(o, "\"");
    puts_(o, d->ws);
    puts_(o, ":");
    puts_(o, d->ws);
}

static void nested(out_t *o, const doc_t *d, int m, const int *kids, size_t n, const char *extra)
{
    if (d->value[m]) { /* an override of the whole object */
        puts_(o, d->value[m]);
        return;
    }
    bool first = true;
    puts_(o, "{");
    for (size_t i = 0; i < n; i++)
        if (d->value[kids[i]]) {
            member(o, d, kids[i], &first);
            puts_(o, d->value[kids[i]]);
        }
    if (extra) {
        puts_(o, first ? "" : ",");
        puts_(o, extra);
    }
    puts_(o, d->ws);
    puts_(o, "}");
}

/* Renders the document; the caller frees o.s. */
static out_t render(const doc_t *d, bool with_author)
{
    static const int patient_kids[] = {M_INS, M_OID}, source_kids[] = {M_FINESS},
                     author_kids[] = {M_RPPS};
    out_t o = {0};
    bool first = true;
    puts_(&o, "{");
    for (int m = 0; m < M_INS; m++) {
        if (m == M_PATIENT || m == M_SOURCE || (m == M_AUTHOR && with_author)) {
            member(&o, d, m, &first);
            if (m == M_PATIENT)
                nested(&o, d, m, patient_kids, 2, d->extra_patient);
            else if (m == M_SOURCE)
                nested(&o, d, m, source_kids, 1, NULL);
            else
                nested(&o, d, m, author_kids, 1, NULL);
            continue;
        }
        if (m == M_AUTHOR || !d->value[m])
            continue;
        member(&o, d, m, &first);
        puts_(&o, d->value[m]);
    }
    if (d->extra_top) {
        puts_(&o, ",");
        puts_(&o, d->extra_top);
    }
    puts_(&o, d->ws);
    puts_(&o, "}");
    return o;
}

static void compare_doc(ing_test_counts_t *t, const char *name, const doc_t *d)
{
    out_t o = render(d, true);
    compare(t, name, o.s, o.len);
    free(o.s);
}

/* ---- the corpus -------------------------------------------------------------------------- */

static void run_table_rows(ing_test_counts_t *t)
{
    for (size_t i = 0; i < sizeof(field_cases) / sizeof(field_cases[0]); i++) {
        json_t *root = valid_envelope();
        if (field_cases[i].path)
            mutate(root, field_cases[i].path, field_cases[i].value);
        char *body = json_dumps(root, JSON_COMPACT);
        compare_str(t, field_cases[i].name, body);
        free(body);
        json_decref(root);
    }
    for (size_t i = 0; i < sizeof(body_cases) / sizeof(body_cases[0]); i++)
        compare_str(t, body_cases[i].name, body_cases[i].body);
}

/* Truncations, flips, insertions and deletions at every offset of a valid text. */
static void run_offsets(ing_test_counts_t *t, const char *base)
{
    static const char flips[] = {
        0x00, '"',  '\\', '{',        '}',        '[',        ']',        ',', ':',  ' ',
        'x',  '0',  '9',  '-',        'e',        '.',        't',        'n', 0x7f, 0x1f,
        '\n', '\t', '\f', (char)0x80, (char)0xc3, (char)0xff, (char)0xe9, '/', '='};
    static const char *const inserts[] = {" ",
                                          "\\",
                                          "\"",
                                          ",",
                                          "{",
                                          "}",
                                          "[]",
                                          ":",
                                          "0",
                                          "-",
                                          "\xc3\xa9",
                                          "\xff",
                                          "\\u0000",
                                          "\\u0041",
                                          "\\uD800",
                                          "\\uDC00",
                                          "\\uD83D\\uDE00",
                                          "1e400",
                                          "\xef\xbb\xbf",
                                          "\"x\":1,",
                                          "\\/",
                                          "\xed\xa0\x80",
                                          "\xc0\x80",
                                          "\\n",
                                          "null",
                                          ",\"x\":{}",
                                          "\r\n"};
    size_t len = strlen(base);
    char *buf = malloc(len + 64);
    for (size_t i = 0; i <= len; i++)
        compare(t, "truncated", base, i);
    for (size_t i = 0; i < len; i++) {
        for (size_t f = 0; f < sizeof(flips); f++) {
            memcpy(buf, base, len);
            buf[i] = flips[f];
            compare(t, "flipped", buf, len);
        }
        memcpy(buf, base, i);
        memcpy(buf + i, base + i + 1, len - i - 1);
        compare(t, "deleted", buf, len - 1);
        /* the byte as a \u escape, lower and upper case hex */
        for (int upper = 0; upper < 2; upper++) {
            memcpy(buf, base, i);
            int n = snprintf(buf + i, 8, upper ? "\\u%04X" : "\\u%04x", (unsigned char)base[i]);
            memcpy(buf + i + n, base + i + 1, len - i - 1);
            compare(t, "escaped", buf, len - 1 + (size_t)n);
        }
    }
    for (size_t i = 0; i <= len; i++)
        for (size_t k = 0; k < sizeof(inserts) / sizeof(inserts[0]); k++) {
            size_t n = strlen(inserts[k]);
            memcpy(buf, base, i);
            memcpy(buf + i, inserts[k], n);
            memcpy(buf + i + n, base + i, len - i);
            compare(t, "inserted", buf, len + n);
        }
    free(buf);
}

static const char *const type_values[] = {
    "null",
    "true",
    "false",
    "0",
    "-0",
    "1",
    "-1",
    "2",
    "1.0",
    "1.5",
    "1e0",
    "1E2",
    "-1e-2",
    "0.0",
    "2147483647",
    "2147483648",
    "-2147483648",
    "4294967297",
    "9223372036854775807",
    "9223372036854775808",
    "-9223372036854775808",
    "-9223372036854775809",
    "99999999999999999999",
    "1e308",
    "1.7976931348623157e308",
    "1.7976931348623158e308",
    "1.7976931348623159e308",
    "17976931348623158e292",
    "179769313486231580000000000000000000000000000000000001e254",
    "1e309",
    "-1e309",
    "1e-400",
    "0e99999",
    "0.000001e314",
    "0.000001e313",
    "1e99999999999999",
    "\"\"",
    "\"x\"",
    "\"N\"",
    "\"R\"",
    "\"\\u0000\"",
    "\"a\\u0041\"",
    "[]",
    "[1]",
    "[[[]]]",
    "{}",
    "{\"a\":1}",
    "{\"ins\":\"x\"}",
    "\"\\uD800\"",
    "01",
    "-",
    "1.",
    ".5",
    "+1",
    "NaN",
    "Infinity",
    "tru",
    "nul",
    "True",
    "1e",
    "1e+",
    "--1",
    "0x10",
    "[1,]",
    "{\"a\":1,}",
    "[,]",
    "\"\\x\"",
    "\"\\u12\"",
    "\"\\uZZZZ\"",
    "'a'",
    "\"a\nb\"",
    "\"\\/\"",
    "{\"a\":{\"a\":[]}}",
    "{\"rpps\":\"10003456786\"}",
    "{\"finess\":\"750712184\"}",
    "{\"ins\":1,\"ins\":2}",
    "[\"a\",{\"b\":null}]",
    "\"295109912611193\"",
    "\"1.2.250.1.213.1.4.10\"",
    "\"750712184\""};

/* Every JSON type (and many non-JSON texts) in every field; and every field absent. */
static void run_types(ing_test_counts_t *t)
{
    doc_t d;
    for (int m = 0; m < M__COUNT; m++) {
        for (size_t v = 0; v < sizeof(type_values) / sizeof(type_values[0]); v++) {
            doc_valid(&d);
            d.value[m] = type_values[v];
            compare_doc(t, member_path[m], &d);
        }
        doc_valid(&d);
        d.value[m] = NULL;
        compare_doc(t, "absent", &d);
        out_t o = render(&d, false);
        compare(t, "absent, no author", o.s, o.len);
        free(o.s);
    }
}

/* Bounded strings at their limits, counted in decoded bytes. */
static void run_lengths(ing_test_counts_t *t)
{
    static const struct {
        int m;
        size_t cap;
    } bounded[] = {{M_DOCUMENT_ID, ING_DOCUMENT_ID_MAX + 1},
                   {M_INS, ING_INS_LEN + 1},
                   {M_OID, 64},
                   {M_FINESS, ING_FINESS_LEN + 1},
                   {M_RPPS, ING_RPPS_LEN + 1},
                   {M_TYPE_CODE, 16},
                   {M_MEDIA_TYPE, 64},
                   {M_FORMAT_CODE, 64},
                   {M_TITLE, ING_TITLE_MAX_CHARS * 4 + 1},
                   {M_CREATED_AT, 40},
                   {M_CONFIDENTIALITY, 2},
                   {M_SHA256, ING_SHA256_HEX_LEN + 1}};
    static const char *const units[] = {"A", "\xc3\xa9", "\\u00e9", "\\n", "\\uD83D\\uDE00", "1"};
    static const size_t unit_bytes[] = {1, 2, 2, 1, 4, 1};
    char *v = malloc(16 * 1100);
    doc_t d;
    for (size_t b = 0; b < sizeof(bounded) / sizeof(bounded[0]); b++)
        for (size_t u = 0; u < sizeof(units) / sizeof(units[0]); u++)
            for (int delta = -2; delta <= 2; delta++) {
                long want = (long)bounded[b].cap - 1 + delta;
                if (want < 0)
                    continue;
                size_t n = 0;
                v[n++] = '"';
                for (long got = 0; got < want; got += (long)unit_bytes[u]) {
                    strcpy(v + n, units[u]);
                    n += strlen(units[u]);
                }
                v[n++] = '"';
                v[n] = '\0';
                doc_valid(&d);
                d.value[bounded[b].m] = v;
                compare_doc(t, "length", &d);
            }
    free(v);
}

static const char *const bad_utf8[] = {"\x80",
                                       "\xbf",
                                       "\xc0\xaf",
                                       "\xc1\xbf",
                                       "\xc2",
                                       "\xc2\x41",
                                       "\xe0\x80\xaf",
                                       "\xe0\x9f\xbf",
                                       "\xed\xa0\x80",
                                       "\xed\xbf\xbf",
                                       "\xef\xbf",
                                       "\xf0\x80\x80\xaf",
                                       "\xf0\x8f\xbf\xbf",
                                       "\xf4\x90\x80\x80",
                                       "\xf5\x80\x80\x80",
                                       "\xf8\x88\x80\x80\x80",
                                       "\xfc\x84\x80\x80\x80\x80",
                                       "\xfe",
                                       "\xff",
                                       "\xe2\x82",
                                       "\xf0\x9f\x98",
                                       "\xc3\xa9\x80",
                                       "\xc3\xc3"};
static const char *const good_utf8[] = {"\xc3\xa9",     "\xe2\x82\xac",     "\xf0\x9f\x98\x80",
                                        "\xef\xbb\xbf", "\xf4\x8f\xbf\xbf", "\xee\x80\x80",
                                        "\x7f",         "\xed\x9f\xbf"};
static const char *const escapes[] = {"\\uD800",
                                      "\\uDBFF",
                                      "\\uDC00",
                                      "\\uDFFF",
                                      "\\uD800\\uDC00",
                                      "\\uDBFF\\uDFFF",
                                      "\\uD800\\u0041",
                                      "\\uD800\\uD800",
                                      "\\uDC00\\uD800",
                                      "\\uD800\\n",
                                      "\\uD800x",
                                      "\\ud83d\\ude00",
                                      "\\u0000",
                                      "\\u0001",
                                      "\\u001f",
                                      "\\u007F",
                                      "\\u00e9",
                                      "\\uFFFF",
                                      "\\uFEFF",
                                      "\\u",
                                      "\\u12",
                                      "\\uD800\\u",
                                      "\\uD800\\uDC0",
                                      "\\uD800\\\\uDC00",
                                      "\\'",
                                      "\\a",
                                      "\\x41",
                                      "\\U0041",
                                      "\\/",
                                      "\\\\",
                                      "\\\"",
                                      "\\b\\f\\n\\r\\t"};

/* Invalid and valid UTF-8, and escapes, in a field, a key, a skipped value, nested. */
static void run_encodings(ing_test_counts_t *t)
{
    char v[64], k[64], x[96];
    doc_t d;
    const char *const *lists[] = {bad_utf8, good_utf8, escapes};
    size_t counts[] = {sizeof(bad_utf8) / sizeof(bad_utf8[0]),
                       sizeof(good_utf8) / sizeof(good_utf8[0]),
                       sizeof(escapes) / sizeof(escapes[0])};
    for (size_t l = 0; l < 3; l++)
        for (size_t i = 0; i < counts[l]; i++) {
            const char *s = lists[l][i];
            snprintf(v, sizeof(v), "\"a%sb\"", s);
            for (int m = 0; m < M__COUNT; m++) {
                if (m == M_VERSION || m == M_HIDDEN || m == M_PATIENT || m == M_SOURCE ||
                    m == M_AUTHOR)
                    continue;
                doc_valid(&d);
                d.value[m] = v;
                compare_doc(t, "encoding in a field", &d);
            }
            snprintf(k, sizeof(k), "ti%stle", s);
            doc_valid(&d);
            d.key[M_TITLE] = k;
            compare_doc(t, "encoding in a key", &d);
            doc_valid(&d);
            d.key[M_INS] = k;
            compare_doc(t, "encoding in a nested key", &d);
            snprintf(x, sizeof(x), "\"extra\":[\"%s\",{\"%s\":1}]", s, s);
            doc_valid(&d);
            d.extra_top = x;
            compare_doc(t, "encoding in a skipped value", &d);
            snprintf(v, sizeof(v), "\"%s\"", s);
            doc_valid(&d);
            d.value[M_TITLE] = v;
            compare_doc(t, "encoding alone", &d);
        }
    /* known keys spelled with escapes */
    static const char *const spelled[][2] = {{"title", "\\u0074itle"},
                                             {"title", "titl\\u0065"},
                                             {"title", "\\u0074\\u0069\\u0074\\u006C\\u0065"},
                                             {"ins", "i\\u006es"},
                                             {"content", "con\\u0074ent"},
                                             {"content", "content\\u0000"}};
    for (size_t i = 0; i < sizeof(spelled) / sizeof(spelled[0]); i++)
        for (int m = 0; m < M__COUNT; m++)
            if (strcmp(member_key[m], spelled[i][0]) == 0) {
                doc_valid(&d);
                d.key[m] = spelled[i][1];
                compare_doc(t, "escaped key", &d);
            }
}

/* Duplicate keys at every level, plainly and through escapes, few and many keys. */
static void run_duplicates(ing_test_counts_t *t)
{
    char x[4096];
    doc_t d;
    for (int m = 0; m < M_INS; m++) {
        doc_valid(&d);
        snprintf(x, sizeof(x), "\"%s\":%s", member_key[m],
                 d.value[m] ? d.value[m] : "{\"ins\":\"1\"}");
        d.extra_top = x;
        compare_doc(t, "duplicate top key", &d);
        doc_valid(&d);
        snprintf(x, sizeof(x), "\"%s\":\"other\"", member_key[m]);
        d.extra_top = x;
        compare_doc(t, "duplicate top key, other value", &d);
    }
    static const char *const extra_patient[] = {"\"ins\":\"295109912611193\"",
                                                "\"oid\":1",
                                                "\"i\\u006es\":\"x\"",
                                                "\"name\":1,\"name\":2",
                                                "\"name\":1,\"nam\\u0065\":2",
                                                "\"name\":{\"a\":1,\"a\":1}",
                                                "\"name\":1",
                                                "\"\":1",
                                                "\"\":1,\"\":2"};
    for (size_t i = 0; i < sizeof(extra_patient) / sizeof(extra_patient[0]); i++) {
        doc_valid(&d);
        d.extra_patient = extra_patient[i];
        compare_doc(t, "patient member", &d);
    }
    static const char *const extra_top[] = {
        "\"x\":1,\"x\":2",
        "\"x\":1,\"\\u0078\":2",
        "\"x\":{\"a\":{\"b\":1,\"b\":2}}",
        "\"x\":[{\"a\":1},{\"a\":1}]",
        "\"x\":[{\"a\":1,\"a\":1}]",
        "\"x\":{\"a\":{\"b\":1},\"b\":2}",
        "\"x\":{\"a\\u0062\":1,\"ab\":2}",
        "\"x\":{\"\\ud83d\\ude00\":1,\"\xf0\x9f\x98\x80\":2}",
        "\"x\":{\"\\ud83d\\ude00\":1,\"\xf0\x9f\x98\x81\":2}",
        "\"\":1",
        "\"\":1,\"\":1",
        "\"a very long unknown key that is much longer than forty-seven bytes, "
        "cut\":1",
        "\"a very long unknown key that is much longer than forty-seven bytes, "
        "cut\\u00e9\":1,\"a very long unknown key that is much longer than forty-seven bytes, "
        "cut\xc3\xa9\":2",
        "\"caf\\u00e9 \\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9"
        "\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\":1",
    };
    for (size_t i = 0; i < sizeof(extra_top) / sizeof(extra_top[0]); i++) {
        doc_valid(&d);
        d.extra_top = extra_top[i];
        compare_doc(t, "extra member", &d);
    }
    /* many keys (the sorted path), with and without one duplicate, at depth 2 and 3 */
    for (int dup = -1; dup < 40; dup += 7)
        for (int depth = 0; depth < 2; depth++) {
            size_t n = (size_t)snprintf(x, sizeof(x), "\"x\":%s{", depth ? "{\"y\":" : "");
            for (int k = 0; k < 40; k++)
                n += (size_t)snprintf(x + n, sizeof(x) - n, "%s\"k%d\":%d", k ? "," : "",
                                      k == 39 && dup >= 0 ? dup : k, k);
            snprintf(x + n, sizeof(x) - n, "}%s", depth ? "}" : "");
            doc_valid(&d);
            d.extra_top = x;
            compare_doc(t, "many keys", &d);
        }
}

/* Nesting around jansson's 2048 limit, in a skipped member, a field, and a batch. */
static void run_depth(ing_test_counts_t *t)
{
    size_t cap = 8 * 2100 + 64;
    char *x = malloc(cap), *body = malloc(cap + 2048);
    static const char *const opens[] = {"[", "{\"a\":", "[{\"a\":"};
    static const char *const closes[] = {"]", "}", "}]"};
    static const char *const leaves[] = {"1", "[]", "{}", "\"s\"", ""};
    doc_t d;
    for (size_t kind = 0; kind < 3; kind++)
        for (size_t leaf = 0; leaf < sizeof(leaves) / sizeof(leaves[0]); leaf++)
            for (int depth = 2040; depth <= 2050; depth++) {
                int levels = kind == 2 ? depth / 2 : depth;
                size_t n = 0;
                for (int i = 0; i < levels; i++)
                    n += (size_t)snprintf(x + n, cap - n, "%s", opens[kind]);
                n += (size_t)snprintf(x + n, cap - n, "%s", leaves[leaf]);
                for (int i = 0; i < levels; i++)
                    n += (size_t)snprintf(x + n, cap - n, "%s", closes[kind]);
                doc_valid(&d);
                d.value[M_TITLE] = x;
                compare_doc(t, "deep title", &d);
                doc_valid(&d);
                snprintf(body, cap + 2048, "\"extra\":%s", x);
                d.extra_top = body;
                compare_doc(t, "deep extra", &d);
                compare(t, "deep body", x, n);
            }
    free(x);
    free(body);
}

/* Content: escapes on the slow path, padding, alphabet, sizes around both limits. */
static void run_content(ing_test_counts_t *t)
{
    uint8_t raw[1200];
    char b64[1700], esc[10000], sha[ING_SHA256_HEX_LEN + 3], value[10100];
    doc_t d;
    for (size_t len = 0; len < sizeof(raw); len = len < 70 ? len + 1 : len * 3 / 2 + 1) {
        for (size_t i = 0; i < len; i++)
            raw[i] = (uint8_t)(0xfc + i * 7); /* bytes that give '/' and '+' */
        uint8_t digest[ING_SHA256_LEN];
        ing_sha256(raw, len, digest);
        sha[0] = '"';
        ing_hex_encode(digest, sizeof(digest), sha + 1);
        strcat(sha, "\"");
        ing_base64_encode(raw, len, b64);
        for (int variant = 0; variant < 6; variant++) {
            size_t n = 0;
            for (const char *p = b64; *p; p++) {
                if (variant == 1 && *p == '/')
                    n += (size_t)sprintf(esc + n, "\\/");
                else if (variant == 2 && *p == '/')
                    n += (size_t)sprintf(esc + n, "\\u002F");
                else if (variant == 3)
                    n += (size_t)sprintf(esc + n, "\\u%04x", (unsigned char)*p);
                else if (variant == 4 && p == b64 + 4)
                    n += (size_t)sprintf(esc + n, "\\n%c", *p);
                else if (variant == 5 && p[1] == '\0')
                    n += (size_t)sprintf(esc + n, "%c%c", *p, *p);
                else
                    esc[n++] = *p;
            }
            esc[n] = '\0';
            snprintf(value, sizeof(value), "\"%s\"", esc);
            doc_valid(&d);
            d.value[M_CONTENT] = value;
            d.value[M_SHA256] = sha;
            compare_doc(t, "content", &d);
        }
    }
    static const char *const contents[] = {"\"\"",
                                           "\"QQ==\"",
                                           "\"QR==\"",
                                           "\"QQ=\"",
                                           "\"QQ\"",
                                           "\"QUI=\"",
                                           "\"QUJ=\"",
                                           "\"QUJD\"",
                                           "\"====\"",
                                           "\"A===\"",
                                           "\"AA=A\"",
                                           "\"QUJD QUJD\"",
                                           "\"QUJD\\nQUJD\"",
                                           "\"QU JD\"",
                                           "\"QUJD====\"",
                                           "\"QQ==QUJD\"",
                                           "\"-_-_\"",
                                           "\"QUJ\xc3\xa9\"",
                                           "\"\\u0051UJD\"",
                                           "\"QUJD\\u0000\"",
                                           "\"QUJD\\uD800\"",
                                           "\"QUJD\\\"\"",
                                           "\"QUJD\\\\\""};
    for (size_t i = 0; i < sizeof(contents) / sizeof(contents[0]); i++) {
        doc_valid(&d);
        d.value[M_CONTENT] = contents[i];
        compare_doc(t, "content text", &d);
    }
}

static void run_whitespace_and_edges(ing_test_counts_t *t)
{
    doc_t d;
    static const char *const ws[] = {" ",  "\n", "\r\n",     "\t",           "  \n\t ",
                                     "\f", "\v", "\xc2\xa0", "\xef\xbb\xbf", "\0"};
    for (size_t i = 0; i < sizeof(ws) / sizeof(ws[0]); i++) {
        doc_valid(&d);
        d.ws = ws[i];
        compare_doc(t, "whitespace", &d);
    }
    doc_valid(&d);
    out_t o = render(&d, true);
    static const char *const prefixes[] = {"", " ", "\xef\xbb\xbf", "\n\n", "\0", "[", "x"};
    static const char *const suffixes[] = {"",  " ",        "\n",      "x",  "{}", ",",    "]",
                                           "}", "\xc3\xa9", "\r\n\t ", "\0", "//", "/* */"};
    out_t b = {0};
    for (size_t p = 0; p < sizeof(prefixes) / sizeof(prefixes[0]); p++)
        for (size_t s = 0; s < sizeof(suffixes) / sizeof(suffixes[0]); s++) {
            b.len = 0;
            put(&b, prefixes[p], p == 4 ? 1 : strlen(prefixes[p]));
            put(&b, o.s, o.len);
            put(&b, suffixes[s], s == 10 ? 1 : strlen(suffixes[s]));
            compare(t, "prefix and suffix", b.s, b.len);
        }
    static const char *const bodies[] = {"{}",
                                         "[]",
                                         "[{}]",
                                         "1",
                                         "\"x\"",
                                         "null",
                                         "true",
                                         " ",
                                         "{\"a\"}",
                                         "{\"a\":}",
                                         "{,}",
                                         "{:1}",
                                         "{\"a\":1 \"b\":2}",
                                         "{\"a\" 1}",
                                         "{1:1}",
                                         "{\"a\":1}}",
                                         "[[]",
                                         "{\"document_id\":\"x\"}",
                                         "{\"content\":\"QUJD\"}",
                                         "{\"patient\":{}}",
                                         "{\"patient\":{\"ins\":1,\"ins\":2}}"};
    for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++)
        compare_str(t, "body", bodies[i]);
    compare(t, "NULL body", NULL, 0);
    /* the known divergence: jansson drops one NUL byte after a number or a literal */
    static const char nul_after[] = "{\"version\":1\0,\"x\":true\0}";
    compare(t, "NUL after number", nul_after, sizeof(nul_after) - 1);
    free(b.s);
    free(o.s);
}

/* Seeded random mutations of valid texts: several edits at once. */
static void run_random(ing_test_counts_t *t, const char *const *bases, size_t nbases, long rounds)
{
    static const char tokens[] = "{}[],:\"\\ 0123456789-+.eEtrufalsn\x00\x80\xc3\xa9\xff\x1f";
    uint64_t seed = 0x9e3779b97f4a7c15ULL;
#define RNG() (seed ^= seed << 13, seed ^= seed >> 7, seed ^= seed << 17, seed)
    char *buf = malloc(1 << 16);
    for (long r = 0; r < rounds; r++) {
        const char *base = bases[RNG() % nbases];
        size_t len = strlen(base);
        memcpy(buf, base, len);
        int edits = 1 + (int)(RNG() % 4);
        for (int e = 0; e < edits && len > 2; e++) {
            size_t at = RNG() % len;
            switch (RNG() % 5) {
            case 0:
                buf[at] = tokens[RNG() % (sizeof(tokens) - 1)];
                break;
            case 1:
                buf[at] = (char)RNG();
                break;
            case 2: /* delete a range */
            {
                size_t n = 1 + RNG() % 8;
                if (at + n > len)
                    n = len - at;
                memmove(buf + at, buf + at + n, len - at - n);
                len -= n;
                break;
            }
            case 3: /* duplicate a range */
            {
                size_t n = 1 + RNG() % 24;
                if (at + n > len)
                    n = len - at;
                if (len + n < (1 << 16)) {
                    memmove(buf + at + n, buf + at, len - at);
                    len += n;
                }
                break;
            }
            default:
                if (len + 1 < (1 << 16)) {
                    memmove(buf + at + 1, buf + at, len - at);
                    buf[at] = tokens[RNG() % (sizeof(tokens) - 1)];
                    len++;
                }
            }
        }
        compare(t, "random", buf, len);
    }
#undef RNG
    free(buf);
}

/*
 * The table-driven base64 decoder (and its AVX2 steps, from 44 characters on) against
 * ing_base64_decode. The output buffer is exactly ing_base64_decoded_max(len) bytes on the
 * heap, so that a step writing past it is an AddressSanitizer report; a third of the inputs
 * are valid but for one byte, anywhere, so that every lane's check is exercised.
 */
static void run_base64(ing_test_counts_t *t)
{
    static const char alpha[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
                                "====A/-_ \n\x80@[`{:*,.\x7f\xff";
    uint64_t seed = 42;
    char in[400];
    uint8_t a[300];
    int bad = 0, valid = 0;
#define RNG() (seed = seed * 6364136223846793005ULL + 1442695040888963407ULL, seed >> 33)
    for (long r = 0; r < 200000; r++) {
        size_t len = (r & 1) ? RNG() % 73 : RNG() % sizeof(in);
        for (size_t i = 0; i < len; i++)
            in[i] = alpha[RNG() % 64];
        if (r % 3 == 0 && len > 0) {
            size_t at = RNG() % len;
            in[at] = alpha[64 + RNG() % (sizeof(alpha) - 1 - 64)];
        } else if (r % 3 == 1)
            for (size_t i = 0; i < len; i++) /* mostly valid alphabet, sometimes anything */
                if (RNG() % 16 == 0)
                    in[i] = alpha[RNG() % (sizeof(alpha) - 1)];
        if (len >= 2 && (r & 3) == 0)
            in[len - 1] = '=';
        if (len >= 3 && (r & 7) == 0)
            in[len - 2] = '=';
        uint8_t *b = malloc(ing_base64_decoded_max(len));
        size_t la = 0, lb = 0;
        ing_err_t ea = ing_base64_decode(in, len, a, &la);
        ing_err_t eb = ing_json_base64_decode(in, len, b, &lb);
        if (ea != eb || (ea == ING_OK && (la != lb || memcmp(a, b, la) != 0)))
            bad++;
        valid += ea == ING_OK && len >= 44;
        free(b);
    }
#undef RNG
    CHECK(t, bad == 0, "base64: %d inputs decoded differently", bad);
    CHECK(t, valid > 10000, "base64: only %d valid inputs long enough for the AVX2 steps", valid);
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
    conf.max_content_bytes = 1 << 20;
    if (ing_policy_create(&conf, &policy_big, errstr, sizeof(errstr)) != ING_OK) {
        fprintf(stderr, "policy: %s\n", errstr);
        return 1;
    }
    now = ing_wall_us();
    {
        uint8_t digest[ING_SHA256_LEN];
        ing_sha256(CONTENT, strlen(CONTENT), digest);
        sha_valid[0] = '"';
        ing_hex_encode(digest, sizeof(digest), sha_valid + 1);
        strcat(sha_valid, "\"");
        b64_valid[0] = '"';
        ing_base64_encode((const uint8_t *)CONTENT, strlen(CONTENT), b64_valid + 1);
        strcat(b64_valid, "\"");
    }
    run_table_rows(&t);

    doc_t d;
    doc_valid(&d);
    out_t compact = render(&d, true);
    d.ws = "\n  ";
    out_t pretty = render(&d, true);
    json_t *root = valid_envelope();
    char *jansson_text = json_dumps(root, JSON_INDENT(1));
    json_decref(root);
    CHECK(&t, compact.s && pretty.s && jansson_text, "rendered");

    run_offsets(&t, compact.s);
    run_offsets(&t, jansson_text);
    run_types(&t);
    run_lengths(&t);
    run_encodings(&t);
    run_duplicates(&t);
    run_depth(&t);
    run_content(&t);
    run_whitespace_and_edges(&t);
    const char *bases[] = {compact.s, pretty.s, jansson_text};
    run_random(&t, bases, 3, 30000);
    run_base64(&t);

    printf("test_json: %ld inputs compared (each under two policies and in a batch), %ld known "
           "NUL divergences\n",
           n_compared / 2, n_divergent);
    free(compact.s);
    free(pretty.s);
    free(jansson_text);
    ing_policy_destroy(policy);
    ing_policy_destroy(policy_big);
    return ING_TEST_END(&t);
}
