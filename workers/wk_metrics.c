#include "wk_metrics.h"

#include <inttypes.h>
#include <stddef.h>

static const double batch_bounds[WK_METRICS_BATCH_BUCKETS] = WK_METRICS_BATCH_BOUNDS;

#define STORE(field, v) atomic_store_explicit(&live->field, (v), memory_order_relaxed)
#define LOAD(block, field) atomic_load_explicit(&(block)->field, memory_order_relaxed)

void wk_metrics_publish(wk_live_t *live, const wk_stats_t *s)
{
    STORE(batches, s->batches);
    STORE(records, s->records);
    STORE(stored, s->stored);
    STORE(already_stored, s->already_stored);
    STORE(duplicates, s->duplicates);
    STORE(refused, s->refused);
    STORE(rejected, s->rejected);
    STORE(dead_lettered, s->dead_lettered);
    STORE(retries, s->retries);
}

void wk_metrics_observe_batch(wk_live_t *live, int64_t us)
{
    if (us < 0)
        us = 0;
    size_t b = 0;
    while (b < WK_METRICS_BATCH_BUCKETS && (double)us > batch_bounds[b] * 1e6)
        b++;
    atomic_fetch_add_explicit(&live->batch_bucket[b], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&live->batch_us_sum, (uint64_t)us, memory_order_relaxed);
}

void wk_metrics_set_lag(wk_live_t *live, int64_t lag, int64_t partitions)
{
    /* An unknown lag hides the thread's line rather than showing an old value. */
    if (lag >= 0)
        STORE(lag, lag);
    STORE(lag_known, lag >= 0);
    STORE(partitions, partitions);
}

/* One counter summed over the threads; offset is the field's place in wk_live_t. */
static uint64_t sum_at(const wk_live_t *threads, size_t n, size_t offset)
{
    uint64_t total = 0;
    for (size_t i = 0; i < n; i++) {
        const atomic_uint_fast64_t *f =
            (const atomic_uint_fast64_t *)(const void *)((const char *)&threads[i] + offset);
        total += atomic_load_explicit(f, memory_order_relaxed);
    }
    return total;
}

ing_err_t wk_metrics_render(const wk_live_t *threads, size_t n, ing_buf_t *out)
{
    static const struct {
        const char *name, *labels, *help;
        size_t offset;
    } counters[] = {
        {"ing_worker_batches_total", "", "Batches stored (one database transaction each).",
         offsetof(wk_live_t, batches)},
        {"ing_worker_records_total", "", "Kafka records consumed and decided.",
         offsetof(wk_live_t, records)},
        {"ing_worker_documents_total", "{outcome=\"stored\"}",
         "Records by outcome: stored, already_stored (a redelivery), duplicate, refused "
         "(patient opposed), rejected.",
         offsetof(wk_live_t, stored)},
        {"ing_worker_documents_total", "{outcome=\"already_stored\"}", NULL,
         offsetof(wk_live_t, already_stored)},
        {"ing_worker_documents_total", "{outcome=\"duplicate\"}", NULL,
         offsetof(wk_live_t, duplicates)},
        {"ing_worker_documents_total", "{outcome=\"refused\"}", NULL, offsetof(wk_live_t, refused)},
        {"ing_worker_documents_total", "{outcome=\"rejected\"}", NULL,
         offsetof(wk_live_t, rejected)},
        {"ing_worker_dead_lettered_total", "", "Records produced to the dead-letter topic.",
         offsetof(wk_live_t, dead_lettered)},
        {"ing_worker_retries_total", "",
         "Batches rolled back after a transient failure, then redelivered.",
         offsetof(wk_live_t, retries)},
    };
    ing_err_t err = ING_OK;
    for (size_t k = 0; !err && k < sizeof(counters) / sizeof(counters[0]); k++) {
        if (counters[k].help)
            err = ing_buf_printf(out, "# HELP %s %s\n# TYPE %s counter\n", counters[k].name,
                                 counters[k].help, counters[k].name);
        if (!err)
            err = ing_buf_printf(out, "%s%s %" PRIu64 "\n", counters[k].name, counters[k].labels,
                                 sum_at(threads, n, counters[k].offset));
    }
    if (!err)
        err = ing_buf_printf(out, "# HELP ing_worker_lag_records Records between the thread's "
                                  "positions and the high watermarks of its partitions.\n"
                                  "# TYPE ing_worker_lag_records gauge\n");
    for (size_t i = 0; !err && i < n; i++)
        if (LOAD(&threads[i], lag_known))
            err = ing_buf_printf(out, "ing_worker_lag_records{thread=\"%zu\"} %" PRId64 "\n", i,
                                 (int64_t)LOAD(&threads[i], lag));
    if (!err)
        err = ing_buf_printf(out, "# HELP ing_worker_assigned_partitions Partitions assigned to "
                                  "the thread.\n# TYPE ing_worker_assigned_partitions gauge\n");
    for (size_t i = 0; !err && i < n; i++)
        err = ing_buf_printf(out, "ing_worker_assigned_partitions{thread=\"%zu\"} %" PRId64 "\n", i,
                             (int64_t)LOAD(&threads[i], partitions));
    if (!err)
        err = ing_buf_printf(out, "# HELP ing_worker_batch_seconds Time to decide, store and "
                                  "commit a batch.\n# TYPE ing_worker_batch_seconds histogram\n");
    uint64_t cumulative = 0;
    for (size_t b = 0; !err && b <= WK_METRICS_BATCH_BUCKETS; b++) {
        cumulative += sum_at(threads, n,
                             offsetof(wk_live_t, batch_bucket) + b * sizeof(atomic_uint_fast64_t));
        if (b < WK_METRICS_BATCH_BUCKETS)
            err = ing_buf_printf(out, "ing_worker_batch_seconds_bucket{le=\"%g\"} %" PRIu64 "\n",
                                 batch_bounds[b], cumulative);
        else
            err = ing_buf_printf(out,
                                 "ing_worker_batch_seconds_bucket{le=\"+Inf\"} %" PRIu64
                                 "\ning_worker_batch_seconds_count %" PRIu64 "\n",
                                 cumulative, cumulative);
    }
    if (!err)
        err =
            ing_buf_printf(out,
                           "ing_worker_batch_seconds_sum %.6f\n"
                           "# HELP ing_worker_threads Consumer threads.\n"
                           "# TYPE ing_worker_threads gauge\ning_worker_threads %zu\n",
                           (double)sum_at(threads, n, offsetof(wk_live_t, batch_us_sum)) / 1e6, n);
    return err;
}
