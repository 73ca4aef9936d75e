#include "wk_document.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "ing_codec.h"
#include "wk_compress.h"
#include "wk_dict.h"
#include "wk_sqlstate.h"

#define READER_DICTS 16

/* Binary result columns, in this order. */
#define SQL_READ                                                                                   \
    "SELECT ins, source_finess, document_id, version, key_id, nonce, dict_id, content, sha256, "   \
    "size_bytes FROM document WHERE id = $1"

#define SQL_FIND                                                                                   \
    "SELECT d.id, s.status, d.ins, d.source_finess, d.document_id, d.version, d.type_code, "       \
    "d.media_type, COALESCE(d.format_code, ''), COALESCE(d.title, ''), "                           \
    "COALESCE(d.author_rpps, ''), d.created_at, d.confidentiality, d.hidden_from_patient, "        \
    "encode(d.sha256, 'hex'), d.size_bytes, length(d.content), d.compression, "                    \
    "COALESCE(d.dict_id::text, ''), COALESCE(d.key_id, ''), d.superseded, d.stored_at, "           \
    "d.submission_id "                                                                             \
    "FROM submission_status s JOIN document d ON d.id = s.document_ref WHERE s.submission_id = $1"

#define SQL_AUDIT                                                                                  \
    "INSERT INTO audit (actor, action, ins, submission_id, detail) "                               \
    "VALUES ($1, 'document_show', $2, $3, $4)"

typedef struct reader_dict {
    int32_t id;
    wk_zdict_t *z;
} reader_dict_t;

struct wk_doc_reader {
    PGconn *conn;
    ing_sealer_t *sealer;
    reader_dict_t dicts[READER_DICTS];
    int ndicts;
    ing_buf_t sealed_plain; /* the opened, still compressed bytes */
    ing_buf_t dict_bytes;
};

PGconn *wk_document_connect(const char *db_url, char *errstr, size_t errstr_size)
{
    const char *keys[] = {"connect_timeout", "application_name", "dbname", NULL};
    const char *vals[] = {"10", "ingestctl", db_url, NULL};
    PGconn *conn = PQconnectdbParams(keys, vals, 1);
    if (conn && PQstatus(conn) == CONNECTION_OK)
        return conn;
    const char *msg = conn ? PQerrorMessage(conn) : "out of memory";
    snprintf(errstr, errstr_size, "cannot connect to PostgreSQL: %.*s", (int)strcspn(msg, "\n"),
             msg);
    PQfinish(conn);
    return NULL;
}

ing_err_t wk_doc_reader_create(PGconn *conn, const ing_keyring_t *keyring, wk_doc_reader_t **out)
{
    wk_doc_reader_t *r = calloc(1, sizeof(*r));
    if (!r)
        return ING_ERR_NOMEM;
    ing_err_t err = ing_sealer_create(keyring, &r->sealer);
    if (err) {
        free(r);
        return err;
    }
    r->conn = conn;
    ing_buf_init(&r->sealed_plain, 1u << 30);
    ing_buf_init(&r->dict_bytes, WK_DICT_MAX_BYTES);
    *out = r;
    return ING_OK;
}

void wk_doc_reader_destroy(wk_doc_reader_t *r)
{
    if (!r)
        return;
    for (int i = 0; i < r->ndicts; i++)
        wk_zdict_destroy(r->dicts[i].z);
    ing_sealer_destroy(r->sealer);
    if (r->sealed_plain.data)
        OPENSSL_cleanse(r->sealed_plain.data, r->sealed_plain.cap);
    ing_buf_fini(&r->sealed_plain);
    if (r->dict_bytes.data)
        OPENSSL_cleanse(r->dict_bytes.data, r->dict_bytes.cap);
    ing_buf_fini(&r->dict_bytes);
    free(r);
}

static ing_err_t reader_dict(wk_doc_reader_t *r, int32_t id, const wk_zdict_t **out, char *errstr,
                             size_t errsz)
{
    for (int i = 0; i < r->ndicts; i++)
        if (r->dicts[i].id == id) {
            *out = r->dicts[i].z;
            return ING_OK;
        }
    if (r->ndicts == READER_DICTS) { /* rare: start over */
        for (int i = 0; i < r->ndicts; i++)
            wk_zdict_destroy(r->dicts[i].z);
        r->ndicts = 0;
    }
    char tc[WK_DICT_TYPE_CODE_MAX + 1];
    ing_buf_reset(&r->dict_bytes);
    ing_err_t err = wk_dict_fetch(r->conn, r->sealer, id, &r->dict_bytes, tc, errstr, errsz);
    wk_zdict_t *z = NULL;
    if (!err && wk_zdict_create(r->dict_bytes.data, r->dict_bytes.len, 3, &z) != ING_OK) {
        snprintf(errstr, errsz, "dictionary %d is not a zstd dictionary", (int)id);
        err = ING_ERR_RECORD;
    }
    if (err)
        return err;
    r->dicts[r->ndicts++] = (reader_dict_t){id, z};
    *out = z;
    return ING_OK;
}

static uint32_t be32(const char *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return ntohl(v);
}

/* A binary text column as a bounded C string. */
static void col_text(const PGresult *res, int col, char *out, size_t size)
{
    size_t n = (size_t)PQgetlength(res, 0, col);
    if (n >= size)
        n = size - 1;
    memcpy(out, PQgetvalue(res, 0, col), n);
    out[n] = '\0';
}

ing_err_t wk_doc_read(wk_doc_reader_t *r, int64_t id, ing_buf_t *out, char *errstr,
                      size_t errstr_size)
{
    char idtext[24];
    snprintf(idtext, sizeof(idtext), "%lld", (long long)id);
    const char *values[1] = {idtext};
    PGresult *res = PQexecParams(r->conn, SQL_READ, 1, NULL, values, NULL, NULL, 1);
    ing_err_t err = ING_OK;
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        err = wk_pg_error(r->conn, res, "read document", errstr, errstr_size);
        goto out;
    }
    if (PQntuples(res) != 1) {
        snprintf(errstr, errstr_size, "no document row %lld", (long long)id);
        err = ING_ERR_CONFIG;
        goto out;
    }
    char ins[32], finess[32], document_id[256], key_id[ING_KEY_ID_MAX + 1];
    col_text(res, 0, ins, sizeof(ins));
    col_text(res, 1, finess, sizeof(finess));
    col_text(res, 2, document_id, sizeof(document_id));
    uint32_t version = be32(PQgetvalue(res, 0, 3));
    bool sealed = !PQgetisnull(res, 0, 4);
    int32_t dict_id = PQgetisnull(res, 0, 6) ? 0 : (int32_t)be32(PQgetvalue(res, 0, 6));
    const char *content = PQgetvalue(res, 0, 7);
    size_t content_len = (size_t)PQgetlength(res, 0, 7);
    uint32_t size = be32(PQgetvalue(res, 0, 9));

    const char *frame = content;
    size_t frame_len = content_len;
    ing_buf_reset(&r->sealed_plain);
    if (sealed) { /* documents stored before encryption at rest have no key id */
        col_text(res, 4, key_id, sizeof(key_id));
        if (PQgetisnull(res, 0, 5) || PQgetlength(res, 0, 5) != ING_GCM_NONCE_LEN) {
            snprintf(errstr, errstr_size, "document %lld: key id without a 12-byte nonce",
                     (long long)id);
            err = ING_ERR_RECORD;
            goto out;
        }
        uint8_t aad[512];
        size_t aad_len = ing_document_aad(ins, finess, document_id, version, aad, sizeof(aad));
        err = ing_open(r->sealer, key_id, (const uint8_t *)PQgetvalue(res, 0, 5), aad, aad_len,
                       content, content_len, &r->sealed_plain);
        if (err == ING_ERR_CONFIG) {
            snprintf(errstr, errstr_size,
                     "document %lld is sealed with key %s, which is not in "
                     "the keyring",
                     (long long)id, key_id);
            goto out;
        }
        if (err) {
            snprintf(errstr, errstr_size,
                     "document %lld does not open with key %s (%s): damaged, or moved to "
                     "another patient or document",
                     (long long)id, key_id, ing_err_name(err));
            goto out;
        }
        frame = (const char *)r->sealed_plain.data;
        frame_len = r->sealed_plain.len;
    }
    const wk_zdict_t *dict = NULL;
    if (dict_id > 0) {
        err = reader_dict(r, dict_id, &dict, errstr, errstr_size);
        if (err)
            goto out;
    }
    size_t before = out->len;
    err = wk_decompress(dict, frame, frame_len, size, out);
    if (err) {
        snprintf(errstr, errstr_size, "document %lld: zstd frame does not decompress (%s)",
                 (long long)id, ing_err_name(err));
        goto out;
    }
    uint8_t sha[ING_SHA256_LEN];
    ing_sha256(out->data + before, out->len - before, sha);
    if (PQgetlength(res, 0, 8) != ING_SHA256_LEN ||
        memcmp(sha, PQgetvalue(res, 0, 8), ING_SHA256_LEN) != 0) {
        snprintf(errstr, errstr_size, "document %lld: SHA-256 of the content does not match",
                 (long long)id);
        err = ING_ERR_HASH_MISMATCH;
    }
out:
    PQclear(res);
    return err;
}

static ing_err_t write_new_file(const char *path, const uint8_t *data, size_t len, char *errstr,
                                size_t errsz)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
        snprintf(errstr, errsz, "cannot create %s: %s%s", path, strerror(errno),
                 errno == EEXIST ? " (never overwritten)" : "");
        return ING_ERR_IO;
    }
    while (len > 0) {
        ssize_t n = write(fd, data, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            snprintf(errstr, errsz, "write %s: %s", path, strerror(errno));
            close(fd);
            unlink(path);
            return ING_ERR_IO;
        }
        data += n;
        len -= (size_t)n;
    }
    if (close(fd) != 0) {
        snprintf(errstr, errsz, "close %s: %s", path, strerror(errno));
        unlink(path);
        return ING_ERR_IO;
    }
    return ING_OK;
}

ing_err_t wk_document_show(const char *db_url, const ing_keyring_t *keyring,
                           const char *submission_id, const char *out_path, const char *actor,
                           FILE *meta, char *errstr, size_t errstr_size)
{
    PGconn *conn = wk_document_connect(db_url, errstr, errstr_size);
    if (!conn)
        return ING_ERR_UNAVAILABLE;
    wk_doc_reader_t *r = NULL;
    PGresult *res = NULL;
    ing_buf_t plain;
    ing_buf_init(&plain, 1u << 30);
    ing_err_t err = wk_pg_command(conn, "BEGIN", 0, NULL, errstr, errstr_size);
    if (err)
        goto out;
    const char *find[1] = {submission_id};
    res = PQexecParams(conn, SQL_FIND, 1, NULL, find, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        err = wk_pg_error(conn, res, "find document", errstr, errstr_size);
        goto out;
    }
    if (PQntuples(res) != 1) {
        snprintf(errstr, errstr_size,
                 "no stored document for submission %.64s (unknown, not final, or refused)",
                 submission_id);
        err = ING_ERR_CONFIG;
        goto out;
    }
    /* The audit row is committed before anything is read: a failed read is still audited. */
    char detail[600];
    snprintf(detail, sizeof(detail), "document_ref=%s %s", PQgetvalue(res, 0, 0),
             out_path ? "content written to a file" : "metadata only");
    const char *audit[4] = {actor, PQgetvalue(res, 0, 2), submission_id, detail};
    err = wk_pg_command(conn, SQL_AUDIT, 4, audit, errstr, errstr_size);
    if (!err)
        err = wk_pg_command(conn, "COMMIT", 0, NULL, errstr, errstr_size);
    if (err)
        goto out;
    err = wk_doc_reader_create(conn, keyring, &r);
    if (!err)
        err = wk_doc_read(r, strtoll(PQgetvalue(res, 0, 0), NULL, 10), &plain, errstr, errstr_size);
    if (err)
        goto out;
    static const char *const names[] = {"document_ref",
                                        "status",
                                        "ins",
                                        "source_finess",
                                        "document_id",
                                        "version",
                                        "type_code",
                                        "media_type",
                                        "format_code",
                                        "title",
                                        "author_rpps",
                                        "created_at",
                                        "confidentiality",
                                        "hidden_from_patient",
                                        "sha256",
                                        "size_bytes",
                                        "stored_bytes",
                                        "compression",
                                        "dict_id",
                                        "key_id",
                                        "superseded",
                                        "stored_at",
                                        "document_submission_id"};
    for (int i = 0; i < (int)(sizeof(names) / sizeof(names[0])); i++)
        fprintf(meta, "%s: %s\n", names[i], PQgetvalue(res, 0, i));
    fprintf(meta, "verified: decrypted, decompressed, SHA-256 matches (%zu bytes)\n", plain.len);
    if (out_path) {
        err = write_new_file(out_path, plain.data, plain.len, errstr, errstr_size);
        if (!err)
            fprintf(meta, "content written to %s\n", out_path);
    }
out:
    if (plain.data)
        OPENSSL_cleanse(plain.data, plain.cap);
    ing_buf_fini(&plain);
    wk_doc_reader_destroy(r);
    PQclear(res);
    PQfinish(conn);
    return err;
}
