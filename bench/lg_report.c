#include "lg_report.h"

#include <errno.h>
#include <math.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "ing_time.h"

#define TICKS_PER_HALF 5

static double ms(int64_t us)
{
    return (double)us / 1000.0;
}

static double achieved(const lg_workload_t *w, const lg_step_t *s)
{
    return s->measured_s > 0 ? (double)s->totals.completed * w->batch / s->measured_s : 0.0;
}

void lg_report_summary(const lg_workload_t *w, const lg_step_t *s, char *out, size_t size)
{
    const lg_counts_t *c = &s->totals;
    char target[32];
    if (s->target_rate > 0)
        snprintf(target, sizeof(target), "%.0f", s->target_rate);
    else
        snprintf(target, sizeof(target), "max");
    int n = snprintf(out, size,
                     "%s target=%s docs/s achieved=%.1f docs/s sent=%llu ok=%llu errors=%llu "
                     "(%.3f%%) p50=%.3fms p99=%.3fms p99.9=%.3fms max=%.3fms",
                     w->s.name, target, achieved(w, s), (unsigned long long)c->sent,
                     (unsigned long long)c->ok, (unsigned long long)c->errors,
                     100.0 * lg_counts_error_rate(c), ms(lg_hist_percentile(s->latency, 50)),
                     ms(lg_hist_percentile(s->latency, 99)),
                     ms(lg_hist_percentile(s->latency, 99.9)), ms(lg_hist_max(s->latency)));
    if (n > 0 && (size_t)n < size &&
        (c->timeouts || c->unsent || c->s429 || c->s503 || c->conn_errors || c->io_errors))
        snprintf(out + n, size - (size_t)n,
                 " timeouts=%llu 429=%llu 503=%llu unsent=%llu io_errors=%llu conn_errors=%llu",
                 (unsigned long long)c->timeouts, (unsigned long long)c->s429,
                 (unsigned long long)c->s503, (unsigned long long)c->unsent,
                 (unsigned long long)c->io_errors, (unsigned long long)c->conn_errors);
}

/* Calls emit for each level of the spectrum: 5 ticks per halving of 1 - p, then 100 %. */
typedef void (*spectrum_fn)(void *arg, int64_t value_us, double p, uint64_t count, bool last);

static void spectrum(const lg_hist_t *h, spectrum_fn emit, void *arg)
{
    uint64_t total = lg_hist_count(h);
    if (!total)
        return;
    for (int half = 0; half < 60; half++) {
        double width = ldexp(1.0, -half);
        for (int k = 0; k < TICKS_PER_HALF; k++) {
            double p = 1.0 - width * (1.0 - (double)k / (2.0 * TICKS_PER_HALF));
            if (1.0 / (1.0 - p) > (double)total)
                goto done;
            int64_t v = lg_hist_percentile(h, p * 100.0);
            emit(arg, v, p, lg_hist_count_le(h, v), false);
        }
    }
done:
    emit(arg, lg_hist_max(h), 1.0, total, true);
}

static void emit_table(void *arg, int64_t v, double p, uint64_t count, bool last)
{
    FILE *out = arg;
    if (last)
        fprintf(out, "%12.3f %14.12f %10llu\n", ms(v), p, (unsigned long long)count);
    else
        fprintf(out, "%12.3f %14.12f %10llu %14.2f\n", ms(v), p, (unsigned long long)count,
                1.0 / (1.0 - p));
}

void lg_report_percentiles(const lg_hist_t *h, FILE *out)
{
    fprintf(out, "%12s %14s %10s %14s\n\n", "Value", "Percentile", "TotalCount",
            "1/(1-Percentile)");
    spectrum(h, emit_table, out);
    fprintf(out, "#[Mean    = %12.3f, StdDeviation   = %12.3f]\n", lg_hist_mean(h) / 1000.0,
            lg_hist_stddev(h) / 1000.0);
    fprintf(out, "#[Max     = %12.3f, Total count    = %12llu]\n", ms(lg_hist_max(h)),
            (unsigned long long)lg_hist_count(h));
    fprintf(out, "#[Buckets = %12d, SubBuckets     = %12d]\n", lg_hist_bucket_count(h),
            lg_hist_sub_bucket_count(h));
}

bool lg_report_passes(const lg_workload_t *w, const lg_step_t *s, char *why, size_t size)
{
    why[0] = '\0';
    double p99 = ms(lg_hist_percentile(s->latency, 99));
    double er = lg_counts_error_rate(&s->totals);
    if (s->totals.sent == 0) {
        snprintf(why, size, "nothing was sent");
        return false;
    }
    if (w->max_p99_ms > 0 && p99 > w->max_p99_ms) {
        snprintf(why, size, "p99 %.3f ms is above max_p99_ms = %g", p99, w->max_p99_ms);
        return false;
    }
    if (w->max_error_rate >= 0 && er > w->max_error_rate) {
        snprintf(why, size, "error rate %.6f is above max_error_rate = %g", er, w->max_error_rate);
        return false;
    }
    return true;
}

/* ---- result.json --------------------------------------------------------------------------- */

static void json_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\')
            fprintf(f, "\\%c", ch);
        else if (ch < 0x20)
            fprintf(f, "\\u%04x", ch);
        else
            fputc(ch, f);
    }
    fputc('"', f);
}

static void json_counts(FILE *f, const lg_counts_t *c)
{
#define F(name) fprintf(f, "\"" #name "\":%llu,", (unsigned long long)c->name)
    F(sent);
    F(docs_sent);
    F(completed);
    F(s2xx);
    F(s202);
    F(s4xx);
    F(s429);
    F(s503);
    F(sother);
    F(io_errors);
    F(timeouts);
    F(conn_errors);
    F(ok);
    F(errors);
    F(dup_sent);
    F(invalid_sent);
    F(items_ok);
    F(items_failed);
    F(unsent);
    F(bytes_sent);
#undef F
    fprintf(f, "\"bytes_received\":%llu", (unsigned long long)c->bytes_received);
}

static void json_hist(FILE *f, const lg_hist_t *h)
{
    fprintf(f,
            "{\"count\":%llu,\"min\":%lld,\"mean\":%.1f,\"stddev\":%.1f,\"p50\":%lld,\"p90\":%lld,"
            "\"p99\":%lld,\"p99.9\":%lld,\"p99.99\":%lld,\"max\":%lld,\"clamped\":%llu}",
            (unsigned long long)lg_hist_count(h), (long long)lg_hist_min(h), lg_hist_mean(h),
            lg_hist_stddev(h), (long long)lg_hist_percentile(h, 50),
            (long long)lg_hist_percentile(h, 90), (long long)lg_hist_percentile(h, 99),
            (long long)lg_hist_percentile(h, 99.9), (long long)lg_hist_percentile(h, 99.99),
            (long long)lg_hist_max(h), (unsigned long long)lg_hist_clamped(h));
}

typedef struct spectrum_json {
    FILE *f;
    bool first;
} spectrum_json_t;

static void emit_json(void *arg, int64_t v, double p, uint64_t count, bool last)
{
    spectrum_json_t *sj = arg;
    fprintf(sj->f, "%s[%lld,%.12f,%llu]", sj->first ? "" : ",", (long long)v, p,
            (unsigned long long)count);
    sj->first = false;
    (void)last;
}

static void json_step(FILE *f, const lg_workload_t *w, const lg_step_t *s)
{
    char why[256];
    bool pass = lg_report_passes(w, s, why, sizeof(why));
    fprintf(f, "{\"target_rate\":%.3f,\"mode\":\"%s\",\"achieved_rate\":%.3f,", s->target_rate,
            s->target_rate > 0 ? "open" : "closed", achieved(w, s));
    fprintf(f, "\"start_wall_us\":%lld,\"measured_s\":%.3f,\"error_rate\":%.6f,",
            (long long)s->start_wall_us, s->measured_s, lg_counts_error_rate(&s->totals));
    fprintf(f, "\"passed\":%s,\"failure\":", pass ? "true" : "false");
    json_str(f, why);
    fprintf(f, ",\n\"totals\":{");
    json_counts(f, &s->totals);
    fprintf(f, "},\n\"latency_us\":");
    json_hist(f, s->latency);
    fprintf(f, ",\n\"schedule_delay_us\":");
    json_hist(f, s->sched_delay);
    fprintf(f, ",\n\"spectrum\":[");
    spectrum_json_t sj = {f, true};
    spectrum(s->latency, emit_json, &sj);
    fprintf(f, "],\n\"series\":[");
    for (size_t i = 0; i < s->seconds; i++) {
        const lg_second_t *sec = &s->series[i];
        fprintf(f, "%s\n{\"t\":%zu,\"warmup\":%s,", i ? "," : "", i,
                sec->warmup ? "true" : "false");
        json_counts(f, &sec->c);
        fprintf(f, ",\"p50_us\":%lld,\"p99_us\":%lld}", (long long)sec->p50_us,
                (long long)sec->p99_us);
    }
    fprintf(f, "]}");
}

static FILE *open_in(const char *dir, const char *name, char *errstr, size_t errsz)
{
    char path[1024];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    if (!f)
        snprintf(errstr, errsz, "cannot write %s: %s", path, strerror(errno));
    return f;
}

static bool close_ok(FILE *f)
{
    bool ok = !ferror(f);
    return fclose(f) == 0 && ok;
}

ing_err_t lg_report_write(const char *dir, const lg_workload_t *w, const lg_step_t *steps,
                          int nsteps, const lg_e2e_sample_t *e2e, size_t ne2e, bool passed,
                          char *errstr, size_t errsz)
{
    if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
        snprintf(errstr, errsz, "cannot create %s: %s", dir, strerror(errno));
        return ING_ERR_IO;
    }
    FILE *f = open_in(dir, "result.json", errstr, errsz);
    if (!f)
        return ING_ERR_IO;
    char when[32];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
    fprintf(f, "{\"tool\":\"ingest-loadgen\",\"format\":1,\"finished_at\":\"%s\",", when);
    fprintf(f, "\"passed\":%s,\"batch\":%d,\"e2e_samples\":%zu,\n\"config\":{",
            passed ? "true" : "false", w->batch, ne2e);
    for (const cfg_setting_t *s = lg_settings_table; s->name; s++) {
        const char *field = (const char *)w + s->offset;
        fprintf(f, "%s\"%s\":", s == lg_settings_table ? "" : ",", s->name);
        if (s->type == CFG_INT)
            fprintf(f, "%lld", *(const long long *)field);
        else
            json_str(f, field);
    }
    fprintf(f, "},\n\"steps\":[");
    for (int i = 0; i < nsteps; i++) {
        fprintf(f, "%s\n", i ? "," : "");
        json_step(f, w, &steps[i]);
    }
    fprintf(f, "]}\n");
    if (!close_ok(f))
        goto io;

    if (!(f = open_in(dir, "summary.txt", errstr, errsz)))
        return ING_ERR_IO;
    for (int i = 0; i < nsteps; i++) {
        char line[512];
        lg_report_summary(w, &steps[i], line, sizeof(line));
        fprintf(f, "%s\n", line);
    }
    if (!close_ok(f))
        goto io;

    if (!(f = open_in(dir, "percentiles.txt", errstr, errsz)))
        return ING_ERR_IO;
    for (int i = 0; i < nsteps; i++) {
        if (nsteps > 1)
            fprintf(f, "%s# step %d, target %.0f docs/s\n", i ? "\n" : "", i + 1,
                    steps[i].target_rate);
        lg_report_percentiles(steps[i].latency, f);
    }
    if (!close_ok(f))
        goto io;

    if (!(f = open_in(dir, "e2e_samples.tsv", errstr, errsz)))
        return ING_ERR_IO;
    fprintf(f, "submission_id\tdocument_id\tsent_wall_us\tacked_wall_us\n");
    for (size_t i = 0; i < ne2e; i++)
        fprintf(f, "%s\t%s\t%lld\t%lld\n", e2e[i].submission_id, e2e[i].document_id,
                (long long)e2e[i].sent_wall_us, (long long)e2e[i].acked_wall_us);
    if (!close_ok(f))
        goto io;
    return ING_OK;
io:
    snprintf(errstr, errsz, "writing into %s failed", dir);
    return ING_ERR_IO;
}
