#include "ing_json.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif
#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define ING_B64_AVX2 1
#endif

/* ---- the reader: bytes, position, first syntax error -------------------------------------- */

/* What a value was; JK_ABSENT for a field that was not there. */
enum jkind {
    JK_ABSENT,
    JK_NULL,
    JK_FALSE,
    JK_TRUE,
    JK_INT,
    JK_REAL,
    JK_STRING,
    JK_ARRAY,
    JK_OBJECT
};

/* One key of an object being read, kept until the object closes to refuse duplicates. */
typedef struct key_entry {
    uint64_t hash;      /* FNV-1a of the decoded key */
    size_t start;       /* raw key bytes in the input, or its decoded copy in the arena */
    size_t len;         /* decoded length; KEY_MARK marks where an object's keys start */
    const uint8_t *ptr; /* resolved when the object closes */
    bool escaped;       /* start is an arena offset */
} key_entry_t;

#define KEY_MARK SIZE_MAX
#define KEYS_INLINE 32

typedef struct jp {
    const uint8_t *s;
    size_t len;
    size_t pos;
    const char *err; /* first syntax error (static text), NULL while none */
    size_t err_pos;
    bool nomem;
    key_entry_t *keys; /* stack of the open objects' keys: keys_inline, or malloc'ed */
    size_t nkeys, keys_cap;
    char *arena; /* decoded copies of escaped keys (rare) */
    size_t arena_len, arena_cap;
    key_entry_t keys_inline[KEYS_INLINE];
} jp_t;

static void jp_init(jp_t *p, const char *json, size_t len)
{
    p->s = (const uint8_t *)json;
    p->len = json ? len : 0;
    p->pos = 0;
    p->err = NULL;
    p->err_pos = 0;
    p->nomem = false;
    p->keys = p->keys_inline;
    p->nkeys = 0;
    p->keys_cap = KEYS_INLINE;
    p->arena = NULL;
    p->arena_len = p->arena_cap = 0;
}

static void jp_fini(jp_t *p)
{
    if (p->keys != p->keys_inline)
        free(p->keys);
    free(p->arena);
}

static bool fail(jp_t *p, const char *msg)
{
    if (!p->err) {
        p->err = msg;
        p->err_pos = p->pos;
    }
    return false;
}

static inline int peek(const jp_t *p)
{
    return p->pos < p->len ? p->s[p->pos] : -1;
}

static inline void skip_ws(jp_t *p)
{
    while (p->pos < p->len) {
        uint8_t c = p->s[p->pos];
        if (c != ' ' && c != '\n' && c != '\r' && c != '\t')
            return;
        p->pos++;
    }
}

static bool is_digit(int c)
{
    return c >= '0' && c <= '9';
}

/* ---- strings ------------------------------------------------------------------------------- */

/* Where decoded string bytes go: a bounded buffer (prefix kept, NUL-terminated), a hash, or
 * nowhere; the decoded length is always counted. */
typedef struct jstr {
    char *buf;  /* NULL: do not copy */
    size_t cap; /* bytes buf holds, NUL included */
    size_t len; /* decoded length */
    uint64_t hash;
    bool want_hash;
    bool escaped;
    size_t raw_start, raw_end; /* the bytes between the quotes */
} jstr_t;

#define FNV_OFFSET 0xcbf29ce484222325ULL
#define FNV_PRIME 0x100000001b3ULL

static inline void emit(jstr_t *o, const uint8_t *b, size_t n)
{
    if (o->buf && o->len + 1 < o->cap) {
        size_t room = o->cap - 1 - o->len;
        memcpy(o->buf + o->len, b, n < room ? n : room);
    }
    o->len += n;
    if (o->want_hash)
        for (size_t i = 0; i < n; i++)
            o->hash = (o->hash ^ b[i]) * FNV_PRIME;
}

/* Bytes a string scan must stop at: '"', '\\', controls, and non-ASCII (UTF-8 is checked). */
static inline bool str_special(uint8_t c)
{
    return c == '"' || c == '\\' || c < 0x20 || c >= 0x80;
}

/* The first special byte at or after i, or len. Base64 has none: this is the content's scan. */
static inline size_t find_special(const uint8_t *s, size_t i, size_t len)
{
#ifdef __SSE2__
    const __m128i quote = _mm_set1_epi8('"'), bslash = _mm_set1_epi8('\\');
    const __m128i space = _mm_set1_epi8(0x20);
    while (i + 16 <= len) {
        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(s + i));
        /* signed compare: bytes >= 0x80 are negative, so "< 0x20" also catches non-ASCII */
        __m128i m = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, bslash)),
                                 _mm_cmplt_epi8(v, space));
        int mask = _mm_movemask_epi8(m);
        if (mask)
            return i + (size_t)__builtin_ctz((unsigned)mask);
        i += 16;
    }
#endif
    while (i < len && !str_special(s[i]))
        i++;
    return i;
}

/* Length of the valid UTF-8 sequence at s[i] (a byte >= 0x80), or 0: jansson's utf8_check_*
 * rules (no overlong forms, no surrogates, nothing above U+10FFFF). */
static size_t utf8_seq(const uint8_t *s, size_t i, size_t len)
{
    uint8_t c = s[i];
    size_t n;
    uint32_t cp;
    if (c >= 0xc2 && c <= 0xdf) {
        n = 2;
        cp = c & 0x1f;
    } else if (c >= 0xe0 && c <= 0xef) {
        n = 3;
        cp = c & 0x0f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        n = 4;
        cp = c & 0x07;
    } else {
        return 0;
    }
    if (len - i < n)
        return 0;
    for (size_t k = 1; k < n; k++) {
        if ((s[i + k] & 0xc0) != 0x80)
            return 0;
        cp = cp << 6 | (s[i + k] & 0x3f);
    }
    if (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff) || (n == 3 && cp < 0x800) ||
        (n == 4 && cp < 0x10000))
        return 0;
    return n;
}

/* The code unit of the 4 hex digits at s[i], or -1. */
static int32_t hex4(const uint8_t *s, size_t i, size_t len)
{
    if (len - i < 4 || i > len)
        return -1;
    int32_t v = 0;
    for (size_t k = 0; k < 4; k++) {
        uint8_t c = s[i + k];
        int d = c >= '0' && c <= '9'   ? c - '0'
                : c >= 'a' && c <= 'f' ? c - 'a' + 10
                : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                       : -1;
        if (d < 0)
            return -1;
        v = v << 4 | d;
    }
    return v;
}

static size_t utf8_encode(uint32_t cp, uint8_t out[4])
{
    if (cp < 0x80) {
        out[0] = (uint8_t)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (uint8_t)(0xc0 | cp >> 6);
        out[1] = (uint8_t)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (uint8_t)(0xe0 | cp >> 12);
        out[1] = (uint8_t)(0x80 | (cp >> 6 & 0x3f));
        out[2] = (uint8_t)(0x80 | (cp & 0x3f));
        return 3;
    }
    out[0] = (uint8_t)(0xf0 | cp >> 18);
    out[1] = (uint8_t)(0x80 | (cp >> 12 & 0x3f));
    out[2] = (uint8_t)(0x80 | (cp >> 6 & 0x3f));
    out[3] = (uint8_t)(0x80 | (cp & 0x3f));
    return 4;
}

/* Reads the string at p->pos (its opening quote) and leaves p->pos after the closing one. */
static bool scan_string(jp_t *p, jstr_t *o)
{
    const uint8_t *s = p->s;
    size_t len = p->len, i = p->pos + 1;
    o->len = 0;
    o->hash = FNV_OFFSET;
    o->escaped = false;
    o->raw_start = i;
    for (;;) {
        size_t j = find_special(s, i, len);
        if (j > i)
            emit(o, s + i, j - i);
        i = j;
        p->pos = i;
        if (i >= len)
            return fail(p, "premature end of input in a string");
        uint8_t c = s[i];
        if (c == '"')
            break;
        if (c < 0x20)
            return fail(p, "control character in a string");
        if (c >= 0x80) {
            size_t n = utf8_seq(s, i, len);
            if (!n)
                return fail(p, "invalid UTF-8");
            emit(o, s + i, n);
            i += n;
            continue;
        }
        /* a backslash escape */
        o->escaped = true;
        if (i + 1 >= len)
            return fail(p, "premature end of input in a string");
        uint8_t e = s[i + 1], one;
        switch (e) {
        case '"':
        case '\\':
        case '/':
            one = e;
            break;
        case 'b':
            one = '\b';
            break;
        case 'f':
            one = '\f';
            break;
        case 'n':
            one = '\n';
            break;
        case 'r':
            one = '\r';
            break;
        case 't':
            one = '\t';
            break;
        case 'u': {
            int32_t cp = hex4(s, i + 2, len);
            if (cp < 0)
                return fail(p, "invalid \\u escape");
            i += 6;
            if (cp >= 0xd800 && cp <= 0xdbff) {
                int32_t lo =
                    i + 1 < len && s[i] == '\\' && s[i + 1] == 'u' ? hex4(s, i + 2, len) : -2;
                p->pos = i;
                if (lo == -1)
                    return fail(p, "invalid \\u escape");
                if (lo < 0xdc00 || lo > 0xdfff)
                    return fail(p, "unpaired UTF-16 surrogate");
                cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
                i += 6;
            } else if (cp >= 0xdc00 && cp <= 0xdfff) {
                return fail(p, "unpaired UTF-16 surrogate");
            } else if (cp == 0) {
                return fail(p, "\\u0000 is not allowed");
            }
            uint8_t u[4];
            emit(o, u, utf8_encode((uint32_t)cp, u));
            continue;
        }
        default:
            return fail(p, "invalid escape");
        }
        emit(o, &one, 1);
        i += 2;
    }
    o->raw_end = i;
    p->pos = i + 1;
    if (o->buf)
        o->buf[o->len < o->cap ? o->len : o->cap - 1] = '\0';
    return true;
}

/* Decodes the already checked string whose raw bytes start at raw_start into buf (cap bytes). */
static size_t decode_checked_string(jp_t *p, size_t raw_start, char *buf, size_t cap)
{
    size_t save = p->pos;
    jstr_t o = {.buf = buf, .cap = cap};
    p->pos = raw_start - 1;
    bool ok = scan_string(p, &o);
    p->pos = save;
    return ok ? o.len : 0;
}

/* ---- numbers and literals ------------------------------------------------------------------ */

/* Would strtod overflow (HUGE_VAL, ERANGE) on this JSON real, as jansson's jsonp_strtod checks?
 * digits = the integer and fraction digits, exp10 the written exponent. Only values near
 * DBL_MAX need strtod, on a copy without a decimal point (locale independent). */
static bool real_overflows(const uint8_t *int_d, size_t n_int, const uint8_t *frac_d, size_t n_frac,
                           int64_t exp10)
{
    size_t k = 0, n = n_int + n_frac;
#define DIGIT_AT(i) ((i) < n_int ? int_d[(i)] : frac_d[(i)-n_int])
    while (k < n && DIGIT_AT(k) == '0')
        k++;
    if (k == n)
        return false;                                      /* zero */
    int64_t sci = (int64_t)n_int - 1 - (int64_t)k + exp10; /* d.ddd x 10^sci */
    if (sci < 308)
        return false;
    if (sci > 308)
        return true;
    char buf[840];
    size_t b = 0, i = k;
    for (; i < n && b < 800; i++)
        buf[b++] = (char)DIGIT_AT(i);
    bool sticky = false;
    for (; i < n && !sticky; i++)
        sticky = DIGIT_AT(i) != '0';
    if (sticky)
        buf[b++] = '1';
#undef DIGIT_AT
    snprintf(buf + b, sizeof(buf) - b, "e%d", (int)(308 - (int64_t)(b - 1)));
    errno = 0;
    double v = strtod(buf, NULL);
    return errno == ERANGE && v > 1.0;
}

static bool scan_number(jp_t *p, uint8_t *kind, int64_t *ival)
{
    const uint8_t *s = p->s;
    size_t len = p->len, i = p->pos;
    bool neg = s[i] == '-';
    if (neg)
        i++;
    size_t int_start = i;
    if (i < len && s[i] == '0') {
        i++;
        if (i < len && is_digit(s[i]))
            return fail(p, "invalid number (leading zero)");
    } else if (i < len && is_digit(s[i])) {
        while (i < len && is_digit(s[i]))
            i++;
    } else {
        return fail(p, "invalid number");
    }
    size_t n_int = i - int_start;
    if (i >= len || (s[i] != '.' && s[i] != 'e' && s[i] != 'E')) {
        /* jansson reads integers with strtoll: outside int64 is an error */
        if (n_int > 19 ||
            (n_int == 19 &&
             memcmp(s + int_start, neg ? "9223372036854775808" : "9223372036854775807", 19) > 0)) {
            p->pos = i;
            return fail(p, neg ? "too big negative integer" : "too big integer");
        }
        uint64_t v = 0;
        for (size_t k = int_start; k < i; k++)
            v = v * 10 + (uint64_t)(s[k] - '0');
        *ival = neg ? (int64_t)(0 - v) : (int64_t)v;
        *kind = JK_INT;
        p->pos = i;
        return true;
    }
    size_t frac_start = i, n_frac = 0;
    if (s[i] == '.') {
        i++;
        frac_start = i;
        if (i >= len || !is_digit(s[i])) {
            p->pos = i;
            return fail(p, "invalid number (fraction)");
        }
        while (i < len && is_digit(s[i]))
            i++;
        n_frac = i - frac_start;
    }
    int64_t exp10 = 0;
    if (i < len && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        bool eneg = false;
        if (i < len && (s[i] == '+' || s[i] == '-'))
            eneg = s[i++] == '-';
        if (i >= len || !is_digit(s[i])) {
            p->pos = i;
            return fail(p, "invalid number (exponent)");
        }
        for (; i < len && is_digit(s[i]); i++)
            if (exp10 < 1000000000)
                exp10 = exp10 * 10 + (s[i] - '0');
        if (eneg)
            exp10 = -exp10;
    }
    p->pos = i;
    if (real_overflows(s + int_start, n_int, s + frac_start, n_frac, exp10))
        return fail(p, "real number overflow");
    *kind = JK_REAL;
    return true;
}

static bool scan_literal(jp_t *p, uint8_t *kind)
{
    static const struct {
        const char *text;
        size_t len;
        uint8_t kind;
    } lits[] = {{"true", 4, JK_TRUE}, {"false", 5, JK_FALSE}, {"null", 4, JK_NULL}};
    for (size_t i = 0; i < sizeof(lits) / sizeof(lits[0]); i++)
        if (p->len - p->pos >= lits[i].len &&
            memcmp(p->s + p->pos, lits[i].text, lits[i].len) == 0) {
            p->pos += lits[i].len;
            *kind = lits[i].kind;
            return true;
        }
    return fail(p, "invalid token");
}

/* ---- duplicate keys ------------------------------------------------------------------------ */

static bool keys_reserve(jp_t *p)
{
    if (p->nkeys < p->keys_cap)
        return true;
    size_t cap = p->keys_cap * 2;
    key_entry_t *k =
        p->keys == p->keys_inline ? malloc(cap * sizeof(*k)) : realloc(p->keys, cap * sizeof(*k));
    if (!k) {
        p->nomem = true;
        return fail(p, "out of memory");
    }
    if (p->keys == p->keys_inline)
        memcpy(k, p->keys_inline, sizeof(p->keys_inline));
    p->keys = k;
    p->keys_cap = cap;
    return true;
}

/* An object opens: its keys go above this mark (which remembers the arena's length). */
static bool keys_mark(jp_t *p)
{
    if (!keys_reserve(p))
        return false;
    p->keys[p->nkeys++] = (key_entry_t){.len = KEY_MARK, .start = p->arena_len};
    return true;
}

static bool keys_push(jp_t *p, const jstr_t *k)
{
    if (!keys_reserve(p))
        return false;
    key_entry_t e = {.hash = k->hash, .start = k->raw_start, .len = k->len, .escaped = k->escaped};
    if (k->escaped) {
        /* "a" and "\u0061" are the same key: keep the decoded bytes to compare. */
        size_t need = k->raw_end - k->raw_start + 1;
        if (p->arena_cap - p->arena_len < need) {
            size_t cap = p->arena_cap ? p->arena_cap : 256;
            while (cap - p->arena_len < need)
                cap *= 2;
            char *a = realloc(p->arena, cap);
            if (!a) {
                p->nomem = true;
                return fail(p, "out of memory");
            }
            p->arena = a;
            p->arena_cap = cap;
        }
        e.start = p->arena_len;
        p->arena_len += decode_checked_string(p, k->raw_start, p->arena + p->arena_len, need);
    }
    p->keys[p->nkeys++] = e;
    return true;
}

static int key_cmp(const void *a, const void *b)
{
    const key_entry_t *x = a, *y = b;
    if (x->hash != y->hash)
        return x->hash < y->hash ? -1 : 1;
    if (x->len != y->len)
        return x->len < y->len ? -1 : 1;
    return memcmp(x->ptr, y->ptr, x->len);
}

/* The object closes: refuse a duplicate among its keys, then forget them. */
static bool keys_close(jp_t *p)
{
    size_t m = p->nkeys;
    while (p->keys[--m].len != KEY_MARK) {
    }
    key_entry_t *e = p->keys + m + 1;
    size_t n = p->nkeys - m - 1;
    bool dup = false;
    for (size_t i = 0; i < n; i++)
        e[i].ptr = e[i].escaped ? (const uint8_t *)p->arena + e[i].start : p->s + e[i].start;
    if (n <= 8) {
        for (size_t i = 0; i < n && !dup; i++)
            for (size_t j = i + 1; j < n && !dup; j++)
                dup = key_cmp(&e[i], &e[j]) == 0;
    } else {
        qsort(e, n, sizeof(*e), key_cmp);
        for (size_t i = 1; i < n && !dup; i++)
            dup = key_cmp(&e[i - 1], &e[i]) == 0;
    }
    p->arena_len = p->keys[m].start;
    p->nkeys = m;
    return dup ? fail(p, "duplicate object key") : true;
}

/* ---- any value, checked and skipped -------------------------------------------------------- */

/* A key, the colon and the whitespace after it, inside a skipped object. */
static bool read_key_colon(jp_t *p)
{
    if (peek(p) != '"')
        return fail(p, "string or '}' expected");
    jstr_t k = {.want_hash = true};
    if (!scan_string(p, &k) || !keys_push(p, &k))
        return false;
    skip_ws(p);
    if (peek(p) != ':')
        return fail(p, "':' expected");
    p->pos++;
    skip_ws(p);
    return true;
}

/*
 * Reads and checks the value at p->pos, whose depth in jansson's sense is `depth` (the top-level
 * value is 1), without keeping it; *kind and *ival say what it was. Iterative: a deep document
 * costs a bit per level, not a stack frame.
 */
static bool skip_value(jp_t *p, unsigned depth, uint8_t *kind, int64_t *ival)
{
    uint8_t is_object[ING_JSON_MAX_DEPTH / 8 + 1];
    unsigned sp = 0; /* containers open in this call */
    for (;;) {
        if (depth + sp > ING_JSON_MAX_DEPTH)
            return fail(p, "maximum parsing depth reached");
        int c = peek(p);
        uint8_t k = JK_ABSENT;
        int64_t iv = 0;
        bool opened = false;
        if (c == '{' || c == '[') {
            k = c == '{' ? JK_OBJECT : JK_ARRAY;
            p->pos++;
            skip_ws(p);
            if (c == '{' && !keys_mark(p))
                return false;
            if (peek(p) == (c == '{' ? '}' : ']')) {
                p->pos++;
                if (c == '{' && !keys_close(p))
                    return false;
            } else {
                if (c == '{' && !read_key_colon(p))
                    return false;
                if (c == '{')
                    is_object[sp / 8] |= (uint8_t)(1u << sp % 8);
                else
                    is_object[sp / 8] &= (uint8_t) ~(1u << sp % 8);
                opened = true;
            }
        } else if (c == '"') {
            jstr_t o = {0};
            if (!scan_string(p, &o))
                return false;
            k = JK_STRING;
        } else if (c == '-' || is_digit(c)) {
            if (!scan_number(p, &k, &iv))
                return false;
        } else if (c == -1) {
            return fail(p, "premature end of input");
        } else if (!scan_literal(p, &k)) {
            return false;
        }
        if (sp == 0) {
            *kind = k;
            *ival = iv;
        }
        if (opened) {
            sp++;
            continue;
        }
        /* a value ended: close what it ends, until a comma asks for the next value */
        for (;;) {
            if (sp == 0)
                return true;
            bool obj = is_object[(sp - 1) / 8] >> (sp - 1) % 8 & 1;
            skip_ws(p);
            c = peek(p);
            if (c == ',') {
                p->pos++;
                skip_ws(p);
                if (obj && !read_key_colon(p))
                    return false;
                break;
            }
            if (c != (obj ? '}' : ']'))
                return fail(p, obj ? "',' or '}' expected" : "',' or ']' expected");
            p->pos++;
            if (obj && !keys_close(p))
                return false;
            sp--;
        }
    }
}

/* ---- the envelope -------------------------------------------------------------------------- */

enum field_id {
    F_DOCUMENT_ID,
    F_VERSION,
    F_PATIENT,
    F_SOURCE,
    F_AUTHOR,
    F_TYPE_CODE,
    F_MEDIA_TYPE,
    F_FORMAT_CODE,
    F_TITLE,
    F_CREATED_AT,
    F_CONFIDENTIALITY,
    F_HIDDEN,
    F_SHA256,
    F_CONTENT,
    F_INS,
    F_OID,
    F_FINESS,
    F_RPPS,
    F__COUNT,
    F_TOP = F__COUNT /* parent of the top-level fields */
};

enum field_type { T_STRING, T_SCALAR, T_OBJECT, T_CONTENT };

static const struct field_def {
    const char *name;
    uint8_t name_len;
    uint8_t parent;
    uint8_t type;
} field_defs[F__COUNT] = {
    [F_DOCUMENT_ID] = {"document_id", 11, F_TOP, T_STRING},
    [F_VERSION] = {"version", 7, F_TOP, T_SCALAR},
    [F_PATIENT] = {"patient", 7, F_TOP, T_OBJECT},
    [F_SOURCE] = {"source", 6, F_TOP, T_OBJECT},
    [F_AUTHOR] = {"author", 6, F_TOP, T_OBJECT},
    [F_TYPE_CODE] = {"type_code", 9, F_TOP, T_STRING},
    [F_MEDIA_TYPE] = {"media_type", 10, F_TOP, T_STRING},
    [F_FORMAT_CODE] = {"format_code", 11, F_TOP, T_STRING},
    [F_TITLE] = {"title", 5, F_TOP, T_STRING},
    [F_CREATED_AT] = {"created_at", 10, F_TOP, T_STRING},
    [F_CONFIDENTIALITY] = {"confidentiality", 15, F_TOP, T_STRING},
    [F_HIDDEN] = {"hidden_from_patient", 19, F_TOP, T_SCALAR},
    [F_SHA256] = {"sha256", 6, F_TOP, T_STRING},
    [F_CONTENT] = {"content", 7, F_TOP, T_CONTENT},
    [F_INS] = {"ins", 3, F_PATIENT, T_STRING},
    [F_OID] = {"oid", 3, F_PATIENT, T_STRING},
    [F_FINESS] = {"finess", 6, F_SOURCE, T_STRING},
    [F_RPPS] = {"rpps", 4, F_AUTHOR, T_STRING},
};

/* What the reading pass saw; the checking pass turns it into a verdict in jansson's order. */
typedef struct env_fields {
    uint8_t kind[F__COUNT];
    bool too_long[F__COUNT];
    int64_t version;
    char conf[2];
    char sha_hex[ING_SHA256_HEX_LEN + 1];
    bool unknown[F__COUNT + 1]; /* per object (patient, source, author, top) */
    char unknown_key[F__COUNT + 1][48];
    size_t content_start, content_len; /* raw start, decoded length */
    bool content_escaped;
} env_fields_t;

/* Where a string field is decoded to, and its capacity (NUL included). */
static char *field_dest(ing_envelope_t *env, env_fields_t *f, int id, size_t *cap)
{
#define DEST(member)                                                                               \
    do {                                                                                           \
        *cap = sizeof(member);                                                                     \
        return member;                                                                             \
    } while (0)
    switch (id) {
    case F_DOCUMENT_ID:
        DEST(env->document_id);
    case F_TYPE_CODE:
        DEST(env->type_code);
    case F_MEDIA_TYPE:
        DEST(env->media_type);
    case F_FORMAT_CODE:
        DEST(env->format_code);
    case F_TITLE:
        DEST(env->title);
    case F_CREATED_AT:
        DEST(env->created_at);
    case F_CONFIDENTIALITY:
        DEST(f->conf);
    case F_SHA256:
        DEST(f->sha_hex);
    case F_INS:
        DEST(env->ins);
    case F_OID:
        DEST(env->oid);
    case F_FINESS:
        DEST(env->finess);
    default:
        DEST(env->rpps);
    }
#undef DEST
}

static int field_lookup(int parent, const char *name, size_t len)
{
    for (int id = 0; id < F__COUNT; id++)
        if (field_defs[id].parent == parent && field_defs[id].name_len == len &&
            memcmp(field_defs[id].name, name, len) == 0)
            return id;
    return -1;
}

static bool read_object(jp_t *p, env_fields_t *f, ing_envelope_t *env, int self, unsigned depth);

static bool read_field(jp_t *p, env_fields_t *f, ing_envelope_t *env, int id, unsigned depth)
{
    int c = peek(p);
    switch (field_defs[id].type) {
    case T_STRING:
        if (c == '"') {
            size_t cap;
            jstr_t o = {.buf = field_dest(env, f, id, &cap)};
            o.cap = cap;
            if (!scan_string(p, &o))
                return false;
            f->kind[id] = JK_STRING;
            f->too_long[id] = o.len >= cap;
            return true;
        }
        break;
    case T_OBJECT:
        if (c == '{') {
            f->kind[id] = JK_OBJECT;
            return read_object(p, f, env, id, depth);
        }
        break;
    case T_CONTENT:
        if (c == '"') {
            jstr_t o = {0};
            if (!scan_string(p, &o))
                return false;
            f->kind[id] = JK_STRING;
            f->content_start = o.raw_start;
            f->content_len = o.len;
            f->content_escaped = o.escaped;
            return true;
        }
        break;
    default:
        break;
    }
    int64_t iv = 0;
    if (!skip_value(p, depth, &f->kind[id], &iv))
        return false;
    if (id == F_VERSION)
        f->version = iv;
    return true;
}

/* The envelope's object or one of its nested objects (self), at p->pos = '{'. */
static bool read_object(jp_t *p, env_fields_t *f, ing_envelope_t *env, int self, unsigned depth)
{
    uint32_t seen = 0;
    p->pos++;
    skip_ws(p);
    if (!keys_mark(p))
        return false;
    if (peek(p) == '}') {
        p->pos++;
        return keys_close(p);
    }
    for (;;) {
        if (peek(p) != '"')
            return fail(p, "string or '}' expected");
        char name[64];
        jstr_t k = {.buf = name, .cap = sizeof(name), .want_hash = true};
        if (!scan_string(p, &k))
            return false;
        size_t key_pos = p->pos;
        skip_ws(p);
        if (peek(p) != ':')
            return fail(p, "':' expected");
        p->pos++;
        skip_ws(p);
        int id = k.len < sizeof(name) ? field_lookup(self, name, k.len) : -1;
        if (id < 0) {
            if (!f->unknown[self]) {
                f->unknown[self] = true;
                /* the field of the problem: the key cut to 47 bytes, as snprintf cut it */
                size_t n =
                    k.len < sizeof(f->unknown_key[self]) ? k.len : sizeof(f->unknown_key[self]) - 1;
                memcpy(f->unknown_key[self], name, n);
                f->unknown_key[self][n] = '\0';
            }
            uint8_t kind;
            int64_t iv;
            if (!keys_push(p, &k) || !skip_value(p, depth + 1, &kind, &iv))
                return false;
        } else {
            if (seen & 1u << id) {
                p->pos = key_pos;
                return fail(p, "duplicate object key");
            }
            seen |= 1u << id;
            if (!read_field(p, f, env, id, depth + 1))
                return false;
        }
        skip_ws(p);
        int c = peek(p);
        if (c == '}') {
            p->pos++;
            return keys_close(p);
        }
        if (c != ',')
            return fail(p, "',' or '}' expected");
        p->pos++;
        skip_ws(p);
    }
}

static ing_err_t syntax_problem(const jp_t *p, ing_problem_t *problem)
{
    if (p->nomem)
        return ing_problem_set(problem, ING_ERR_NOMEM, "", "out of memory reading JSON");
    size_t line = 1, line_start = 0;
    for (const uint8_t *nl = p->s;
         p->s && (nl = memchr(nl, '\n', p->err_pos - (size_t)(nl - p->s))); nl++) {
        line++;
        line_start = (size_t)(nl - p->s) + 1;
    }
    return ing_problem_set(problem, ING_ERR_INVALID_JSON, "",
                           "invalid JSON at line %zu column %zu: %s", line,
                           p->err_pos - line_start + 1, p->err);
}

/* take_string of the jansson path, on what the reading pass saw. */
static ing_err_t check_string(const env_fields_t *f, int id, const char *path, bool required,
                              size_t cap, ing_problem_t *problem)
{
    if (f->kind[id] == JK_ABSENT)
        return required
                   ? ing_problem_set(problem, ING_ERR_MISSING_FIELD, path, "%s is required", path)
                   : ING_OK;
    if (f->kind[id] != JK_STRING)
        return ing_problem_set(problem, ING_ERR_INVALID_FIELD, path, "%s must be a string", path);
    if (f->too_long[id])
        return ing_problem_set(problem, ING_ERR_INVALID_FIELD, path, "%s is longer than %zu bytes",
                               path, cap - 1);
    return ING_OK;
}

/* take_object of the jansson path. */
static ing_err_t check_object(const env_fields_t *f, int id, bool required, ing_problem_t *problem)
{
    const char *key = field_defs[id].name;
    if (f->kind[id] == JK_ABSENT)
        return required
                   ? ing_problem_set(problem, ING_ERR_MISSING_FIELD, key, "%s is required", key)
                   : ING_OK;
    if (f->kind[id] != JK_OBJECT)
        return ing_problem_set(problem, ING_ERR_INVALID_FIELD, key, "%s must be an object", key);
    if (f->unknown[id])
        return ing_problem_set(problem, ING_ERR_INVALID_FIELD, key, "unknown field \"%s.%.47s\"",
                               key, f->unknown_key[id]);
    return ING_OK;
}

static ing_err_t take_content(jp_t *p, const ing_policy_t *policy, const env_fields_t *f,
                              ing_envelope_t *env, ing_problem_t *problem)
{
    if (f->kind[F_CONTENT] == JK_ABSENT)
        return ing_problem_set(problem, ING_ERR_MISSING_FIELD, "content", "content is required");
    if (f->kind[F_CONTENT] != JK_STRING)
        return ing_problem_set(problem, ING_ERR_INVALID_FIELD, "content",
                               "content must be a base64 string");
    size_t len = f->content_len, max = ing_policy_max_content(policy);
    /* Refuse before allocating: the decoded size is at least 3/4 of the text minus padding. */
    if (ing_base64_decoded_max(len) > max + 2)
        return ing_problem_set(problem, ING_ERR_CONTENT_TOO_LARGE, "content",
                               "the document is larger than %zu bytes", max);
    env->content_owned = malloc(ing_base64_decoded_max(len) + 1);
    if (!env->content_owned)
        return ing_problem_set(problem, ING_ERR_NOMEM, "content", "out of memory");
    const char *text = (const char *)p->s + f->content_start;
    char *unescaped = NULL;
    if (f->content_escaped) {
        /* JSON allows "\/" for "/": the slow path decodes the string first. */
        unescaped = malloc(len + 1);
        if (!unescaped)
            return ing_problem_set(problem, ING_ERR_NOMEM, "content", "out of memory");
        decode_checked_string(p, f->content_start, unescaped, len + 1);
        text = unescaped;
    }
    size_t out_len = 0;
    ing_err_t err = ing_json_base64_decode(text, len, env->content_owned, &out_len);
    free(unescaped);
    if (err)
        return ing_problem_set(problem, ING_ERR_CONTENT_INVALID_BASE64, "content",
                               "content is not valid standard base64 (RFC 4648, padded, no "
                               "whitespace)");
    env->content = env->content_owned;
    env->content_len = out_len;
    return ING_OK;
}

/* envelope_from_object of the jansson path: the same checks in the same order. */
static ing_err_t check_fields(jp_t *p, const ing_policy_t *policy, env_fields_t *f,
                              ing_envelope_t *env, ing_problem_t *problem)
{
    if (f->unknown[F_TOP])
        return ing_problem_set(problem, ING_ERR_INVALID_FIELD, f->unknown_key[F_TOP],
                               "unknown field \"%s\"", f->unknown_key[F_TOP]);
    ing_err_t err;
    if ((err = check_string(f, F_DOCUMENT_ID, "document_id", true, sizeof(env->document_id),
                            problem)) ||
        (err = check_object(f, F_PATIENT, true, problem)) ||
        (err = check_string(f, F_INS, "patient.ins", true, sizeof(env->ins), problem)) ||
        (err = check_string(f, F_OID, "patient.oid", true, sizeof(env->oid), problem)) ||
        (err = check_object(f, F_SOURCE, true, problem)) ||
        (err = check_string(f, F_FINESS, "source.finess", true, sizeof(env->finess), problem)) ||
        (err = check_object(f, F_AUTHOR, false, problem)) ||
        (f->kind[F_AUTHOR] == JK_OBJECT &&
         (err = check_string(f, F_RPPS, "author.rpps", true, sizeof(env->rpps), problem))) ||
        (err = check_string(f, F_TYPE_CODE, "type_code", true, sizeof(env->type_code), problem)) ||
        (err =
             check_string(f, F_MEDIA_TYPE, "media_type", true, sizeof(env->media_type), problem)) ||
        (err = check_string(f, F_FORMAT_CODE, "format_code", false, sizeof(env->format_code),
                            problem)) ||
        (err = check_string(f, F_TITLE, "title", false, sizeof(env->title), problem)) ||
        (err =
             check_string(f, F_CREATED_AT, "created_at", true, sizeof(env->created_at), problem)) ||
        (err = check_string(f, F_CONFIDENTIALITY, "confidentiality", false, sizeof(f->conf),
                            problem)) ||
        (err = check_string(f, F_SHA256, "sha256", true, sizeof(f->sha_hex), problem)))
        return err;
    if (f->kind[F_VERSION] != JK_ABSENT) {
        if (f->kind[F_VERSION] != JK_INT || f->version < 1 || f->version > INT32_MAX)
            return ing_problem_set(problem, ING_ERR_INVALID_FIELD, "version",
                                   "version must be an integer from 1 to %d", INT32_MAX);
        env->version = (uint32_t)f->version;
    }
    if (f->kind[F_HIDDEN] != JK_ABSENT) {
        if (f->kind[F_HIDDEN] != JK_TRUE && f->kind[F_HIDDEN] != JK_FALSE)
            return ing_problem_set(problem, ING_ERR_INVALID_FIELD, "hidden_from_patient",
                                   "hidden_from_patient must be true or false");
        env->hidden_from_patient = f->kind[F_HIDDEN] == JK_TRUE;
    }
    env->confidentiality = f->conf[0];
    if (!ing_hex_decode_lower(f->sha_hex, strlen(f->sha_hex), env->sha256, sizeof(env->sha256)))
        return ing_problem_set(problem, ING_ERR_INVALID_FIELD, "sha256",
                               "sha256 must be 64 lowercase hex digits");
    return take_content(p, policy, f, env, problem);
}

ing_err_t ing_json_envelope(const ing_policy_t *policy, const char *json, size_t len,
                            ing_envelope_t *env, ing_problem_t *problem)
{
    jp_t p;
    jp_init(&p, json, len);
    env_fields_t f;
    memset(&f, 0, sizeof(f));
    f.conf[0] = 'N';
    f.conf[1] = '\0';
    f.sha_hex[0] = '\0';
    f.version = 1;
    ing_err_t err;
    skip_ws(&p);
    /* jansson took an array too, then the envelope check refused it: invalid_json both ways */
    bool ok = peek(&p) == '{' ? read_object(&p, &f, env, F_TOP, 1)
                              : fail(&p, "the envelope must be a JSON object");
    if (ok) {
        skip_ws(&p);
        ok = p.pos == p.len || fail(&p, "end of file expected");
    }
    err = ok ? check_fields(&p, policy, &f, env, problem) : syntax_problem(&p, problem);
    jp_fini(&p);
    return err;
}

/* ---- whole texts and batches --------------------------------------------------------------- */

ing_err_t ing_json_check(const char *json, size_t len, ing_problem_t *problem)
{
    jp_t p;
    jp_init(&p, json, len);
    skip_ws(&p);
    uint8_t kind;
    int64_t iv;
    bool ok = (peek(&p) == '{' || peek(&p) == '[' || fail(&p, "'[' or '{' expected")) &&
              skip_value(&p, 1, &kind, &iv);
    if (ok) {
        skip_ws(&p);
        ok = p.pos == p.len || fail(&p, "end of file expected");
    }
    ing_err_t err = ok ? ING_OK : syntax_problem(&p, problem);
    jp_fini(&p);
    return err;
}

ing_err_t ing_json_array_open(ing_json_array_t *it, const char *json, size_t len, size_t *count,
                              ing_problem_t *problem)
{
    jp_t p;
    jp_init(&p, json, len);
    it->json = json;
    it->len = p.len;
    it->left = 0;
    *count = 0;
    skip_ws(&p);
    bool array = peek(&p) == '[';
    uint8_t kind;
    int64_t iv;
    bool ok = true;
    if (array) {
        p.pos++;
        skip_ws(&p);
        it->pos = p.pos;
        if (peek(&p) == ']') {
            p.pos++;
        } else {
            for (;;) {
                if (!skip_value(&p, 2, &kind, &iv)) {
                    ok = false;
                    break;
                }
                ++*count;
                skip_ws(&p);
                if (peek(&p) == ']') {
                    p.pos++;
                    break;
                }
                if (peek(&p) != ',') {
                    ok = fail(&p, "',' or ']' expected");
                    break;
                }
                p.pos++;
                skip_ws(&p);
            }
        }
    } else {
        ok = (peek(&p) == '{' || fail(&p, "'[' or '{' expected")) && skip_value(&p, 1, &kind, &iv);
    }
    if (ok) {
        skip_ws(&p);
        ok = p.pos == p.len || fail(&p, "end of file expected");
    }
    ing_err_t err = ING_OK;
    if (!ok)
        err = syntax_problem(&p, problem);
    else if (!array)
        err = ing_problem_set(problem, ING_ERR_INVALID_JSON, "", "a batch is a JSON array");
    else
        it->left = *count;
    if (err)
        *count = 0;
    jp_fini(&p);
    return err;
}

bool ing_json_array_next(ing_json_array_t *it, ing_json_slice_t *element)
{
    if (!it->left)
        return false;
    const uint8_t *s = (const uint8_t *)it->json;
    size_t i = it->pos, start = i, depth = 0;
    /* The text was checked by ing_json_array_open: only brackets and strings matter here. */
    for (;; i++) {
        uint8_t c = s[i];
        if (c == '"') {
            for (i++;; i++) {
                i = find_special(s, i, it->len);
                if (s[i] == '"')
                    break;
                if (s[i] == '\\')
                    i++;
            }
        } else if (c == '{' || c == '[') {
            depth++;
        } else if (c == '}' || c == ']') {
            if (depth == 0)
                break;
            depth--;
        } else if (c == ',' && depth == 0) {
            break;
        }
    }
    size_t end = i;
    while (end > start &&
           (s[end - 1] == ' ' || s[end - 1] == '\n' || s[end - 1] == '\r' || s[end - 1] == '\t'))
        end--;
    element->ptr = it->json + start;
    element->len = end - start;
    if (--it->left) {
        i++; /* the comma */
        while (s[i] == ' ' || s[i] == '\n' || s[i] == '\r' || s[i] == '\t')
            i++;
    }
    it->pos = i;
    return true;
}

/* ---- base64 -------------------------------------------------------------------------------- */

/* Four tables of the alphabet's values already shifted into place; bit 24 marks a byte outside
 * the alphabet, so that one test after OR-ing four lookups checks a whole quantum. */
#define B64V(c)                                                                                    \
    ((c) >= 'A' && (c) <= 'Z'   ? (c) - 'A'                                                        \
     : (c) >= 'a' && (c) <= 'z' ? (c) - 'a' + 26                                                   \
     : (c) >= '0' && (c) <= '9' ? (c) - '0' + 52                                                   \
     : (c) == '+'               ? 62                                                               \
     : (c) == '/'               ? 63                                                               \
                                : -1)
#define B64T(c, shift) (B64V(c) < 0 ? 0x01000000u : (uint32_t)B64V(c) << (shift))
#define B64R4(s, c) B64T(c, s), B64T(c + 1, s), B64T(c + 2, s), B64T(c + 3, s)
#define B64R16(s, c) B64R4(s, c), B64R4(s, c + 4), B64R4(s, c + 8), B64R4(s, c + 12)
#define B64R64(s, c) B64R16(s, c), B64R16(s, c + 16), B64R16(s, c + 32), B64R16(s, c + 48)
#define B64TABLE(s)                                                                                \
    {                                                                                              \
        B64R64(s, 0), B64R64(s, 64), B64R64(s, 128), B64R64(s, 192)                                \
    }

static const uint32_t b64_d0[256] = B64TABLE(18);
static const uint32_t b64_d1[256] = B64TABLE(12);
static const uint32_t b64_d2[256] = B64TABLE(6);
static const uint32_t b64_d3[256] = B64TABLE(0);

#ifdef ING_B64_AVX2
/*
 * 32 characters into 24 bytes per step, `steps` times: the content of an 8 KB document is
 * 11 KB of base64, and the scalar tables took 9 % of the gateway's CPU (perf, 128 clients).
 * The method is Muła and Lemire's ("Faster Base64 Encoding and Decoding Using AVX2
 * Instructions", 2018), with our own tables: a byte is outside the alphabet exactly when
 * the class bits looked up by its low nibble and by its high nibble share a bit; its value is
 * the byte plus an offset looked up by its high nibble ('/' moved to slot 1 to tell it from
 * '+'). Each step stores 32 bytes, 8 past its 24: the caller leaves that room.
 * @returns false when a byte outside the alphabet was seen (out is then garbage).
 */
__attribute__((target("avx2"))) static bool b64_decode_avx2(const uint8_t *in, size_t steps,
                                                            uint8_t *out)
{
    /* class bits: 0x01 any byte whose high nibble is 0, 1 or 8-F; 0x02 "2x" other than '+'
     * and '/'; 0x04 "3x" above '9'; 0x08 '@' and '`'; 0x10 "5x"/"7x" above 'Z'/'z' */
    const __m256i by_lo =
        _mm256_setr_epi8(0x0b, 0x03, 0x03, 0x03, 0x03, 0x03, 0x03, 0x03, 0x03, 0x03, 0x07, 0x15,
                         0x17, 0x17, 0x17, 0x15, 0x0b, 0x03, 0x03, 0x03, 0x03, 0x03, 0x03, 0x03,
                         0x03, 0x03, 0x07, 0x15, 0x17, 0x17, 0x17, 0x15);
    const __m256i by_hi =
        _mm256_setr_epi8(0x01, 0x01, 0x02, 0x04, 0x08, 0x10, 0x08, 0x10, 0x01, 0x01, 0x01, 0x01,
                         0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x02, 0x04, 0x08, 0x10, 0x08, 0x10,
                         0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01);
    /* slot 1 '/' +16, 2 '+' +19, 3 digits +4, 4-5 upper case -65, 6-7 lower case -71 */
    const __m256i offset =
        _mm256_setr_epi8(0, 16, 19, 4, -65, -65, -71, -71, 0, 0, 0, 0, 0, 0, 0, 0, 0, 16, 19, 4,
                         -65, -65, -71, -71, 0, 0, 0, 0, 0, 0, 0, 0);
    const __m256i nibble = _mm256_set1_epi8(0x0f);
    const __m256i slash = _mm256_set1_epi8('/');
    /* four 6-bit values a b c d -> words (a<<6|b) (c<<6|d) -> one 24-bit a b c d per dword */
    const __m256i join_pairs = _mm256_set1_epi32(0x01400140);
    const __m256i join_words = _mm256_set1_epi32(0x00011000);
    /* the 3 bytes of each dword, most significant first, 12 per 128-bit lane; then the lanes
     * side by side */
    const __m256i order = _mm256_setr_epi8(2, 1, 0, 6, 5, 4, 10, 9, 8, 14, 13, 12, -1, -1, -1, -1,
                                           2, 1, 0, 6, 5, 4, 10, 9, 8, 14, 13, 12, -1, -1, -1, -1);
    const __m256i lanes = _mm256_setr_epi32(0, 1, 2, 4, 5, 6, 3, 7);
    __m256i bad = _mm256_setzero_si256();
    for (size_t k = 0; k < steps; k++, in += 32, out += 24) {
        __m256i c = _mm256_loadu_si256((const __m256i *)(const void *)in);
        __m256i hi = _mm256_and_si256(_mm256_srli_epi32(c, 4), nibble);
        __m256i lo = _mm256_and_si256(c, nibble);
        bad = _mm256_or_si256(
            bad, _mm256_and_si256(_mm256_shuffle_epi8(by_lo, lo), _mm256_shuffle_epi8(by_hi, hi)));
        __m256i slot = _mm256_add_epi8(hi, _mm256_cmpeq_epi8(c, slash));
        __m256i v = _mm256_add_epi8(c, _mm256_shuffle_epi8(offset, slot));
        v = _mm256_madd_epi16(_mm256_maddubs_epi16(v, join_pairs), join_words);
        v = _mm256_permutevar8x32_epi32(_mm256_shuffle_epi8(v, order), lanes);
        _mm256_storeu_si256((__m256i *)(void *)out, v);
    }
    return _mm256_testz_si256(bad, bad);
}
#endif

ing_err_t ing_json_base64_decode(const char *in, size_t len, uint8_t *out, size_t *out_len)
{
    const uint8_t *p = (const uint8_t *)in;
    if (len % 4 != 0)
        return ING_ERR_CONTENT_INVALID_BASE64;
    if (len == 0) {
        *out_len = 0;
        return ING_OK;
    }
    size_t quads = len / 4 - 1, q = 0; /* the last quantum may hold padding: apart */
    uint8_t *o = out;
    uint32_t bad = 0;
#ifdef ING_B64_AVX2
    /* a step's 8 extra bytes must land inside out: at least 12 more characters (9 bytes)
     * follow each step */
    if (quads * 4 >= 32 + 12 && __builtin_cpu_supports("avx2")) {
        size_t steps = (quads * 4 - 12) / 32;
        if (!b64_decode_avx2(p, steps, o))
            return ING_ERR_CONTENT_INVALID_BASE64;
        q = steps * 8;
        p += steps * 32;
        o += steps * 24;
    }
#endif
    for (; q + 4 <= quads; q += 4, p += 16, o += 12) {
        for (int k = 0; k < 4; k++) {
            uint32_t v = b64_d0[p[4 * k]] | b64_d1[p[4 * k + 1]] | b64_d2[p[4 * k + 2]] |
                         b64_d3[p[4 * k + 3]];
            bad |= v;
            o[3 * k] = (uint8_t)(v >> 16);
            o[3 * k + 1] = (uint8_t)(v >> 8);
            o[3 * k + 2] = (uint8_t)v;
        }
        if (bad >> 24)
            return ING_ERR_CONTENT_INVALID_BASE64;
    }
    for (; q < quads; q++, p += 4, o += 3) {
        uint32_t v = b64_d0[p[0]] | b64_d1[p[1]] | b64_d2[p[2]] | b64_d3[p[3]];
        if (v >> 24)
            return ING_ERR_CONTENT_INVALID_BASE64;
        o[0] = (uint8_t)(v >> 16);
        o[1] = (uint8_t)(v >> 8);
        o[2] = (uint8_t)v;
    }
    /* the last quantum: "xx==", "xxx=" with the unused low bits zero (canonical), or "xxxx" */
    uint32_t v = b64_d0[p[0]] | b64_d1[p[1]];
    if (v >> 24)
        return ING_ERR_CONTENT_INVALID_BASE64;
    if (p[2] == '=') {
        if (p[3] != '=' || (b64_d1[p[1]] >> 12 & 0x0f))
            return ING_ERR_CONTENT_INVALID_BASE64;
        *o++ = (uint8_t)(v >> 16);
    } else {
        v |= b64_d2[p[2]];
        if (v >> 24)
            return ING_ERR_CONTENT_INVALID_BASE64;
        if (p[3] == '=') {
            if (b64_d2[p[2]] >> 6 & 0x03)
                return ING_ERR_CONTENT_INVALID_BASE64;
            *o++ = (uint8_t)(v >> 16);
            *o++ = (uint8_t)(v >> 8);
        } else {
            v |= b64_d3[p[3]];
            if (v >> 24)
                return ING_ERR_CONTENT_INVALID_BASE64;
            *o++ = (uint8_t)(v >> 16);
            *o++ = (uint8_t)(v >> 8);
            *o++ = (uint8_t)v;
        }
    }
    *out_len = (size_t)(o - out);
    return ING_OK;
}
