// The files `kiln loadtest` and `kiln scaletest` write, read in the browser
// (nothing is uploaded): which kind a file is, and the six panels of a load
// test phase in one shape, whether they come from `results.json` or from
// the data `report.html` carries (crates/loadtest/src/report/html.rs).

export interface Series {
  name: string;
  points: [number, number][];
}

/** One phase's panels, as report.html's KILN_DATA holds them. */
export interface PhaseCharts {
  rate: Series[];
  latency: Series[];
  errors: Series[];
  queue: Series[];
  workers: Series[];
  languages: { name: string; count: number; success: number }[];
}

interface SecondRow {
  second: number;
  target_rps: number | null;
  sent: number;
  completed: number;
  success: number;
  errors: number;
  p50_ms: number;
  p90_ms: number;
  p95_ms: number;
  p99_ms: number;
}

interface MetricSample {
  t: number;
  queue_depth: number | null;
  active_jobs: number | null;
  workers: number | null;
}

export interface Criterion {
  label: string;
  op: string;
  target: number | null;
  measured: number | null;
  unit: string;
  passed: boolean;
  note: string;
}

export interface LoadPhase {
  name: string;
  description: string;
  passed: boolean;
  generator: { overloaded: boolean; late_fraction: number; dropped_fraction: number };
  arrivals: number;
  sent: number;
  completed: number;
  errors: number;
  success_rate: number;
  error_rate: number;
  achieved_rps: number;
  latency: { p50_ms: number; p95_ms: number; p99_ms: number; max_ms: number };
  criteria: Criterion[];
  indicators: { name: string; triggered: boolean; detail: string }[];
  warnings: string[];
  seconds: SecondRow[];
  metrics: MetricSample[];
  by_language: Record<string, { count: number; success: number }>;
}

export interface LoadRun {
  tool: string;
  scenario: string;
  description: string;
  target: string;
  started_at: string;
  scale: number;
  verdict: string;
  phases: LoadPhase[];
}

export interface ScaleRun {
  test: string;
  platform: string;
  target: string;
  started_at: string;
  total_runs: number;
  total_pass: number;
  total_fail: number;
  error_rate_percent: number;
  elapsed: string;
  duration?: Record<string, number>;
  runs: Record<string, { id?: string; error: string | null; duration_ms?: number; duration?: string }>;
  [k: string]: unknown;
}

export type ReportFile =
  | { kind: "loadtest"; name: string; run: LoadRun }
  | { kind: "loadtest-html"; name: string; title: string; phases: PhaseCharts[]; headings: string[] }
  | { kind: "scaletest"; name: string; run: ScaleRun }
  | { kind: "text"; name: string; text: string }
  | { kind: "csv"; name: string; rows: string[][] };

/** Files larger than this are refused (a results.json of a long run is a few MiB). */
export const MAX_REPORT_BYTES = 64 * 1024 * 1024;

function series(rows: SecondRow[], name: string, f: (r: SecondRow) => number | null): Series {
  return { name, points: rows.flatMap((r) => (f(r) === null ? [] : [[r.second, f(r) as number] as [number, number]])) };
}

/** The same panels report.html draws, from results.json. */
export function chartsOf(p: LoadPhase): PhaseCharts {
  const s = p.seconds ?? [];
  const done = (f: (r: SecondRow) => number) => (r: SecondRow) => (r.completed > 0 ? f(r) : null);
  const m = (name: string, f: (x: MetricSample) => number | null): Series => ({
    name,
    points: (p.metrics ?? []).flatMap((x) => (f(x) === null ? [] : [[x.t, f(x) as number] as [number, number]])),
  });
  return {
    rate: [series(s, "target", (r) => r.target_rps), series(s, "sent", (r) => r.sent), series(s, "completed", (r) => r.completed)],
    latency: (["p50", "p90", "p95", "p99"] as const).map((q) => series(s, q, done((r) => r[`${q}_ms`]))),
    errors: [
      series(s, "error %", done((r) => (100 * r.errors) / r.completed)),
      series(s, "not success %", done((r) => (100 * (r.completed - r.success)) / r.completed)),
    ],
    queue: [m("queue depth", (x) => x.queue_depth)],
    workers: [
      m("utilization %", (x) => (x.active_jobs !== null && x.workers ? (100 * x.active_jobs) / x.workers : null)),
      m("active jobs", (x) => x.active_jobs),
      m("workers", (x) => x.workers),
    ],
    languages: Object.entries(p.by_language ?? {}).map(([name, b]) => ({ name, count: b.count, success: b.success })),
  };
}

/** x values of all series, and each series' y at them (null where it has none). */
export function align(ss: Series[]): { x: number[]; ys: (number | null)[][] } {
  const x = [...new Set(ss.flatMap((s) => s.points.map((p) => p[0])))].sort((a, b) => a - b);
  const index = new Map(x.map((v, i) => [v, i]));
  const ys = ss.map((s) => {
    const y: (number | null)[] = x.map(() => null);
    for (const [px, py] of s.points) y[index.get(px)!] = py;
    return y;
  });
  return { x, ys };
}

function parseCsv(text: string, maxRows: number): string[][] {
  return text
    .split(/\r?\n/)
    .filter(Boolean)
    .slice(0, maxRows)
    .map((l) => l.split(","));
}

/** One panel of report.html's KILN_DATA: uPlot columns (x, then each series' values). */
interface UplotPanel {
  x: number[];
  series: { name: string; values: (number | null)[] }[];
  names?: string[];
}

/** A phase of KILN_DATA (uPlot panels) as the console's charts take it. */
function fromUplot(raw: unknown): PhaseCharts {
  const phase = raw as Record<string, UplotPanel>;
  const lines = (key: string): Series[] => {
    const p = phase[key];
    if (!p || !Array.isArray(p.x) || !Array.isArray(p.series)) throw new Error(`report.html: panel ${key} is missing`);
    return p.series.map((s) => ({
      name: s.name,
      points: p.x.flatMap((x, i): [number, number][] => (s.values[i] == null ? [] : [[x, s.values[i] as number]])),
    }));
  };
  const lang = phase.languages;
  const names = lang?.names ?? [];
  const column = (name: string) => lang?.series.find((s) => s.name === name)?.values ?? [];
  return {
    rate: lines("rate"),
    latency: lines("latency"),
    errors: lines("errors"),
    queue: lines("queue"),
    workers: lines("workers"),
    languages: names.map((name, i) => ({ name, count: column("requests")[i] ?? 0, success: column("successful")[i] ?? 0 })),
  };
}

/** Reads one chosen file; throws with a sentence when it is not a report. */
export async function readReport(file: File): Promise<ReportFile> {
  if (file.size > MAX_REPORT_BYTES) throw new Error(`${file.name} is larger than ${MAX_REPORT_BYTES >> 20} MiB`);
  const text = await file.text();
  const name = file.name;
  if (/\.html?$/i.test(name)) {
    const m = /const KILN_DATA = (\[[\s\S]*?\]);\n/.exec(text);
    if (!m) throw new Error(`${name} is not a kiln loadtest report.html (it has no KILN_DATA)`);
    const phases = (JSON.parse(m[1]) as unknown[]).map(fromUplot);
    // DOMParser runs no script and loads nothing; only text is taken from it.
    const doc = new DOMParser().parseFromString(text, "text/html");
    return {
      kind: "loadtest-html",
      name,
      title: doc.querySelector("h1")?.textContent ?? name,
      phases,
      headings: Array.from(doc.querySelectorAll("h2"), (e) => e.textContent ?? ""),
    };
  }
  if (/\.csv$/i.test(name)) return { kind: "csv", name, rows: parseCsv(text, 2000) };
  if (/\.json$/i.test(name)) {
    let v: unknown;
    try {
      v = JSON.parse(text);
    } catch (e) {
      throw new Error(`${name} is not valid JSON: ${e instanceof Error ? e.message : e}`);
    }
    const o = v as Record<string, unknown>;
    if (o && Array.isArray(o.phases) && typeof o.scenario === "string") return { kind: "loadtest", name, run: o as unknown as LoadRun };
    if (o && typeof o.test === "string" && o.runs && typeof o.runs === "object") return { kind: "scaletest", name, run: o as unknown as ScaleRun };
    throw new Error(`${name} is neither a kiln loadtest results.json nor a kiln scaletest result`);
  }
  return { kind: "text", name, text };
}
