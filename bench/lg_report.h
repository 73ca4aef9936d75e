/*
 * lg_report: what a run leaves behind in --out DIR — result.json (configuration, totals,
 * percentiles, percentile spectrum and per-second series of every step), summary.txt (one line
 * per step), percentiles.txt (an HdrHistogram-style percentile table per step) and
 * e2e_samples.tsv (accepted submission ids for bench/e2e.py). The HTML report is rendered
 * from result.json by bench/report.py. Also the threshold verdict of a step.
 */
#ifndef LG_REPORT_H
#define LG_REPORT_H

#include <stdbool.h>
#include <stdio.h>

#include "lg_run.h"
#include "lg_workload.h"

/** The one-line summary of a step (no newline). */
void lg_report_summary(const lg_workload_t *w, const lg_step_t *step, char *out, size_t size);

/** Writes the percentile spectrum table of h (values in milliseconds). */
void lg_report_percentiles(const lg_hist_t *h, FILE *out);

/**
 * Checks a step against max_p99_ms and max_error_rate.
 * @returns true when it passes; otherwise why says which threshold was missed.
 */
bool lg_report_passes(const lg_workload_t *w, const lg_step_t *step, char *why, size_t size);

/** Writes every file into dir (created if missing). */
ing_err_t lg_report_write(const char *dir, const lg_workload_t *w, const lg_step_t *steps,
                          int nsteps, const lg_e2e_sample_t *e2e, size_t ne2e, bool passed,
                          char *errstr, size_t errstr_size) ING_MUST_CHECK;

#endif
