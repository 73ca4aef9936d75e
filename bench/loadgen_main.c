/*
 * ingest-loadgen: drives the gateway with synthetic health documents at a constant rate (open
 * loop, latency from the intended send time) or as fast as it answers (closed loop), and
 * writes result.json, summary.txt, percentiles.txt and report.html. See bench/README.md.
 *
 * Exit status: 0 passed, 1 a threshold was missed (or the smoke test failed), 2 bad usage or
 * configuration, 3 the run itself failed.
 */
#include <getopt.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ing_log.h"
#include "ing_time.h"
#include "lg_gen.h"
#include "lg_report.h"
#include "lg_run.h"
#include "lg_workload.h"

extern char **environ;

static void usage(FILE *out)
{
    fprintf(out,
            "usage: ingest-loadgen [-w WORKLOAD.conf] [--url URL] [--rate R] [--duration S]\n"
            "                      [--warmup S] [--connections N] [--threads N]\n"
            "                      [--endpoint single|batch] [--batch N] [--set NAME=VALUE]...\n"
            "                      [--out DIR] [--smoke] [--print-config] [--help]\n"
            "  --smoke  10 s at a low rate; exits 0 only if every request got 202\n\n"
            "Workload settings (file lines `name = value`, environment ING_<NAME>):\n");
    cfg_help(lg_settings_table, out);
}

/* The smoke preset: small, short, nothing deliberately wrong. */
static const char *const smoke_preset[][2] = {
    {"name", "smoke"},      {"rate", "5"},          {"duration", "8"},   {"warmup", "2"},
    {"connections", "2"},   {"threads", "1"},       {"pool", "20"},      {"duplicate_ratio", "0"},
    {"invalid_ratio", "0"}, {"endpoint", "single"}, {"e2e_sample", "0"}, {"max_error_rate", "0"},
};

static void render_html(const char *out_dir)
{
    char script[1024];
    snprintf(script, sizeof(script), "%s/bench/report.py", LG_SOURCE_DIR);
    if (access(script, R_OK) != 0)
        return;
    char *argv[] = {"python3", script, (char *)out_dir, NULL};
    pid_t pid;
    int status = 0;
    if (posix_spawnp(&pid, "python3", NULL, NULL, argv, environ) != 0 ||
        waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
        ing_log(ING_LOG_WARN, "loadgen", "report.html not rendered (python3 %s failed)", script);
}

static void make_run_id(lg_workload_t *w, char out[LG_RUN_ID_LEN + 1])
{
    if (w->s.run_id[0]) {
        memcpy(out, w->s.run_id, LG_RUN_ID_LEN + 1);
        return;
    }
    /* Base-36 of the wall clock in milliseconds: new ids every run, same seed or not. */
    unsigned long long v = (unsigned long long)(ing_wall_us() / 1000) ^ ((unsigned)getpid() << 8);
    for (int i = LG_RUN_ID_LEN - 1; i >= 0; i--, v /= 36)
        out[i] = "0123456789abcdefghijklmnopqrstuvwxyz"[v % 36];
    out[LG_RUN_ID_LEN] = '\0';
    memcpy(w->s.run_id, out, LG_RUN_ID_LEN + 1);
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"workload", required_argument, NULL, 'w'},
        {"url", required_argument, NULL, 'u'},
        {"rate", required_argument, NULL, 'r'},
        {"duration", required_argument, NULL, 'd'},
        {"warmup", required_argument, NULL, 'W'},
        {"connections", required_argument, NULL, 'c'},
        {"threads", required_argument, NULL, 't'},
        {"endpoint", required_argument, NULL, 'e'},
        {"batch", required_argument, NULL, 'b'},
        {"set", required_argument, NULL, 's'},
        {"out", required_argument, NULL, 'o'},
        {"smoke", no_argument, NULL, 'S'},
        {"print-config", no_argument, NULL, 'p'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *workload = NULL, *out_dir = NULL;
    bool smoke = false, print_config = false;
    /* Overrides are applied after the file, in order. */
    const char *names[64], *values[64];
    int nover = 0, opt;
    ing_log_init(ING_LOG_INFO);
    while ((opt = getopt_long(argc, argv, "w:o:h", opts, NULL)) != -1) {
        const char *name = NULL;
        switch (opt) {
        case 'w':
            workload = optarg;
            break;
        case 'o':
            out_dir = optarg;
            break;
        case 'S':
            smoke = true;
            break;
        case 'p':
            print_config = true;
            break;
        case 'h':
            usage(stdout);
            return 0;
        case 'u':
            name = "url";
            break;
        case 'r':
            name = "rate";
            break;
        case 'd':
            name = "duration";
            break;
        case 'W':
            name = "warmup";
            break;
        case 'c':
            name = "connections";
            break;
        case 't':
            name = "threads";
            break;
        case 'e':
            name = "endpoint";
            break;
        case 'b':
            name = "batch";
            break;
        case 's': {
            char *eq = strchr(optarg, '=');
            if (!eq || nover == 64) {
                fprintf(stderr, "ingest-loadgen: --set takes NAME=VALUE\n");
                return 2;
            }
            *eq = '\0';
            names[nover] = optarg;
            values[nover++] = eq + 1;
            break;
        }
        default:
            usage(stderr);
            return 2;
        }
        if (name) {
            if (nover == 64)
                return 2;
            names[nover] = name;
            values[nover++] = optarg;
        }
    }
    if (optind != argc) {
        usage(stderr);
        return 2;
    }

    static lg_workload_t w; /* large; read-only once the run starts */
    char err[512] = "";
    ing_err_t rc = lg_workload_load(&w, workload, err, sizeof(err));
    for (size_t i = 0; !rc && smoke && i < sizeof(smoke_preset) / sizeof(smoke_preset[0]); i++)
        rc = lg_workload_set(&w, smoke_preset[i][0], smoke_preset[i][1], err, sizeof(err));
    for (int i = 0; !rc && i < nover; i++)
        rc = lg_workload_set(&w, names[i], values[i], err, sizeof(err));
    if (!rc)
        rc = lg_workload_finish(&w, err, sizeof(err));
    if (rc) {
        fprintf(stderr, "ingest-loadgen: %s\n", err);
        return 2;
    }
    w.smoke = smoke;
    lg_gen_conf_t gc = {
        .seed = (uint64_t)w.s.seed,
        .patients = (size_t)w.s.patients,
        .pool = (size_t)w.s.pool,
        .pool_max_bytes = (size_t)w.s.pool_max_mb << 20,
        .now_wall_us = ing_wall_us(),
        .finess = w.s.finess,
    };
    make_run_id(&w, gc.run_id);
    memcpy(gc.mix, w.mix, sizeof(gc.mix));
    memcpy(gc.size_lo, w.size_lo, sizeof(gc.size_lo));
    memcpy(gc.size_hi, w.size_hi, sizeof(gc.size_hi));
    if (print_config) {
        cfg_passthrough_t none = {0}; /* the loader refuses kafka.* keys for loadgen */
        cfg_print(lg_settings_table, &w, &none, stdout);
        return 0;
    }

    int64_t t0 = ing_mono_us();
    lg_pool_t *pool = NULL;
    rc = lg_pool_create(&gc, &pool, err, sizeof(err));
    if (rc) {
        fprintf(stderr, "ingest-loadgen: %s\n", err);
        return 3;
    }
    ing_log(ING_LOG_INFO, "loadgen",
            "pool ready: %zu envelopes, %.1f MiB, largest %zu bytes, in %.2f s; run_id=%s",
            lg_pool_count(pool), (double)lg_pool_bytes(pool) / 1048576.0,
            lg_pool_max_envelope(pool), (double)(ing_mono_us() - t0) / 1e6, gc.run_id);

    lg_runner_t *runner = NULL;
    rc = lg_runner_create(&w, pool, &runner, err, sizeof(err));
    if (rc) {
        fprintf(stderr, "ingest-loadgen: %s\n", err);
        lg_pool_destroy(pool);
        return 2;
    }
    lg_step_t steps[LG_SWEEP_MAX];
    int done = 0;
    bool passed = true;
    int status = 0;
    for (int i = 0; i < w.steps; i++) {
        char rate[48];
        if (w.rates[i] > 0)
            snprintf(rate, sizeof(rate), "open loop at %g docs/s", w.rates[i]);
        else
            snprintf(rate, sizeof(rate), "closed loop (max)");
        ing_log(ING_LOG_INFO, "loadgen",
                "step %d/%d: %s, %llds warm-up + %llds, %lld connections, %lld threads, %s", i + 1,
                w.steps, rate, w.s.warmup_s, w.s.duration_s, w.s.connections, w.s.threads, w.path);
        rc = lg_runner_step(runner, w.rates[i], &steps[i], err, sizeof(err));
        if (rc) {
            fprintf(stderr, "ingest-loadgen: step %d: %s\n", i + 1, err);
            status = 3;
            break;
        }
        done++;
        char line[512], why[256];
        lg_report_summary(&w, &steps[i], line, sizeof(line));
        printf("%s\n", line);
        fflush(stdout);
        if (!lg_report_passes(&w, &steps[i], why, sizeof(why))) {
            passed = false;
            fprintf(stderr, "ingest-loadgen: step %d missed a threshold: %s\n", i + 1, why);
        }
        if (smoke) {
            const lg_counts_t *c = &steps[i].totals;
            if (c->sent == 0 || c->completed != c->sent || c->s202 != c->completed || c->unsent) {
                passed = false;
                fprintf(stderr,
                        "ingest-loadgen: smoke failed: sent %llu, completed %llu, 202 %llu\n",
                        (unsigned long long)c->sent, (unsigned long long)c->completed,
                        (unsigned long long)c->s202);
            }
        }
    }
    if (!status && out_dir) {
        const lg_e2e_sample_t *e2e;
        size_t ne2e = lg_runner_e2e(runner, &e2e);
        rc = lg_report_write(out_dir, &w, steps, done, e2e, ne2e, passed, err, sizeof(err));
        if (rc) {
            fprintf(stderr, "ingest-loadgen: %s\n", err);
            status = 3;
        } else {
            render_html(out_dir);
        }
    }
    for (int i = 0; i < done; i++)
        lg_step_fini(&steps[i]);
    lg_runner_destroy(runner);
    lg_pool_destroy(pool);
    if (status)
        return status;
    return passed ? 0 : 1;
}
