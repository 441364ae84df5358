#!/usr/bin/env python3
"""What scripts/bench-soak.sh measures while Kiln runs, and what it counts after.

  soak_sample.py sample --out CSV [--interval 5] --proc NAME=PID ... --metrics URL ...
                        [--sqlite DIR] [--redis PORT] [--pg PORT]
      Writes one CSV row every --interval seconds until SIGTERM/SIGINT (one
      row with --once):
      elapsed_s; per process NAME: NAME_rss_kib, NAME_fds, NAME_threads (from
      /proc); sqlite_db_bytes, sqlite_wal_bytes (the files DIR/kiln.db and
      kiln.db-wal), sqlite_data_bytes (the database as a reader sees it,
      WAL included: pages in use × page size) and sqlite_jobs (rows of the
      embedded queue); redis_xlen, redis_used_memory_bytes (redis-cli);
      pg_db_bytes (the database) and pg_submissions_bytes (the submissions
      table with its indexes and TOAST) (psql);
      and from the first --metrics URL (the API node) queue_depth and
      submissions_total, summed over every URL active_jobs and runs_total
      (job executions: code_execution_job_duration_seconds_count).
      A probe that fails leaves its cell empty; every probe has a 3 s deadline.
  soak_sample.py store (--sqlite DB | --pg PORT)
      Prints {"total": N, "by_status": {...}, "unfinished": K} for the
      submissions table (unfinished = queued or running).
  soak_sample.py metrics URL ...
      Prints the same metric columns as `sample`, as JSON, once.

Python 3 standard library only; redis-cli and psql for Redis and PostgreSQL.
"""
import argparse
import csv
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
import urllib.request

STREAM = "code-execution-jobs:container"
PROBE_TIMEOUT = 3.0
UNFINISHED = ("queued", "running")


def metric_sum(text, name):
    """Sum of every series of `name` (any labels) in Prometheus text; None if absent."""
    total = None
    for line in text.splitlines():
        if line.startswith("#") or not line.startswith(name):
            continue
        rest = line[len(name):]
        if rest.startswith("{"):
            rest = rest[rest.find("}") + 1:] if "}" in rest else ""
        elif not rest.startswith(" "):
            continue  # another metric whose name starts with `name`
        parts = rest.split()
        if parts:
            try:
                total = (total or 0.0) + float(parts[0])
            except ValueError:
                pass
    return total


def scrape(url):
    try:
        with urllib.request.urlopen(url + "/metrics", timeout=PROBE_TIMEOUT) as r:
            return r.read().decode("utf-8", "replace")
    except OSError:
        return None


def metric_columns(urls):
    texts = [scrape(u) for u in urls]
    api = texts[0] if texts else None

    def summed(name):
        vals = [metric_sum(t, name) for t in texts if t is not None]
        vals = [v for v in vals if v is not None]
        return sum(vals) if vals else None

    return {
        "queue_depth": metric_sum(api, "code_execution_queue_depth") if api else None,
        "active_jobs": summed("code_execution_active_jobs"),
        "submissions_total": metric_sum(api, "code_execution_submissions_total") if api else None,
        "runs_total": summed("code_execution_job_duration_seconds_count"),
    }


def proc_columns(name, pid):
    out = {f"{name}_rss_kib": None, f"{name}_fds": None, f"{name}_threads": None}
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key == "VmRSS":
                    out[f"{name}_rss_kib"] = int(value.split()[0])
                elif key == "Threads":
                    out[f"{name}_threads"] = int(value)
        out[f"{name}_fds"] = len(os.listdir(f"/proc/{pid}/fd"))
    except (OSError, ValueError):
        pass
    return out


def size_of(path):
    try:
        return os.path.getsize(path)
    except OSError:
        return 0  # a WAL file is absent between a checkpoint-truncate and the next write


def run(cmd):
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=PROBE_TIMEOUT, check=True)
        return r.stdout
    except (OSError, subprocess.SubprocessError):
        return None


def redis_columns(port):
    base = ["redis-cli", "-h", "127.0.0.1", "-p", str(port)]
    xlen = run(base + ["XLEN", STREAM])
    info = run(base + ["INFO", "memory"]) or ""
    used = next((int(l.split(":")[1]) for l in info.splitlines() if l.startswith("used_memory:")), None)
    return {
        "redis_xlen": int(xlen) if xlen and xlen.strip().isdigit() else None,
        "redis_used_memory_bytes": used,
    }


def psql(port, sql):
    return run(["psql", "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", "-d", "postgres",
                "-At", "-F", "\t", "-c", sql])


def pg_columns(port):
    out = psql(port, "SELECT pg_database_size('postgres'), pg_total_relation_size('submissions')")
    try:
        db, subs = (int(v) for v in out.split("\t"))
    except (AttributeError, ValueError):
        db = subs = None
    return {"pg_db_bytes": db, "pg_submissions_bytes": subs}


def sqlite_columns(data_dir):
    db = os.path.join(data_dir, "kiln.db")
    out = {"sqlite_db_bytes": size_of(db), "sqlite_wal_bytes": size_of(db + "-wal"),
           "sqlite_data_bytes": None, "sqlite_jobs": None}
    try:
        # Read-only and brief: a reader open for long would hold back checkpoints.
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=PROBE_TIMEOUT)
        try:
            pages = con.execute("PRAGMA page_count").fetchone()[0]
            free = con.execute("PRAGMA freelist_count").fetchone()[0]
            size = con.execute("PRAGMA page_size").fetchone()[0]
            out["sqlite_data_bytes"] = (pages - free) * size
            out["sqlite_jobs"] = con.execute("SELECT COUNT(*) FROM jobs").fetchone()[0]
        finally:
            con.close()
    except sqlite3.Error:
        pass
    return out


def sample(args):
    procs = [p.split("=", 1) for p in args.proc]
    stop = []
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.append(1))
    t0 = time.monotonic()
    with open(args.out, "w", newline="") as f:
        writer = None
        while not stop:
            row = {"elapsed_s": round(time.monotonic() - t0, 1)}
            for name, pid in procs:
                row.update(proc_columns(name, pid))
            if args.sqlite:
                row.update(sqlite_columns(args.sqlite))
            if args.redis:
                row.update(redis_columns(args.redis))
            if args.pg:
                row.update(pg_columns(args.pg))
            row.update(metric_columns(args.metrics))
            if writer is None:
                writer = csv.DictWriter(f, fieldnames=list(row))
                writer.writeheader()
            writer.writerow({k: "" if v is None else v for k, v in row.items()})
            f.flush()
            if args.once:
                return
            next_at = t0 + args.interval * (int((time.monotonic() - t0) / args.interval) + 1)
            while not stop and time.monotonic() < next_at:
                time.sleep(min(0.2, max(0.0, next_at - time.monotonic())))


def store_counts(args):
    if args.sqlite:
        con = sqlite3.connect(f"file:{args.sqlite}?mode=ro", uri=True, timeout=10)
        try:
            rows = con.execute("SELECT status, COUNT(*) FROM submissions GROUP BY status").fetchall()
        finally:
            con.close()
    else:
        out = psql(args.pg, "SELECT status, COUNT(*) FROM submissions GROUP BY status")
        if out is None:
            sys.exit(f"psql on port {args.pg} failed")
        rows = [(s, int(n)) for s, n in (l.split("\t") for l in out.splitlines() if l)]
    by_status = {s: n for s, n in rows}
    print(json.dumps({
        "total": sum(by_status.values()),
        "by_status": by_status,
        "unfinished": sum(n for s, n in by_status.items() if s in UNFINISHED),
    }))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("sample")
    s.add_argument("--out", required=True)
    s.add_argument("--interval", type=float, default=5.0)
    s.add_argument("--once", action="store_true", help="one row, then exit")
    s.add_argument("--proc", action="append", default=[], help="NAME=PID")
    s.add_argument("--metrics", action="append", default=[], help="base URL; the first is the API node")
    s.add_argument("--sqlite", help="data dir holding kiln.db")
    s.add_argument("--redis", type=int, help="Redis port")
    s.add_argument("--pg", type=int, help="PostgreSQL port")
    st = sub.add_parser("store")
    g = st.add_mutually_exclusive_group(required=True)
    g.add_argument("--sqlite", help="path of kiln.db")
    g.add_argument("--pg", type=int, help="PostgreSQL port")
    m = sub.add_parser("metrics")
    m.add_argument("urls", nargs="+")
    args = ap.parse_args()
    if args.cmd == "sample":
        if any("=" not in p for p in args.proc):
            ap.error("--proc takes NAME=PID")
        sample(args)
    elif args.cmd == "store":
        store_counts(args)
    else:
        print(json.dumps(metric_columns(args.urls)))


if __name__ == "__main__":
    main()
