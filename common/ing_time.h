/* ing_time: the two clocks the pipeline uses, and the one date-time form it accepts. */
#ifndef ING_TIME_H
#define ING_TIME_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

/** Monotonic microseconds, for deadlines and durations. */
static inline int64_t ing_mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/** Wall-clock microseconds since the epoch, for timestamps that leave the process. */
static inline int64_t ing_wall_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/**
 * Parses an RFC 3339 date-time, YYYY-MM-DDTHH:MM:SS[.frac](Z|+HH:MM|-HH:MM), into
 * microseconds since the Unix epoch, as PostgreSQL's timestamptz would read it: the day must
 * exist in its month (leap years included), a leap second (:60) is the next minute's :00,
 * digits past the microsecond round to the nearest one, and the offset is at most 15:59
 * (PostgreSQL's limit). Pure.
 * @returns false for anything else (out is left unchanged).
 */
bool ing_time_parse_rfc3339(const char *s, int64_t *out_unix_us);

#endif
