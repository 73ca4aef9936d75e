/*
 * lg_workload: what a load-generator run does, as a settings table (config/cfg_settings.h):
 * the same table gives the workload-file loader (the files in bench/workloads/), the environment
 * overrides, the `--set name=value` command-line overrides, --help and the effective
 * configuration written into result.json. Values that are lists or fractions (rate sweep,
 * mix, ratios, thresholds) are strings in the table and parsed here into lg_workload_t.
 *
 * Loaded once in main(); read-only afterwards, shared by all threads.
 */
#ifndef LG_WORKLOAD_H
#define LG_WORKLOAD_H

#include <stdbool.h>
#include <stdio.h>

#include "cfg_settings.h"
#include "lg_gen.h"

#define LG_SWEEP_MAX 32

/** The raw settings, as the table fills them. */
typedef struct lg_settings {
    char name[64];
    char url[256];
    char rate[32];
    char rate_sweep[256];
    long long duration_s, warmup_s;
    long long connections, threads;
    char endpoint[16];
    long long batch;
    char mix[128];
    char sizes[128];
    char duplicate_ratio[16], invalid_ratio[16];
    long long patients, pool, pool_max_mb;
    long long seed;
    char run_id[16];
    long long timeout_ms;
    char e2e_sample[16];
    char max_p99_ms[16], max_error_rate[16];
    char tls_cert[256], tls_key[256], tls_ca[256]; /* https: client certificate, CA bundle */
    char api_key[160];                             /* "" = no Authorization header */
    char finess[16]; /* "" = the three test organisations; else every document's source */
} lg_settings_t;

/** The parsed workload. */
typedef struct lg_workload {
    lg_settings_t s;
    double rates[LG_SWEEP_MAX]; /* docs/s per step; 0 = closed loop (max) */
    int steps;
    bool batch_endpoint;
    int batch; /* documents per request (1 for the single endpoint) */
    char host[128];
    int port;
    bool tls;       /* https:// */
    char path[128]; /* "/v1/documents" or "/v1/documents:batch" */
    double mix[LG_KIND__COUNT];
    size_t size_lo[LG_KIND__COUNT], size_hi[LG_KIND__COUNT]; /* content bytes; 0,0 = default */
    double duplicate_ratio, invalid_ratio, e2e_sample;
    double max_p99_ms;     /* 0: no threshold */
    double max_error_rate; /* < 0: no threshold */
    bool smoke;
} lg_workload_t;

extern const cfg_setting_t lg_settings_table[];

/** Defaults, then the file (may be NULL), then the environment. */
ing_err_t lg_workload_load(lg_workload_t *w, const char *path, char *errstr,
                           size_t errstr_size) ING_MUST_CHECK;

/** One `name=value` override (command line), checked like a file line. */
ing_err_t lg_workload_set(lg_workload_t *w, const char *name, const char *value, char *errstr,
                          size_t errstr_size) ING_MUST_CHECK;

/** Parses the string settings into w's fields; call after the last load/set. */
ing_err_t lg_workload_finish(lg_workload_t *w, char *errstr, size_t errstr_size) ING_MUST_CHECK;

/** Parses "lab:0.7,pdf:0.1,fhir:0.2" (weights >= 0, at least one > 0). */
bool lg_parse_mix(const char *text, double mix[LG_KIND__COUNT]);

/** "lab:8192,pdf:50000-500000": content size (or lo-hi range) per kind; kinds left out keep
 * the generator's default (0, 0). */
bool lg_parse_sizes(const char *text, size_t lo[LG_KIND__COUNT], size_t hi[LG_KIND__COUNT]);
/** Parses "500,1000,2000" (each > 0, or "max"/0 for closed loop). @returns the count, 0 on error.
 */
int lg_parse_rates(const char *text, double *rates, int max);
/** Parses "http://host:port[/...]" or "https://..." (*tls set; default port 443). */
bool lg_parse_url(const char *url, char *host, size_t host_size, int *port, bool *tls);

#endif
