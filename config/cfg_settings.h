/*
 * cfg_settings: configuration as a table (PostgreSQL's GUCs, nginx's directives). Each program
 * declares its settings once — name, type, offset in its settings struct, default, bounds,
 * description — and from that one table come the loader, the environment overrides,
 * --print-config (secrets redacted) and --help.
 *
 * Sources, later wins: the table's default, the file (`name = value` lines, # comments), then
 * the environment (`ING_` + name upper-cased with dots as underscores, e.g.
 * ING_GATEWAY_LISTEN). Keys under `kafka.` are passed verbatim to librdkafka (environment:
 * ING_KAFKA_MESSAGE_TIMEOUT_MS -> kafka.message.timeout.ms). Any other unknown key is an error
 * at start-up. Loaded once in main(); read-only afterwards, shared by all threads.
 */
#ifndef CFG_SETTINGS_H
#define CFG_SETTINGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "ing_error.h"

typedef enum cfg_type {
    CFG_STRING, /* char[size] in the struct */
    CFG_INT,    /* long long */
    CFG_BOOL,   /* bool: true/false/on/off/1/0 */
    CFG_PATH,   /* char[size]; a relative path is taken from the config file's folder */
} cfg_type_t;

typedef struct cfg_setting {
    const char *name;
    cfg_type_t type;
    size_t offset;
    size_t size; /* CFG_STRING: the buffer size */
    const char *default_value;
    long long min, max; /* CFG_INT bounds */
    bool secret;        /* redacted by cfg_print */
    const char *description;
} cfg_setting_t;

#define CFG_PASSTHROUGH_MAX 64

/** librdkafka properties collected from `kafka.*` keys, prefix removed. */
typedef struct cfg_passthrough {
    int count;
    struct {
        char key[96];
        char value[512];
    } items[CFG_PASSTHROUGH_MAX];
} cfg_passthrough_t;

/**
 * Fills settings (caller's struct) from defaults, the file (path may be NULL) and the
 * environment, and kafka with the passthrough keys.
 * @returns ING_OK, or ING_ERR_CONFIG / ING_ERR_IO with a one-line reason in errstr
 *          ("file:line: unknown setting \"x\"").
 */
ing_err_t cfg_load(const cfg_setting_t *table, void *settings, const char *path,
                   cfg_passthrough_t *kafka, char *errstr, size_t errstr_size) ING_MUST_CHECK;

/** Writes the effective configuration, `name = value` lines, secrets as "<redacted>". */
void cfg_print(const cfg_setting_t *table, const void *settings, const cfg_passthrough_t *kafka,
               FILE *out);

/** Writes the reference: name, type, default, bounds, description. */
void cfg_help(const cfg_setting_t *table, FILE *out);

/** The table's terminator. */
#define CFG_END                                                                                    \
    {                                                                                              \
        NULL, CFG_STRING, 0, 0, NULL, 0, 0, false, NULL                                            \
    }

#endif
