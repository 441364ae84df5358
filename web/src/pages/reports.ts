// Reports: opens the results of `kiln loadtest` (results.json, report.html,
// summary-report.md, timeseries.csv) and `kiln scaletest` (its *.json and
// summary-report.md) that the user picks or drops. The files are read in the
// browser and never sent anywhere; nothing on the server is browsed, so
// there is no path for anyone to traverse.

import { barChart, lineChart, type Chart } from "../charts";
import { errorText, fmtDate, fmtMs, h, liveRegion } from "../dom";
import type { Page } from "../main";
import { align, chartsOf, readReport, type LoadRun, type PhaseCharts, type ReportFile, type ScaleRun } from "../reportdata";

const PANELS: [keyof Omit<PhaseCharts, "languages">, string, string][] = [
  ["rate", "Request rate vs target", "req/s"],
  ["latency", "Response time percentiles", "ms"],
  ["errors", "Error rate over time", "%"],
  ["queue", "Queue depth over time", "jobs"],
  ["workers", "Worker utilisation", ""],
];

function panels(data: PhaseCharts, charts: Chart[]): HTMLElement {
  const grid = h("div", { class: "panels" });
  const later: (() => void)[] = [];
  for (const [key, title, unit] of PANELS) {
    const host = h("div", { class: "chart", role: "img", "aria-label": title });
    const points = data[key].reduce((n, s) => n + s.points.length, 0);
    grid.append(h("section", { class: "panel", "data-panel": key }, h("h3", null, title), points ? host : h("p", { class: "hint" }, "no data (the target exposes no such metric)")));
    if (points) {
      later.push(() => {
        const c = lineChart(host, { series: data[key].map((s) => s.name), unit, time: false });
        const { x, ys } = align(data[key]);
        c.update(x, ys);
        charts.push(c);
      });
    }
  }
  const langHost = h("div", { class: "chart", role: "img", "aria-label": "Requests per language" });
  grid.append(
    h(
      "section",
      { class: "panel", "data-panel": "languages" },
      h("h3", null, "Language distribution"),
      h("p", { class: "hint" }, data.languages.map((l) => `${l.name} ${l.success}/${l.count}`).join(" · ") || "no requests"),
      langHost,
    ),
  );
  later.push(() => {
    const c = barChart(langHost, ["requests", "successful"], "requests");
    c.update(
      data.languages.map((l) => l.name),
      [data.languages.map((l) => l.count), data.languages.map((l) => l.success)],
    );
    charts.push(c);
  });
  // Drawn once the grid is in the page, so each chart knows its width.
  queueMicrotask(() => later.forEach((f) => f()));
  return grid;
}

function verdictClass(ok: boolean): string {
  return ok ? "badge badge-ok" : "badge badge-bad";
}

function loadtest(run: LoadRun, charts: Chart[]): HTMLElement[] {
  const out: HTMLElement[] = [
    h("p", null, h("span", { class: verdictClass(run.verdict === "pass") }, run.verdict.replace(/_/g, " ")), ` ${run.scenario} — ${run.description}`),
    h("p", { class: "hint" }, `Target ${run.target} · started ${fmtDate(run.started_at)} · scale ${run.scale} · ${run.tool}`),
  ];
  for (const p of run.phases) {
    out.push(
      h("h3", null, `Phase ${p.name} `, h("span", { class: verdictClass(p.passed && !p.generator.overloaded) }, p.generator.overloaded ? "generator overloaded" : p.passed ? "pass" : "fail")),
      h("p", null, p.description),
      h("p", { class: "hint" }, `Arrivals ${p.arrivals} · sent ${p.sent} · completed ${p.completed} · achieved ${p.achieved_rps.toFixed(2)} req/s · success ${p.success_rate.toFixed(2)}% · errors ${p.error_rate.toFixed(2)}% · P50 ${fmtMs(p.latency.p50_ms)}, P95 ${fmtMs(p.latency.p95_ms)}, P99 ${fmtMs(p.latency.p99_ms)}, max ${fmtMs(p.latency.max_ms)}`),
      h(
        "div",
        { class: "table-wrap" },
        h(
          "table",
          { class: "list" },
          h("caption", null, "Criteria"),
          h("thead", null, h("tr", null, ["Criterion", "Target", "Measured", "Result", "Note"].map((c) => h("th", { scope: "col" }, c)))),
          h(
            "tbody",
            null,
            p.criteria.map((c) =>
              h(
                "tr",
                null,
                h("th", { scope: "row" }, c.label),
                h("td", null, c.target === null ? c.op : `${c.op} ${c.target} ${c.unit}`),
                h("td", null, c.measured === null ? "—" : `${+c.measured.toFixed(3)} ${c.unit}`),
                h("td", null, h("span", { class: verdictClass(c.passed) }, c.passed ? "pass" : "fail")),
                h("td", null, c.note),
              ),
            ),
          ),
        ),
      ),
      h("ul", null, [
        ...p.indicators.map((i) => h("li", { class: i.triggered ? "bad" : "" }, `${i.triggered ? "✗" : "✓"} ${i.name}: ${i.detail}`)),
        ...p.warnings.map((w) => h("li", { class: "warn" }, `⚠ ${w}`)),
      ]),
      panels(chartsOf(p), charts),
    );
  }
  return out;
}

function scaletest(run: ScaleRun): HTMLElement[] {
  const d = run.duration ?? {};
  const runs = Object.entries(run.runs ?? {});
  const failed = runs.filter(([, r]) => r.error);
  const extra = ["requests", "request_errors", "request_error_rate_percent"].filter((k) => run[k] !== undefined);
  return [
    h("p", null, h("span", { class: verdictClass(run.total_fail === 0) }, run.total_fail === 0 ? "all passed" : `${run.total_fail} failed`), ` ${run.test} on ${run.platform} — ${run.target}`),
    h("p", { class: "hint" }, `Started ${fmtDate(run.started_at)} · ${run.total_runs} runs, ${run.total_pass} passed · error rate ${run.error_rate_percent.toFixed(2)}% · elapsed ${run.elapsed}`),
    h(
      "dl",
      { class: "figures" },
      ["p50_ms", "p90_ms", "p95_ms", "p99_ms", "max_ms"].filter((k) => d[k] !== undefined).map((k) => h("div", null, h("dt", null, k.replace("_ms", "").toUpperCase()), h("dd", null, fmtMs(d[k])))),
      extra.map((k) => h("div", null, h("dt", null, k.replace(/_/g, " ")), h("dd", null, String(run[k])))),
    ),
    failed.length
      ? h(
          "details",
          { open: true },
          h("summary", null, `Failed runs (${failed.length})`),
          h("ul", null, failed.slice(0, 200).map(([id, r]) => h("li", null, h("code", null, id), `: ${r.error}`))),
        )
      : h("p", null, "No run failed."),
    h(
      "details",
      null,
      h("summary", null, `All runs (${runs.length})`),
      h("ul", null, runs.slice(0, 1000).map(([id, r]) => h("li", null, h("code", null, id), ` ${r.duration ?? fmtMs(r.duration_ms)}${r.error ? ` — ${r.error}` : ""}`))),
    ),
  ];
}

function render(f: ReportFile, charts: Chart[]): HTMLElement {
  const body: (HTMLElement | null)[] = [];
  if (f.kind === "loadtest") body.push(...loadtest(f.run, charts));
  else if (f.kind === "scaletest") body.push(...scaletest(f.run));
  else if (f.kind === "loadtest-html") {
    body.push(h("p", null, f.title));
    f.phases.forEach((p, i) => body.push(h("h3", null, f.headings[i] ?? `Phase ${i + 1}`), panels(p, charts)));
  } else if (f.kind === "csv") {
    const [head, ...rows] = f.rows;
    body.push(
      h(
        "div",
        { class: "table-wrap" },
        h("table", { class: "list compact" }, h("thead", null, h("tr", null, (head ?? []).map((c) => h("th", { scope: "col" }, c)))), h("tbody", null, rows.map((r) => h("tr", null, r.map((c) => h("td", null, c)))))),
      ),
    );
  } else body.push(h("pre", { class: "source", tabindex: 0 }, f.text));
  return h("article", { class: "report", "data-kind": f.kind }, h("h2", null, f.name), ...body);
}

export const page: Page = {
  title: "Reports",
  mount(root) {
    const status = liveRegion();
    const input = h("input", { type: "file", id: "report-files", multiple: true, accept: ".json,.html,.htm,.md,.csv,.txt", "data-testid": "report-files" });
    const drop = h(
      "div",
      { class: "dropzone" },
      h("label", { for: input.id }, "Choose report files"),
      input,
      h("p", { class: "hint" }, "or drop them here: results.json, report.html, timeseries.csv and summary-report.md of ", h("code", null, "kiln loadtest"), "; the *.json results and summary-report.md of ", h("code", null, "kiln scaletest"), ". They are read in this browser, not uploaded."),
    );
    const out = h("div", { class: "reports" });
    root.append(h("div", { class: "page-head" }, h("h1", null, "Reports")), drop, status, out);
    const charts: Chart[] = [];

    const open = async (files: File[]) => {
      charts.splice(0).forEach((c) => c.destroy());
      out.replaceChildren();
      const opened: string[] = [];
      for (const f of files) {
        try {
          out.append(render(await readReport(f), charts));
          opened.push(f.name);
        } catch (e) {
          out.append(h("p", { role: "alert", class: "notice" }, errorText(e)));
        }
      }
      status.textContent = opened.length ? `Opened ${opened.join(", ")}.` : "No report opened.";
    };
    input.addEventListener("change", () => void open(Array.from(input.files ?? [])));
    drop.addEventListener("dragover", (ev) => {
      ev.preventDefault();
      drop.classList.add("over");
    });
    drop.addEventListener("dragleave", () => drop.classList.remove("over"));
    drop.addEventListener("drop", (ev) => {
      ev.preventDefault();
      drop.classList.remove("over");
      void open(Array.from(ev.dataTransfer?.files ?? []));
    });
    return () => charts.forEach((c) => c.destroy());
  },
};
