#include "wk_dict.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "ing_log.h"
#include "wk_sqlstate.h"

#define MAX_TYPE_CODES 64

#define SQL_NEWEST                                                                                 \
    "SELECT DISTINCT ON (type_code) id, type_code FROM zstd_dictionary "                           \
    "ORDER BY type_code, id DESC"
#define SQL_FETCH "SELECT type_code, dict, key_id, nonce FROM zstd_dictionary WHERE id = $1"
#define SQL_NEXTID "SELECT nextval(pg_get_serial_sequence('zstd_dictionary', 'id'))"
#define SQL_INSERT                                                                                 \
    "INSERT INTO zstd_dictionary (id, type_code, dict, key_id, nonce, size_bytes, samples) "       \
    "VALUES ($1, $2, $3, $4, $5, $6, $7)"

typedef struct dict_entry {
    char type_code[WK_DICT_TYPE_CODE_MAX + 1];
    int32_t id;     /* the dictionary in use, 0: none */
    int32_t bad_id; /* a newer one that does not open (another keyring...): not retried */
    wk_zdict_t *z;  /* @owns; NULL: none */
} dict_entry_t;

struct wk_dicts {
    ing_sealer_t *sealer; /* @owns; the keyring is borrowed */
    int level;
    dict_entry_t entries[MAX_TYPE_CODES];
    int n;
    ing_buf_t scratch; /* the fetched dictionary's bytes */
};

/* The additional data of a sealed dictionary: its id and type code. */
static size_t dict_aad(int32_t id, const char *type_code, uint8_t *out, size_t out_size)
{
    int n = snprintf((char *)out, out_size, "zstd_dictionary-v1%c%d%c%s", 0, (int)id, 0, type_code);
    return n < 0 ? 0 : (size_t)n < out_size ? (size_t)n : out_size;
}

ing_err_t wk_dicts_create(const ing_keyring_t *keyring, int level, wk_dicts_t **out)
{
    wk_dicts_t *d = calloc(1, sizeof(*d));
    if (!d)
        return ING_ERR_NOMEM;
    ing_err_t err = ing_sealer_create(keyring, &d->sealer);
    if (err) {
        free(d);
        return err;
    }
    d->level = level;
    ing_buf_init(&d->scratch, WK_DICT_MAX_BYTES);
    *out = d;
    return ING_OK;
}

void wk_dicts_destroy(wk_dicts_t *d)
{
    if (!d)
        return;
    for (int i = 0; i < d->n; i++)
        wk_zdict_destroy(d->entries[i].z);
    ing_sealer_destroy(d->sealer);
    ing_buf_fini(&d->scratch);
    free(d);
}

static dict_entry_t *entry_find(wk_dicts_t *d, const char *type_code)
{
    for (int i = 0; i < d->n; i++)
        if (strcmp(d->entries[i].type_code, type_code) == 0)
            return &d->entries[i];
    return NULL;
}

ing_err_t wk_dicts_refresh(wk_dicts_t *d, PGconn *conn, char *errstr, size_t errstr_size)
{
    if (!conn) {
        snprintf(errstr, errstr_size, "not connected to PostgreSQL");
        return ING_ERR_UNAVAILABLE;
    }
    PGresult *res = PQexec(conn, SQL_NEWEST);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        ing_err_t err = wk_pg_error(conn, res, "read dictionaries", errstr, errstr_size);
        PQclear(res);
        return err;
    }
    ing_err_t err = ING_OK;
    for (int r = 0; !err && r < PQntuples(res); r++) {
        int32_t id = (int32_t)strtol(PQgetvalue(res, r, 0), NULL, 10);
        const char *type_code = PQgetvalue(res, r, 1);
        dict_entry_t *e = entry_find(d, type_code);
        if (e && (e->id == id || e->bad_id == id))
            continue;
        if (!e && (d->n == MAX_TYPE_CODES || strlen(type_code) > WK_DICT_TYPE_CODE_MAX))
            continue; /* more type codes than we know of: the rest go without */
        char tc[WK_DICT_TYPE_CODE_MAX + 1];
        char why[512];
        ing_buf_reset(&d->scratch);
        ing_err_t ferr = wk_dict_fetch(conn, d->sealer, id, &d->scratch, tc, why, sizeof(why));
        wk_zdict_t *z = NULL;
        if (!ferr && wk_zdict_create(d->scratch.data, d->scratch.len, d->level, &z) != ING_OK) {
            snprintf(why, sizeof(why), "dictionary %d (%s) is not a zstd dictionary", (int)id, tc);
            ferr = ING_ERR_RECORD;
        }
        size_t dict_len = d->scratch.len;
        if (d->scratch.data) /* plaintext pieces of documents: do not leave them around */
            OPENSSL_cleanse(d->scratch.data, d->scratch.len);
        if (ferr && ing_err_is_retriable(ferr)) {
            snprintf(errstr, errstr_size, "%s", why);
            err = ferr;
            break;
        }
        if (!e) {
            e = &d->entries[d->n++];
            *e = (dict_entry_t){.id = 0, .bad_id = 0, .z = NULL};
            snprintf(e->type_code, sizeof(e->type_code), "%s", type_code);
        }
        if (ferr) { /* permanent: never tried again; the dictionary in hand (if any) stays */
            e->bad_id = id;
            ing_log(ING_LOG_WARN, "dict",
                    "dictionary %d for type code %s is unusable: %s; keeping %s", (int)id,
                    e->type_code, why, e->z ? "the previous one" : "no dictionary");
            continue;
        }
        wk_zdict_destroy(e->z);
        e->id = id;
        e->z = z;
        ing_log(ING_LOG_INFO, "dict", "using dictionary %d for type code %s (%zu bytes)", (int)id,
                e->type_code, dict_len);
    }
    PQclear(res);
    return err;
}

const wk_zdict_t *wk_dicts_find(const wk_dicts_t *d, const char *type_code, int32_t *id)
{
    for (int i = 0; d && i < d->n; i++)
        if (strcmp(d->entries[i].type_code, type_code) == 0 && d->entries[i].z) {
            *id = d->entries[i].id;
            return d->entries[i].z;
        }
    *id = 0;
    return NULL;
}

int wk_dicts_count(const wk_dicts_t *d)
{
    int n = 0;
    for (int i = 0; d && i < d->n; i++)
        n += d->entries[i].z != NULL;
    return n;
}

ing_err_t wk_dict_fetch(PGconn *conn, ing_sealer_t *sealer, int32_t id, ing_buf_t *out,
                        char type_code[WK_DICT_TYPE_CODE_MAX + 1], char *errstr, size_t errstr_size)
{
    char idtext[16];
    snprintf(idtext, sizeof(idtext), "%d", (int)id);
    const char *values[1] = {idtext};
    /* Binary results: the sealed bytes come as they are, text columns as their bytes. */
    PGresult *res = PQexecParams(conn, SQL_FETCH, 1, NULL, values, NULL, NULL, 1);
    ing_err_t err = ING_OK;
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        err = wk_pg_error(conn, res, "read dictionary", errstr, errstr_size);
        goto out;
    }
    if (PQntuples(res) != 1) {
        snprintf(errstr, errstr_size, "no dictionary with id %d", (int)id);
        err = ING_ERR_CONFIG;
        goto out;
    }
    int tclen = PQgetlength(res, 0, 0), kidlen = PQgetlength(res, 0, 2);
    if (tclen > WK_DICT_TYPE_CODE_MAX || kidlen > ING_KEY_ID_MAX ||
        PQgetlength(res, 0, 3) != ING_GCM_NONCE_LEN) {
        snprintf(errstr, errstr_size, "dictionary %d: malformed row", (int)id);
        err = ING_ERR_RECORD;
        goto out;
    }
    memcpy(type_code, PQgetvalue(res, 0, 0), (size_t)tclen);
    type_code[tclen] = '\0';
    char key_id[ING_KEY_ID_MAX + 1];
    memcpy(key_id, PQgetvalue(res, 0, 2), (size_t)kidlen);
    key_id[kidlen] = '\0';
    uint8_t aad[64];
    size_t aad_len = dict_aad(id, type_code, aad, sizeof(aad));
    err = ing_open(sealer, key_id, (const uint8_t *)PQgetvalue(res, 0, 3), aad, aad_len,
                   PQgetvalue(res, 0, 1), (size_t)PQgetlength(res, 0, 1), out);
    if (err == ING_ERR_CONFIG)
        snprintf(errstr, errstr_size, "dictionary %d is sealed with key %s, not in the keyring",
                 (int)id, key_id);
    else if (err)
        snprintf(errstr, errstr_size, "dictionary %d does not open with key %s (%s)", (int)id,
                 key_id, ing_err_name(err));
out:
    PQclear(res);
    return err;
}

ing_err_t wk_dict_insert(PGconn *conn, ing_sealer_t *sealer, const char *type_code,
                         const void *dict, size_t len, unsigned samples, int32_t *id, char *errstr,
                         size_t errstr_size)
{
    PGresult *res = PQexec(conn, SQL_NEXTID);
    if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
        ing_err_t err = wk_pg_error(conn, res, "next dictionary id", errstr, errstr_size);
        PQclear(res);
        return err;
    }
    int32_t newid = (int32_t)strtol(PQgetvalue(res, 0, 0), NULL, 10);
    PQclear(res);

    uint8_t aad[64], nonce[ING_GCM_NONCE_LEN];
    size_t aad_len = dict_aad(newid, type_code, aad, sizeof(aad));
    const char *key_id = NULL;
    ing_buf_t sealed;
    ing_buf_init(&sealed, len + ING_GCM_TAG_LEN);
    ing_err_t err = ing_seal(sealer, aad, aad_len, dict, len, nonce, &key_id, &sealed);
    if (err) {
        snprintf(errstr, errstr_size, "sealing the dictionary: %s", ing_err_name(err));
        ing_buf_fini(&sealed);
        return err;
    }
    char idtext[16], sizetext[24], samplestext[16];
    snprintf(idtext, sizeof(idtext), "%d", (int)newid);
    snprintf(sizetext, sizeof(sizetext), "%zu", len);
    snprintf(samplestext, sizeof(samplestext), "%u", samples);
    const char *values[7] = {idtext,     type_code,           (const char *)sealed.data,
                             key_id,     (const char *)nonce, sizetext,
                             samplestext};
    int lengths[7] = {0, 0, (int)sealed.len, 0, ING_GCM_NONCE_LEN, 0, 0};
    int formats[7] = {0, 0, 1, 0, 1, 0, 0};
    res = PQexecParams(conn, SQL_INSERT, 7, NULL, values, lengths, formats, 0);
    if (PQresultStatus(res) != PGRES_COMMAND_OK)
        err = wk_pg_error(conn, res, "insert dictionary", errstr, errstr_size);
    else
        *id = newid;
    PQclear(res);
    ing_buf_fini(&sealed);
    return err;
}
