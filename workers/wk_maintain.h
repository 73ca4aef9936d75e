/*
 * wk_maintain: the daily upkeep of the gateway's 'accepted' rows (ingestctl maintain). Creates
 * the week partitions of submission_accepted ahead of time and drops those older than the
 * retention, except a partition that still holds a submission without a final status, which
 * is reported instead (deploy/migrations/008_accepted_partitions.sql does the work in one
 * function call). Runs on the operator's command line or a timer, one short-lived connection.
 */
#ifndef WK_MAINTAIN_H
#define WK_MAINTAIN_H

#include <stdint.h>
#include <stdio.h>

#include "ing_error.h"

typedef struct wk_maintain_report {
    int created, dropped, kept; /* partitions */
    int64_t trimmed;            /* old finished rows deleted from the DEFAULT partition */
    int64_t unfinished;         /* submissions past the retention with no final status */
} wk_maintain_report_t;

/**
 * Runs submission_accepted_maintain(days_ahead, keep_days) and prints one line per action to
 * out. Partition names are days, never patient data.
 * @returns ING_OK with *report filled; ING_ERR_UNAVAILABLE or ING_ERR_INTERNAL with
 *          PostgreSQL's reason in errstr.
 */
ing_err_t wk_maintain_run(const char *db_url, int days_ahead, int keep_days, FILE *out,
                          wk_maintain_report_t *report, char *errstr,
                          size_t errstr_size) ING_MUST_CHECK;

#endif
