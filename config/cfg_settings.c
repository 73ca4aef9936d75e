#include "cfg_settings.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

extern char **environ;

static const cfg_setting_t *cfg_find(const cfg_setting_t *table, const char *name)
{
    for (const cfg_setting_t *s = table; s->name; s++)
        if (strcmp(s->name, name) == 0)
            return s;
    return NULL;
}

static bool kafka_key_is_secret(const char *key)
{
    return strstr(key, "password") || strstr(key, "secret") || strstr(key, ".key.pem");
}

static ing_err_t cfg_set(const cfg_setting_t *s, void *settings, const char *value,
                         const char *origin, const char *base_dir, char *errstr, size_t errsz)
{
    char *field = (char *)settings + s->offset;
    switch (s->type) {
    case CFG_PATH:
        if (value[0] && value[0] != '/' && base_dir) {
            int n = snprintf(field, s->size, "%s/%s", base_dir, value);
            if (n < 0 || (size_t)n >= s->size) {
                snprintf(errstr, errsz, "%s: %s is longer than %zu bytes", origin, s->name,
                         s->size - 1);
                return ING_ERR_CONFIG;
            }
            return ING_OK;
        }
        /* absolute, or relative to the working directory */
        __attribute__((fallthrough));
    case CFG_STRING:
        if (strlen(value) >= s->size) {
            snprintf(errstr, errsz, "%s: %s is longer than %zu bytes", origin, s->name,
                     s->size - 1);
            return ING_ERR_CONFIG;
        }
        strcpy(field, value);
        return ING_OK;
    case CFG_INT: {
        char *end;
        errno = 0;
        long long v = strtoll(value, &end, 10);
        if (errno || end == value || *end || v < s->min || v > s->max) {
            snprintf(errstr, errsz, "%s: %s must be an integer from %lld to %lld, not \"%s\"",
                     origin, s->name, s->min, s->max, value);
            return ING_ERR_CONFIG;
        }
        *(long long *)field = v;
        return ING_OK;
    }
    case CFG_BOOL:
        if (!strcmp(value, "true") || !strcmp(value, "on") || !strcmp(value, "1")) {
            *(bool *)field = true;
            return ING_OK;
        }
        if (!strcmp(value, "false") || !strcmp(value, "off") || !strcmp(value, "0")) {
            *(bool *)field = false;
            return ING_OK;
        }
        snprintf(errstr, errsz, "%s: %s must be true or false, not \"%s\"", origin, s->name, value);
        return ING_ERR_CONFIG;
    }
    return ING_ERR_INTERNAL;
}

static ing_err_t kafka_set(cfg_passthrough_t *kafka, const char *key, const char *value,
                           const char *origin, char *errstr, size_t errsz)
{
    int i = 0;
    while (i < kafka->count && strcmp(kafka->items[i].key, key) != 0)
        i++;
    if (i == CFG_PASSTHROUGH_MAX || strlen(key) >= sizeof(kafka->items[0].key) ||
        strlen(value) >= sizeof(kafka->items[0].value)) {
        snprintf(errstr, errsz, "%s: kafka.%s: too many kafka settings or too long", origin, key);
        return ING_ERR_CONFIG;
    }
    strcpy(kafka->items[i].key, key);
    strcpy(kafka->items[i].value, value);
    if (i == kafka->count)
        kafka->count++;
    return ING_OK;
}

static ing_err_t cfg_apply(const cfg_setting_t *table, void *settings, cfg_passthrough_t *kafka,
                           const char *name, const char *value, const char *origin,
                           const char *base_dir, char *errstr, size_t errsz)
{
    if (strncmp(name, "kafka.", 6) == 0 && name[6])
        return kafka_set(kafka, name + 6, value, origin, errstr, errsz);
    const cfg_setting_t *s = cfg_find(table, name);
    if (!s) {
        snprintf(errstr, errsz, "%s: unknown setting \"%s\"", origin, name);
        return ING_ERR_CONFIG;
    }
    return cfg_set(s, settings, value, origin, base_dir, errstr, errsz);
}

static char *trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    char *e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1]))
        *--e = '\0';
    return s;
}

static ing_err_t cfg_load_file(const cfg_setting_t *table, void *settings, const char *path,
                               cfg_passthrough_t *kafka, char *errstr, size_t errsz)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(errstr, errsz, "cannot open %s: %s", path, strerror(errno));
        return ING_ERR_IO;
    }
    /* Relative paths in a file are taken from the file's own folder, wherever we run from. */
    char base_dir[512];
    snprintf(base_dir, sizeof(base_dir), "%s", path);
    char *slash = strrchr(base_dir, '/');
    if (slash)
        *slash = '\0';
    else
        strcpy(base_dir, ".");
    ing_err_t err = ING_OK;
    char line[1024], origin[600];
    int lineno = 0;
    while (!err && fgets(line, sizeof(line), f)) {
        lineno++;
        snprintf(origin, sizeof(origin), "%s:%d", path, lineno);
        char *hash = strchr(line, '#');
        if (hash)
            *hash = '\0';
        char *l = trim(line);
        if (!*l)
            continue;
        char *eq = strchr(l, '=');
        if (!eq) {
            snprintf(errstr, errsz, "%s: expected name = value", origin);
            err = ING_ERR_CONFIG;
            break;
        }
        *eq = '\0';
        err = cfg_apply(table, settings, kafka, trim(l), trim(eq + 1), origin, base_dir, errstr,
                        errsz);
    }
    fclose(f);
    return err;
}

/* ING_GATEWAY_LISTEN -> gateway.listen */
static void env_to_name(const char *env, size_t len, char *out, size_t out_size)
{
    size_t i = 0;
    for (; i < len && i + 1 < out_size; i++)
        out[i] = env[i] == '_' ? '.' : (char)tolower((unsigned char)env[i]);
    out[i] = '\0';
}

/* Setting names may hold underscores (e.g. "max_body_bytes"): match the environment name
 * against each table entry with '.' and '_' both mapping to '_'. */
static const cfg_setting_t *cfg_find_env(const cfg_setting_t *table, const char *env, size_t len)
{
    for (const cfg_setting_t *s = table; s->name; s++) {
        size_t n = strlen(s->name);
        if (n != len)
            continue;
        size_t i = 0;
        while (i < n && (s->name[i] == '.' ? '_' : toupper((unsigned char)s->name[i])) == env[i])
            i++;
        if (i == n)
            return s;
    }
    return NULL;
}

static ing_err_t cfg_load_env(const cfg_setting_t *table, void *settings, cfg_passthrough_t *kafka,
                              char *errstr, size_t errsz)
{
    static const char prefix[] = "ING_";
    for (char **e = environ; *e; e++) {
        if (strncmp(*e, prefix, sizeof(prefix) - 1) != 0)
            continue;
        const char *name = *e + sizeof(prefix) - 1;
        const char *eq = strchr(name, '=');
        if (!eq)
            continue;
        size_t len = (size_t)(eq - name);
        char origin[160];
        snprintf(origin, sizeof(origin), "environment %.*s", (int)(len + 4), *e);
        if (len > 6 && strncmp(name, "KAFKA_", 6) == 0) {
            char key[96];
            env_to_name(name + 6, len - 6, key, sizeof(key));
            ing_err_t err = kafka_set(kafka, key, eq + 1, origin, errstr, errsz);
            if (err)
                return err;
            continue;
        }
        const cfg_setting_t *s = cfg_find_env(table, name, len);
        if (!s)
            continue; /* ING_* variables of other programs (ING_WORKER_ID...) are not ours */
        ing_err_t err = cfg_set(s, settings, eq + 1, origin, NULL, errstr, errsz);
        if (err)
            return err;
    }
    return ING_OK;
}

ing_err_t cfg_load(const cfg_setting_t *table, void *settings, const char *path,
                   cfg_passthrough_t *kafka, char *errstr, size_t errstr_size)
{
    kafka->count = 0;
    for (const cfg_setting_t *s = table; s->name; s++) {
        ing_err_t err =
            cfg_set(s, settings, s->default_value, "default", NULL, errstr, errstr_size);
        if (err)
            return err;
    }
    if (path) {
        ing_err_t err = cfg_load_file(table, settings, path, kafka, errstr, errstr_size);
        if (err)
            return err;
    }
    return cfg_load_env(table, settings, kafka, errstr, errstr_size);
}

void cfg_print(const cfg_setting_t *table, const void *settings, const cfg_passthrough_t *kafka,
               FILE *out)
{
    for (const cfg_setting_t *s = table; s->name; s++) {
        const char *field = (const char *)settings + s->offset;
        if (s->secret) {
            fprintf(out, "%s = <redacted>\n", s->name);
            continue;
        }
        switch (s->type) {
        case CFG_STRING:
        case CFG_PATH:
            fprintf(out, "%s = %s\n", s->name, field);
            break;
        case CFG_INT:
            fprintf(out, "%s = %lld\n", s->name, *(const long long *)field);
            break;
        case CFG_BOOL:
            fprintf(out, "%s = %s\n", s->name, *(const bool *)field ? "true" : "false");
            break;
        }
    }
    for (int i = 0; i < kafka->count; i++)
        fprintf(out, "kafka.%s = %s\n", kafka->items[i].key,
                kafka_key_is_secret(kafka->items[i].key) ? "<redacted>" : kafka->items[i].value);
}

void cfg_help(const cfg_setting_t *table, FILE *out)
{
    static const char *types[] = {"string", "integer", "boolean", "path"};
    for (const cfg_setting_t *s = table; s->name; s++) {
        fprintf(out, "  %-28s %-8s default %s", s->name, types[s->type],
                s->default_value[0] ? s->default_value : "\"\"");
        if (s->type == CFG_INT)
            fprintf(out, " [%lld..%lld]", s->min, s->max);
        fprintf(out, "\n      %s\n", s->description);
    }
    fprintf(out, "  %-28s %-8s passed verbatim to librdkafka\n", "kafka.*", "string");
}
