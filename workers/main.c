/*
 * ingest-worker: consumes accepted documents from Kafka and stores them in PostgreSQL.
 *
 *   ingest-worker [-c FILE] [--check-config | --print-config | --help]
 *
 * Runs worker.threads consumer threads (wk_worker); this thread's loop takes the signals and,
 * with worker.metrics_listen set, serves the operators' endpoint (wk_endpoint). SIGTERM/SIGINT:
 * every thread finishes its batch, commits, closes its consumer; exit 0. Exit status: 0 clean stop,
 * 1 a fatal runtime failure (unsafe database, database still unreachable after worker.db_wait_s, a
 * thread that could not start), 2 usage or configuration (including a missing or unreadable
 * keyring). An unreachable database at start-up is waited for (worker.db_wait_s, default forever).
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <netdb.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include "ing_crypto.h"
#include "ing_log.h"
#include "ing_net.h"
#include "ing_time.h"
#include "wk_batch.h"
#include "wk_endpoint.h"
#include "wk_settings.h"
#include "wk_store.h"
#include "wk_worker.h"

enum { EXIT_OK = 0, EXIT_FAILED = 1, EXIT_USAGE = 2 };

/* What waiting for the database ended with. */
typedef enum db_wait { DB_READY, DB_STOP, DB_FAILED } db_wait_t;

typedef struct thread_slot {
    pthread_t tid;
    wk_worker_conf_t conf;
    wk_stats_t stats;
    ing_err_t err;
    atomic_bool done;
} thread_slot_t;

/* What /metrics renders: every thread's block. */
typedef struct scrape {
    const wk_live_t *live;
    size_t n;
} scrape_t;

static ing_err_t render_scrape(void *arg, ing_buf_t *out)
{
    const scrape_t *s = arg;
    return wk_metrics_render(s->live, s->n, out);
}

static void *thread_main(void *arg)
{
    thread_slot_t *slot = arg;
    slot->err = wk_worker_run(&slot->conf, &slot->stats);
    atomic_store(&slot->done, true);
    return NULL;
}

/*
 * A stateless worker started before its database waits for it: retries with back-off
 * (wk_backoff_ms, up to 10 s apart), one warn line per attempt, for at most worker.db_wait_s
 * (0: forever). SIGTERM/SIGINT while waiting: exit 0. An unsafe server (fsync off) is fatal at
 * once: waiting cannot fix it.
 */
static db_wait_t wait_for_database(const wk_settings_t *s, const sigset_t *sigs)
{
    char errstr[1024];
    int64_t started = ing_mono_us();
    unsigned seed = (unsigned)started;
    for (int attempt = 1;; attempt++) {
        ing_err_t err = wk_store_check(s->db_url, s->allow_unsafe_db, errstr, sizeof(errstr));
        if (!err) {
            if (attempt > 1)
                ing_log(ING_LOG_INFO, "main", "PostgreSQL reachable after %d attempts (%.1f s)",
                        attempt, (double)(ing_mono_us() - started) / 1e6);
            return DB_READY;
        }
        if (!ing_err_is_retriable(err)) {
            ing_log(ING_LOG_ERROR, "main", "%s", errstr);
            return DB_FAILED;
        }
        int delay = wk_backoff_ms(attempt, (uint32_t)rand_r(&seed));
        int64_t waited_ms = (ing_mono_us() - started) / 1000;
        if (s->db_wait_s > 0 && waited_ms + delay > s->db_wait_s * 1000) {
            ing_log(ING_LOG_ERROR, "main",
                    "PostgreSQL still unreachable after %d attempts in %.1f s "
                    "(worker.db_wait_s = %lld): %s",
                    attempt, (double)waited_ms / 1000, s->db_wait_s, errstr);
            return DB_FAILED;
        }
        ing_log(ING_LOG_WARN, "main", "PostgreSQL unreachable (attempt %d): %s; retrying in %d ms",
                attempt, errstr, delay);
        struct timespec ts = {delay / 1000, (long)(delay % 1000) * 1000000};
        int sig = sigtimedwait(sigs, NULL, &ts);
        if (sig == SIGTERM || sig == SIGINT) {
            ing_log(ING_LOG_INFO, "main", "signal %d while waiting for PostgreSQL: exiting", sig);
            return DB_STOP;
        }
    }
}

static void usage(FILE *out)
{
    fprintf(out,
            "usage: ingest-worker [-c FILE] [--check-config | --print-config | --help]\n"
            "\n"
            "  -c, --config FILE   settings file (name = value lines)\n"
            "  --check-config      load the settings and the policy, then exit (0 when valid)\n"
            "  --print-config      print the effective settings, secrets redacted, then exit\n"
            "  -h, --help          this help and the settings reference\n"
            "\n"
            "Environment: ING_<NAME> overrides a setting (ING_WORKER_THREADS=4), ING_KAFKA_<KEY>\n"
            "a librdkafka property. SIGTERM/SIGINT: finish the batch, commit, exit 0.\n"
            "\nsettings:\n");
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"config", required_argument, NULL, 'c'},
        {"check-config", no_argument, NULL, 'C'},
        {"print-config", no_argument, NULL, 'P'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *config = NULL;
    bool check = false, print = false;
    int opt;
    while ((opt = getopt_long(argc, argv, "c:h", longopts, NULL)) != -1) {
        switch (opt) {
        case 'c':
            config = optarg;
            break;
        case 'C':
            check = true;
            break;
        case 'P':
            print = true;
            break;
        case 'h':
            usage(stdout);
            cfg_help(wk_settings_table, stdout);
            return EXIT_OK;
        default:
            usage(stderr);
            return EXIT_USAGE;
        }
    }
    if (optind != argc) {
        usage(stderr);
        return EXIT_USAGE;
    }

    static wk_settings_t settings; /* main()'s; read-only once the threads start */
    static cfg_passthrough_t kafka;
    char errstr[1024];
    if (wk_settings_load(&settings, config, &kafka, errstr, sizeof(errstr))) {
        fprintf(stderr, "ingest-worker: %s\n", errstr);
        return EXIT_USAGE;
    }
    if (print) {
        cfg_print(wk_settings_table, &settings, &kafka, stdout);
        return EXIT_OK;
    }
    ing_log_init((ing_log_level_t)ing_log_level_parse(settings.log_level));
    ing_policy_conf_t pconf = wk_settings_policy(&settings);
    ing_policy_t *policy = NULL;
    if (ing_policy_create(&pconf, &policy, errstr, sizeof(errstr))) {
        fprintf(stderr, "ingest-worker: policy: %s\n", errstr);
        return EXIT_USAGE;
    }
    if (!settings.db_url[0]) {
        fprintf(stderr, "ingest-worker: worker.db_url is not set\n");
        ing_policy_destroy(policy);
        return EXIT_USAGE;
    }
    if (settings.metrics_listen[0]) { /* its syntax now, not after waiting for the database */
        struct addrinfo *res;
        if (ing_net_resolve("worker.metrics_listen", settings.metrics_listen, &res, errstr,
                            sizeof(errstr))) {
            fprintf(stderr, "ingest-worker: %s\n", errstr);
            ing_policy_destroy(policy);
            return EXIT_USAGE;
        }
        freeaddrinfo(res);
    }
    if (check) {
        printf("configuration ok\n");
        ing_policy_destroy(policy);
        return EXIT_OK;
    }

    /* Documents are stored sealed: no keyring, no start. */
    ing_keyring_t *keyring = NULL;
    if (!settings.keyring[0]) {
        fprintf(stderr,
                "ingest-worker: worker.keyring is not set; documents are stored encrypted with "
                "the keyring's active key.\nCreate one with: ingestctl%s%s keyring init FILE, "
                "then set worker.keyring = FILE (or ING_WORKER_KEYRING=FILE)\n",
                config ? " -c " : "", config ? config : "");
        ing_policy_destroy(policy);
        return EXIT_USAGE;
    }
    if (ing_keyring_load(settings.keyring, &keyring, errstr, sizeof(errstr))) {
        bool exists = access(settings.keyring, F_OK) == 0;
        fprintf(stderr, "ingest-worker: %s\n%s: ingestctl%s%s keyring init %s\n", errstr,
                exists ? "Fix it (a new keyring cannot open documents already stored), or "
                         "create another with"
                       : "Create it with",
                config ? " -c " : "", config ? config : "", settings.keyring);
        ing_policy_destroy(policy);
        return EXIT_USAGE;
    }
    ing_log(ING_LOG_INFO, "main", "keyring %s loaded, active key %s", settings.keyring,
            ing_keyring_active_id(keyring));

    /* Signals are taken by this thread only (sigtimedwait): no handler, no global flag. */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);

    /* The database must be reachable and durable before we take any partition. */
    db_wait_t waited = wait_for_database(&settings, &sigs);
    if (waited != DB_READY) {
        ing_keyring_destroy(keyring);
        ing_policy_destroy(policy);
        return waited == DB_STOP ? EXIT_OK : EXIT_FAILED;
    }

    atomic_bool stop = false;
    int nthreads = (int)settings.threads;
    thread_slot_t *slots = calloc((size_t)nthreads, sizeof(*slots));
    /* Each block on its own cache lines: the threads write them on every batch. */
    size_t live_size = (size_t)nthreads * sizeof(wk_live_t);
    wk_live_t *live = aligned_alloc(_Alignof(wk_live_t), live_size);
    if (!slots || !live) {
        free(slots);
        free(live);
        ing_keyring_destroy(keyring);
        ing_policy_destroy(policy);
        return EXIT_FAILED;
    }
    memset(live, 0, live_size);
    scrape_t scrape = {live, (size_t)nthreads};

    /* One loop on this thread: the signals (signalfd) and the operators' endpoint. */
    int signal_tag; /* its address marks the signalfd's events */
    int epfd = epoll_create1(EPOLL_CLOEXEC);
    int sigfd = signalfd(-1, &sigs, SFD_NONBLOCK | SFD_CLOEXEC);
    struct epoll_event sev = {.events = EPOLLIN, .data.ptr = &signal_tag};
    wk_endpoint_t *endpoint = NULL;
    int exit_early = EXIT_FAILED;
    bool loop_ok = epfd >= 0 && sigfd >= 0 && epoll_ctl(epfd, EPOLL_CTL_ADD, sigfd, &sev) == 0;
    if (!loop_ok)
        ing_log(ING_LOG_ERROR, "main", "epoll/signalfd: %s", strerror(errno));
    else if (settings.metrics_listen[0]) {
        ing_err_t err = wk_endpoint_create(settings.metrics_listen, epfd, render_scrape, &scrape,
                                           &endpoint, errstr, sizeof(errstr));
        if (err) {
            ing_log(ING_LOG_ERROR, "main", "%s", errstr);
            loop_ok = false;
            if (err == ING_ERR_CONFIG) /* a malformed address; one in use is a runtime failure */
                exit_early = EXIT_USAGE;
        } else {
            ing_log(ING_LOG_INFO, "main", "metrics on %s (port %d): GET /metrics, /healthz",
                    settings.metrics_listen, wk_endpoint_port(endpoint));
        }
    }
    if (!loop_ok) {
        if (sigfd >= 0)
            close(sigfd);
        if (epfd >= 0)
            close(epfd);
        free(live);
        free(slots);
        ing_keyring_destroy(keyring);
        ing_policy_destroy(policy);
        return exit_early;
    }

    int started = 0;
    for (int i = 0; i < nthreads; i++) {
        slots[i].conf = (wk_worker_conf_t){&settings, &kafka, policy, keyring, i, &stop, &live[i]};
        atomic_init(&slots[i].done, false);
        if (pthread_create(&slots[i].tid, NULL, thread_main, &slots[i]) != 0) {
            ing_log(ING_LOG_ERROR, "main", "pthread_create: %s", strerror(errno));
            atomic_store(&stop, true);
            break;
        }
        started++;
    }
    ing_log(ING_LOG_INFO, "main", "ingest-worker started threads=%d topic=%s group=%s", started,
            settings.topic, settings.group);

    bool failed = started < nthreads;
    while (!atomic_load(&stop)) {
        struct epoll_event evs[16];
        int n = epoll_wait(epfd, evs, 16, 200);
        int64_t now = ing_mono_us();
        for (int e = 0; e < n; e++) {
            if (evs[e].data.ptr != &signal_tag) {
                wk_endpoint_handle(endpoint, evs[e].data.ptr, evs[e].events, now);
                continue;
            }
            struct signalfd_siginfo si;
            while (read(sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
                ing_log(ING_LOG_INFO, "main", "signal %u: finishing batches and stopping",
                        si.ssi_signo);
                atomic_store(&stop, true);
            }
        }
        if (endpoint)
            wk_endpoint_sweep(endpoint, now);
        for (int i = 0; i < started; i++)
            if (atomic_load(&slots[i].done)) { /* a thread only ends early on a fatal error */
                ing_log(ING_LOG_ERROR, "main", "thread %d stopped: %s; stopping", i,
                        ing_err_name(slots[i].err));
                failed = true;
                atomic_store(&stop, true);
            }
    }
    wk_stats_t total = {0};
    for (int i = 0; i < started; i++) {
        pthread_join(slots[i].tid, NULL);
        failed = failed || slots[i].err != ING_OK;
        total.batches += slots[i].stats.batches;
        total.records += slots[i].stats.records;
        total.stored += slots[i].stats.stored;
        total.already_stored += slots[i].stats.already_stored;
        total.duplicates += slots[i].stats.duplicates;
        total.refused += slots[i].stats.refused;
        total.rejected += slots[i].stats.rejected;
        total.dead_lettered += slots[i].stats.dead_lettered;
        total.retries += slots[i].stats.retries;
    }
    ing_log(ING_LOG_INFO, "main",
            "stopped exit=%d records=%" PRIu64 " stored=%" PRIu64 " already_stored=%" PRIu64
            " duplicates=%" PRIu64 " refused=%" PRIu64 " rejected=%" PRIu64
            " dead_lettered=%" PRIu64 " retries=%" PRIu64,
            failed ? EXIT_FAILED : EXIT_OK, total.records, total.stored, total.already_stored,
            total.duplicates, total.refused, total.rejected, total.dead_lettered, total.retries);
    wk_endpoint_destroy(endpoint);
    close(sigfd);
    close(epfd);
    free(live);
    free(slots);
    ing_keyring_destroy(keyring);
    ing_policy_destroy(policy);
    return failed ? EXIT_FAILED : EXIT_OK;
}
