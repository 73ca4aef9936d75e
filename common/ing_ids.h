/*
 * ing_ids: checks of the French health identifiers a submission carries (shared/DOMAIN.md).
 *
 * Pure functions over bytes: no allocation, no locale, safe on untrusted input of any length.
 * Each returns ING_OK or the contract code of that identifier.
 */
#ifndef ING_IDS_H
#define ING_IDS_H

#include <stddef.h>

#include "ing_error.h"

#define ING_INS_LEN 15
#define ING_FINESS_LEN 9
#define ING_RPPS_LEN 11

/** INS (NIR): 13-character body + 2-digit key, key = 97 - (body mod 97); 2A/2B in 6-7. */
ing_err_t ing_ins_check(const char *s, size_t len) ING_MUST_CHECK;

/** FINESS: 9 characters, department 2A/2B allowed, last digit a Luhn key over the digits. */
ing_err_t ing_finess_check(const char *s, size_t len) ING_MUST_CHECK;

/** RPPS: 11 digits, last one a Luhn key. */
ing_err_t ing_rpps_check(const char *s, size_t len) ING_MUST_CHECK;

#endif
