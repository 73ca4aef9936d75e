#include "lg_workload.h"

#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#define S(field) offsetof(lg_workload_t, s) + offsetof(lg_settings_t, field)

const cfg_setting_t lg_settings_table[] = {
    {"name", CFG_STRING, S(name), 64, "adhoc", 0, 0, false, "workload name, for reports"},
    {"url", CFG_STRING, S(url), 256, "http://127.0.0.1:8080", 0, 0, false,
     "gateway base URL (http://host:port; 127.0.0.1 only)"},
    {"rate", CFG_STRING, S(rate), 32, "100", 0, 0, false,
     "documents per second (open loop); \"max\" or 0 = closed loop"},
    {"rate_sweep", CFG_STRING, S(rate_sweep), 256, "", 0, 0, false,
     "comma-separated rates, one step each (overrides rate)"},
    {"duration", CFG_INT, S(duration_s), 0, "30", 1, 86400, false, "measured seconds per step"},
    {"warmup", CFG_INT, S(warmup_s), 0, "5", 0, 3600, false, "seconds per step before measuring"},
    {"connections", CFG_INT, S(connections), 0, "16", 1, 10000, false,
     "keep-alive connections (over all threads)"},
    {"threads", CFG_INT, S(threads), 0, "1", 1, 64, false, "event-loop threads"},
    {"endpoint", CFG_STRING, S(endpoint), 16, "single", 0, 0, false,
     "single (POST /v1/documents) or batch (POST /v1/documents:batch)"},
    {"batch", CFG_INT, S(batch), 0, "10", 1, 1000, false, "envelopes per batch request"},
    {"mix", CFG_STRING, S(mix), 128, "lab:0.7,pdf:0.1,fhir:0.2", 0, 0, false,
     "document kinds and weights"},
    {"sizes", CFG_STRING, S(sizes), 128, "", 0, 0, false,
     "content bytes per kind, e.g. lab:8192,pdf:50000-500000 (default lab 4-40 KB, pdf "
     "50-500 KB, fhir 2-10 KB)"},
    {"duplicate_ratio", CFG_STRING, S(duplicate_ratio), 16, "0", 0, 0, false,
     "fraction of sends that resubmit an earlier identical envelope"},
    {"invalid_ratio", CFG_STRING, S(invalid_ratio), 16, "0", 0, 0, false,
     "fraction of sends with a bad INS key or hash (4xx expected)"},
    {"patients", CFG_INT, S(patients), 0, "10000", 1, LG_PATIENTS_MAX, false,
     "synthetic patients (INS under the test OID)"},
    {"pool", CFG_INT, S(pool), 0, "2000", 1, LG_POOL_MAX_ENTRIES, false, "pre-generated envelopes"},
    {"pool_max_mb", CFG_INT, S(pool_max_mb), 0, "512", 1, 65536, false,
     "generation stops once the pool holds this much"},
    {"seed", CFG_INT, S(seed), 0, "1", 0, 9223372036854775807LL, false,
     "random seed (same seed, same documents)"},
    {"run_id", CFG_STRING, S(run_id), 16, "", 0, 0, false,
     "8 characters [0-9a-z] in every document id; empty = from the clock"},
    {"timeout_ms", CFG_INT, S(timeout_ms), 0, "10000", 10, 600000, false,
     "a response later than this is a timeout (connection closed)"},
    {"e2e_sample", CFG_STRING, S(e2e_sample), 16, "0.01", 0, 0, false,
     "fraction of accepted submissions recorded for submit-to-stored latency"},
    {"max_p99_ms", CFG_STRING, S(max_p99_ms), 16, "0", 0, 0, false,
     "fail (exit 1) when a step's p99 is above this; 0 = no threshold"},
    {"max_error_rate", CFG_STRING, S(max_error_rate), 16, "-1", 0, 0, false,
     "fail (exit 1) when a step's error rate is above this; -1 = no threshold"},
    {"tls_cert", CFG_PATH, S(tls_cert), 256, "", 0, 0, false,
     "https: PEM client certificate (mTLS); empty = none"},
    {"tls_key", CFG_PATH, S(tls_key), 256, "", 0, 0, false, "https: PEM key of tls_cert"},
    {"tls_ca", CFG_PATH, S(tls_ca), 256, "", 0, 0, false,
     "https: PEM bundle that verifies the gateway's certificate; empty = the system's"},
    {"api_key", CFG_STRING, S(api_key), 160, "", 0, 0, true,
     "sent as Authorization: Bearer <api_key>; empty = no header"},
    {"finess", CFG_STRING, S(finess), 16, "", 0, 0, false,
     "every document's source.finess (one of the test organisations, to match the credential); "
     "empty = spread over 750712184, 010780054, 130783236"},
    CFG_END,
};

ing_err_t lg_workload_load(lg_workload_t *w, const char *path, char *errstr, size_t errsz)
{
    memset(w, 0, sizeof(*w));
    cfg_passthrough_t kafka;
    ing_err_t err = cfg_load(lg_settings_table, w, path, &kafka, errstr, errsz);
    if (!err && kafka.count) {
        snprintf(errstr, errsz, "unknown setting \"kafka.%s\"", kafka.items[0].key);
        err = ING_ERR_CONFIG;
    }
    return err;
}

ing_err_t lg_workload_set(lg_workload_t *w, const char *name, const char *value, char *errstr,
                          size_t errsz)
{
    const cfg_setting_t *s = lg_settings_table;
    while (s->name && strcmp(s->name, name) != 0)
        s++;
    if (!s->name) {
        snprintf(errstr, errsz, "--set: unknown setting \"%s\"", name);
        return ING_ERR_CONFIG;
    }
    char *field = (char *)w + s->offset;
    if (s->type == CFG_INT) {
        char *end;
        errno = 0;
        long long v = strtoll(value, &end, 10);
        if (errno || end == value || *end || v < s->min || v > s->max) {
            snprintf(errstr, errsz, "--set: %s must be an integer from %lld to %lld, not \"%s\"",
                     name, s->min, s->max, value);
            return ING_ERR_CONFIG;
        }
        *(long long *)field = v;
        return ING_OK;
    }
    /* A path on the command line is taken from the working directory, as from the environment. */
    if ((s->type == CFG_STRING || s->type == CFG_PATH) && strlen(value) < s->size) {
        strcpy(field, value);
        return ING_OK;
    }
    snprintf(errstr, errsz, "--set: %s: value too long or type not settable here", name);
    return ING_ERR_CONFIG;
}

static bool parse_fraction(const char *text, double lo, double hi, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(text, &end);
    if (errno || end == text || *end || !isfinite(v) || v < lo || v > hi)
        return false;
    *out = v;
    return true;
}

bool lg_parse_mix(const char *text, double mix[LG_KIND__COUNT])
{
    for (int k = 0; k < LG_KIND__COUNT; k++)
        mix[k] = 0;
    double total = 0;
    const char *p = text;
    while (*p) {
        while (*p == ' ' || *p == ',')
            p++;
        if (!*p)
            break;
        const char *colon = strchr(p, ':');
        if (!colon)
            return false;
        lg_kind_t k = lg_kind_from_name(p, (size_t)(colon - p));
        if (k == LG_KIND__COUNT)
            return false;
        char *end;
        errno = 0;
        double v = strtod(colon + 1, &end);
        if (errno || end == colon + 1 || !isfinite(v) || v < 0 ||
            (*end && *end != ',' && *end != ' '))
            return false;
        mix[k] = v;
        total += v;
        p = end;
    }
    return total > 0;
}

int lg_parse_rates(const char *text, double *rates, int max)
{
    int n = 0;
    const char *p = text;
    while (*p) {
        while (*p == ' ' || *p == ',')
            p++;
        if (!*p)
            break;
        if (n == max)
            return 0;
        if (strncmp(p, "max", 3) == 0) {
            rates[n++] = 0;
            p += 3;
        } else {
            char *end;
            errno = 0;
            double v = strtod(p, &end);
            if (errno || end == p || !isfinite(v) || v < 0 || v > 1e7)
                return 0;
            rates[n++] = v;
            p = end;
        }
        while (*p == ' ')
            p++;
        if (*p && *p != ',')
            return 0;
    }
    return n;
}

bool lg_parse_url(const char *url, char *host, size_t host_size, int *port, bool *tls)
{
    *tls = strncmp(url, "https://", 8) == 0;
    if (!*tls && strncmp(url, "http://", 7) != 0)
        return false;
    const char *h = url + (*tls ? 8 : 7);
    size_t hl = strcspn(h, ":/");
    if (hl == 0 || hl >= host_size)
        return false;
    memcpy(host, h, hl);
    host[hl] = '\0';
    *port = *tls ? 443 : 80;
    if (h[hl] == ':') {
        char *end;
        long v = strtol(h + hl + 1, &end, 10);
        if (end == h + hl + 1 || v < 1 || v > 65535 || (*end && *end != '/'))
            return false;
        *port = (int)v;
    }
    return true;
}

bool lg_parse_sizes(const char *text, size_t lo[LG_KIND__COUNT], size_t hi[LG_KIND__COUNT])
{
    for (int k = 0; k < LG_KIND__COUNT; k++)
        lo[k] = hi[k] = 0;
    const char *p = text;
    while (*p) {
        size_t name_len = strcspn(p, ":");
        lg_kind_t kind = lg_kind_from_name(p, name_len);
        if (kind == LG_KIND__COUNT || p[name_len] != ':')
            return false;
        char *end;
        unsigned long long a = strtoull(p + name_len + 1, &end, 10), b = a;
        if (end == p + name_len + 1)
            return false;
        if (*end == '-') {
            const char *start = end + 1;
            b = strtoull(start, &end, 10);
            if (end == start)
                return false;
        }
        if (a < 64 || b < a || b > 64ull << 20 || (*end && (*end != ',' || !end[1])))
            return false;
        lo[kind] = (size_t)a;
        hi[kind] = (size_t)b;
        p = *end ? end + 1 : end;
    }
    return true;
}

ing_err_t lg_workload_finish(lg_workload_t *w, char *errstr, size_t errsz)
{
    lg_settings_t *s = &w->s;
    const char *what = NULL;
    if (!lg_parse_url(s->url, w->host, sizeof(w->host), &w->port, &w->tls))
        what = "url must be http://host:port or https://host:port";
    else if (!w->tls && (s->tls_cert[0] || s->tls_key[0] || s->tls_ca[0]))
        what = "tls_cert, tls_key and tls_ca need an https:// url";
    else if (!s->tls_cert[0] != !s->tls_key[0])
        what = "tls_cert and tls_key go together";
    else if (strcspn(s->api_key, "\r\n ") != strlen(s->api_key))
        what = "api_key must not hold spaces or line breaks";
    else if (s->rate_sweep[0])
        w->steps = lg_parse_rates(s->rate_sweep, w->rates, LG_SWEEP_MAX);
    else
        w->steps = lg_parse_rates(s->rate, w->rates, 1);
    if (!what && w->steps == 0)
        what = "rate / rate_sweep must be numbers >= 0 or \"max\"";
    else if (!what && !lg_parse_mix(s->mix, w->mix))
        what = "mix must look like lab:0.7,pdf:0.1,fhir:0.2";
    else if (!what && !lg_parse_sizes(s->sizes, w->size_lo, w->size_hi))
        what = "sizes must look like lab:8192,pdf:50000-500000 (bytes, 64 to 64 MiB)";
    else if (!what && (!parse_fraction(s->duplicate_ratio, 0, 1, &w->duplicate_ratio) ||
                       !parse_fraction(s->invalid_ratio, 0, 1, &w->invalid_ratio) ||
                       w->duplicate_ratio + w->invalid_ratio > 1))
        what = "duplicate_ratio and invalid_ratio must be fractions with a sum <= 1";
    else if (!what && !parse_fraction(s->e2e_sample, 0, 1, &w->e2e_sample))
        what = "e2e_sample must be a fraction from 0 to 1";
    else if (!what && !parse_fraction(s->max_p99_ms, 0, 1e9, &w->max_p99_ms))
        what = "max_p99_ms must be a number >= 0";
    else if (!what && !parse_fraction(s->max_error_rate, -1, 1, &w->max_error_rate))
        what = "max_error_rate must be a fraction, or -1";
    else if (!what && strcmp(s->endpoint, "single") && strcmp(s->endpoint, "batch"))
        what = "endpoint must be single or batch";
    else if (!what && s->connections < s->threads)
        what = "connections must be at least threads";
    if (what) {
        snprintf(errstr, errsz, "%s", what);
        return ING_ERR_CONFIG;
    }
    if (s->run_id[0]) {
        bool ok = strlen(s->run_id) == LG_RUN_ID_LEN;
        for (const char *c = s->run_id; ok && *c; c++)
            ok = (*c >= '0' && *c <= '9') || (*c >= 'a' && *c <= 'z');
        if (!ok) {
            snprintf(errstr, errsz, "run_id must be %d characters [0-9a-z]", LG_RUN_ID_LEN);
            return ING_ERR_CONFIG;
        }
    }
    w->batch_endpoint = strcmp(s->endpoint, "batch") == 0;
    w->batch = w->batch_endpoint ? (int)s->batch : 1;
    snprintf(w->path, sizeof(w->path), "%s",
             w->batch_endpoint ? "/v1/documents:batch" : "/v1/documents");
    return ING_OK;
}
