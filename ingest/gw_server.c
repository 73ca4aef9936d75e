#include "gw_server.h"

#include <errno.h>
#include <netdb.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "gw_auth.h"
#include "gw_loop.h"
#include "ing_log.h"
#include "ing_net.h"

#define LISTEN_BACKLOG 1024

typedef struct gw_thread {
    gw_loop_t *loop;
    pthread_t tid;
    bool started;
} gw_thread_t;

struct gw_server {
    int nthreads;
    gw_thread_t *threads;
    gw_metrics_t *metrics;
    gw_producer_t *producer; /* one for the process, shared by the loops */
};

ing_err_t gw_server_check_listen(const char *listen, bool *loopback, char *errstr,
                                 size_t errstr_size)
{
    struct addrinfo *res;
    ing_err_t err = ing_net_resolve("gateway.listen", listen, &res, errstr, errstr_size);
    if (err)
        return err;
    *loopback = ing_net_is_loopback(res->ai_addr);
    freeaddrinfo(res);
    return ING_OK;
}

/* SO_REUSEPORT would let a second gateway (or anything else of this user) bind the same
 * address and silently take a share of the connections: probe with a plain socket first, so
 * that an address in use fails at start-up as it would without SO_REUSEPORT. */
static ing_err_t probe_free(const struct addrinfo *ai, const char *listen_addr, char *errstr,
                            size_t errstr_size)
{
    int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    if (fd >= 0 && setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) == 0 &&
        bind(fd, ai->ai_addr, ai->ai_addrlen) == 0) {
        close(fd);
        return ING_OK;
    }
    snprintf(errstr, errstr_size, "cannot listen on %s: %s", listen_addr, strerror(errno));
    if (fd >= 0)
        close(fd);
    return ING_ERR_IO;
}

/* One listening socket per thread, all bound to the same address (SO_REUSEPORT). */
static int open_listener(const struct addrinfo *ai, char *errstr, size_t errstr_size)
{
    int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        goto fail;
    int one = 1;
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0 ||
        bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd, LISTEN_BACKLOG) != 0)
        goto fail;
    return fd;
fail:
    snprintf(errstr, errstr_size, "cannot listen: %s", strerror(errno));
    if (fd >= 0)
        close(fd);
    return -1;
}

ing_err_t gw_server_create(const gw_settings_t *settings, const cfg_passthrough_t *kafka,
                           const ing_policy_t *policy, const gw_orgs_t *orgs, gw_tls_t *tls,
                           gw_server_t **out, char *errstr, size_t errstr_size)
{
    struct addrinfo *res = NULL;
    ing_err_t err = ing_net_resolve("gateway.listen", settings->listen, &res, errstr, errstr_size);
    if (err)
        return err;
    bool loopback = ing_net_is_loopback(res->ai_addr);
    gw_auth_conf_t auth = {
        .trust_loopback = settings->trust_loopback, .tls = tls != NULL, .orgs = orgs};
    err = gw_auth_check_listener(&auth, loopback, errstr, errstr_size);
    if (err) {
        freeaddrinfo(res);
        return err;
    }
    err = probe_free(res, settings->listen, errstr, errstr_size);
    if (err) {
        freeaddrinfo(res);
        return err;
    }
    gw_server_t *server = calloc(1, sizeof(*server));
    if (server) {
        server->threads = calloc((size_t)settings->threads, sizeof(*server->threads));
        server->metrics = gw_metrics_create((int)settings->threads);
    }
    if (!server || !server->threads || !server->metrics) {
        if (server) {
            free(server->threads);
            gw_metrics_destroy(server->metrics);
        }
        free(server);
        freeaddrinfo(res);
        return ING_ERR_NOMEM;
    }
    server->nthreads = (int)settings->threads;
    gw_producer_conf_t pc = {
        .kafka = kafka,
        .topic = settings->topic,
        /* the record adds its metadata (at most a few KiB) to the content */
        .max_record_bytes = (size_t)settings->max_content_bytes + 65536,
        .client_id = "ingest-gateway",
        .lanes = server->nthreads,
    };
    size_t share =
        (size_t)((settings->max_connections + settings->threads - 1) / settings->threads);
    err = gw_producer_create(&pc, &server->producer, errstr, errstr_size);
    for (int i = 0; !err && i < server->nthreads; i++) {
        int fd = open_listener(res, errstr, errstr_size);
        if (fd < 0) {
            err = ING_ERR_IO;
            break;
        }
        gw_loop_conf_t lc = {.settings = settings,
                             .producer = server->producer,
                             .policy = policy,
                             .thread_no = i + 1,
                             .listen_fd = fd,
                             .listener_loopback = loopback,
                             .max_connections = share,
                             .metrics = server->metrics,
                             .tls = tls,
                             .orgs = orgs};
        err = gw_loop_create(&lc, &server->threads[i].loop, errstr, errstr_size);
        if (err)
            break;
    }
    freeaddrinfo(res);
    if (err) {
        gw_server_destroy(server);
        return err;
    }
    *out = server;
    return ING_OK;
}

static void *thread_main(void *arg)
{
    gw_loop_run(arg);
    return NULL;
}

ing_err_t gw_server_start(gw_server_t *server, char *errstr, size_t errstr_size)
{
    for (int i = 0; i < server->nthreads; i++) {
        gw_thread_t *t = &server->threads[i];
        int rc = pthread_create(&t->tid, NULL, thread_main, t->loop);
        if (rc != 0) {
            snprintf(errstr, errstr_size, "pthread_create: %s", strerror(rc));
            gw_server_stop(server);
            return ING_ERR_INTERNAL;
        }
        t->started = true;
    }
    return ING_OK;
}

void gw_server_stop(gw_server_t *server)
{
    for (int i = 0; i < server->nthreads; i++)
        if (server->threads[i].loop)
            gw_loop_stop(server->threads[i].loop);
}

void gw_server_wait(gw_server_t *server)
{
    for (int i = 0; i < server->nthreads; i++)
        if (server->threads[i].started) {
            pthread_join(server->threads[i].tid, NULL);
            server->threads[i].started = false;
        }
}

void gw_server_destroy(gw_server_t *server)
{
    if (!server)
        return;
    gw_server_wait(server);
    /* Reports still due go to their loops' lanes, which call back as each loop is destroyed:
     * the loops' threads have ended, so this thread may run their callbacks. */
    gw_producer_shutdown(server->producer, 1000);
    for (int i = 0; i < server->nthreads; i++)
        gw_loop_destroy(server->threads[i].loop);
    gw_producer_destroy(server->producer);
    free(server->threads);
    gw_metrics_destroy(server->metrics);
    free(server);
}
