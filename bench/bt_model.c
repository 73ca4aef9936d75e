#include "bt_model.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Splits line at tabs into at most max fields (in place); returns the count. */
static size_t split_tabs(char *line, char **fields, size_t max)
{
    size_t n = 0;
    char *p = line;
    while (n < max) {
        fields[n++] = p;
        char *tab = strchr(p, '\t');
        if (!tab)
            break;
        *tab = '\0';
        p = tab + 1;
    }
    char *nl = strpbrk(fields[n - 1], "\r\n");
    if (nl)
        *nl = '\0';
    return n;
}

static bool parse_number(const char *s, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !isfinite(v))
        return false;
    *out = v;
    return true;
}

bool bt_model_parse_line(bt_model_t *m, const char *line)
{
    const char *p = line + strspn(line, " \t");
    if (!*p || *p == '#' || *p == '\n' || *p == '\r')
        return true;
    char copy[512], *f[4];
    if (strlen(line) >= sizeof(copy) || m->count >= BT_MODEL_MAX_STAGES)
        return false;
    strcpy(copy, line);
    size_t n = split_tabs(copy, f, 4);
    double v;
    if (n < 3 || !*f[0] || !parse_number(f[2], &v) || v < 0)
        return false;
    bt_model_stage_t *s = &m->stages[m->count++];
    snprintf(s->name, sizeof(s->name), "%s", f[0]);
    snprintf(s->where, sizeof(s->where), "%s", f[1]);
    s->cpu_s = v;
    snprintf(s->note, sizeof(s->note), "%s", n > 3 ? f[3] : "");
    return true;
}

double bt_model_cpu_per_doc(const bt_model_t *m)
{
    double sum = 0;
    for (size_t i = 0; i < m->count; i++)
        sum += m->stages[i].cpu_s;
    return sum;
}

double bt_model_predict(const bt_model_t *m, double cores)
{
    double cpu = bt_model_cpu_per_doc(m);
    return cpu > 0 && cores > 0 ? cores / cpu : 0;
}

void bt_fmt_num(double v, char *out, size_t size)
{
    double a = fabs(v);
    if (a >= 1000)
        snprintf(out, size, "%.0f", v);
    else if (a >= 100)
        snprintf(out, size, "%.1f", v);
    else if (a >= 10)
        snprintf(out, size, "%.2f", v);
    else if (a >= 0.01 || a == 0)
        snprintf(out, size, "%.3f", v);
    else
        snprintf(out, size, "%.3g", v);
}

ing_err_t bt_model_render(const bt_model_t *m, double cores, ing_buf_t *out)
{
    double total = bt_model_cpu_per_doc(m);
    ing_err_t err = ing_buf_printf(out, "| stage | where | CPU µs/document | share | note |\n"
                                        "|---|---|---:|---:|---|\n");
    for (size_t i = 0; i < m->count && !err; i++) {
        const bt_model_stage_t *s = &m->stages[i];
        char us[32];
        bt_fmt_num(s->cpu_s * 1e6, us, sizeof(us));
        err = ing_buf_printf(out, "| %s | %s | %s | %.1f %% | %s |\n", s->name, s->where, us,
                             total > 0 ? 100.0 * s->cpu_s / total : 0.0, s->note);
    }
    char us[32], pred[32];
    bt_fmt_num(total * 1e6, us, sizeof(us));
    bt_fmt_num(bt_model_predict(m, cores), pred, sizeof(pred));
    if (!err)
        err = ing_buf_printf(out,
                             "| **sum** | | **%s** | 100 %% | predicted %g cores ÷ %s µs = "
                             "**%s documents/s** |\n",
                             us, cores, us, pred);
    return err;
}

bool bt_table_row(const char *line, ing_buf_t *out)
{
    char copy[1024], *f[5];
    if (strlen(line) >= sizeof(copy))
        return false;
    strcpy(copy, line);
    if (split_tabs(copy, f, 5) != 5 || !*f[0])
        return false;
    double ours, ref;
    bool have_ours = parse_number(f[1], &ours), have_ref = parse_number(f[2], &ref);
    char a[48], b[48], ratio[32] = "—";
    if (have_ours)
        bt_fmt_num(ours, a, sizeof(a));
    if (have_ref)
        bt_fmt_num(ref, b, sizeof(b));
    if (have_ours && have_ref && ours > 0 && ref > 0)
        snprintf(ratio, sizeof(ratio), "%.2f", ours / ref);
    const char *unit = f[3];
    return ing_buf_printf(out, "| %s | %s%s%s | %s%s%s | %s | %s |\n", f[0], have_ours ? a : f[1],
                          have_ours && *unit ? " " : "", have_ours ? unit : "", have_ref ? b : f[2],
                          have_ref && *unit ? " " : "", have_ref ? unit : "", ratio,
                          f[4]) == ING_OK;
}
