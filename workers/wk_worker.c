#include "wk_worker.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <librdkafka/rdkafka.h>

#include "ing_buf.h"
#include "ing_log.h"
#include "ing_time.h"
#include "wk_batch.h"
#include "wk_compress.h"
#include "wk_dict.h"
#include "wk_dlq.h"
#include "wk_kafka.h"
#include "wk_process.h"
#include "wk_store.h"

#define IDLE_POLL_MS 200
#define JOIN_BEFORE_CLOSE_MS 10000
#define DLQ_TIMEOUT_MS 30000
#define SEEK_TIMEOUT_MS 5000
/* The committed-offsets read blocks the thread's loop: short, and not retried for a while. */
#define COMMITTED_TIMEOUT_MS 200
#define COMMITTED_RETRY_US (10 * 1000000)

typedef struct wk_worker {
    const wk_worker_conf_t *conf;
    const wk_settings_t *s;
    char name[32];
    rd_kafka_t *rk;
    wk_dlq_t *dlq;
    wk_store_t *store;
    wk_compressor_t *zc;
    wk_dicts_t *dicts;
    ing_sealer_t *sealer;
    int64_t next_dict_us;
    bool dict_warned;
    wk_batch_limits_t limits;

    /* The batch in hand: polled, not yet stored. */
    rd_kafka_message_t **msgs; /* @owns the messages */
    wk_item_t *items;
    size_t n, bytes;
    int64_t first_us;
    ing_buf_t zbuf; /* compressed and sealed contents of the batch, reset per batch */
    ing_buf_t ztmp; /* one document compressed, before sealing */
    bool flushing;  /* re-entrancy guard: a rebalance inside a flush must not flush again */

    /* Retry state after a transient failure. */
    bool need_backoff;
    bool joined; /* the group gave this consumer its first assignment (maybe empty) */
    int attempts;
    int64_t first_failure_us;
    char last_error[512];
    rd_kafka_topic_partition_list_t *rewind; /* where to seek back to, per partition */
    unsigned rand_seed;

    bool auto_commit; /* librdkafka commits the stored offsets on its timer */
    bool fatal;
    ing_err_t fatal_err;
    /* The group's committed offsets of the assignment, read once per assignment change: the
     * lag of a partition this consumer has delivered nothing from starts there. */
    rd_kafka_topic_partition_list_t *committed;
    int64_t committed_retry_us; /* no read of them before this, after one failed */
    wk_stats_t stats;
    int64_t next_stats_us;
    int64_t next_lag_us;
} wk_worker_t;

/* --- rewinding -------------------------------------------------------------------------- */

static void rewind_add(wk_worker_t *w, const char *topic, int32_t partition, int64_t offset)
{
    rd_kafka_topic_partition_t *p = rd_kafka_topic_partition_list_find(w->rewind, topic, partition);
    if (!p)
        rd_kafka_topic_partition_list_add(w->rewind, topic, partition)->offset = offset;
    else if (offset < p->offset)
        p->offset = offset;
}

static void rewind_batch(wk_worker_t *w)
{
    for (size_t i = 0; i < w->n; i++)
        rewind_add(w, rd_kafka_topic_name(w->msgs[i]->rkt), w->msgs[i]->partition,
                   w->msgs[i]->offset);
}

/* --- the batch -------------------------------------------------------------------------- */

static void batch_clear(wk_worker_t *w)
{
    for (size_t i = 0; i < w->n; i++)
        rd_kafka_message_destroy(w->msgs[i]);
    w->n = 0;
    w->bytes = 0;
    ing_buf_reset(&w->zbuf);
}

/* Drops the batch's messages of the given partitions (lost or revoked ones). */
static void batch_drop_partitions(wk_worker_t *w, const rd_kafka_topic_partition_list_t *parts)
{
    size_t kept = 0;
    for (size_t i = 0; i < w->n; i++) {
        rd_kafka_message_t *m = w->msgs[i];
        if (rd_kafka_topic_partition_list_find(parts, rd_kafka_topic_name(m->rkt), m->partition))
            rd_kafka_message_destroy(m);
        else
            w->msgs[kept++] = m;
    }
    w->n = kept;
}

/* Compress (first: ciphertext does not compress), then seal bound to patient and document. */
static ing_err_t seal_content(wk_worker_t *w, wk_item_t *it)
{
    int32_t dict_id = 0;
    const wk_zdict_t *dict = wk_dicts_find(w->dicts, it->env.type_code, &dict_id);
    ing_buf_reset(&w->ztmp);
    ing_err_t err = wk_compress(w->zc, dict, it->env.content, it->env.content_len, &w->ztmp);
    if (err)
        return err;
    uint8_t aad[512];
    size_t aad_len = ing_document_aad(it->env.ins, it->env.finess, it->env.document_id,
                                      it->env.version, aad, sizeof(aad));
    it->zoff = w->zbuf.len;
    err = ing_seal(w->sealer, aad, aad_len, w->ztmp.data, w->ztmp.len, it->nonce, &it->key_id,
                   &w->zbuf);
    if (err)
        return err;
    it->zlen = w->zbuf.len - it->zoff;
    it->dict_id = dict_id;
    return ING_OK;
}

/* Loads newer dictionaries, between batches, every worker.dict_refresh_s. */
static void dict_tick(wk_worker_t *w, bool force)
{
    int64_t now = ing_mono_us();
    if (!force && now < w->next_dict_us)
        return;
    w->next_dict_us = now + w->s->dict_refresh_s * 1000000;
    struct pg_conn *conn = wk_store_pgconn(w->store);
    if (!conn)
        return; /* down: the next tick after the reconnection */
    char errstr[512];
    if (wk_dicts_refresh(w->dicts, conn, errstr, sizeof(errstr)) == ING_OK) {
        w->dict_warned = false;
    } else if (!w->dict_warned) { /* once per outage: documents still compress without */
        ing_log(ING_LOG_WARN, w->name, "zstd dictionaries not refreshed: %s", errstr);
        w->dict_warned = true;
    }
}

/* Decode, validate, compress and seal every record of the batch. */
static void batch_prepare(wk_worker_t *w)
{
    ing_buf_reset(&w->zbuf);
    for (size_t i = 0; i < w->n; i++) {
        const rd_kafka_message_t *m = w->msgs[i];
        wk_item_t *it = &w->items[i];
        wk_process_record(w->conf->policy, m->payload, m->len, it);
        it->partition = m->partition;
        it->offset = m->offset;
        if (it->outcome != WK_OUT_PENDING)
            continue;
        ing_err_t err = seal_content(w, it);
        if (err)
            wk_item_fail(it, err, WK_STAGE_STORE, "compression or encryption failed: %s",
                         ing_err_str(err));
    }
}

static ing_err_t send_dead_letters(wk_worker_t *w, size_t from, size_t count)
{
    for (size_t i = from; i < from + count; i++) {
        const wk_item_t *it = &w->items[i];
        if (it->outcome != WK_OUT_DEAD)
            continue;
        const rd_kafka_message_t *m = w->msgs[i];
        wk_dlq_reason_t reason = {
            .err = it->err,
            .detail = it->detail,
            .stage = it->stage,
            .topic = rd_kafka_topic_name(m->rkt),
            .partition = m->partition,
            .offset = m->offset,
            .attempts = w->attempts + 1,
            .first_failure_us = w->attempts ? w->first_failure_us : ing_wall_us(),
        };
        ing_err_t err = wk_dlq_send(w->dlq, m->key, m->key_len, m->payload, m->len, &reason);
        if (err) {
            snprintf(w->last_error, sizeof(w->last_error), "dead letter: %s", ing_err_str(err));
            return ING_ERR_UNAVAILABLE;
        }
    }
    return wk_dlq_wait(w->dlq, DLQ_TIMEOUT_MS, w->last_error, sizeof(w->last_error));
}

/* One transaction for items[from, from+count): store, dead letters delivered, COMMIT. */
static ing_err_t store_and_commit(wk_worker_t *w, size_t from, size_t count)
{
    ing_err_t err = wk_store_batch(w->store, w->items + from, count, w->zbuf.data, w->last_error,
                                   sizeof(w->last_error));
    if (err)
        return err;
    /* Dead letters are durable before the statuses that announce them are committed. */
    err = send_dead_letters(w, from, count);
    if (err) {
        wk_store_rollback(w->store);
        return err;
    }
    return wk_store_commit(w->store, w->last_error, sizeof(w->last_error));
}

/* A permanent database error in a batch: retry record by record so that only the record the
 * database refuses is dead-lettered. */
static ing_err_t store_isolating(wk_worker_t *w)
{
    ing_log(ING_LOG_WARN, w->name, "batch of %zu refused by the database (%s); isolating", w->n,
            w->last_error);
    for (size_t i = 0; i < w->n; i++) {
        wk_item_t *it = &w->items[i];
        ing_err_t err = store_and_commit(w, i, 1);
        if (err == ING_ERR_INTERNAL) {
            wk_item_fail(it, ING_ERR_INTERNAL, WK_STAGE_STORE, "%s", w->last_error);
            err = store_and_commit(w, i, 1);
        }
        if (err == ING_ERR_INTERNAL) { /* even its `rejected` row is refused: dead letter only */
            it->id_known = false;
            err = store_and_commit(w, i, 1);
        }
        if (err)
            return err;
    }
    return ING_OK;
}

static void store_offsets(wk_worker_t *w)
{
    rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new((int)w->n);
    for (size_t i = 0; i < w->n; i++) {
        const rd_kafka_message_t *m = w->msgs[i];
        rd_kafka_topic_partition_t *p =
            rd_kafka_topic_partition_list_find(list, rd_kafka_topic_name(m->rkt), m->partition);
        if (!p)
            p = rd_kafka_topic_partition_list_add(list, rd_kafka_topic_name(m->rkt), m->partition);
        if (m->offset + 1 > p->offset)
            p->offset = m->offset + 1;
    }
    rd_kafka_resp_err_t err = rd_kafka_offsets_store(w->rk, list);
    if (err) /* a partition revoked meanwhile: its next owner redelivers, harmlessly */
        ing_log(ING_LOG_DEBUG, w->name, "offsets_store: %s", rd_kafka_err2name(err));
    rd_kafka_topic_partition_list_destroy(list);
}

static void commit_offsets(wk_worker_t *w, bool sync)
{
    rd_kafka_resp_err_t err = rd_kafka_commit(w->rk, NULL, sync ? 0 : 1);
    if (err && err != RD_KAFKA_RESP_ERR__NO_OFFSET)
        ing_log(ING_LOG_WARN, w->name, "offset commit failed: %s (records will be redelivered)",
                rd_kafka_err2name(err));
}

static void batch_account(wk_worker_t *w, int64_t started_us)
{
    wk_stats_t b = {0};
    for (size_t i = 0; i < w->n; i++) {
        const wk_item_t *it = &w->items[i];
        switch (it->outcome) {
        case WK_OUT_STORED:
            b.stored++;
            ing_log(ING_LOG_DEBUG, w->name,
                    "stored submission_id=%s document_ref=%" PRId64 " rule=%s",
                    it->meta.submission_id, it->document_ref, it->rule);
            break;
        case WK_OUT_RETRY:
            b.already_stored++;
            ing_log(ING_LOG_DEBUG, w->name, "already stored submission_id=%s document_ref=%" PRId64,
                    it->meta.submission_id, it->document_ref);
            break;
        case WK_OUT_DUPLICATE:
            b.duplicates++;
            ing_log(ING_LOG_INFO, w->name, "duplicate submission_id=%s document_ref=%" PRId64,
                    it->meta.submission_id, it->document_ref);
            break;
        case WK_OUT_REFUSED:
            b.refused++;
            ing_log(ING_LOG_INFO, w->name, "refused submission_id=%s code=%s",
                    it->meta.submission_id, ing_err_name(it->err));
            break;
        case WK_OUT_DEAD:
            b.dead_lettered++;
            b.rejected += it->id_known;
            ing_log(it->id_known ? ING_LOG_INFO : ING_LOG_WARN, w->name,
                    "dead-lettered submission_id=%s status=%s code=%s stage=%s partition=%" PRId32
                    " offset=%" PRId64 " detail='%s'",
                    it->id_known ? it->meta.submission_id : "-", it->id_known ? "rejected" : "none",
                    ing_err_name(it->err), wk_stage_name(it->stage), it->partition, it->offset,
                    it->detail);
            break;
        case WK_OUT_PENDING:
            break;
        }
    }
    w->stats.batches++;
    w->stats.records += w->n;
    w->stats.stored += b.stored;
    w->stats.already_stored += b.already_stored;
    w->stats.duplicates += b.duplicates;
    w->stats.refused += b.refused;
    w->stats.rejected += b.rejected;
    w->stats.dead_lettered += b.dead_lettered;
    int64_t took_us = ing_mono_us() - started_us;
    if (w->conf->live) {
        wk_metrics_publish(w->conf->live, &w->stats);
        wk_metrics_observe_batch(w->conf->live, took_us);
    }
    ing_log(ING_LOG_DEBUG, w->name,
            "batch records=%zu bytes=%zu stored=%" PRIu64 " already_stored=%" PRIu64
            " duplicates=%" PRIu64 " refused=%" PRIu64 " dead_lettered=%" PRIu64 " ms=%.1f",
            w->n, w->bytes, b.stored, b.already_stored, b.duplicates, b.refused, b.dead_lettered,
            (double)took_us / 1000.0);
}

/*
 * Stores the batch in hand and stores its offsets for commit — librdkafka's timer commits
 * them, or here when sync_commit or auto commit is off; empties it either way. On a transient
 * failure the batch's partitions are marked for rewinding and need_backoff is set: the main
 * loop backs off (never from inside a rebalance callback).
 */
static void batch_flush(wk_worker_t *w, bool sync_commit)
{
    if (w->n == 0 || w->flushing)
        return;
    w->flushing = true;
    int64_t started = ing_mono_us();
    batch_prepare(w);
    ing_err_t err = store_and_commit(w, 0, w->n);
    if (err == ING_ERR_INTERNAL)
        err = store_isolating(w);
    if (err == ING_ERR_CONFIG) {
        ing_log(ING_LOG_ERROR, w->name, "%s", w->last_error);
        w->fatal = true;
        w->fatal_err = err;
    } else if (err) {
        rewind_batch(w);
        w->need_backoff = true;
    } else {
        batch_account(w, started);
        store_offsets(w);
        if (sync_commit || !w->auto_commit)
            commit_offsets(w, sync_commit);
        w->attempts = 0;
    }
    batch_clear(w);
    w->flushing = false;
}

/* --- rebalancing ------------------------------------------------------------------------ */

static void on_rebalance(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                         rd_kafka_topic_partition_list_t *parts, void *opaque)
{
    wk_worker_t *w = opaque;
    bool coop = strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE") == 0;
    rd_kafka_error_t *e = NULL;
    if (w->committed) {
        rd_kafka_topic_partition_list_destroy(w->committed);
        w->committed = NULL;
    }
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        w->joined = true;
        ing_log(ING_LOG_INFO, w->name, "assigned %d partitions", parts->cnt);
        if (coop)
            e = rd_kafka_incremental_assign(rk, parts);
        else
            rd_kafka_assign(rk, parts);
    } else if (err == RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS) {
        if (rd_kafka_assignment_lost(rk)) {
            /* Another member owns them now: commit nothing, drop what we hold. */
            ing_log(ING_LOG_WARN, w->name, "lost %d partitions; dropping their records",
                    parts->cnt);
            batch_drop_partitions(w, parts);
        } else {
            ing_log(ING_LOG_INFO, w->name, "revoking %d partitions; finishing the batch",
                    parts->cnt);
            batch_flush(w, true);
            commit_offsets(w, true);
        }
        for (int i = 0; i < parts->cnt; i++)
            rd_kafka_topic_partition_list_del(w->rewind, parts->elems[i].topic,
                                              parts->elems[i].partition);
        if (coop)
            e = rd_kafka_incremental_unassign(rk, parts);
        else
            rd_kafka_assign(rk, NULL);
    } else {
        ing_log(ING_LOG_ERROR, w->name, "rebalance error: %s", rd_kafka_err2str(err));
        rd_kafka_assign(rk, NULL);
    }
    if (e) {
        ing_log(ING_LOG_ERROR, w->name, "incremental (un)assign: %s", rd_kafka_error_string(e));
        rd_kafka_error_destroy(e);
    }
}

/* --- counters --------------------------------------------------------------------------- */

/* Records behind the high watermarks of the assignment (-1: unknown); *partitions its size. */
static int64_t lag_estimate(wk_worker_t *w, int *partitions)
{
    rd_kafka_topic_partition_list_t *a = NULL;
    *partitions = 0;
    if (rd_kafka_assignment(w->rk, &a) || !a)
        return -1;
    *partitions = a->cnt;
    rd_kafka_position(w->rk, a);
    /* librdkafka has no position for a partition until it delivered a record from it: there
     * the group's committed offset counts (one round trip per assignment, then cached). */
    bool need_committed = false;
    for (int i = 0; i < a->cnt; i++)
        need_committed = need_committed || a->elems[i].offset < 0;
    if (need_committed && !w->committed && ing_mono_us() >= w->committed_retry_us) {
        rd_kafka_topic_partition_list_t *c = rd_kafka_topic_partition_list_copy(a);
        rd_kafka_resp_err_t err = rd_kafka_committed(w->rk, c, COMMITTED_TIMEOUT_MS);
        if (!err) {
            w->committed = c;
        } else {
            rd_kafka_topic_partition_list_destroy(c);
            w->committed_retry_us = ing_mono_us() + COMMITTED_RETRY_US;
            ing_log(ING_LOG_DEBUG, w->name, "committed offsets for the lag: %s",
                    rd_kafka_err2name(err));
        }
    }
    int64_t lag = 0;
    for (int i = 0; i < a->cnt; i++) {
        int64_t lo, hi;
        /* Cached from fetch responses: no network round trip. */
        if (rd_kafka_get_watermark_offsets(w->rk, a->elems[i].topic, a->elems[i].partition, &lo,
                                           &hi) ||
            hi < 0)
            continue;
        int64_t pos = a->elems[i].offset;
        if (pos < 0) {
            const rd_kafka_topic_partition_t *c =
                w->committed ? rd_kafka_topic_partition_list_find(w->committed, a->elems[i].topic,
                                                                  a->elems[i].partition)
                             : NULL;
            if (!c) { /* the committed offsets could not be read: no estimate */
                rd_kafka_topic_partition_list_destroy(a);
                return -1;
            }
            pos = c->offset >= 0 ? c->offset : lo; /* never committed: read from the start */
        }
        if (hi > pos)
            lag += hi - pos;
    }
    rd_kafka_topic_partition_list_destroy(a);
    return lag;
}

/* The lag and the assignment for the metrics endpoint, once a second. The estimate reads
 * librdkafka's cached watermarks; its only round trip is the committed offsets' read after an
 * assignment change. */
static void lag_tick(wk_worker_t *w)
{
    int64_t now = ing_mono_us();
    if (!w->conf->live || now < w->next_lag_us)
        return;
    w->next_lag_us = now + 1000000;
    int partitions;
    int64_t lag = lag_estimate(w, &partitions);
    wk_metrics_set_lag(w->conf->live, lag, partitions);
}

static void stats_tick(wk_worker_t *w, bool force)
{
    int64_t now = ing_mono_us();
    if (!force && now < w->next_stats_us)
        return;
    int partitions;
    w->next_stats_us = now + w->s->stats_interval_s * 1000000;
    const wk_stats_t *s = &w->stats;
    ing_log(ING_LOG_INFO, w->name,
            "totals batches=%" PRIu64 " records=%" PRIu64 " stored=%" PRIu64
            " already_stored=%" PRIu64 " duplicates=%" PRIu64 " refused=%" PRIu64
            " rejected=%" PRIu64 " dead_lettered=%" PRIu64 " retries=%" PRIu64 " lag=%" PRId64,
            s->batches, s->records, s->stored, s->already_stored, s->duplicates, s->refused,
            s->rejected, s->dead_lettered, s->retries, lag_estimate(w, &partitions));
}

/* --- the loop --------------------------------------------------------------------------- */

static bool stopping(const wk_worker_t *w)
{
    return w->fatal || atomic_load(w->conf->stop);
}

/* Polls until the batch is complete, a stop is requested, or a rebalance failed a flush. */
static void batch_collect(wk_worker_t *w)
{
    while (!stopping(w) && !w->need_backoff) {
        int64_t elapsed = w->n ? ing_mono_us() - w->first_us : 0;
        if (wk_batch_full(&w->limits, w->n, w->bytes, elapsed))
            return;
        int timeout = wk_batch_poll_timeout_ms(&w->limits, w->n, elapsed, IDLE_POLL_MS);
        rd_kafka_message_t *m = rd_kafka_consumer_poll(w->rk, timeout);
        if (!m) {
            if (w->n == 0) {
                stats_tick(w, false);
                lag_tick(w);
            }
            continue;
        }
        if (m->err) {
            ing_log(ING_LOG_WARN, w->name, "consumer: %s (%s)", rd_kafka_message_errstr(m),
                    rd_kafka_err2name(m->err));
            rd_kafka_message_destroy(m);
            continue;
        }
        if (w->n == 0)
            w->first_us = ing_mono_us();
        w->msgs[w->n++] = m;
        w->bytes += m->len;
    }
}

static void set_paused(wk_worker_t *w, bool pause)
{
    rd_kafka_topic_partition_list_t *a = NULL;
    if (rd_kafka_assignment(w->rk, &a) || !a)
        return;
    if (pause)
        rd_kafka_pause_partitions(w->rk, a);
    else
        rd_kafka_resume_partitions(w->rk, a);
    rd_kafka_topic_partition_list_destroy(a);
}

/*
 * After a transient failure: pause, wait (polling, to stay in the group; anything polled is
 * dropped and rewound), reconnect, seek back to the first unstored offsets, resume.
 */
static void backoff_and_rewind(wk_worker_t *w)
{
    if (w->attempts++ == 0)
        w->first_failure_us = ing_wall_us();
    w->stats.retries++;
    if (w->conf->live)
        wk_metrics_publish(w->conf->live, &w->stats);
    int delay = wk_backoff_ms(w->attempts, (uint32_t)rand_r(&w->rand_seed));
    ing_log(ING_LOG_WARN, w->name, "batch rolled back: %s; retry %d in %d ms", w->last_error,
            w->attempts, delay);
    set_paused(w, true);
    int64_t deadline = ing_mono_us() + (int64_t)delay * 1000;
    while (!stopping(w)) {
        int64_t left = (deadline - ing_mono_us()) / 1000;
        if (left <= 0)
            break;
        rd_kafka_message_t *m = rd_kafka_consumer_poll(w->rk, left < 100 ? (int)left : 100);
        if (m && !m->err)
            rewind_add(w, rd_kafka_topic_name(m->rkt), m->partition, m->offset);
        if (m)
            rd_kafka_message_destroy(m);
    }
    if (stopping(w))
        return; /* nothing stored, nothing committed: the next owner redelivers */
    if (!wk_store_connected(w->store)) {
        ing_err_t err = wk_store_reconnect(w->store, w->last_error, sizeof(w->last_error));
        if (err == ING_ERR_CONFIG) {
            ing_log(ING_LOG_ERROR, w->name, "%s", w->last_error);
            w->fatal = true;
            w->fatal_err = err;
            return;
        }
        if (err)
            return; /* still down: need_backoff stays set, the next round waits longer */
        ing_log(ING_LOG_INFO, w->name, "reconnected to PostgreSQL");
        dict_tick(w, true);
    }
    if (w->rewind->cnt > 0) {
        rd_kafka_error_t *e = rd_kafka_seek_partitions(w->rk, w->rewind, SEEK_TIMEOUT_MS);
        if (e) {
            snprintf(w->last_error, sizeof(w->last_error), "seek: %s", rd_kafka_error_string(e));
            rd_kafka_error_destroy(e);
            return; /* try again after the next back-off */
        }
        for (int i = 0; i < w->rewind->cnt; i++)
            if (w->rewind->elems[i].err) /* revoked meanwhile: not ours to rewind */
                ing_log(ING_LOG_DEBUG, w->name, "seek %s[%" PRId32 "]: %s",
                        w->rewind->elems[i].topic, w->rewind->elems[i].partition,
                        rd_kafka_err2name(w->rewind->elems[i].err));
        rd_kafka_topic_partition_list_destroy(w->rewind);
        w->rewind = rd_kafka_topic_partition_list_new(16);
    }
    set_paused(w, false);
    w->need_backoff = false;
}

static ing_err_t worker_open(wk_worker_t *w)
{
    const wk_settings_t *s = w->s;
    char errstr[512], suffix[32];
    snprintf(suffix, sizeof(suffix), "t%d", w->conf->index);
    w->limits =
        (wk_batch_limits_t){(size_t)s->batch_max, (size_t)s->batch_bytes, s->batch_ms * 1000};
    w->msgs = calloc((size_t)s->batch_max, sizeof(*w->msgs));
    w->items = calloc((size_t)s->batch_max, sizeof(*w->items));
    w->rewind = rd_kafka_topic_partition_list_new(16);
    /* Contents of a full batch plus one record over the byte bound, and zstd's overhead. */
    ing_buf_init(&w->zbuf, (size_t)(s->batch_bytes + 2 * s->max_content_bytes));
    ing_buf_init(&w->ztmp, (size_t)(2 * s->max_content_bytes + 4096));
    w->rand_seed = (unsigned)ing_mono_us() ^ (unsigned)w->conf->index;
    if (!w->msgs || !w->items)
        return ING_ERR_NOMEM;
    ing_err_t err = wk_compressor_create((int)s->zstd_level, &w->zc);
    if (!err)
        err = wk_dicts_create(w->conf->keyring, (int)s->zstd_level, &w->dicts);
    if (!err)
        err = ing_sealer_create(w->conf->keyring, &w->sealer);
    if (err)
        return err;
    err = wk_store_create(s->db_url, s->allow_unsafe_db, &w->store, errstr, sizeof(errstr));
    if (err) {
        ing_log(ING_LOG_ERROR, w->name, "%s", errstr);
        return err;
    }
    dict_tick(w, true);
    err = wk_dlq_create(w->conf->kafka, s->dlq_topic, suffix, &w->dlq, errstr, sizeof(errstr));
    if (err) {
        ing_log(ING_LOG_ERROR, w->name, "dead-letter producer: %s", errstr);
        return err;
    }
    rd_kafka_conf_t *conf = wk_kafka_conf_new(WK_KAFKA_CONSUMER, w->conf->kafka, s->group, suffix,
                                              errstr, sizeof(errstr));
    if (!conf) {
        ing_log(ING_LOG_ERROR, w->name, "consumer: %s", errstr);
        return ING_ERR_CONFIG;
    }
    char value[16];
    size_t value_size = sizeof(value);
    w->auto_commit =
        rd_kafka_conf_get(conf, "enable.auto.commit", value, &value_size) == RD_KAFKA_CONF_OK &&
        strcmp(value, "true") == 0;
    rd_kafka_conf_set_opaque(conf, w);
    rd_kafka_conf_set_rebalance_cb(conf, on_rebalance);
    w->rk = wk_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof(errstr));
    if (!w->rk) {
        ing_log(ING_LOG_ERROR, w->name, "consumer: %s", errstr);
        return ING_ERR_CONFIG;
    }
    rd_kafka_poll_set_consumer(w->rk);
    rd_kafka_topic_partition_list_t *topics = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(topics, s->topic, RD_KAFKA_PARTITION_UA);
    rd_kafka_resp_err_t kerr = rd_kafka_subscribe(w->rk, topics);
    rd_kafka_topic_partition_list_destroy(topics);
    if (kerr) {
        ing_log(ING_LOG_ERROR, w->name, "subscribe %s: %s", s->topic, rd_kafka_err2str(kerr));
        return wk_kafka_err(kerr);
    }
    ing_log(ING_LOG_INFO, w->name, "consuming %s as group %s", s->topic, s->group);
    return ING_OK;
}

/*
 * librdkafka 2.0.2 (Debian 12) aborts when a cooperative-sticky consumer is closed before its
 * first assignment (rd_kafka_sticky_assignor_state_destroy: assertion `assignor_state',
 * upstream issue 4312, fixed in 2.3.0): a worker stopped while its threads were still
 * joining the group crashed on SIGTERM. So a consumer that never joined polls until it has,
 * within a bound, and only then closes (which revokes and commits as usual).
 */
static void wait_joined(wk_worker_t *w)
{
    int64_t deadline = ing_mono_us() + JOIN_BEFORE_CLOSE_MS * 1000;
    while (!w->joined && ing_mono_us() < deadline) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(w->rk, 100);
        if (m) /* dropped: its offset is never stored, the partition's owner reads it again */
            rd_kafka_message_destroy(m);
    }
    if (!w->joined)
        ing_log(ING_LOG_WARN, w->name, "closing before the group assigned anything (%d ms)",
                JOIN_BEFORE_CLOSE_MS);
}

static void worker_close(wk_worker_t *w)
{
    if (w->rk) {
        wait_joined(w);
        /* Triggers the final revoke: the rebalance callback commits synchronously. */
        rd_kafka_resp_err_t err = rd_kafka_consumer_close(w->rk);
        if (err)
            ing_log(ING_LOG_WARN, w->name, "consumer close: %s", rd_kafka_err2name(err));
        batch_clear(w);
        rd_kafka_destroy(w->rk);
    }
    wk_dlq_destroy(w->dlq);
    wk_store_destroy(w->store);
    wk_compressor_destroy(w->zc);
    wk_dicts_destroy(w->dicts);
    ing_sealer_destroy(w->sealer);
    ing_buf_fini(&w->ztmp);
    if (w->rewind)
        rd_kafka_topic_partition_list_destroy(w->rewind);
    if (w->committed)
        rd_kafka_topic_partition_list_destroy(w->committed);
    ing_buf_fini(&w->zbuf);
    free(w->msgs);
    free(w->items);
}

ing_err_t wk_worker_run(const wk_worker_conf_t *conf, wk_stats_t *totals)
{
    wk_worker_t *w = calloc(1, sizeof(*w));
    if (!w)
        return ING_ERR_NOMEM;
    w->conf = conf;
    w->s = conf->settings;
    snprintf(w->name, sizeof(w->name), "worker.t%d", conf->index);
    w->next_stats_us = ing_mono_us() + w->s->stats_interval_s * 1000000;
    ing_err_t err = worker_open(w);
    while (!err && !stopping(w)) {
        if (w->need_backoff) {
            backoff_and_rewind(w);
            continue;
        }
        dict_tick(w, false);
        batch_collect(w);
        batch_flush(w, false);
        stats_tick(w, false);
        lag_tick(w);
    }
    /* Stop requested: the batch in hand is finished (unless its store failed), then the
     * offsets are committed synchronously. */
    if (!err && !w->need_backoff && !w->fatal)
        batch_flush(w, true);
    if (!err)
        commit_offsets(w, true);
    if (!err)
        stats_tick(w, true);
    if (!err && w->fatal)
        err = w->fatal_err;
    worker_close(w);
    *totals = w->stats;
    free(w);
    return err;
}
