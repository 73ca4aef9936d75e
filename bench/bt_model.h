/*
 * bt_model: the arithmetic of the suite's report, kept pure so that it is unit-tested — the
 * CPU model (cores divided by the CPU seconds one document costs, summed over its stages) and
 * the rendering of the results table (figures, ratio, missing values).
 *
 * Input formats (tab-separated, one line each, `#` comments), read by ingest-benchtool:
 *   model:  stage <TAB> where <TAB> cpu_seconds_per_document [<TAB> note]
 *   table:  measure <TAB> ours <TAB> reference <TAB> unit <TAB> note
 *           where ours/reference are numbers, or free text when not measured.
 */
#ifndef BT_MODEL_H
#define BT_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "ing_buf.h"
#include "ing_error.h"

#define BT_MODEL_MAX_STAGES 32

typedef struct bt_model_stage {
    char name[48];
    char where[32]; /* gateway, broker, worker, postgres, loadgen */
    double cpu_s;   /* CPU seconds per document */
    char note[160];
} bt_model_stage_t;

typedef struct bt_model {
    bt_model_stage_t stages[BT_MODEL_MAX_STAGES];
    size_t count;
} bt_model_t;

/** Parses one model line into m (comments and blank lines are skipped). @returns false when
 *  the line is malformed or the table is full. */
bool bt_model_parse_line(bt_model_t *m, const char *line);

/** CPU seconds per document over every stage. */
double bt_model_cpu_per_doc(const bt_model_t *m);

/** Predicted documents per second on `cores` cores; 0 when the cost is not positive. */
double bt_model_predict(const bt_model_t *m, double cores);

/** Markdown: one row per stage (µs/doc, share) and the prediction. */
ing_err_t bt_model_render(const bt_model_t *m, double cores, ing_buf_t *out) ING_MUST_CHECK;

/** Formats a number for the table: 3 significant digits, thousands kept readable. */
void bt_fmt_num(double v, char *out, size_t size);

/**
 * Renders one table line "measure<TAB>ours<TAB>ref<TAB>unit<TAB>note" as a markdown row
 * `| measure | ours unit | ref unit | ratio | note |`. The ratio is ours / ref to 2 decimals
 * when both are positive numbers, "—" otherwise. @returns false on a malformed line.
 */
bool bt_table_row(const char *line, ing_buf_t *out);

#endif
