#include "wk_batch.h"

bool wk_batch_full(const wk_batch_limits_t *limits, size_t count, size_t bytes, int64_t elapsed_us)
{
    if (count == 0)
        return false;
    return count >= limits->max_count || bytes >= limits->max_bytes || elapsed_us >= limits->max_us;
}

int wk_batch_poll_timeout_ms(const wk_batch_limits_t *limits, size_t count, int64_t elapsed_us,
                             int idle_ms)
{
    if (count == 0)
        return idle_ms;
    int64_t left = limits->max_us - elapsed_us;
    if (left <= 0)
        return 0;
    return (int)((left + 999) / 1000);
}

int wk_backoff_ms(int attempt, uint32_t random)
{
    enum { BASE_MS = 100, CAP_MS = 10000 };
    int64_t d = BASE_MS;
    for (int i = 1; i < attempt && d < CAP_MS; i++)
        d *= 2;
    if (d > CAP_MS)
        d = CAP_MS;
    int64_t half = d / 2;
    return (int)(half + (int64_t)(random % (uint32_t)(half + 1)));
}
