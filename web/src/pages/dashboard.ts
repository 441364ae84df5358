// The live dashboard: the load-test plan's six panels (request rate, latency
// percentiles, error rate, queue depth, worker utilisation, language
// distribution) from this server's own `GET /metrics`, scraped every second
// and parsed here (prom.ts, dashdata.ts). Rates and percentiles are of each
// one-second interval; the language distribution is of the window shown.

import { barChart, lineChart, type BarChart, type LineChart } from "../charts";
import { PANELS, interval, languagesInWindow } from "../dashdata";
import { errorText, field, h, liveRegion } from "../dom";
import type { Page } from "../main";
import { Scrape } from "../prom";

const SCRAPE_TIMEOUT_MS = 3000;
const WINDOWS = [
  [60, "1 minute"],
  [300, "5 minutes"],
  [900, "15 minutes"],
] as const;

/** The six panels: a chart and its figures as text each. */
function panels(grid: HTMLElement, xRange: () => [number, number]) {
  const texts: HTMLElement[] = [];
  const charts: LineChart[] = PANELS.map((p) => {
    const host = h("div", { class: "chart", role: "img", "aria-label": `${p.title} over time` });
    const out = h("output", { class: "now", "data-testid": `now-${p.testid}` }, "—");
    texts.push(out);
    grid.append(h("section", { class: "panel", "aria-label": p.title, "data-panel": p.testid }, h("h2", null, p.title), out, host));
    return lineChart(host, { series: p.series, unit: p.unit, time: true, xRange });
  });
  const langHost = h("div", { class: "chart", role: "img", "aria-label": "Jobs per language in the window" });
  const langText = h("output", { class: "now", "data-testid": "now-languages" }, "—");
  grid.append(h("section", { class: "panel", "aria-label": "Language distribution", "data-panel": "languages" }, h("h2", null, "Language distribution"), langText, langHost));
  const langChart: BarChart = barChart(langHost, ["jobs"], "jobs");
  return { texts, charts, langText, langChart };
}

/** The scrapes and plotted points of the window. */
class History {
  readonly x: number[] = [];
  readonly ys: (number | null)[][][] = PANELS.map((p) => p.series.map(() => []));
  readonly scrapes: Scrape[] = [];

  push(at: number, values: (number | null)[][]): void {
    this.x.push(at / 1000);
    values.forEach((vals, p) => vals.forEach((v, s) => this.ys[p][s].push(v)));
  }

  /** Drops what is older than the window. */
  trim(seconds: number): void {
    const cutoff = Date.now() / 1000 - seconds;
    let drop = 0;
    while (drop < this.x.length && this.x[drop] < cutoff) drop++;
    if (drop) {
      this.x.splice(0, drop);
      this.ys.forEach((p) => p.forEach((s) => s.splice(0, drop)));
    }
    while (this.scrapes.length > 1 && this.scrapes[1].at / 1000 < cutoff) this.scrapes.shift();
  }
}

async function scrape(): Promise<Scrape> {
  const ctl = new AbortController();
  const timer = window.setTimeout(() => ctl.abort(), SCRAPE_TIMEOUT_MS);
  try {
    const res = await fetch("/metrics", { signal: ctl.signal, cache: "no-store" });
    if (!res.ok) throw new Error(`${res.status} ${res.statusText}`);
    return Scrape.parse(await res.text(), Date.now());
  } finally {
    window.clearTimeout(timer);
  }
}

async function readHealth(line: HTMLElement): Promise<void> {
  try {
    const v = await (await fetch("/health", { cache: "no-store" })).json();
    line.textContent = `Server ${v.status} · workers ${v.workers?.alive ?? "?"} of ${v.workers?.configured ?? "?"} alive · queue ${v.queue?.depth ?? "?"} of ${v.queue?.capacity ?? "?"} · store ${v.store?.ok ? "ok" : "down"}`;
  } catch (e) {
    line.textContent = `Cannot read /health: ${errorText(e)}`;
  }
}

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
    const seconds = () => Number(windowSel.value);
    const view = panels(grid, () => [Date.now() / 1000 - seconds(), Date.now() / 1000]);
    const hist = new History();
    let paused = false;
    pause.addEventListener("click", () => {
      paused = !paused;
      pause.setAttribute("aria-pressed", String(paused));
      pause.textContent = paused ? "Resume" : "Pause";
    });

    let failures = 0;
    const update = async () => {
      let cur: Scrape;
      try {
        cur = await scrape();
      } catch (e) {
        failures += 1;
        status.textContent = `Cannot read /metrics (${failures} in a row): ${errorText(e)}`;
        return;
      }
      if (failures) status.textContent = "Reading /metrics again.";
      failures = 0;
      const prev = hist.scrapes[hist.scrapes.length - 1];
      hist.scrapes.push(cur);
      if (prev) {
        const iv = interval(prev, cur);
        hist.push(cur.at, iv.values);
        iv.texts.forEach((t, i) => (view.texts[i].textContent = t));
        view.texts[3].dataset.value = String(iv.queue ?? "");
      }
      hist.trim(seconds());
      view.charts.forEach((c, i) => c.update(hist.x, hist.ys[i]));
      const langs = languagesInWindow(hist.scrapes[0], cur);
      view.langChart.update(
        langs.map(([n]) => n),
        [langs.map(([, c]) => c)],
      );
      view.langText.textContent = langs.length ? langs.map(([n, c]) => `${n} ${c}`).join(" · ") : "no jobs in the window";
    };
    let busy = false;
    const tick = async () => {
      if (paused || busy || document.hidden) return;
      busy = true;
      try {
        await update();
      } finally {
        busy = false;
      }
    };

    await tick();
    void readHealth(health);
    const t1 = window.setInterval(() => void tick(), 1000);
    const t2 = window.setInterval(() => void readHealth(health), 2000);
    windowSel.addEventListener("change", () => hist.trim(seconds()));
    return () => {
      window.clearInterval(t1);
      window.clearInterval(t2);
      view.charts.forEach((c) => c.destroy());
      view.langChart.destroy();
    };
  },
};
