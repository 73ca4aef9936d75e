/*
 * wk_settings: the worker's settings table. One table serves both programs of this folder —
 * ingest-worker and ingestctl read the same worker.conf, so both must know every key (an
 * unknown key fails at start-up). Loaded once in main(); read-only afterwards, shared by all
 * threads.
 */
#ifndef WK_SETTINGS_H
#define WK_SETTINGS_H

#include <stdbool.h>
#include <stddef.h>

#include "cfg_settings.h"
#include "ing_policy.h"

typedef struct wk_settings {
    char topic[250];
    char dlq_topic[250];
    char group[256];
    long long threads;
    char db_url[1024]; /* secret: holds the password */
    long long batch_max;
    long long batch_bytes;
    long long batch_ms;
    long long zstd_level;
    char keyring[1024];
    long long dict_refresh_s;
    long long db_wait_s;
    long long topic_partitions;
    long long dlq_partitions;
    long long replication_factor;
    long long admin_timeout_ms;
    long long stats_interval_s;
    char metrics_listen[128];
    bool allow_unsafe_db;
    char type_codes[1024];
    char allowed_oids[1024];
    long long max_content_bytes;
    char log_level[16];
} wk_settings_t;

/** The table: name, type, offset, default, bounds, description. Terminated by CFG_END. */
extern const cfg_setting_t wk_settings_table[];

/**
 * Loads defaults, the file (path may be NULL) and the environment, then checks what the table
 * cannot express (log level names, non-empty topics).
 * @returns ING_OK, or ING_ERR_CONFIG / ING_ERR_IO with a one-line reason in errstr.
 */
ing_err_t wk_settings_load(wk_settings_t *s, const char *path, cfg_passthrough_t *kafka,
                           char *errstr, size_t errstr_size) ING_MUST_CHECK;

/** The policy configuration the gateway uses, from the `policy.*` settings. @borrows s */
ing_policy_conf_t wk_settings_policy(const wk_settings_t *s);

#endif
