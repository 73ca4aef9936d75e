#include "ing_time.h"

#include <stddef.h>

static bool digits(const char *s, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return true;
}

static bool leap_year(int y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* Days from 1970-01-01 to y-m-d of the proleptic Gregorian calendar (civil-from-days
 * inverted: March-based years put the leap day last). */
static int64_t days_from_civil(int y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

bool ing_time_parse_rfc3339(const char *s, int64_t *out_unix_us)
{
    /* The shape first: digits() below then cannot fail. */
    static const char shape[] = "dddd-dd-ddTdd:dd:dd";
    for (size_t i = 0; shape[i]; i++) {
        char c = s[i];
        bool ok = shape[i] == 'd' ? c >= '0' && c <= '9' : c == shape[i] || (i == 10 && c == 't');
        if (!ok)
            return false;
    }
    int year = 0, mon = 0, day = 0, hour = 0, min = 0, sec = 0;
    digits(s, 4, &year);
    digits(s + 5, 2, &mon);
    digits(s + 8, 2, &day);
    digits(s + 11, 2, &hour);
    digits(s + 14, 2, &min);
    digits(s + 17, 2, &sec);
    static const int mdays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (year < 1 || mon < 1 || mon > 12 || day < 1 ||
        day > mdays[mon - 1] + (mon == 2 && leap_year(year)) || hour > 23 || min > 59 || sec > 60)
        return false;
    const char *p = s + 19;
    int64_t frac_us = 0;
    if (*p == '.') {
        int n = 0;
        bool round_up = false;
        for (p++; *p >= '0' && *p <= '9'; p++, n++) {
            if (n < 6)
                frac_us = frac_us * 10 + (*p - '0');
            else if (n == 6)
                round_up = *p >= '5';
        }
        if (n == 0)
            return false;
        for (int k = n; k < 6; k++)
            frac_us *= 10;
        frac_us += round_up;
    }
    int64_t offset_s = 0;
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        /* PostgreSQL refuses a displacement over 15:59; real ones stay within 14:00. */
        int oh, om;
        if (!digits(p + 1, 2, &oh) || p[3] != ':' || !digits(p + 4, 2, &om) || oh > 15 || om > 59)
            return false;
        offset_s = (int64_t)(oh * 3600 + om * 60) * (*p == '-' ? -1 : 1);
        p += 6;
    } else {
        return false;
    }
    if (*p != '\0')
        return false;
    int64_t secs = days_from_civil(year, mon, day) * 86400 + hour * 3600 + min * 60 + sec;
    *out_unix_us = (secs - offset_s) * 1000000 + frac_us;
    return true;
}
