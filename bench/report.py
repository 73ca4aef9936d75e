#!/usr/bin/env python3
"""Renders OUT/report.html from OUT/result.json (ingest-loadgen) and, when present,
OUT/e2e.json (bench/e2e.py): one self-contained page, inline SVG, no scripts, standard
library only.

Usage: bench/report.py OUT_DIR
"""

import html
import json
import math
import os
import sys

COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2",
          "#7f7f7f", "#bcbd22", "#17becf"]
W, H, ML, MR, MT, MB = 760, 300, 70, 150, 20, 45


def nice_ticks(lo, hi, n=5):
    """Round tick values covering [lo, hi]."""
    if hi <= lo:
        hi = lo + 1
    step = 10 ** math.floor(math.log10((hi - lo) / n))
    for m in (1, 2, 5, 10):
        if (hi - lo) / (step * m) <= n:
            step *= m
            break
    start = math.floor(lo / step) * step
    ticks = []
    v = start
    while v <= hi + step * 1e-9:
        if v >= lo - step * 1e-9:
            ticks.append(v)
        v += step
    return ticks


def fmt(v):
    if v == 0:
        return "0"
    if abs(v) >= 1000:
        return "%g" % round(v)
    return "%.3g" % v


def chart(title, xlabel, ylabel, series, xlog=False, ylog=False, xticklabels=None):
    """series: [(name, [(x, y), ...]), ...] -> an SVG string."""
    pts = [(x, y) for _, s in series for x, y in s]
    if not pts:
        return "<p>%s: no data</p>" % html.escape(title)
    tx = (lambda v: math.log10(max(v, 1e-9))) if xlog else (lambda v: v)
    ty = (lambda v: math.log10(max(v, 1e-3))) if ylog else (lambda v: v)
    xs = [tx(x) for x, _ in pts]
    ys = [ty(y) for _, y in pts]
    x0, x1 = min(xs), max(xs)
    y0, y1 = (min(ys), max(ys)) if ylog else (0, max(ys))
    if x1 <= x0:
        x1 = x0 + 1
    if y1 <= y0:
        y1 = y0 + 1
    y1 += (y1 - y0) * 0.05
    pw, ph = W - ML - MR, H - MT - MB

    def px(v):
        return ML + (tx(v) - x0) / (x1 - x0) * pw

    def py(v):
        return MT + ph - (ty(v) - y0) / (y1 - y0) * ph

    out = ['<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" '
           'font-family="sans-serif" font-size="11">' % (W, H),
           '<rect x="%d" y="%d" width="%d" height="%d" fill="#fff" stroke="#999"/>'
           % (ML, MT, pw, ph)]
    if xlog:
        xt = [10 ** e for e in range(math.floor(x0), math.ceil(x1) + 1)
              if x0 - 1e-9 <= e <= x1 + 1e-9]
    else:
        xt = nice_ticks(x0, x1)
    for v in xt:
        x = px(v)
        label = xticklabels(v) if xticklabels else fmt(v)
        out.append('<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#eee"/>'
                   % (x, MT, x, MT + ph))
        out.append('<text x="%.1f" y="%d" text-anchor="middle">%s</text>'
                   % (x, MT + ph + 14, html.escape(label)))
    if ylog:
        yt = [10 ** e for e in range(math.floor(y0), math.ceil(y1) + 1)
              if y0 - 1e-9 <= e <= y1 + 1e-9]
    else:
        yt = nice_ticks(y0, y1)
    for v in yt:
        y = py(v)
        out.append('<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#eee"/>'
                   % (ML, y, ML + pw, y))
        out.append('<text x="%d" y="%.1f" text-anchor="end">%s</text>' % (ML - 4, y + 4, fmt(v)))
    out.append('<text x="%d" y="%d" text-anchor="middle">%s</text>'
               % (ML + pw / 2, H - 8, html.escape(xlabel)))
    out.append('<text x="14" y="%d" text-anchor="middle" transform="rotate(-90 14 %d)">%s'
               '</text>' % (MT + ph / 2, MT + ph / 2, html.escape(ylabel)))
    for i, (name, s) in enumerate(series):
        color = COLORS[i % len(COLORS)]
        if len(s) > 1:
            d = " ".join("%.1f,%.1f" % (px(x), py(y)) for x, y in s)
            out.append('<polyline fill="none" stroke="%s" stroke-width="1.6" points="%s"/>'
                       % (color, d))
        for x, y in s if len(s) <= 40 else []:
            out.append('<circle cx="%.1f" cy="%.1f" r="2.5" fill="%s"/>' % (px(x), py(y), color))
        ly = MT + 12 + i * 16
        out.append('<rect x="%d" y="%d" width="12" height="3" fill="%s"/>'
                   % (ML + pw + 10, ly - 4, color))
        out.append('<text x="%d" y="%d">%s</text>' % (ML + pw + 26, ly, html.escape(name)))
    out.append("</svg>")
    return "<h3>%s</h3>\n%s" % (html.escape(title), "\n".join(out))


def step_name(step):
    return "max" if step["target_rate"] <= 0 else "%g docs/s" % step["target_rate"]


def step_section(step, batch):
    series = step["series"]
    parts = []
    parts.append(chart(
        "Throughput over time (%s)" % step_name(step), "seconds since the step started",
        "per second",
        [("sent docs", [(s["t"], s["docs_sent"]) for s in series]),
         ("ok responses x batch", [(s["t"], s["ok"] * batch) for s in series]),
         ("errors", [(s["t"], s["errors"]) for s in series]),
         ("429 + 503", [(s["t"], s["s429"] + s["s503"]) for s in series])]))
    parts.append(chart(
        "Latency over time (%s)" % step_name(step), "seconds since the step started",
        "milliseconds (log)",
        [("p50", [(s["t"], s["p50_us"] / 1000) for s in series if s["completed"]]),
         ("p99", [(s["t"], s["p99_us"] / 1000) for s in series if s["completed"]])],
        ylog=True))
    warm = [s["t"] for s in series if s["warmup"]]
    if warm:
        parts.append("<p class=note>Seconds 0-%d are the warm-up (not in the percentiles).</p>"
                     % max(warm))
    return "\n".join(parts)


def table(rows, head):
    out = ["<table><tr>%s</tr>" % "".join("<th>%s</th>" % html.escape(h) for h in head)]
    for r in rows:
        out.append("<tr>%s</tr>" % "".join("<td>%s</td>" % html.escape(str(c)) for c in r))
    out.append("</table>")
    return "\n".join(out)


def ms(us):
    return "%.3f" % (us / 1000.0)


def render(out_dir):
    with open(os.path.join(out_dir, "result.json")) as f:
        res = json.load(f)
    e2e = None
    if os.path.exists(os.path.join(out_dir, "e2e.json")):
        with open(os.path.join(out_dir, "e2e.json")) as f:
            e2e = json.load(f)
    steps = res["steps"]
    batch = res.get("batch", 1)
    cfg = res["config"]
    body = ["<h1>ingest-loadgen: %s</h1>" % html.escape(cfg.get("name", "")),
            "<p>%s, %s, finished %s. <b>%s</b></p>" % (
                html.escape(cfg["url"]), "batch of %d" % batch if batch > 1 else "single",
                html.escape(res["finished_at"]),
                "PASSED" if res["passed"] else "FAILED thresholds")]
    rows = []
    for s in steps:
        t, lat = s["totals"], s["latency_us"]
        rows.append([step_name(s), "%.1f" % s["achieved_rate"], t["sent"], t["ok"], t["errors"],
                     "%.4f%%" % (100 * s["error_rate"]), t["s429"], t["s503"], t["timeouts"],
                     t["unsent"], ms(lat["p50"]), ms(lat["p90"]), ms(lat["p99"]),
                     ms(lat["p99.9"]), ms(lat["max"]), ms(s["schedule_delay_us"]["p99"]),
                     "yes" if s["passed"] else "no: " + s["failure"]])
    body.append(table(rows, ["target", "achieved docs/s", "requests", "ok", "errors", "error rate",
                             "429", "503", "timeouts", "unsent", "p50 ms", "p90 ms", "p99 ms",
                             "p99.9 ms", "max ms", "send delay p99 ms", "passed"]))
    body.append("<p class=note>Open-loop latency is measured from each request's intended send "
                "time, so a stalled server shows up in full (coordinated omission corrected). "
                "'send delay' is how late requests left versus their intended time: large "
                "values mean the generator, or too few connections, could not keep up.</p>")

    inv = lambda v: "%g" % v  # noqa: E731
    spectrum_series = []
    for s in steps:
        pts = [(1.0 / (1.0 - p), v / 1000.0) for v, p, _ in s["spectrum"] if p < 1.0]
        if pts:
            spectrum_series.append((step_name(s), pts))
    body.append(chart("Latency by percentile", "1/(1-p): 10 = p90, 100 = p99, 1000 = p99.9",
                      "milliseconds", spectrum_series, xlog=True, xticklabels=inv))
    if len(steps) > 1:
        body.append(chart(
            "Latency vs throughput (sweep)", "achieved documents per second", "milliseconds (log)",
            [(name, [(s["achieved_rate"], s["latency_us"][key] / 1000.0) for s in steps])
             for name, key in (("p50", "p50"), ("p99", "p99"), ("p99.9", "p99.9"))], ylog=True))
    for s in steps:
        body.append(step_section(s, batch))
    if e2e:
        body.append("<h2>Submit to stored (end to end)</h2>")
        body.append("<p>%d samples, %d resolved (stored), source: %s.</p>"
                    % (e2e["sampled"], e2e["resolved"], html.escape(e2e["source"])))
        if e2e.get("latency_ms"):
            body.append(table([[k, "%.1f" % v] for k, v in e2e["latency_ms"].items()],
                              ["statistic", "ms"]))
    body.append("<h2>Configuration</h2>")
    body.append(table(sorted(cfg.items()), ["setting", "value"]))
    page = ("<!doctype html><html><head><meta charset=utf-8><title>ingest-loadgen %s</title>"
            "<style>body{font-family:sans-serif;margin:20px;max-width:1000px}"
            "table{border-collapse:collapse;font-size:12px}td,th{border:1px solid #ccc;"
            "padding:2px 6px;text-align:right}.note{color:#555;font-size:12px}</style></head>"
            "<body>%s</body></html>\n" % (html.escape(cfg.get("name", "")), "\n".join(body)))
    path = os.path.join(out_dir, "report.html")
    with open(path, "w") as f:
        f.write(page)
    return path


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    print(render(sys.argv[1]))
