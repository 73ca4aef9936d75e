#include "bt_copy.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <dirent.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zdict.h>
#include <zstd.h>

#include "ing_time.h"

#define PG_EPOCH_UNIX_US 946684800000000LL

double bt_cpu_seconds_of(const char *comm)
{
    DIR *dir = opendir("/proc");
    if (!dir)
        return 0;
    double ticks = 0;
    long hz = sysconf(_SC_CLK_TCK);
    struct dirent *de;
    while ((de = readdir(dir))) {
        if (!isdigit((unsigned char)de->d_name[0]))
            continue;
        char path[300], buf[1024];
        snprintf(path, sizeof(path), "/proc/%s/stat", de->d_name);
        FILE *f = fopen(path, "r");
        if (!f)
            continue;
        size_t n = fread(buf, 1, sizeof(buf) - 1, f);
        fclose(f);
        buf[n] = '\0';
        char *open = strchr(buf, '('), *close = strrchr(buf, ')');
        if (!open || !close || (size_t)(close - open - 1) != strlen(comm) ||
            strncmp(open + 1, comm, strlen(comm)) != 0)
            continue;
        unsigned long long ut, st;
        /* After ")": state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt
         * utime stime. */
        if (sscanf(close + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) ==
            2)
            ticks += (double)(ut + st);
    }
    closedir(dir);
    return hz > 0 ? ticks / (double)hz : 0;
}

/* ---- the binary COPY stream ------------------------------------------------------------ */

static ing_err_t put_i16(ing_buf_t *b, uint16_t v)
{
    v = htons(v);
    return ing_buf_append(b, &v, 2);
}

static ing_err_t put_i32(ing_buf_t *b, uint32_t v)
{
    v = htonl(v);
    return ing_buf_append(b, &v, 4);
}

static ing_err_t put_i64(ing_buf_t *b, int64_t v)
{
    uint32_t hi = (uint32_t)((uint64_t)v >> 32), lo = (uint32_t)v;
    ing_err_t err = put_i32(b, hi);
    return err ? err : put_i32(b, lo);
}

/* One field: length then bytes; NULL when data is NULL. */
static ing_err_t put_field(ing_buf_t *b, const void *data, size_t len)
{
    if (!data)
        return put_i32(b, 0xffffffffu);
    ing_err_t err = put_i32(b, (uint32_t)len);
    return err ? err : ing_buf_append(b, data, len);
}

static ing_err_t put_text(ing_buf_t *b, const char *s, bool null_if_empty)
{
    return put_field(b, null_if_empty && !*s ? NULL : s, strlen(s));
}

static ing_err_t put_int_field(ing_buf_t *b, int size, int64_t v)
{
    ing_err_t err = put_i32(b, (uint32_t)size);
    if (err)
        return err;
    return size == 4 ? put_i32(b, (uint32_t)v) : put_i64(b, v);
}

#define COPY_COLUMNS                                                                               \
    "ins, source_finess, document_id, version, submission_id, type_code, media_type, "             \
    "format_code, title, author_rpps, created_at, confidentiality, hidden_from_patient, sha256, "  \
    "size_bytes, compression, content, received_at, kafka_partition, kafka_offset"

static ing_err_t put_row(ing_buf_t *b, const ing_envelope_t *env, const ing_record_meta_t *meta,
                         const void *z, size_t zlen, uint64_t i)
{
    int64_t created;
    if (!ing_time_parse_rfc3339(env->created_at, &created))
        return ING_ERR_INVALID_FIELD;
    created -= PG_EPOCH_UNIX_US;
    char conf = env->confidentiality;
    uint8_t hidden = env->hidden_from_patient;
    ing_err_t err = put_i16(b, 20);
    if (!err)
        err = put_text(b, env->ins, false);
    if (!err)
        err = put_text(b, env->finess, false);
    if (!err)
        err = put_text(b, env->document_id, false);
    if (!err)
        err = put_int_field(b, 4, env->version);
    if (!err)
        err = put_text(b, meta->submission_id, false);
    if (!err)
        err = put_text(b, env->type_code, false);
    if (!err)
        err = put_text(b, env->media_type, false);
    if (!err)
        err = put_text(b, env->format_code, true);
    if (!err)
        err = put_text(b, env->title, true);
    if (!err)
        err = put_text(b, env->rpps, true);
    if (!err)
        err = put_int_field(b, 8, created);
    if (!err)
        err = put_field(b, &conf, 1);
    if (!err)
        err = put_field(b, &hidden, 1);
    if (!err)
        err = put_field(b, env->sha256, ING_SHA256_LEN);
    if (!err)
        err = put_int_field(b, 4, (int64_t)env->content_len);
    if (!err)
        err = put_field(b, "zstd", 4);
    if (!err)
        err = put_field(b, z, zlen);
    if (!err)
        err = put_int_field(b, 8, meta->received_at_us - PG_EPOCH_UNIX_US);
    if (!err)
        err = put_int_field(b, 4, (int64_t)(i % 12));
    if (!err)
        err = put_int_field(b, 8, (int64_t)i);
    return err;
}

static ing_err_t pg_exec(PGconn *c, const char *sql, char *errstr, size_t errstr_size)
{
    PGresult *r = PQexec(c, sql);
    ExecStatusType s = PQresultStatus(r);
    ing_err_t err = ING_OK;
    if (s != PGRES_COMMAND_OK && s != PGRES_TUPLES_OK) {
        snprintf(errstr, errstr_size, "%s: %s", sql, PQresultErrorMessage(r));
        err = ING_ERR_UNAVAILABLE;
    }
    PQclear(r);
    return err;
}

ing_err_t bt_copy_train_dict(bt_docs_t *docs, uint64_t samples, size_t capacity, ing_buf_t *out,
                             char *errstr, size_t errstr_size)
{
    ing_buf_t json, all;
    ing_buf_init(&json, (size_t)64 << 20);
    ing_buf_init(&all, (size_t)1 << 30);
    ing_envelope_t env;
    ing_envelope_init(&env);
    size_t *sizes = calloc(samples ? samples : 1, sizeof(*sizes));
    ing_err_t err = sizes ? ING_OK : ING_ERR_NOMEM;
    for (uint64_t i = 0; i < samples && !err; i++) {
        ing_record_meta_t meta;
        ing_problem_t problem;
        err = bt_docs_get(docs, i, &json, &env, &meta, &problem);
        if (err)
            snprintf(errstr, errstr_size, "sample %llu: %s", (unsigned long long)i, problem.detail);
        else
            err = ing_buf_append(&all, env.content, env.content_len);
        if (!err)
            sizes[i] = env.content_len;
    }
    uint8_t *w = NULL;
    ing_buf_reset(out);
    if (!err)
        err = ing_buf_reserve(out, capacity, &w);
    if (!err) {
        size_t got = ZDICT_trainFromBuffer(w, capacity, all.data, sizes, (unsigned)samples);
        if (ZDICT_isError(got)) {
            snprintf(errstr, errstr_size, "zstd dictionary training: %s", ZDICT_getErrorName(got));
            err = ING_ERR_INTERNAL;
        } else {
            ing_buf_commit(out, got);
        }
    }
    if (err && !errstr[0])
        snprintf(errstr, errstr_size, "dictionary samples: %s", ing_err_str(err));
    free(sizes);
    ing_envelope_fini(&env);
    ing_buf_fini(&json);
    ing_buf_fini(&all);
    return err;
}

ing_err_t bt_copy_rows(bt_docs_t *docs, const char *pg_url, uint64_t count, int zstd_level,
                       const ing_buf_t *dict, bt_copy_result_t *res, char *errstr,
                       size_t errstr_size)
{
    static const uint8_t header[19] = {'P', 'G', 'C', 'O', 'P', 'Y', '\n', 0xff, '\r', '\n', 0};
    memset(res, 0, sizeof(*res));
    ing_err_t err = ING_OK;
    ing_buf_t json, z, stream;
    ing_buf_init(&json, (size_t)64 << 20);
    ing_buf_init(&z, (size_t)64 << 20);
    ing_buf_init(&stream, (size_t)8 << 30);
    ing_envelope_t env;
    ing_envelope_init(&env);
    ZSTD_CCtx *cctx = ZSTD_createCCtx();
    ZSTD_CDict *cdict = dict ? ZSTD_createCDict(dict->data, dict->len, zstd_level) : NULL;
    PGconn *c = PQconnectdb(pg_url);
    if (!cctx || (dict && !cdict)) {
        err = ING_ERR_NOMEM;
        snprintf(errstr, errstr_size, "out of memory");
        goto out;
    }
    if (PQstatus(c) != CONNECTION_OK) {
        snprintf(errstr, errstr_size, "cannot connect to PostgreSQL: %s", PQerrorMessage(c));
        err = ING_ERR_UNAVAILABLE;
        goto out;
    }
    err = pg_exec(c, "SET client_min_messages = warning", errstr, errstr_size);
    if (!err)
        err = pg_exec(c, "CREATE TABLE IF NOT EXISTS bench_copy (LIKE document INCLUDING ALL)",
                      errstr, errstr_size);
    if (!err)
        err = pg_exec(c, "TRUNCATE bench_copy", errstr, errstr_size);
    if (!err)
        err = ing_buf_append(&stream, header, sizeof(header));
    for (uint64_t i = 0; i < count && !err; i++) {
        ing_record_meta_t meta;
        ing_problem_t problem;
        err = bt_docs_get(docs, i, &json, &env, &meta, &problem);
        if (err) {
            snprintf(errstr, errstr_size, "document %llu: %s", (unsigned long long)i,
                     problem.detail);
            break;
        }
        ing_buf_reset(&z);
        uint8_t *w;
        size_t bound = ZSTD_compressBound(env.content_len);
        err = ing_buf_reserve(&z, bound, &w);
        if (err)
            break;
        size_t n =
            cdict ? ZSTD_compress_usingCDict(cctx, w, bound, env.content, env.content_len, cdict)
                  : ZSTD_compressCCtx(cctx, w, bound, env.content, env.content_len, zstd_level);
        if (ZSTD_isError(n)) {
            snprintf(errstr, errstr_size, "zstd: %s", ZSTD_getErrorName(n));
            err = ING_ERR_INTERNAL;
            break;
        }
        ing_buf_commit(&z, n);
        err = put_row(&stream, &env, &meta, z.data, z.len, i);
        res->rows++;
        res->content_bytes += env.content_len;
        res->compressed_bytes += z.len;
    }
    if (!err)
        err = put_i16(&stream, 0xffff);
    if (err) {
        if (!errstr[0])
            snprintf(errstr, errstr_size, "building the COPY stream: %s", ing_err_str(err));
        goto out;
    }
    res->stream_bytes = stream.len;

    double cpu0 = bt_cpu_seconds_of("postgres");
    int64_t t0 = ing_mono_us();
    PGresult *r = PQexec(c, "COPY bench_copy (" COPY_COLUMNS ") FROM STDIN (FORMAT binary)");
    if (PQresultStatus(r) != PGRES_COPY_IN) {
        snprintf(errstr, errstr_size, "COPY: %s", PQresultErrorMessage(r));
        PQclear(r);
        err = ING_ERR_UNAVAILABLE;
        goto out;
    }
    PQclear(r);
    for (size_t off = 0; off < stream.len && !err;) {
        size_t n = stream.len - off < (1u << 20) ? stream.len - off : (1u << 20);
        if (PQputCopyData(c, (const char *)stream.data + off, (int)n) != 1) {
            snprintf(errstr, errstr_size, "COPY data: %s", PQerrorMessage(c));
            err = ING_ERR_UNAVAILABLE;
        }
        off += n;
    }
    if (!err && PQputCopyEnd(c, NULL) != 1) {
        snprintf(errstr, errstr_size, "COPY end: %s", PQerrorMessage(c));
        err = ING_ERR_UNAVAILABLE;
    }
    while ((r = PQgetResult(c))) {
        if (!err && PQresultStatus(r) != PGRES_COMMAND_OK) {
            snprintf(errstr, errstr_size, "COPY: %s", PQresultErrorMessage(r));
            err = ING_ERR_UNAVAILABLE;
        }
        PQclear(r);
    }
    res->seconds = (double)(ing_mono_us() - t0) / 1e6;
    res->pg_cpu_seconds = bt_cpu_seconds_of("postgres") - cpu0;
out:
    PQfinish(c);
    ZSTD_freeCCtx(cctx);
    ZSTD_freeCDict(cdict);
    ing_envelope_fini(&env);
    ing_buf_fini(&json);
    ing_buf_fini(&z);
    ing_buf_fini(&stream);
    return err;
}
