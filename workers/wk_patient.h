/*
 * wk_patient: operators' actions on a patient space (ingestctl patient oppose|unoppose|show).
 * An opposition is written with its audit row in one transaction; from then on the workers
 * refuse every new document of that patient (status `refused`, code patient_opposed).
 * Documents stored before are left as they are. Showing a space lists its documents'
 * metadata, never their content, and is audited like reading a document. Runs on the
 * operator's command line, one short-lived connection.
 */
#ifndef WK_PATIENT_H
#define WK_PATIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

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

/**
 * ingestctl patient show: writes the audit row (patient_show, actor) first, then prints to out
 * whether ins has a space and an opposition, and one line per stored document, newest first:
 * id, stored_at, source_finess, document_id, version, type_code, current or superseded,
 * submission id (tab-separated, after a header line). A patient without a space is not an
 * error: the answer is that there is none.
 * @returns ING_OK; ING_ERR_INS_INVALID for a bad INS; database errors as
 *          wk_patient_set_opposed.
 */
ing_err_t wk_patient_show(const char *db_url, const char *ins, const char *actor, FILE *out,
                          char *errstr, size_t errstr_size) ING_MUST_CHECK;

#endif
