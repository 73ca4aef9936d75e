#include "wk_dicttool.h"

#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/crypto.h>

#include "ing_buf.h"
#include "ing_time.h"
#include "wk_compress.h"
#include "wk_dict.h"
#include "wk_document.h"
#include "wk_sqlstate.h"

#define SAMPLES_MAX 100000
#define SAMPLE_BYTES_MAX (20u << 20)
#define SAMPLES_TOTAL_MAX (1u << 30)

#define SQL_NEWEST_DOCS "SELECT id FROM document WHERE type_code = $1 ORDER BY id DESC LIMIT $2"
#define SQL_AUDIT "INSERT INTO audit (actor, action, detail) VALUES ($1, 'dict_train', $2)"

/* Samples concatenated in data, their sizes in sizes[]. */
typedef struct samples {
    ing_buf_t data;
    size_t *sizes;
    unsigned n;
} samples_t;

static ing_err_t samples_init(samples_t *s)
{
    ing_buf_init(&s->data, SAMPLES_TOTAL_MAX);
    s->n = 0;
    s->sizes = calloc(SAMPLES_MAX, sizeof(*s->sizes));
    return s->sizes ? ING_OK : ING_ERR_NOMEM;
}

static void samples_fini(samples_t *s)
{
    if (s->data.data) /* may hold documents' plaintext */
        OPENSSL_cleanse(s->data.data, s->data.cap);
    ing_buf_fini(&s->data);
    free(s->sizes);
}

static int name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Every regular file of dir, in name order, one sample each. */
static ing_err_t samples_from_dir(samples_t *s, const char *dir, char *errstr, size_t errsz)
{
    DIR *d = opendir(dir);
    if (!d) {
        snprintf(errstr, errsz, "cannot open %s: %s", dir, strerror(errno));
        return ING_ERR_IO;
    }
    char **names = NULL;
    size_t n = 0, cap = 0;
    ing_err_t err = ING_OK;
    struct dirent *e;
    while (!err && (e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 256;
            char **grown = realloc(names, cap * sizeof(*names));
            if (!grown) {
                err = ING_ERR_NOMEM;
                break;
            }
            names = grown;
        }
        names[n] = strdup(e->d_name);
        if (!names[n])
            err = ING_ERR_NOMEM;
        else
            n++;
    }
    closedir(d);
    if (!err && n)
        qsort(names, n, sizeof(*names), name_cmp);
    for (size_t i = 0; !err && i < n; i++) {
        char path[4096];
        snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
        struct stat st;
        if (stat(path, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size == 0)
            continue;
        if ((size_t)st.st_size > SAMPLE_BYTES_MAX || s->n == SAMPLES_MAX) {
            snprintf(errstr, errsz, "%s: more than %u samples or a sample over %u bytes", dir,
                     SAMPLES_MAX, SAMPLE_BYTES_MAX);
            err = ING_ERR_TOO_BIG;
            break;
        }
        FILE *f = fopen(path, "rb");
        uint8_t *where;
        if (!f) {
            snprintf(errstr, errsz, "cannot open %s: %s", path, strerror(errno));
            err = ING_ERR_IO;
            break;
        }
        err = ing_buf_reserve(&s->data, (size_t)st.st_size, &where);
        size_t got = err ? 0 : fread(where, 1, (size_t)st.st_size, f);
        fclose(f);
        if (!err && got != (size_t)st.st_size) {
            snprintf(errstr, errsz, "short read of %s", path);
            err = ING_ERR_IO;
        }
        if (!err) {
            ing_buf_commit(&s->data, got);
            s->sizes[s->n++] = got;
        } else if (err == ING_ERR_TOO_BIG) {
            snprintf(errstr, errsz, "%s: samples over %u bytes in all", dir, SAMPLES_TOTAL_MAX);
        }
    }
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    if (!err && s->n == 0) {
        snprintf(errstr, errsz, "%s holds no sample files", dir);
        err = ING_ERR_CONFIG;
    }
    return err;
}

static ing_err_t samples_from_db(samples_t *s, PGconn *conn, const ing_keyring_t *keyring,
                                 const char *type_code, long limit, char *errstr, size_t errsz)
{
    char limtext[24];
    snprintf(limtext, sizeof(limtext), "%ld", limit);
    const char *values[2] = {type_code, limtext};
    PGresult *res = PQexecParams(conn, SQL_NEWEST_DOCS, 2, NULL, values, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        const char *msg = PQerrorMessage(conn);
        snprintf(errstr, errsz, "list documents: %.*s", (int)strcspn(msg, "\n"), msg);
        ing_err_t err = wk_sqlstate_classify(PQresultErrorField(res, PG_DIAG_SQLSTATE));
        PQclear(res);
        return err;
    }
    wk_doc_reader_t *r = NULL;
    ing_err_t err = wk_doc_reader_create(conn, keyring, &r);
    for (int i = 0; !err && i < PQntuples(res) && s->n < SAMPLES_MAX; i++) {
        size_t before = s->data.len;
        err = wk_doc_read(r, strtoll(PQgetvalue(res, i, 0), NULL, 10), &s->data, errstr, errsz);
        if (!err)
            s->sizes[s->n++] = s->data.len - before;
    }
    wk_doc_reader_destroy(r);
    PQclear(res);
    if (!err && s->n == 0) {
        snprintf(errstr, errsz, "no stored document of type code %s", type_code);
        err = ING_ERR_CONFIG;
    }
    return err;
}

ing_err_t wk_dicttool_train(const wk_dict_train_req_t *req, FILE *report, char *errstr,
                            size_t errstr_size)
{
    size_t tclen = strlen(req->type_code);
    if (tclen == 0 || tclen > WK_DICT_TYPE_CODE_MAX ||
        strspn(req->type_code, "0123456789-") != tclen) {
        snprintf(errstr, errstr_size, "--type-code: a LOINC code like 11502-2");
        return ING_ERR_INVALID_FIELD;
    }
    PGconn *conn = wk_document_connect(req->db_url, errstr, errstr_size);
    if (!conn)
        return ING_ERR_UNAVAILABLE;
    samples_t s;
    ing_buf_t dict;
    ing_buf_init(&dict, req->capacity);
    ing_sealer_t *sealer = NULL;
    ing_err_t err = samples_init(&s);
    if (!err)
        err = req->from_dir ? samples_from_dir(&s, req->from_dir, errstr, errstr_size)
                            : samples_from_db(&s, conn, req->keyring, req->type_code, req->from_db,
                                              errstr, errstr_size);
    int64_t t0 = ing_mono_us();
    if (!err)
        err = wk_zdict_train(s.data.data, s.sizes, s.n, req->capacity, &dict, errstr, errstr_size);
    int64_t t1 = ing_mono_us();
    wk_zdict_t *check = NULL;
    if (!err && wk_zdict_create(dict.data, dict.len, req->level, &check) != ING_OK) {
        snprintf(errstr, errstr_size, "the trained dictionary does not load");
        err = ING_ERR_INTERNAL;
    }
    wk_zdict_destroy(check);
    if (!err)
        err = ing_sealer_create(req->keyring, &sealer);
    int32_t id = 0;
    if (!err)
        err = wk_pg_command(conn, "BEGIN", 0, NULL, errstr, errstr_size);
    if (!err)
        err = wk_dict_insert(conn, sealer, req->type_code, dict.data, dict.len, s.n, &id, errstr,
                             errstr_size);
    if (!err) {
        char detail[256];
        snprintf(detail, sizeof(detail), "dict_id=%d type_code=%s samples=%u source=%s", (int)id,
                 req->type_code, s.n, req->from_dir ? "files" : "stored documents");
        const char *values[2] = {req->actor, detail};
        err = wk_pg_command(conn, SQL_AUDIT, 2, values, errstr, errstr_size);
    }
    if (!err)
        err = wk_pg_command(conn, "COMMIT", 0, NULL, errstr, errstr_size);
    if (!err)
        fprintf(report,
                "dictionary %d for type code %s: %zu bytes from %u samples (%zu bytes) in "
                "%.2f s; workers pick it up within worker.dict_refresh_s\n",
                (int)id, req->type_code, dict.len, s.n, s.data.len, (double)(t1 - t0) / 1e6);
    if (dict.data)
        OPENSSL_cleanse(dict.data, dict.cap);
    ing_buf_fini(&dict);
    ing_sealer_destroy(sealer);
    samples_fini(&s);
    PQfinish(conn);
    return err;
}

typedef struct bench_result {
    size_t in, out;
    double c_s, d_s; /* seconds for one pass */
} bench_result_t;

/* Compresses and decompresses every test sample; repeats until 0.5 s passed, for steadier
 * timings. */
static ing_err_t bench_pass(wk_compressor_t *c, const wk_zdict_t *dict, const samples_t *t,
                            bench_result_t *r)
{
    ing_buf_t z, back;
    ing_buf_init(&z, 2 * t->data.len + 65536 * (size_t)t->n);
    ing_buf_init(&back, SAMPLE_BYTES_MAX + 1);
    ing_err_t err = ING_OK;
    *r = (bench_result_t){0};
    int rounds = 0;
    int64_t c_us = 0, d_us = 0;
    size_t *zsizes = calloc(t->n, sizeof(*zsizes));
    if (!zsizes)
        err = ING_ERR_NOMEM;
    while (!err && (rounds == 0 || c_us + d_us < 500000)) {
        ing_buf_reset(&z);
        int64_t t0 = ing_mono_us();
        size_t off = 0;
        for (unsigned i = 0; !err && i < t->n; i++) {
            size_t before = z.len;
            err = wk_compress(c, dict, t->data.data + off, t->sizes[i], &z);
            zsizes[i] = z.len - before;
            off += t->sizes[i];
        }
        int64_t t1 = ing_mono_us();
        size_t zoff = 0;
        for (unsigned i = 0; !err && i < t->n; i++) {
            ing_buf_reset(&back);
            err = wk_decompress(dict, z.data + zoff, zsizes[i], SAMPLE_BYTES_MAX, &back);
            zoff += zsizes[i];
        }
        d_us += ing_mono_us() - t1;
        c_us += t1 - t0;
        rounds++;
    }
    r->in = t->data.len;
    r->out = z.len;
    r->c_s = (double)c_us / 1e6 / rounds;
    r->d_s = (double)d_us / 1e6 / rounds;
    free(zsizes);
    ing_buf_fini(&z);
    ing_buf_fini(&back);
    return err;
}

ing_err_t wk_dicttool_bench(const char *train_dir, const char *test_dir, int level, size_t capacity,
                            FILE *out, char *errstr, size_t errstr_size)
{
    samples_t train, test;
    ing_buf_t dict;
    ing_buf_init(&dict, capacity);
    wk_compressor_t *c = NULL;
    wk_zdict_t *zd = NULL;
    ing_err_t err = samples_init(&train);
    if (samples_init(&test) != ING_OK)
        err = ING_ERR_NOMEM;
    if (!err)
        err = samples_from_dir(&train, train_dir, errstr, errstr_size);
    if (!err)
        err = samples_from_dir(&test, test_dir, errstr, errstr_size);
    int64_t t0 = ing_mono_us();
    if (!err)
        err = wk_zdict_train(train.data.data, train.sizes, train.n, capacity, &dict, errstr,
                             errstr_size);
    double train_s = (double)(ing_mono_us() - t0) / 1e6;
    if (!err)
        err = wk_compressor_create(level, &c);
    if (!err)
        err = wk_zdict_create(dict.data, dict.len, level, &zd);
    bench_result_t plain, withd;
    if (!err)
        err = bench_pass(c, NULL, &test, &plain);
    if (!err)
        err = bench_pass(c, zd, &test, &withd);
    if (!err) {
        fprintf(out,
                "dictionary: %zu bytes trained on %u samples (%zu bytes) in %.2f s; test: %u "
                "documents, %zu bytes, mean %zu bytes; zstd level %d\n",
                dict.len, train.n, train.data.len, train_s, test.n, test.data.len,
                test.data.len / test.n, level);
        const struct {
            const char *name;
            const bench_result_t *r;
        } rows[] = {{"without dictionary", &plain}, {"with dictionary", &withd}};
        for (int i = 0; i < 2; i++) {
            const bench_result_t *r = rows[i].r;
            fprintf(out,
                    "%-19s ratio %6.2f  stored %8zu bytes (%5.1f%%)  compress %7.1f MB/s  "
                    "decompress %7.1f MB/s\n",
                    rows[i].name, (double)r->in / (double)r->out, r->out,
                    100.0 * (double)r->out / (double)r->in, (double)r->in / 1e6 / r->c_s,
                    (double)r->in / 1e6 / r->d_s);
        }
    } else if (!errstr[0]) {
        snprintf(errstr, errstr_size, "%s", ing_err_str(err));
    }
    wk_zdict_destroy(zd);
    wk_compressor_destroy(c);
    ing_buf_fini(&dict);
    samples_fini(&train);
    samples_fini(&test);
    return err;
}
