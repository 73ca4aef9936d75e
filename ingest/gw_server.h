/*
 * gw_server: the gateway process — gateway.threads I/O threads, each running its own gw_loop
 * with its own SO_REUSEPORT listening socket, Kafka producer and database connection. The
 * threads share only read-only data (settings, policy); the kernel spreads connections over
 * their sockets.
 *
 * Lifecycle, from main(): create (binds the sockets and builds every loop, so that
 * configuration errors show before anything runs), start, then on SIGTERM/SIGINT stop (each
 * loop stops accepting and finishes its in-flight requests, bounded by request_timeout_ms),
 * wait, destroy.
 */
#ifndef GW_SERVER_H
#define GW_SERVER_H

#include <stdbool.h>
#include <stddef.h>

#include "cfg_settings.h"
#include "gw_orgs.h"
#include "gw_settings.h"
#include "gw_tls.h"
#include "ing_error.h"
#include "ing_policy.h"

typedef struct gw_server gw_server_t;

/**
 * Parses "host:port" or "[v6]:port" (numeric hosts or names) and tells whether it is a
 * loopback address. @returns ING_OK or ING_ERR_CONFIG with a reason.
 */
ing_err_t gw_server_check_listen(const char *listen, bool *loopback, char *errstr,
                                 size_t errstr_size) ING_MUST_CHECK;

/**
 * Binds gateway.threads listening sockets and creates the loops. settings, kafka, policy, orgs
 * (NULL: no gateway.orgs) and tls (NULL: plain HTTP) are borrowed and must outlive the server.
 * @returns ING_OK and *out, or an error with a one-line reason in errstr.
 */
ing_err_t gw_server_create(const gw_settings_t *settings, const cfg_passthrough_t *kafka,
                           const ing_policy_t *policy, const gw_orgs_t *orgs, gw_tls_t *tls,
                           gw_server_t **out, char *errstr, size_t errstr_size) ING_MUST_CHECK;

/** Starts the threads. Block SIGTERM/SIGINT before, so that only main() receives them. */
ing_err_t gw_server_start(gw_server_t *server, char *errstr, size_t errstr_size) ING_MUST_CHECK;

/** Asks every loop to stop (graceful). @locality any thread. */
void gw_server_stop(gw_server_t *server);

/** Joins the threads. */
void gw_server_wait(gw_server_t *server);

void gw_server_destroy(gw_server_t *server);

#endif
