#include "ing_ids.h"

#include <stdbool.h>

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

ing_err_t ing_ins_check(const char *s, size_t len)
{
    if (len != ING_INS_LEN)
        return ING_ERR_INS_INVALID;
    /* Corsica: 2A and 2B stand in positions 6-7 and count as 19 and 18 in the modulo. */
    int corsica_sub = 0;
    for (size_t i = 0; i < len; i++) {
        if (i == 6 && s[5] == '2' && (s[6] == 'A' || s[6] == 'B')) {
            corsica_sub = s[6] == 'A' ? 1 : 2;
            continue;
        }
        if (!is_digit(s[i]))
            return ING_ERR_INS_INVALID;
    }
    unsigned long long body = 0;
    for (size_t i = 0; i < 13; i++) {
        int d;
        if (i == 5 && corsica_sub)
            d = 1;
        else if (i == 6 && corsica_sub)
            d = corsica_sub == 1 ? 9 : 8;
        else
            d = s[i] - '0';
        body = body * 10 + (unsigned)d;
    }
    unsigned key = (unsigned)(s[13] - '0') * 10 + (unsigned)(s[14] - '0');
    return key == 97 - (body % 97) ? ING_OK : ING_ERR_INS_INVALID;
}

/* Luhn over the digits of s; a letter (Corsica's A/B) is left out of the sum, as the FINESS
 * register does for 2A/2B departments. */
static bool luhn_ok(const char *s, size_t len)
{
    unsigned sum = 0;
    bool twice = false;
    for (size_t i = len; i-- > 0;) {
        if (!is_digit(s[i]))
            continue;
        unsigned d = (unsigned)(s[i] - '0');
        if (twice) {
            d *= 2;
            if (d > 9)
                d -= 9;
        }
        sum += d;
        twice = !twice;
    }
    return sum % 10 == 0;
}

ing_err_t ing_finess_check(const char *s, size_t len)
{
    if (len != ING_FINESS_LEN)
        return ING_ERR_FINESS_INVALID;
    for (size_t i = 0; i < len; i++) {
        bool corsica = i == 1 && s[0] == '2' && (s[1] == 'A' || s[1] == 'B');
        if (!is_digit(s[i]) && !corsica)
            return ING_ERR_FINESS_INVALID;
    }
    return luhn_ok(s, len) ? ING_OK : ING_ERR_FINESS_INVALID;
}

ing_err_t ing_rpps_check(const char *s, size_t len)
{
    if (len != ING_RPPS_LEN)
        return ING_ERR_RPPS_INVALID;
    for (size_t i = 0; i < len; i++)
        if (!is_digit(s[i]))
            return ING_ERR_RPPS_INVALID;
    return luhn_ok(s, len) ? ING_OK : ING_ERR_RPPS_INVALID;
}
