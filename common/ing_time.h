/* ing_time: the two clocks the pipeline uses. */
#ifndef ING_TIME_H
#define ING_TIME_H

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

#endif
