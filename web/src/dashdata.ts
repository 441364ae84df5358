// The dashboard's figures from two scrapes of `/metrics` (no DOM here, so
// tests run it in Node): what each of the five line panels plots for the
// interval between the scrapes, its text, and the language distribution
// over a window.

import { Scrape, bucketDelta, quantile, rate, type Labels } from "./prom";

export const HTTP = "http_request_duration_seconds";
export const SUBMISSIONS = "code_execution_submissions_total";
export const QUEUE = "code_execution_queue_depth";
export const ACTIVE = "code_execution_active_jobs";
export const WORKERS = "code_execution_workers";
export const JOBS = "code_execution_job_duration_seconds";

/** Requests of the API: not the scrapes, health checks or console pages themselves. */
export function apiRoute(l: Labels): boolean {
  const r = l.route ?? "";
  return r !== "/metrics" && r !== "/health" && r !== "/health/live" && r !== "/" && !r.startsWith("/console");
}

export interface Panel {
  title: string;
  unit: string;
  series: string[];
  testid: string;
}

export const PANELS: Panel[] = [
  { title: "Request rate", unit: "req/s", series: ["HTTP requests", "submissions"], testid: "rate" },
  { title: "Response time percentiles", unit: "ms", series: ["P50", "P90", "P95", "P99"], testid: "latency" },
  { title: "Error rate", unit: "%", series: ["5xx", "4xx"], testid: "errors" },
  { title: "Queue depth", unit: "jobs", series: ["waiting"], testid: "queue" },
  { title: "Worker utilisation", unit: "%", series: ["busy workers"], testid: "workers" },
];

export interface Interval {
  /** Per panel, per series: the value for this interval (null: nothing to show). */
  values: (number | null)[][];
  /** Per panel: the figures as words. */
  texts: string[];
  queue: number | null;
}

const fmt = (v: number | null, unit: string, digits = 1) => (v === null ? "—" : `${v.toFixed(digits)} ${unit}`);

/** The five line panels' figures for the interval between two scrapes. */
export function interval(prev: Scrape, cur: Scrape): Interval {
  const dt = (cur.at - prev.at) / 1000;
  const count = (f: (l: Labels) => boolean) => {
    const g = (l: Labels) => apiRoute(l) && f(l);
    return (cur.sum(`${HTTP}_count`, g) ?? 0) - (prev.sum(`${HTTP}_count`, g) ?? 0);
  };
  const reqs = rate(prev.sum(`${HTTP}_count`, apiRoute), cur.sum(`${HTTP}_count`, apiRoute), dt);
  const subs = rate(prev.sum(SUBMISSIONS), cur.sum(SUBMISSIONS), dt);
  const lat = bucketDelta(prev.buckets(HTTP, apiRoute), cur.buckets(HTTP, apiRoute));
  const ms = (q: number) => {
    const v = quantile(q, lat);
    return v === null ? null : v * 1000;
  };
  const total = count(() => true);
  const pct = (n: number) => (total > 0 ? (100 * Math.max(0, n)) / total : null);
  const e5 = pct(count((l) => (l.status ?? "").startsWith("5")));
  const e4 = pct(count((l) => (l.status ?? "").startsWith("4")));
  const queue = cur.sum(QUEUE);
  const active = cur.sum(ACTIVE);
  const workers = cur.sum(WORKERS);
  const util = active !== null && workers ? (100 * active) / workers : null;
  return {
    values: [[reqs, subs], [ms(0.5), ms(0.9), ms(0.95), ms(0.99)], [e5, e4], [queue], [util]],
    texts: [
      `${fmt(reqs, "req/s")} · ${fmt(subs, "submissions/s")}`,
      `P50 ${fmt(ms(0.5), "ms")} · P95 ${fmt(ms(0.95), "ms")} · P99 ${fmt(ms(0.99), "ms")}`,
      total > 0 ? `${fmt(e5, "%")} 5xx · ${fmt(e4, "%")} 4xx` : "no requests",
      queue === null ? "—" : `${queue} waiting`,
      util === null ? "—" : `${util.toFixed(0)}% (${active} of ${workers} workers busy)`,
    ],
    queue,
  };
}

/** Jobs finished per language between the window's first and last scrape (only those with some). */
export function languagesInWindow(first: Scrape, last: Scrape): [string, number][] {
  const a = first === last ? new Map<string, number>() : first.by(`${JOBS}_count`, "language");
  const b = last.by(`${JOBS}_count`, "language");
  return [...b.keys()]
    .sort()
    .map((n): [string, number] => {
      const d = (b.get(n) ?? 0) - (a.get(n) ?? 0);
      // A restarted server counts from zero.
      return [n, d < 0 ? (b.get(n) ?? 0) : d];
    })
    .filter(([, c]) => c > 0);
}
