/*
 * wk_patient: operators' actions on a patient space (ingestctl patient oppose|unoppose). An
 * opposition is written with its audit row in one transaction; from then on the workers refuse
 * every new document of that patient (status `refused`, code patient_opposed). Documents
 * stored before are left as they are. Runs on the operator's command line, one short-lived
 * connection.
 */
#ifndef WK_PATIENT_H
#define WK_PATIENT_H

#include <stdbool.h>
#include <stddef.h>

#include "ing_error.h"

/**
 * Records (opposed = true) or lifts an opposition for ins, audited under actor. A patient
 * without a space gets one, so that the opposition holds before their first document.
 * @returns ING_OK; ING_ERR_INS_INVALID for a bad INS; ING_ERR_UNAVAILABLE or
 *          ING_ERR_INTERNAL with PostgreSQL's reason in errstr.
 */
ing_err_t wk_patient_set_opposed(const char *db_url, const char *ins, bool opposed,
                                 const char *actor, char *errstr,
                                 size_t errstr_size) ING_MUST_CHECK;

#endif
