/*
 * ingest-gateway: the HTTP submission gateway. This file only declares the settings table,
 * reads the command line, and runs gw_server until SIGTERM or SIGINT.
 */
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cfg_kafka.h"
#include "cfg_settings.h"
#include "gw_auth.h"
#include "gw_orgs.h"
#include "gw_server.h"
#include "gw_settings.h"
#include "gw_tls.h"
#include "ing_log.h"
#include "ing_policy.h"

#define S(field) offsetof(gw_settings_t, field), sizeof(((gw_settings_t *)0)->field)

static const cfg_setting_t settings_table[] = {
    {"gateway.listen", CFG_STRING, S(listen), "127.0.0.1:8080", 0, 0, false,
     "address to listen on, host:port or [v6]:port (every I/O thread binds it, SO_REUSEPORT)"},
    {"gateway.threads", CFG_INT, S(threads), "0", 0, 64, false,
     "I/O threads, each with its own event loop and database connection; 0: one per online "
     "core"},
    {"gateway.topic", CFG_STRING, S(topic), "ing.documents.v1", 0, 0, false,
     "Kafka topic the accepted documents are produced to"},
    {"gateway.db_url", CFG_STRING, S(db_url), "", 0, 0, true,
     "PostgreSQL connection string (libpq URI) of the submission table"},
    {"gateway.max_body_bytes", CFG_INT, S(max_body_bytes), "67108864", 1024, 1073741824, false,
     "largest request body; more is answered 413"},
    {"gateway.max_connections", CFG_INT, S(max_connections), "10000", 1, 1000000, false,
     "open client connections for the whole process (shared equally by the threads)"},
    {"gateway.header_timeout_ms", CFG_INT, S(header_timeout_ms), "10000", 100, 600000, false,
     "time allowed from a request's first byte to the end of its headers (then 408)"},
    {"gateway.idle_timeout_ms", CFG_INT, S(idle_timeout_ms), "60000", 100, 3600000, false,
     "an idle keep-alive connection is closed after this"},
    {"gateway.request_timeout_ms", CFG_INT, S(request_timeout_ms), "30000", 100, 600000, false,
     "time allowed from the end of a request's headers to its answer; also bounds the drain "
     "at shut-down"},
    {"gateway.trust_loopback", CFG_BOOL, S(trust_loopback), "false", 0, 0, false,
     "skeleton identity: trust source.finess / X-Ing-Org; only on a loopback listener"},
    {"gateway.db_queue_max", CFG_INT, S(db_queue_max), "10000", 1, 1000000, false,
     "database operations queued per thread; over it 'accepted' rows are dropped, reads get "
     "503"},
    {"gateway.batch_max_items", CFG_INT, S(batch_max_items), "1000", 1, 100000, false,
     "documents in one POST /v1/documents:batch; more is refused with 413"},
    {"gateway.max_inflight_bytes", CFG_INT, S(max_inflight_bytes), "1073741824", 1048576,
     68719476736LL, false,
     "request bytes buffered plus records not yet acknowledged by Kafka, for the whole "
     "process (shared by the threads); over it a request with a body gets 503 before its body "
     "is read"},
    {"gateway.kafka_high_water_bytes", CFG_INT, S(kafka_high_water_bytes), "100663296", 1048576,
     68719476736LL, false,
     "records not yet acknowledged by Kafka, per I/O thread, above which submissions get 503 "
     "(below librdkafka's queue.buffering.max.kbytes, 128 MiB by default)"},
    {"gateway.sink", CFG_STRING, S(sink), "kafka", 0, 0, false,
     "kafka, or discard: validate fully and answer 204 without producing (the intake "
     "benchmark; refused unless gateway.listen is a loopback address)"},
    {"gateway.org_docs_per_s", CFG_INT, S(org_docs_per_s), "0", 0, 100000000, false,
     "documents per second one organisation may submit (batch items count one each; 0 = "
     "unlimited); over it 429 rate_limited with Retry-After"},
    {"gateway.org_docs_burst", CFG_INT, S(org_docs_burst), "0", 0, 100000000, false,
     "documents an organisation may send at once above its rate (0 = one second's worth)"},
    {"gateway.org_bytes_per_s", CFG_INT, S(org_bytes_per_s), "0", 0, 68719476736LL, false,
     "request body bytes per second one organisation may send (0 = unlimited); checked before "
     "the body is read when Content-Length is known"},
    {"gateway.org_bytes_burst", CFG_INT, S(org_bytes_burst), "0", 0, 68719476736LL, false,
     "bytes an organisation may send at once above its rate (0 = one second's worth)"},
    {"gateway.wait_max_requests", CFG_INT, S(wait_max_requests), "1000", 0, 1000000, false,
     "requests per I/O thread that may wait for their final status (Prefer: wait=N); more are "
     "answered 202 at once"},
    {"gateway.min_body_rate_bytes_per_s", CFG_INT, S(min_body_rate_bytes_per_s), "1024", 0,
     1073741824, false,
     "slowest accepted upload once gateway.body_rate_grace_ms has passed (0 = no minimum); "
     "slower: 408 and close"},
    {"gateway.body_rate_grace_ms", CFG_INT, S(body_rate_grace_ms), "10000", 0, 600000, false,
     "time a request body may take before the minimum body rate applies"},
    {"gateway.max_request_line_bytes", CFG_INT, S(max_request_line_bytes), "8192", 256, 1048576,
     false, "longest request line; longer: 414"},
    {"gateway.max_header_bytes", CFG_INT, S(max_header_bytes), "16384", 1024, 1048576, false,
     "request line plus headers; more: 431"},
    {"gateway.max_headers", CFG_INT, S(max_headers), "64", 8, 64, false,
     "header fields in one request; more: 431"},
    {"gateway.tls_cert", CFG_PATH, S(tls_cert), "", 0, 0, false,
     "PEM certificate (then its chain) of the listener; set, the listener speaks TLS 1.2/1.3 "
     "only; empty, plain HTTP, allowed only on a loopback gateway.listen"},
    {"gateway.tls_key", CFG_PATH, S(tls_key), "", 0, 0, false,
     "PEM private key of gateway.tls_cert"},
    {"gateway.tls_client_ca", CFG_PATH, S(tls_client_ca), "", 0, 0, false,
     "PEM bundle of the CAs that client certificates must chain to"},
    {"gateway.tls_client_auth", CFG_STRING, S(tls_client_auth), "none", 0, 0, false,
     "client certificates: none, optional (asked; mapped by fingerprint via gateway.orgs) or "
     "required (the handshake fails without a registered one)"},
    {"gateway.orgs", CFG_PATH, S(orgs), "", 0, 0, false,
     "organisations' credentials: lines 'finess <FINESS> api_key_sha256|cert_sha256 <64 hex>' "
     "(README, Identity)"},
    {"policy.type_codes", CFG_PATH, S(type_codes), "config/type_codes.tsv", 0, 0, false,
     "accepted document type codes with validity dates (TSV)"},
    {"policy.allowed_oids", CFG_STRING, S(allowed_oids), "1.2.250.1.213.1.4.8,1.2.250.1.213.1.4.9",
     0, 0, false, "accepted INS identifier systems, comma-separated"},
    {"policy.max_content_bytes", CFG_INT, S(max_content_bytes), "20971520", 1, 536870912, false,
     "largest decoded document; more is refused with 413 content_too_large"},
    {"log.level", CFG_STRING, S(log_level), "info", 0, 0, false, "error, warn, info or debug"},
    CFG_END,
};

static void usage(FILE *out)
{
    fprintf(out, "usage: ingest-gateway [-c FILE] [--check-config | --print-config | --help]\n"
                 "  -c FILE           settings file (name = value lines)\n"
                 "  --check-config    load the settings, the policy and the Kafka settings, "
                 "then exit 0 or 1\n"
                 "  --print-config    print the effective settings (secrets redacted)\n"
                 "  --help            this text and every setting\n"
                 "settings (environment overrides: ING_<NAME>, e.g. ING_GATEWAY_LISTEN):\n");
}

/* gateway.orgs and the TLS context: loaded (and so checked) before anything runs. */
static int load_identity(const gw_settings_t *s, gw_orgs_t **orgs, gw_tls_t **tls)
{
    char errstr[512];
    gw_tls_client_auth_t client_auth;
    if (!gw_tls_client_auth_parse(s->tls_client_auth, &client_auth)) {
        fprintf(stderr,
                "ingest-gateway: gateway.tls_client_auth must be none, optional or required, "
                "not \"%s\"\n",
                s->tls_client_auth);
        return 1;
    }
    if (s->orgs[0] && gw_orgs_load(s->orgs, orgs, errstr, sizeof(errstr)) != ING_OK) {
        fprintf(stderr, "ingest-gateway: %s\n", errstr);
        return 1;
    }
    if (!s->tls_cert[0] != !s->tls_key[0]) {
        fprintf(stderr, "ingest-gateway: gateway.tls_cert and gateway.tls_key go together\n");
        return 1;
    }
    if (!s->tls_cert[0]) {
        if (client_auth != GW_TLS_CLIENT_NONE || s->tls_client_ca[0]) {
            fprintf(stderr, "ingest-gateway: gateway.tls_client_auth and gateway.tls_client_ca "
                            "need gateway.tls_cert\n");
            return 1;
        }
        return 0;
    }
    gw_tls_conf_t tc = {.cert = s->tls_cert,
                        .key = s->tls_key,
                        .client_ca = s->tls_client_ca,
                        .client_auth = client_auth,
                        .orgs = *orgs};
    if (gw_tls_create(&tc, tls, errstr, sizeof(errstr)) != ING_OK) {
        fprintf(stderr, "ingest-gateway: %s\n", errstr);
        return 1;
    }
    return 0;
}

/* Everything that can be checked without running: the policy, the identity, the listener,
 * Kafka. */
static int check(const gw_settings_t *s, const cfg_passthrough_t *kafka, ing_policy_t **policy,
                 gw_orgs_t **orgs, gw_tls_t **tls)
{
    char errstr[512];
    ing_policy_conf_t pc = {.type_codes_path = s->type_codes,
                            .allowed_oids = s->allowed_oids,
                            .max_content_bytes = (size_t)s->max_content_bytes};
    if (ing_policy_create(&pc, policy, errstr, sizeof(errstr)) != ING_OK) {
        fprintf(stderr, "ingest-gateway: policy: %s\n", errstr);
        return 1;
    }
    if (load_identity(s, orgs, tls))
        return 1;
    bool loopback;
    gw_auth_conf_t auth = {.trust_loopback = s->trust_loopback, .tls = *tls != NULL, .orgs = *orgs};
    if (gw_server_check_listen(s->listen, &loopback, errstr, sizeof(errstr)) != ING_OK ||
        gw_auth_check_listener(&auth, loopback, errstr, sizeof(errstr)) != ING_OK) {
        fprintf(stderr, "ingest-gateway: %s\n", errstr);
        return 1;
    }
    if (strcmp(s->sink, "kafka") != 0 && strcmp(s->sink, "discard") != 0) {
        fprintf(stderr, "ingest-gateway: gateway.sink must be kafka or discard, not \"%s\"\n",
                s->sink);
        return 1;
    }
    if (strcmp(s->sink, "discard") == 0) {
        if (!loopback) {
            fprintf(stderr, "ingest-gateway: gateway.sink = discard is refused on a non-loopback "
                            "gateway.listen (nothing submitted would be kept)\n");
            return 1;
        }
        ing_log(ING_LOG_WARN, "main",
                "gateway.sink = discard: documents are validated and dropped, never produced");
    }
    if (!s->db_url[0]) {
        fprintf(stderr, "ingest-gateway: gateway.db_url is not set\n");
        return 1;
    }
    rd_kafka_conf_t *kc = cfg_kafka_conf_new(NULL, kafka, errstr, sizeof(errstr));
    if (!kc) {
        fprintf(stderr, "ingest-gateway: %s\n", errstr);
        return 1;
    }
    rd_kafka_conf_destroy(kc);
    return 0;
}

int main(int argc, char **argv)
{
    const char *path = NULL;
    bool check_only = false, print = false;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-c") == 0 && i + 1 < argc) {
            path = argv[++i];
        } else if (strcmp(argv[i], "--check-config") == 0) {
            check_only = true;
        } else if (strcmp(argv[i], "--print-config") == 0) {
            print = true;
        } else if (strcmp(argv[i], "--help") == 0) {
            usage(stdout);
            cfg_help(settings_table, stdout);
            return 0;
        } else {
            usage(stderr);
            return 2;
        }
    }
    static gw_settings_t settings; /* read-only once loaded; outlives the threads */
    static cfg_passthrough_t kafka;
    char errstr[512];
    if (cfg_load(settings_table, &settings, path, &kafka, errstr, sizeof(errstr)) != ING_OK) {
        fprintf(stderr, "ingest-gateway: %s\n", errstr);
        return 1;
    }
    if (settings.threads == 0) {
        long cores = sysconf(_SC_NPROCESSORS_ONLN);
        settings.threads = cores < 1 ? 1 : cores > 64 ? 64 : cores;
    }
    int level = ing_log_level_parse(settings.log_level);
    if (level < 0) {
        fprintf(stderr, "ingest-gateway: log.level must be error, warn, info or debug\n");
        return 1;
    }
    ing_log_init((ing_log_level_t)level);
    if (print) {
        cfg_print(settings_table, &settings, &kafka, stdout);
        return 0;
    }
    ing_policy_t *policy = NULL;
    gw_orgs_t *orgs = NULL;
    gw_tls_t *tls = NULL;
    int rc = check(&settings, &kafka, &policy, &orgs, &tls);
    if (rc || check_only) {
        if (!rc)
            printf("configuration ok\n");
        ing_policy_destroy(policy);
        gw_tls_destroy(tls);
        gw_orgs_destroy(orgs);
        return rc;
    }

    /* Only this thread takes the signals: the I/O threads inherit the blocked mask. */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);

    gw_server_t *server = NULL;
    if (gw_server_create(&settings, &kafka, policy, orgs, tls, &server, errstr, sizeof(errstr)) !=
            ING_OK ||
        gw_server_start(server, errstr, sizeof(errstr)) != ING_OK) {
        ing_log(ING_LOG_ERROR, "main", "cannot start: %s", errstr);
        gw_server_destroy(server);
        ing_policy_destroy(policy);
        gw_tls_destroy(tls);
        gw_orgs_destroy(orgs);
        return 1;
    }
    ing_log(ING_LOG_INFO, "main",
            "listening on %s (%s) threads=%lld topic=%s orgs=%zu credentials client_auth=%s",
            settings.listen, tls ? "TLS" : "plain HTTP", settings.threads, settings.topic,
            gw_orgs_count(orgs), tls ? settings.tls_client_auth : "none");
    int sig = 0;
    sigwait(&sigs, &sig);
    ing_log(ING_LOG_INFO, "main", "signal %d: draining (at most %lld ms)", sig,
            settings.request_timeout_ms);
    gw_server_stop(server);
    gw_server_destroy(server);
    ing_policy_destroy(policy);
    gw_tls_destroy(tls);
    gw_orgs_destroy(orgs);
    ing_log(ING_LOG_INFO, "main", "stopped");
    return 0;
}
