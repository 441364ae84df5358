#!/usr/bin/env python3
"""Judges one soak run of scripts/bench-soak.sh and prints its markdown table.

  soak_report.py report --title T --samples CSV --results results.json \\
                 --store store.json --final final.json [--warmup 0.1]
      Exit 0 when every judged series is flat and every accepted submission
      ended exactly once, 1 otherwise.
  soak_report.py selftest
      Checks the slope, the verdicts and the exactly-once rule on made-up data.

A series is the CSV column of soak_sample.py. Over the steady part (samples
after the first --warmup fraction of the run) it gets a least-squares line;
its growth is slope × the steady part's length. The series GROWS when that
growth exceeds both `rel` × its mean and an absolute floor (RULES); the floors
keep a 4 MiB allocator wobble or two descriptors from reading as a leak.
The database files themselves grow with the results they keep (7 days by
default), so they are shown as KEPT and judged per accepted submission.
"""
import argparse
import csv
import json
import math
import random
import sys
from collections import namedtuple

Rule = namedtuple("Rule", "label rel floor unit")
MIB = 1024 * 1024

# Column (or column suffix after the process name) -> how it is judged.
RULES = {
    "rss_kib": Rule("RSS", 0.10, 4096, "kib"),
    "fds": Rule("open descriptors", 0.10, 4, "count"),
    "threads": Rule("threads", 0.10, 4, "count"),
    "sqlite_wal_bytes": Rule("SQLite kiln.db-wal", 0.10, MIB, "bytes"),
    "sqlite_data_bytes_per_submission": Rule("SQLite data (pages in use) per accepted submission", 0.10, 256, "bytes"),
    "sqlite_jobs": Rule("SQLite jobs rows (embedded queue)", 0.10, 5, "count"),
    "pg_submissions_bytes_per_submission": Rule("PostgreSQL submissions table per accepted submission", 0.10, 256,
                                                "bytes"),
    "redis_used_memory_bytes": Rule("Redis used_memory", 0.10, MIB, "bytes"),
    "redis_xlen": Rule("Redis XLEN code-execution-jobs:container", 0.10, 5, "count"),
    "queue_depth": Rule("code_execution_queue_depth", 0.10, 5, "count"),
    "active_jobs": Rule("code_execution_active_jobs", 0.10, 5, "count"),
}
# Shown, not judged: they grow with the results kept (retention 7 days by default).
KEPT = {"sqlite_db_bytes": "SQLite kiln.db (file)", "sqlite_data_bytes": "SQLite data (pages in use)",
        "pg_db_bytes": "PostgreSQL database size", "pg_submissions_bytes": "PostgreSQL submissions table"}
# The kept series judged per accepted submission instead.
PER_SUBMISSION = ("sqlite_data_bytes", "pg_submissions_bytes")
COUNTERS = ("submissions_total", "runs_total")


def rule_for(column):
    if column in RULES:
        return RULES[column]
    for suffix in ("rss_kib", "fds", "threads"):
        if column.endswith("_" + suffix):
            r = RULES[suffix]
            return r._replace(label=f"{column[: -len(suffix) - 1]} {r.label}")
    return None


def slope(points):
    """Least-squares slope of (x, y) points; None with fewer than 3 or no spread in x."""
    if len(points) < 3:
        return None
    n = len(points)
    mx = sum(p[0] for p in points) / n
    my = sum(p[1] for p in points) / n
    sxx = sum((p[0] - mx) ** 2 for p in points)
    if sxx <= 0:
        return None
    return sum((p[0] - mx) * (p[1] - my) for p in points) / sxx


def load_series(path):
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    series = {}
    for row in rows:
        t = float(row["elapsed_s"])
        for k, v in row.items():
            if k != "elapsed_s" and v not in ("", None):
                series.setdefault(k, []).append((t, float(v)))
    # The databases per accepted submission: what is flat when nothing bloats.
    subs = dict(series.get("submissions_total", []))
    for db in PER_SUBMISSION:
        pts = [(t, v / subs[t]) for t, v in series.get(db, []) if subs.get(t, 0) > 0]
        if pts:
            series[db + "_per_submission"] = pts
    return series


def judge(points, rule, warmup):
    """Dict of start, end, mean, slope/min, growth, verdict over the steady part."""
    t_end = points[-1][0]
    steady = [p for p in points if p[0] >= points[0][0] + warmup * (t_end - points[0][0])]
    mean = sum(p[1] for p in steady) / len(steady)
    s = slope(steady)
    span = steady[-1][0] - steady[0][0]
    growth = (s or 0.0) * span
    verdict = "?"
    if rule is not None and s is not None:
        verdict = "GROWING" if growth > max(rule.rel * abs(mean), rule.floor) else "FLAT"
    return {"start": steady[0][1], "end": steady[-1][1], "mean": mean,
            "slope_min": (s or 0.0) * 60, "growth": growth, "verdict": verdict, "n": len(steady)}


def fmt(v, unit):
    if unit == "kib":
        return f"{v / 1024:.1f} MiB" if abs(v) >= 1024 else f"{v:.0f} KiB"
    if unit == "bytes":
        a = abs(v)
        return f"{v / MIB:.2f} MiB" if a >= MIB else f"{v / 1024:.1f} KiB" if a >= 10240 else f"{v:.0f} B"
    v = 0.0 if abs(v) < 0.05 else v  # no "-0.0"
    return f"{v:.1f}" if v != int(v) else f"{int(v)}"


def series_table(series, warmup, before=None, after=None):
    """Markdown rows and the GROWING list; before/after: one-sample series (idle, around the load)."""
    before, after = before or {}, after or {}
    lines = ["| series | idle before | start | end | mean | slope/min | growth over steady part | verdict "
             "| idle after drain |",
             "|---|---|---|---|---|---|---|---|---|"]
    growing = []
    for col, pts in series.items():
        if col in COUNTERS or len(pts) < 3:
            continue
        rule = rule_for(col)
        label, unit = (rule.label, rule.unit) if rule else (KEPT.get(col), "bytes")
        if label is None:
            continue
        j = judge(pts, rule, warmup)
        verdict = j["verdict"] if rule else "KEPT (grows with results)"
        idle = [fmt(d[col][0][1], unit) if d.get(col) else "—" for d in (before, after)]
        if verdict == "GROWING":
            growing.append(f"{label}: +{fmt(j['growth'], unit)} ({fmt(j['slope_min'], unit)}/min; "
                           f"idle {idle[0]} before the load, {idle[1]} after the drain)")
        # A percentage of a mean below the floor (an idle queue) says nothing.
        rel = f" ({100 * j['growth'] / j['mean']:+.1f} %)" if abs(j["mean"]) > (rule.floor if rule else 0) else ""
        lines.append(f"| {label} | {idle[0]} | {fmt(j['start'], unit)} | {fmt(j['end'], unit)} "
                     f"| {fmt(j['mean'], unit)} | {fmt(j['slope_min'], unit)} | {fmt(j['growth'], unit)}{rel} "
                     f"| {verdict} | {idle[1]} |")
    return lines, growing


def exactly_once(phase, store, final):
    """(ok, text): every accepted submission is in the store, final, once."""
    outcomes = phase["outcomes"]
    rejected = sum(n for k, n in outcomes.items() if k.startswith("http_"))
    unsure = outcomes.get("timeout", 0) + outcomes.get("transport_error", 0)
    answered = sum(outcomes.values()) - rejected - unsure
    accepted = final.get("submissions_total")
    total, unfinished = store["total"], store["unfinished"]
    problems = []
    if unfinished:
        problems.append(f"{unfinished} submissions still queued or running")
    if accepted is None or int(accepted) != total:
        problems.append(f"the server accepted {accepted} but the store holds {total}")
    if not answered <= total <= answered + unsure:
        problems.append(f"the generator got {answered} results (+{unsure} unanswered) but the store holds {total}")
    statuses = ", ".join(f"{k} {v}" for k, v in sorted(store["by_status"].items()))
    runs = final.get("runs_total")
    text = (f"generator: {phase['sent']} sent, {answered} results, {rejected} rejected (429/503/other HTTP), "
            f"{unsure} timed out or lost in transport; server: {fmt(accepted or 0, 'count')} accepted "
            f"(`code_execution_submissions_total`), {fmt(runs or 0, 'count')} runs; "
            f"store: {total} submissions ({statuses}), {unfinished} unfinished")
    return not problems, text + ("" if not problems else " — " + "; ".join(problems))


def report(args):
    series = load_series(args.samples)
    with open(args.results) as f:
        results = json.load(f)
    with open(args.store) as f:
        store = json.load(f)
    with open(args.final) as f:
        final = json.load(f)
    phase = results["phases"][0]
    idle = [load_series(p) if p else {} for p in (args.before, args.after)]
    lines, growing = series_table(series, args.warmup, *idle)
    ok, text = exactly_once(phase, store, final)
    lat = phase["latency"]
    times = sorted({t for pts in series.values() for t, _ in pts})
    span = times[-1] if times else 0
    step = sorted(b - a for a, b in zip(times, times[1:]))[len(times) // 2 - 1] if len(times) > 2 else 0
    out = [f"#### {args.title}", "",
           f"Load: {phase['sent']} submissions in {phase['elapsed_s']:.0f} s ({phase['achieved_rps']:.2f} req/s), "
           f"success {phase['success_rate']:.1f} %, latency P50 {lat['p50_ms'] / 1000:.2f} s, "
           f"P95 {lat['p95_ms'] / 1000:.2f} s, P99 {lat['p99_ms'] / 1000:.2f} s; "
           f"`kiln loadtest` verdict {results['verdict']}. "
           f"Sampled every {step:.0f} s for {span:.0f} s ({len(times)} samples); the first {100 * args.warmup:.0f} % is warm-up.", ""]
    out += lines
    out += ["", f"Exactly once: **{'PASS' if ok else 'FAIL'}** — {text}.", ""]
    if growing:
        out += ["Growing: " + "; ".join(growing) + ".", ""]
    print("\n".join(out))
    return 0 if ok and not growing else 1


def selftest():
    rng = random.Random(7)
    flat = [(t * 5.0, 50_000 + rng.uniform(-800, 800)) for t in range(60)]
    leak = [(t * 5.0, 50_000 + 40 * t * 5.0) for t in range(60)]  # +12 MiB over 5 min
    assert judge(flat, RULES["rss_kib"], 0.1)["verdict"] == "FLAT"
    j = judge(leak, RULES["rss_kib"], 0.1)
    assert j["verdict"] == "GROWING" and math.isclose(j["slope_min"], 2400), j
    fds = [(t * 5.0, 20 + (t % 3)) for t in range(60)]
    assert judge(fds, RULES["fds"], 0.1)["verdict"] == "FLAT"
    assert judge([(t * 5.0, 20 + t) for t in range(60)], RULES["fds"], 0.1)["verdict"] == "GROWING"
    assert rule_for("worker_fds").label == "worker open descriptors"
    phase = {"sent": 10, "outcomes": {"success": 7, "http_503": 2, "timeout": 1}}
    assert exactly_once(phase, {"total": 8, "unfinished": 0, "by_status": {"accepted": 8}},
                        {"submissions_total": 8})[0]
    assert not exactly_once(phase, {"total": 8, "unfinished": 1, "by_status": {"accepted": 7, "running": 1}},
                            {"submissions_total": 8})[0]
    assert not exactly_once(phase, {"total": 9, "unfinished": 0, "by_status": {"accepted": 9}},
                            {"submissions_total": 9})[0]
    assert not exactly_once(phase, {"total": 7, "unfinished": 0, "by_status": {"accepted": 7}},
                            {"submissions_total": 8})[0]
    print("soak_report selftest: ok")
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("report")
    r.add_argument("--title", required=True)
    r.add_argument("--samples", required=True)
    r.add_argument("--results", required=True, help="kiln loadtest results.json")
    r.add_argument("--store", required=True, help="JSON of `soak_sample.py store`")
    r.add_argument("--final", required=True, help="JSON of `soak_sample.py metrics` after the drain")
    r.add_argument("--warmup", type=float, default=0.1)
    r.add_argument("--before", help="one-row samples CSV taken before the load (idle)")
    r.add_argument("--after", help="one-row samples CSV taken after the drain (idle)")
    sub.add_parser("selftest")
    args = ap.parse_args()
    sys.exit(report(args) if args.cmd == "report" else selftest())


if __name__ == "__main__":
    main()
