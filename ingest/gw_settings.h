/*
 * gw_settings: the gateway's settings struct. The table that fills it (names, defaults,
 * bounds, descriptions) is in main.c; the library only reads the struct, which is loaded once
 * before the threads start and read-only afterwards.
 */
#ifndef GW_SETTINGS_H
#define GW_SETTINGS_H

#include <stdbool.h>

typedef struct gw_settings {
    char listen[128]; /* host:port, [v6]:port */
    long long threads;
    char topic[256];
    char db_url[512];
    long long max_body_bytes;
    long long max_connections; /* the whole process; divided among the threads */
    long long header_timeout_ms;
    long long idle_timeout_ms;
    long long request_timeout_ms;
    bool trust_loopback;
    char type_codes[512];
    char allowed_oids[512];
    long long max_content_bytes;
    char log_level[16];
    long long db_queue_max;
    long long batch_max_items;
    long long max_inflight_bytes;     /* the whole process; divided among the threads */
    long long kafka_high_water_bytes; /* per thread */
    char sink[16];                    /* "kafka", or "discard" (benchmarks: validate, 204) */
    /* Per-organisation rates for the whole process (0 = unlimited); each thread gets /threads. */
    long long org_docs_per_s;
    long long org_docs_burst; /* 0 = one second of org_docs_per_s */
    long long org_bytes_per_s;
    long long org_bytes_burst;
    long long wait_max_requests; /* Prefer: wait=N requests waiting, per thread */
    long long min_body_rate_bytes_per_s;
    long long body_rate_grace_ms;
    long long max_request_line_bytes;
    long long max_header_bytes; /* request line + headers */
    long long max_headers;
    char tls_cert[512]; /* "" = plain HTTP (loopback only) */
    char tls_key[512];
    char tls_client_ca[512];
    char tls_client_auth[16]; /* none, optional, required */
    char orgs[512];           /* credentials -> organisations (gw_orgs); "" = none */
} gw_settings_t;

#endif
