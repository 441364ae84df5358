// The live dashboard: the load-test plan's six panels (request rate, latency
// percentiles, error rate, queue depth, worker utilisation, language
// distribution) from this server's own `GET /metrics`, scraped every second
// and parsed here (prom.ts). Rates and percentiles are of each one-second
// interval; the language distribution is of the window shown.

import { barChart, lineChart, type BarChart, type LineChart } from "../charts";
import { errorText, field, h, liveRegion } from "../dom";
import type { Page } from "../main";
import { Scrape, bucketDelta, quantile, rate, type Labels } from "../prom";

const HTTP = "http_request_duration_seconds";
const SUBMISSIONS = "code_execution_submissions_total";
const QUEUE = "code_execution_queue_depth";
const ACTIVE = "code_execution_active_jobs";
const WORKERS = "code_execution_workers";
const JOBS = "code_execution_job_duration_seconds";

/** Requests of the API: not the scrapes, health checks or console pages themselves. */
function apiRoute(l: Labels): boolean {
  const r = l.route ?? "";
  return r !== "/metrics" && r !== "/health" && r !== "/health/live" && r !== "/" && !r.startsWith("/console");
}

const SCRAPE_TIMEOUT_MS = 3000;
const WINDOWS = [
  [60, "1 minute"],
  [300, "5 minutes"],
  [900, "15 minutes"],
] as const;

interface Panel {
  title: string;
  unit: string;
  series: string[];
  testid: string;
}

const PANELS: Panel[] = [
  { title: "Request rate", unit: "req/s", series: ["HTTP requests", "submissions"], testid: "rate" },
  { title: "Response time percentiles", unit: "ms", series: ["P50", "P90", "P95", "P99"], testid: "latency" },
  { title: "Error rate", unit: "%", series: ["5xx", "4xx"], testid: "errors" },
  { title: "Queue depth", unit: "jobs", series: ["waiting"], testid: "queue" },
  { title: "Worker utilisation", unit: "%", series: ["busy workers"], testid: "workers" },
];

export const page: Page = {
  title: "Dashboard",
  async mount(root) {
    const status = liveRegion();
    const pause = h("button", { type: "button", class: "secondary", "aria-pressed": "false" }, "Pause");
    const windowSel = h("select", { id: "window" }, WINDOWS.map(([s, label]) => h("option", { value: s, selected: s === 300 }, label)));
    const health = h("p", { class: "hint", "data-testid": "health" });
    const grid = h("div", { class: "panels" });
    root.append(
      h("div", { class: "page-head" }, h("h1", null, "Dashboard"), h("div", { class: "toolbar" }, field("Window", windowSel), pause)),
      h("p", { class: "hint" }, "This server's own metrics (", h("a", { href: "/metrics" }, "/metrics"), "), scraped every second; one node's view in a scaled-out deployment."),
      health,
      status,
      grid,
    );

    const xRange = (): [number, number] => {
      const end = Date.now() / 1000;
      return [end - Number(windowSel.value), end];
    };
    const now: HTMLElement[] = [];
    const charts: LineChart[] = PANELS.map((p) => {
      const host = h("div", { class: "chart", role: "img", "aria-label": `${p.title} over time` });
      const out = h("output", { class: "now", "data-testid": `now-${p.testid}` }, "—");
      now.push(out);
      grid.append(h("section", { class: "panel", "aria-label": p.title, "data-panel": p.testid }, h("h2", null, p.title), out, host));
      return lineChart(host, { series: p.series, unit: p.unit, time: true, xRange });
    });
    const langHost = h("div", { class: "chart", role: "img", "aria-label": "Jobs per language in the window" });
    const langNow = h("output", { class: "now", "data-testid": "now-languages" }, "—");
    grid.append(h("section", { class: "panel", "aria-label": "Language distribution", "data-panel": "languages" }, h("h2", null, "Language distribution"), langNow, langHost));
    const langChart: BarChart = barChart(langHost, ["jobs"], "jobs");

    const x: number[] = [];
    const ys: (number | null)[][][] = PANELS.map((p) => p.series.map(() => []));
    const scrapes: Scrape[] = [];
    let paused = false;
    pause.addEventListener("click", () => {
      paused = !paused;
      pause.setAttribute("aria-pressed", String(paused));
      pause.textContent = paused ? "Resume" : "Pause";
    });

    const fmt = (v: number | null, unit: string, digits = 1) => (v === null ? "—" : `${v.toFixed(digits)} ${unit}`);
    const push = (cur: Scrape, prev: Scrape) => {
      const dt = (cur.at - prev.at) / 1000;
      const reqs = rate(prev.sum(`${HTTP}_count`, apiRoute), cur.sum(`${HTTP}_count`, apiRoute), dt);
      const subs = rate(prev.sum(SUBMISSIONS), cur.sum(SUBMISSIONS), dt);
      const lat = bucketDelta(prev.buckets(HTTP, apiRoute), cur.buckets(HTTP, apiRoute));
      const ms = (q: number) => {
        const v = quantile(q, lat);
        return v === null ? null : v * 1000;
      };
      const count = (f: (l: Labels) => boolean) => (cur.sum(`${HTTP}_count`, (l) => apiRoute(l) && f(l)) ?? 0) - (prev.sum(`${HTTP}_count`, (l) => apiRoute(l) && f(l)) ?? 0);
      const total = count(() => true);
      const pct = (n: number) => (total > 0 ? (100 * Math.max(0, n)) / total : null);
      const e5 = pct(count((l) => (l.status ?? "").startsWith("5")));
      const e4 = pct(count((l) => (l.status ?? "").startsWith("4")));
      const queue = cur.sum(QUEUE);
      const active = cur.sum(ACTIVE);
      const workers = cur.sum(WORKERS);
      const util = active !== null && workers ? (100 * active) / workers : null;
      const row: (number | null)[][] = [[reqs, subs], [ms(0.5), ms(0.9), ms(0.95), ms(0.99)], [e5, e4], [queue], [util]];
      x.push(cur.at / 1000);
      row.forEach((vals, p) => vals.forEach((v, s) => ys[p][s].push(v)));
      now[0].textContent = `${fmt(reqs, "req/s")} · ${fmt(subs, "submissions/s")}`;
      now[1].textContent = `P50 ${fmt(ms(0.5), "ms")} · P95 ${fmt(ms(0.95), "ms")} · P99 ${fmt(ms(0.99), "ms")}`;
      now[2].textContent = total > 0 ? `${fmt(e5, "%")} 5xx · ${fmt(e4, "%")} 4xx` : "no requests";
      now[3].textContent = queue === null ? "—" : `${queue} waiting`;
      now[3].dataset.value = String(queue ?? "");
      now[4].textContent = util === null ? "—" : `${util.toFixed(0)}% (${active} of ${workers} workers busy)`;
    };

    const trim = () => {
      const keep = Number(windowSel.value);
      const cutoff = Date.now() / 1000 - keep;
      let drop = 0;
      while (drop < x.length && x[drop] < cutoff) drop++;
      if (drop) {
        x.splice(0, drop);
        ys.forEach((p) => p.forEach((s) => s.splice(0, drop)));
      }
      while (scrapes.length > 1 && scrapes[1].at / 1000 < cutoff) scrapes.shift();
    };

    const languages = () => {
      const first = scrapes[0];
      const last = scrapes[scrapes.length - 1];
      const a = first.by(`${JOBS}_count`, "language");
      const b = last.by(`${JOBS}_count`, "language");
      const seen = [...b.keys()].sort().map((n): [string, number] => [n, Math.max(0, (b.get(n) ?? 0) - (scrapes.length > 1 ? (a.get(n) ?? 0) : 0))]);
      const inWindow = seen.filter(([, c]) => c > 0);
      langChart.update(
        inWindow.map(([n]) => n),
        [inWindow.map(([, c]) => c)],
      );
      langNow.textContent = inWindow.length ? inWindow.map(([n, c]) => `${n} ${c}`).join(" · ") : "no jobs in the window";
    };

    let failures = 0;
    let busy = false;
    const tick = async () => {
      if (paused || busy || document.hidden) return;
      busy = true;
      try {
        await scrape();
      } finally {
        busy = false;
      }
    };
    const scrape = async () => {
      const ctl = new AbortController();
      const timer = window.setTimeout(() => ctl.abort(), SCRAPE_TIMEOUT_MS);
      let cur: Scrape;
      try {
        const res = await fetch("/metrics", { signal: ctl.signal, cache: "no-store" });
        if (!res.ok) throw new Error(`${res.status} ${res.statusText}`);
        cur = Scrape.parse(await res.text(), Date.now());
      } catch (e) {
        failures += 1;
        status.textContent = `Cannot read /metrics (${failures} in a row): ${errorText(e)}`;
        return;
      } finally {
        window.clearTimeout(timer);
      }
      if (failures) status.textContent = "Reading /metrics again.";
      failures = 0;
      const prev = scrapes[scrapes.length - 1];
      scrapes.push(cur);
      if (prev) push(cur, prev);
      trim();
      charts.forEach((c, i) => c.update(x, ys[i]));
      languages();
    };

    const readHealth = async () => {
      try {
        const v = await (await fetch("/health", { cache: "no-store" })).json();
        health.textContent = `Server ${v.status} · workers ${v.workers?.alive ?? "?"} of ${v.workers?.configured ?? "?"} alive · queue ${v.queue?.depth ?? "?"} of ${v.queue?.capacity ?? "?"} · store ${v.store?.ok ? "ok" : "down"}`;
      } catch (e) {
        health.textContent = `Cannot read /health: ${errorText(e)}`;
      }
    };

    await tick();
    void readHealth();
    const t1 = window.setInterval(() => void tick(), 1000);
    const t2 = window.setInterval(() => void readHealth(), 2000);
    windowSel.addEventListener("change", trim);
    return () => {
      window.clearInterval(t1);
      window.clearInterval(t2);
      charts.forEach((c) => c.destroy());
      langChart.destroy();
    };
  },
};
