/*
 * ing_log: one line per event on stderr, logfmt (key=value), so that operators can grep and
 * ship it. The level is the one process-wide setting, written once by main() before any thread
 * starts and read-only afterwards.
 */
#ifndef ING_LOG_H
#define ING_LOG_H

typedef enum ing_log_level {
    ING_LOG_ERROR,
    ING_LOG_WARN,
    ING_LOG_INFO,
    ING_LOG_DEBUG,
} ing_log_level_t;

/** Sets the threshold; call from main() before starting threads. */
void ing_log_init(ing_log_level_t level);

/** Parses "error", "warn", "info", "debug"; returns -1 when unknown. */
int ing_log_level_parse(const char *name);

/** Logs one line: ts=... level=... comp=<component> msg="<formatted>". Thread-safe. */
void ing_log(ing_log_level_t level, const char *component, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
