#include "wk_dlqtail.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <librdkafka/rdkafka.h>

#include "ing_time.h"
#include "wk_kafka.h"

#define MAX_PARTITIONS 1024

typedef struct tail_line {
    int64_t ts;
    int32_t partition;
    int64_t offset;
    char *text; /* @owns */
} tail_line_t;

static int line_cmp(const void *a, const void *b)
{
    const tail_line_t *x = a, *y = b;
    if (x->ts != y->ts)
        return x->ts < y->ts ? -1 : 1;
    if (x->partition != y->partition)
        return x->partition < y->partition ? -1 : 1;
    return x->offset < y->offset ? -1 : x->offset > y->offset;
}

/* Header values are printed as they are, except bytes that would break the line. */
static void put_clean(FILE *f, const void *v, size_t len)
{
    const unsigned char *p = v;
    for (size_t i = 0; i < len; i++)
        fputc(p[i] < 0x20 || p[i] > 0x7e ? '?' : p[i], f);
}

static char *format_line(const rd_kafka_message_t *m)
{
    char *text = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&text, &size);
    if (!f)
        return NULL;
    rd_kafka_timestamp_type_t tstype;
    int64_t ts = rd_kafka_message_timestamp(m, &tstype);
    fprintf(f,
            "partition=%" PRId32 "\toffset=%" PRId64 "\ttimestamp_ms=%" PRId64
            "\tkey_bytes=%zu\tvalue_bytes=%zu",
            m->partition, m->offset, ts, m->key_len, m->len);
    rd_kafka_headers_t *hdrs = NULL;
    if (rd_kafka_message_headers(m, &hdrs) == RD_KAFKA_RESP_ERR_NO_ERROR) {
        const char *name;
        const void *value;
        size_t len;
        for (size_t i = 0;
             rd_kafka_header_get_all(hdrs, i, &name, &value, &len) == RD_KAFKA_RESP_ERR_NO_ERROR;
             i++) {
            fputc('\t', f);
            put_clean(f, name, strlen(name));
            fputc('=', f);
            put_clean(f, value, value ? len : 0);
        }
    }
    fclose(f);
    return text;
}

ing_err_t wk_dlq_tail(const cfg_passthrough_t *kafka, const char *topic, int n, int timeout_ms,
                      FILE *out, char *errstr, size_t errstr_size)
{
    rd_kafka_conf_t *conf = wk_kafka_conf_new(WK_KAFKA_CONSUMER, kafka, "ingestctl-dlq-tail",
                                              "dlq-tail", errstr, errstr_size);
    rd_kafka_t *rk = conf ? wk_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, errstr_size) : NULL;
    if (!rk)
        return ING_ERR_CONFIG;
    ing_err_t err = ING_OK;
    tail_line_t *lines = NULL;
    size_t nlines = 0, cap = 0;
    rd_kafka_topic_partition_list_t *assign = NULL;
    int64_t *ends = NULL;
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
    rd_kafka_resp_err_t kerr = rd_kafka_metadata(rk, 0, rkt, &md, timeout_ms);
    if (kerr || md->topic_cnt != 1 || md->topics[0].err) {
        rd_kafka_resp_err_t e = kerr ? kerr : md->topic_cnt ? md->topics[0].err : kerr;
        snprintf(errstr, errstr_size, "topic %s: %s", topic, rd_kafka_err2str(e));
        err = e ? wk_kafka_err(e) : ING_ERR_CONFIG;
        goto out;
    }
    int np = md->topics[0].partition_cnt;
    if (np > MAX_PARTITIONS)
        np = MAX_PARTITIONS;
    assign = rd_kafka_topic_partition_list_new(np);
    ends = calloc((size_t)np + 1, sizeof(*ends));
    if (!ends) {
        err = ING_ERR_NOMEM;
        goto out;
    }
    int pending = 0;
    for (int i = 0; i < np; i++) {
        int32_t p = md->topics[0].partitions[i].id;
        int64_t lo, hi;
        kerr = rd_kafka_query_watermark_offsets(rk, topic, p, &lo, &hi, timeout_ms);
        if (kerr) {
            snprintf(errstr, errstr_size, "%s[%" PRId32 "] watermarks: %s", topic, p,
                     rd_kafka_err2str(kerr));
            err = wk_kafka_err(kerr);
            goto out;
        }
        if (hi <= lo)
            continue;
        int64_t from = hi - n > lo ? hi - n : lo;
        rd_kafka_topic_partition_list_add(assign, topic, p)->offset = from;
        ends[assign->cnt - 1] = hi;
        pending++;
    }
    if (pending && (kerr = rd_kafka_assign(rk, assign)) != RD_KAFKA_RESP_ERR_NO_ERROR) {
        snprintf(errstr, errstr_size, "assign: %s", rd_kafka_err2str(kerr));
        err = wk_kafka_err(kerr);
        goto out;
    }
    int64_t deadline = ing_mono_us() + (int64_t)timeout_ms * 1000;
    while (pending > 0) {
        if (ing_mono_us() > deadline) {
            snprintf(errstr, errstr_size, "timed out reading %s (%d partitions unfinished)", topic,
                     pending);
            err = ING_ERR_TIMEOUT;
            goto out;
        }
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 200);
        if (!m)
            continue;
        if (m->err) {
            rd_kafka_message_destroy(m);
            continue;
        }
        for (int i = 0; i < assign->cnt; i++) {
            if (assign->elems[i].partition != m->partition || ends[i] < 0)
                continue;
            if (m->offset + 1 >= ends[i]) {
                ends[i] = -1; /* done */
                pending--;
            }
        }
        if (nlines == cap) {
            cap = cap ? cap * 2 : 64;
            tail_line_t *grown = realloc(lines, cap * sizeof(*lines));
            if (!grown) {
                rd_kafka_message_destroy(m);
                err = ING_ERR_NOMEM;
                goto out;
            }
            lines = grown;
        }
        rd_kafka_timestamp_type_t tstype;
        lines[nlines] = (tail_line_t){rd_kafka_message_timestamp(m, &tstype), m->partition,
                                      m->offset, format_line(m)};
        if (lines[nlines].text)
            nlines++;
        rd_kafka_message_destroy(m);
    }
    if (nlines) /* qsort's array must not be NULL, even when empty */
        qsort(lines, nlines, sizeof(*lines), line_cmp);
    for (size_t i = nlines > (size_t)n ? nlines - (size_t)n : 0; i < nlines; i++)
        fprintf(out, "%s\n", lines[i].text);
out:
    for (size_t i = 0; i < nlines; i++)
        free(lines[i].text);
    free(lines);
    free(ends);
    if (assign)
        rd_kafka_topic_partition_list_destroy(assign);
    if (md)
        rd_kafka_metadata_destroy(md);
    rd_kafka_topic_destroy(rkt);
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    return err;
}
