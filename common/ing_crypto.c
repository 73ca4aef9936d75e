#include "ing_crypto.h"

#include <errno.h>
#include <stdbool.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "ing_codec.h"

#define KEYRING_MAX_KEYS 64
#define KEY_LEN 32

typedef struct keyring_key {
    char id[ING_KEY_ID_MAX + 1];
    uint8_t key[KEY_LEN];
} keyring_key_t;

struct ing_keyring {
    keyring_key_t keys[KEYRING_MAX_KEYS];
    int n_keys;
    int active;
};

/* Nonces are drawn from the CSPRNG this many at a time: one RAND_bytes call per document cost
 * about as much as the whole AES-GCM pass over its compressed content. */
#define NONCE_POOL 64

struct ing_sealer {
    const ing_keyring_t *keyring;
    EVP_CIPHER *gcm; /* fetched once: the implicit fetch of EVP_aes_256_gcm() takes a lock */
    EVP_CIPHER_CTX *ctx;
    /* The key whose schedule ctx holds for encryption, so that the next seal with it only
     * sets a nonce; NULL after a decryption. */
    const keyring_key_t *enc_key;
    uint8_t nonces[NONCE_POOL * ING_GCM_NONCE_LEN];
    size_t nonces_left;
};

static ing_err_t keyring_fail(ing_keyring_t *k, FILE *f, ing_err_t err)
{
    if (f)
        fclose(f);
    OPENSSL_cleanse(k, sizeof(*k));
    free(k);
    return err;
}

static ing_err_t keyring_parse_line(ing_keyring_t *k, char *line, const char *where, char *errstr,
                                    size_t errsz)
{
    char *save = NULL;
    char *id = strtok_r(line, "\t \n", &save);
    char *hex = strtok_r(NULL, "\t \n", &save);
    char *state = strtok_r(NULL, "\t \n", &save);
    if (!id || !hex || !state || strlen(id) > ING_KEY_ID_MAX) {
        snprintf(errstr, errsz, "%s: expected key_id, 64 hex digits, active|retired", where);
        return ING_ERR_CONFIG;
    }
    if (k->n_keys == KEYRING_MAX_KEYS) {
        snprintf(errstr, errsz, "%s: more than %d keys", where, KEYRING_MAX_KEYS);
        return ING_ERR_CONFIG;
    }
    keyring_key_t *key = &k->keys[k->n_keys];
    if (!ing_hex_decode_lower(hex, strlen(hex), key->key, KEY_LEN)) {
        snprintf(errstr, errsz, "%s: the key must be 64 lowercase hex digits (256 bits)", where);
        return ING_ERR_CONFIG;
    }
    for (int i = 0; i < k->n_keys; i++)
        if (strcmp(k->keys[i].id, id) == 0) {
            snprintf(errstr, errsz, "%s: key id %s appears twice", where, id);
            return ING_ERR_CONFIG;
        }
    strcpy(key->id, id);
    if (strcmp(state, "active") == 0) {
        if (k->active >= 0) {
            snprintf(errstr, errsz, "%s: a second active key", where);
            return ING_ERR_CONFIG;
        }
        k->active = k->n_keys;
    } else if (strcmp(state, "retired") != 0) {
        snprintf(errstr, errsz, "%s: state must be active or retired", where);
        return ING_ERR_CONFIG;
    }
    k->n_keys++;
    return ING_OK;
}

ing_err_t ing_keyring_load(const char *path, ing_keyring_t **out, char *errstr, size_t errstr_size)
{
    ing_keyring_t *k = calloc(1, sizeof(*k));
    if (!k)
        return ING_ERR_NOMEM;
    k->active = -1;
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(errstr, errstr_size, "cannot open keyring %s: %s", path, strerror(errno));
        return keyring_fail(k, NULL, ING_ERR_IO);
    }
    struct stat st;
    if (fstat(fileno(f), &st) == 0 && (st.st_mode & 077)) {
        snprintf(errstr, errstr_size, "keyring %s is readable by group or others (chmod 600)",
                 path);
        return keyring_fail(k, f, ING_ERR_CONFIG);
    }
    char line[256], where[600];
    int lineno = 0;
    while (fgets(line, sizeof(line), f)) {
        lineno++;
        if (line[0] == '#' || line[0] == '\n')
            continue;
        snprintf(where, sizeof(where), "%s:%d", path, lineno);
        ing_err_t err = keyring_parse_line(k, line, where, errstr, errstr_size);
        OPENSSL_cleanse(line, sizeof(line));
        if (err)
            return keyring_fail(k, f, err);
    }
    fclose(f);
    if (k->active < 0) {
        snprintf(errstr, errstr_size, "keyring %s has no active key", path);
        return keyring_fail(k, NULL, ING_ERR_CONFIG);
    }
    *out = k;
    return ING_OK;
}

void ing_keyring_destroy(ing_keyring_t *keyring)
{
    if (!keyring)
        return;
    OPENSSL_cleanse(keyring, sizeof(*keyring));
    free(keyring);
}

const char *ing_keyring_active_id(const ing_keyring_t *keyring)
{
    return keyring->keys[keyring->active].id;
}

ing_err_t ing_sealer_create(const ing_keyring_t *keyring, ing_sealer_t **out)
{
    ing_sealer_t *s = calloc(1, sizeof(*s));
    if (!s)
        return ING_ERR_NOMEM;
    s->keyring = keyring;
    s->gcm = EVP_CIPHER_fetch(NULL, "AES-256-GCM", NULL);
    s->ctx = EVP_CIPHER_CTX_new();
    if (!s->gcm || !s->ctx) {
        ing_sealer_destroy(s);
        return ING_ERR_NOMEM;
    }
    *out = s;
    return ING_OK;
}

void ing_sealer_destroy(ing_sealer_t *sealer)
{
    if (!sealer)
        return;
    EVP_CIPHER_CTX_free(sealer->ctx);
    EVP_CIPHER_free(sealer->gcm);
    OPENSSL_cleanse(sealer->nonces, sizeof(sealer->nonces));
    free(sealer);
}

/* A fresh random nonce, never handed out twice: the pool is consumed from its end and wiped
 * as it goes. */
static bool next_nonce(ing_sealer_t *sealer, uint8_t nonce[ING_GCM_NONCE_LEN])
{
    if (sealer->nonces_left == 0) {
        if (RAND_bytes(sealer->nonces, sizeof(sealer->nonces)) != 1)
            return false;
        sealer->nonces_left = NONCE_POOL;
    }
    uint8_t *n = sealer->nonces + --sealer->nonces_left * ING_GCM_NONCE_LEN;
    memcpy(nonce, n, ING_GCM_NONCE_LEN);
    OPENSSL_cleanse(n, ING_GCM_NONCE_LEN);
    return true;
}

ing_err_t ing_seal(ing_sealer_t *sealer, const void *aad, size_t aad_len, const void *plain,
                   size_t len, uint8_t nonce[ING_GCM_NONCE_LEN], const char **key_id,
                   ing_buf_t *out)
{
    const keyring_key_t *key = &sealer->keyring->keys[sealer->keyring->active];
    if (len > INT32_MAX || aad_len > INT32_MAX)
        return ING_ERR_TOO_BIG;
    if (!next_nonce(sealer, nonce))
        return ING_ERR_INTERNAL;
    uint8_t *dst;
    ing_err_t err = ing_buf_reserve(out, len + ING_GCM_TAG_LEN, &dst);
    if (err)
        return err;
    EVP_CIPHER_CTX *ctx = sealer->ctx;
    /* The same key as the last seal: keep its schedule, set the nonce only. */
    bool same_key = sealer->enc_key == key;
    sealer->enc_key = NULL; /* until this seal succeeded */
    int n = 0, fin = 0;
    if ((same_key ? EVP_EncryptInit_ex(ctx, NULL, NULL, NULL, nonce)
                  : EVP_EncryptInit_ex(ctx, sealer->gcm, NULL, key->key, nonce)) != 1 ||
        EVP_EncryptUpdate(ctx, NULL, &n, aad, (int)aad_len) != 1 ||
        EVP_EncryptUpdate(ctx, dst, &n, plain, (int)len) != 1 ||
        EVP_EncryptFinal_ex(ctx, dst + n, &fin) != 1 ||
        EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, ING_GCM_TAG_LEN, dst + len) != 1)
        return ING_ERR_INTERNAL;
    sealer->enc_key = key;
    ing_buf_commit(out, len + ING_GCM_TAG_LEN);
    *key_id = key->id;
    return ING_OK;
}

ing_err_t ing_open(ing_sealer_t *sealer, const char *key_id, const uint8_t nonce[ING_GCM_NONCE_LEN],
                   const void *aad, size_t aad_len, const void *sealed, size_t sealed_len,
                   ing_buf_t *out)
{
    const ing_keyring_t *k = sealer->keyring;
    const keyring_key_t *key = NULL;
    for (int i = 0; i < k->n_keys && !key; i++)
        if (strcmp(k->keys[i].id, key_id) == 0)
            key = &k->keys[i];
    if (!key)
        return ING_ERR_CONFIG;
    if (sealed_len < ING_GCM_TAG_LEN || sealed_len > INT32_MAX || aad_len > INT32_MAX)
        return ING_ERR_RECORD;
    size_t len = sealed_len - ING_GCM_TAG_LEN;
    uint8_t *dst;
    ing_err_t err = ing_buf_reserve(out, len, &dst);
    if (err)
        return err;
    const uint8_t *in = sealed;
    EVP_CIPHER_CTX *ctx = sealer->ctx;
    sealer->enc_key = NULL; /* the context is set up for decryption now */
    int n = 0, fin = 0;
    if (EVP_DecryptInit_ex(ctx, sealer->gcm, NULL, key->key, nonce) != 1 ||
        EVP_DecryptUpdate(ctx, NULL, &n, aad, (int)aad_len) != 1 ||
        EVP_DecryptUpdate(ctx, dst, &n, in, (int)len) != 1 ||
        EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, ING_GCM_TAG_LEN, (void *)(in + len)) != 1)
        return ING_ERR_INTERNAL;
    if (EVP_DecryptFinal_ex(ctx, dst + n, &fin) != 1) {
        OPENSSL_cleanse(dst, len);
        return ING_ERR_RECORD;
    }
    ing_buf_commit(out, len);
    return ING_OK;
}

size_t ing_document_aad(const char *ins, const char *source_finess, const char *document_id,
                        uint32_t version, uint8_t *out, size_t out_size)
{
    /* NUL separators keep field boundaries; "v1" versions the layout. */
    int n = snprintf((char *)out, out_size, "v1%c%s%c%s%c%s%c%u", 0, ins, 0, source_finess, 0,
                     document_id, 0, version);
    return n < 0 ? 0 : (size_t)n < out_size ? (size_t)n : out_size;
}
