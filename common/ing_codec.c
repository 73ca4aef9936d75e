#include "ing_codec.h"

#include <openssl/evp.h>
#include <openssl/sha.h>
#include <stdlib.h>

/* Values of the alphabet; membership is checked apart by b64_is_alpha, padding by the caller. */
static const uint8_t b64_value[256] = {
    ['A'] = 0,  ['B'] = 1,  ['C'] = 2,  ['D'] = 3,  ['E'] = 4,  ['F'] = 5,  ['G'] = 6,  ['H'] = 7,
    ['I'] = 8,  ['J'] = 9,  ['K'] = 10, ['L'] = 11, ['M'] = 12, ['N'] = 13, ['O'] = 14, ['P'] = 15,
    ['Q'] = 16, ['R'] = 17, ['S'] = 18, ['T'] = 19, ['U'] = 20, ['V'] = 21, ['W'] = 22, ['X'] = 23,
    ['Y'] = 24, ['Z'] = 25, ['a'] = 26, ['b'] = 27, ['c'] = 28, ['d'] = 29, ['e'] = 30, ['f'] = 31,
    ['g'] = 32, ['h'] = 33, ['i'] = 34, ['j'] = 35, ['k'] = 36, ['l'] = 37, ['m'] = 38, ['n'] = 39,
    ['o'] = 40, ['p'] = 41, ['q'] = 42, ['r'] = 43, ['s'] = 44, ['t'] = 45, ['u'] = 46, ['v'] = 47,
    ['w'] = 48, ['x'] = 49, ['y'] = 50, ['z'] = 51, ['0'] = 52, ['1'] = 53, ['2'] = 54, ['3'] = 55,
    ['4'] = 56, ['5'] = 57, ['6'] = 58, ['7'] = 59, ['8'] = 60, ['9'] = 61, ['+'] = 62, ['/'] = 63,
};

static bool b64_is_alpha(uint8_t c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
           c == '/';
}

ing_err_t ing_base64_decode(const char *in, size_t len, uint8_t *out, size_t *out_len)
{
    const uint8_t *p = (const uint8_t *)in;
    if (len % 4 != 0)
        return ING_ERR_CONTENT_INVALID_BASE64;
    size_t o = 0;
    for (size_t i = 0; i < len; i += 4) {
        bool last = i + 4 == len;
        uint8_t c0 = p[i], c1 = p[i + 1], c2 = p[i + 2], c3 = p[i + 3];
        if (!b64_is_alpha(c0) || !b64_is_alpha(c1))
            return ING_ERR_CONTENT_INVALID_BASE64;
        uint32_t v = (uint32_t)b64_value[c0] << 18 | (uint32_t)b64_value[c1] << 12;
        if (last && c2 == '=') {
            /* "xx==": the unused low bits must be zero (canonical encoding). */
            if (c3 != '=' || (b64_value[c1] & 0x0f))
                return ING_ERR_CONTENT_INVALID_BASE64;
            out[o++] = (uint8_t)(v >> 16);
            break;
        }
        if (!b64_is_alpha(c2))
            return ING_ERR_CONTENT_INVALID_BASE64;
        v |= (uint32_t)b64_value[c2] << 6;
        if (last && c3 == '=') {
            if (b64_value[c2] & 0x03)
                return ING_ERR_CONTENT_INVALID_BASE64;
            out[o++] = (uint8_t)(v >> 16);
            out[o++] = (uint8_t)(v >> 8);
            break;
        }
        if (!b64_is_alpha(c3))
            return ING_ERR_CONTENT_INVALID_BASE64;
        v |= b64_value[c3];
        out[o++] = (uint8_t)(v >> 16);
        out[o++] = (uint8_t)(v >> 8);
        out[o++] = (uint8_t)v;
    }
    *out_len = o;
    return ING_OK;
}

void ing_base64_encode(const uint8_t *in, size_t len, char *out)
{
    static const char alpha[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t i = 0, o = 0;
    for (; i + 3 <= len; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
        out[o++] = alpha[v >> 18];
        out[o++] = alpha[(v >> 12) & 63];
        out[o++] = alpha[(v >> 6) & 63];
        out[o++] = alpha[v & 63];
    }
    if (len - i == 1) {
        uint32_t v = (uint32_t)in[i] << 16;
        out[o++] = alpha[v >> 18];
        out[o++] = alpha[(v >> 12) & 63];
        out[o++] = '=';
        out[o++] = '=';
    } else if (len - i == 2) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;
        out[o++] = alpha[v >> 18];
        out[o++] = alpha[(v >> 12) & 63];
        out[o++] = alpha[(v >> 6) & 63];
        out[o++] = '=';
    }
    out[o] = '\0';
}

void ing_hex_encode(const uint8_t *in, size_t len, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < len; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * len] = '\0';
}

size_t ing_decimal_u64(uint64_t v, char *out)
{
    char reversed[ING_DECIMAL_U64_MAX];
    size_t n = 0;
    do {
        reversed[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    for (size_t i = 0; i < n; i++)
        out[i] = reversed[n - 1 - i];
    return n;
}

static int hex_lower_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

bool ing_hex_decode_lower(const char *in, size_t in_len, uint8_t *out, size_t out_len)
{
    if (in_len != 2 * out_len)
        return false;
    for (size_t i = 0; i < out_len; i++) {
        int hi = hex_lower_value(in[2 * i]), lo = hex_lower_value(in[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return false;
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    return true;
}

void ing_sha256(const void *data, size_t len, uint8_t out[ING_SHA256_LEN])
{
    SHA256(data, len, out);
}

struct ing_digest {
    EVP_MD *sha256; /* @owns */
};

ing_err_t ing_digest_create(ing_digest_t **out)
{
    ing_digest_t *d = calloc(1, sizeof(*d));
    if (!d)
        return ING_ERR_NOMEM;
    d->sha256 = EVP_MD_fetch(NULL, "SHA2-256", NULL);
    if (!d->sha256) {
        free(d);
        return ING_ERR_INTERNAL;
    }
    *out = d;
    return ING_OK;
}

void ing_digest_destroy(ing_digest_t *digest)
{
    if (!digest)
        return;
    EVP_MD_free(digest->sha256);
    free(digest);
}

void ing_digest_sha256(const ing_digest_t *digest, const void *data, size_t len,
                       uint8_t out[ING_SHA256_LEN])
{
    unsigned int n = 0;
    /* EVP_Digest fails only without memory for its context: the one-shot still answers. */
    if (!digest || EVP_Digest(data, len, out, &n, digest->sha256, NULL) != 1 || n != ING_SHA256_LEN)
        ing_sha256(data, len, out);
}
