// The dashboard's Prometheus parser, histogram percentiles and panel figures
// (src/prom.ts, src/dashdata.ts), compiled with the project's esbuild and run
// in Node: no browser needed.
import assert from "node:assert/strict";
import { test } from "node:test";
import { build } from "esbuild";

const out = await build({
  stdin: { contents: 'export * from "./src/prom.ts"; export * from "./src/dashdata.ts";', resolveDir: new URL("..", import.meta.url).pathname, loader: "ts" },
  bundle: true,
  format: "esm",
  write: false,
  platform: "neutral",
});
const prom = await import(`data:text/javascript;base64,${Buffer.from(out.outputFiles[0].text).toString("base64")}`);

const TEXT = `# HELP http_request_duration_seconds HTTP request duration
# TYPE http_request_duration_seconds histogram
http_request_duration_seconds_bucket{method="GET",route="/api/v1/languages",status="200",le="0.005"} 2
http_request_duration_seconds_bucket{method="GET",route="/api/v1/languages",status="200",le="0.01"} 8
http_request_duration_seconds_bucket{method="GET",route="/api/v1/languages",status="200",le="+Inf"} 10
http_request_duration_seconds_sum{method="GET",route="/api/v1/languages",status="200"} 0.07
http_request_duration_seconds_count{method="GET",route="/api/v1/languages",status="200"} 10
http_request_duration_seconds_count{method="GET",route="/metrics",status="200"} 4
http_request_duration_seconds_count{method="POST",route="/api/v1/submissions",status="503"} 1
code_execution_queue_depth 7
code_execution_job_duration_seconds_count{language="python",status="accepted"} 3
code_execution_job_duration_seconds_count{language="python",status="wrong_answer"} 1
code_execution_job_duration_seconds_count{language="c",status="accepted"} 2
weird_label{a="x\\"y,z=1",b="line\\nbreak"} 1.5e3
not a sample line
`;

test("parses samples, labels with escapes, +Inf and exponents; skips junk", () => {
  const s = prom.parseMetrics(TEXT);
  assert.equal(s.length, 12);
  const weird = s.find((x) => x.name === "weird_label");
  assert.deepEqual(weird.labels, { a: 'x"y,z=1', b: "line\nbreak" });
  assert.equal(weird.value, 1500);
  const inf = s.find((x) => x.labels.le === "+Inf");
  assert.equal(inf.value, 10);
});

test("sums by filter and by label", () => {
  const scrape = prom.Scrape.parse(TEXT, 0);
  assert.equal(scrape.sum("code_execution_queue_depth"), 7);
  assert.equal(scrape.sum("nope"), null);
  assert.equal(scrape.sum("http_request_duration_seconds_count", (l) => l.route !== "/metrics"), 11);
  assert.deepEqual([...scrape.by("code_execution_job_duration_seconds_count", "language")], [["python", 4], ["c", 2]]);
});

test("percentiles interpolate inside the bucket, as histogram_quantile does", () => {
  const b = prom.Scrape.parse(TEXT, 0).buckets("http_request_duration_seconds");
  const sorted = prom.bucketDelta(new Map(), b);
  assert.deepEqual(sorted, [[0.005, 2], [0.01, 8], [Infinity, 10]]);
  assert.equal(prom.quantile(0.2, sorted), 0.005);
  assert.ok(Math.abs(prom.quantile(0.5, sorted) - 0.0075) < 1e-12);
  // Ranks in the +Inf bucket answer the highest finite bound.
  assert.equal(prom.quantile(0.99, sorted), 0.01);
  assert.equal(prom.quantile(0.5, [[0.1, 0], [Infinity, 0]]), null);
});

test("deltas between scrapes, and a restarted server counts from zero", () => {
  const prev = new Map([[0.1, 5], [Infinity, 6]]);
  const cur = new Map([[0.1, 9], [Infinity, 12]]);
  assert.deepEqual(prom.bucketDelta(prev, cur), [[0.1, 4], [Infinity, 6]]);
  assert.deepEqual(prom.bucketDelta(cur, prev), [[0.1, 5], [Infinity, 6]]);
  assert.equal(prom.rate(10, 16, 2), 3);
  assert.equal(prom.rate(10, 4, 2), 2);
  assert.equal(prom.rate(null, null, 1), null);
});

const scrape = (at, lines) => prom.Scrape.parse(lines.join("\n"), at);

test("a panel's figures for one second between two scrapes", () => {
  const h = (route, status, le, n) => `http_request_duration_seconds_bucket{method="GET",route="${route}",status="${status}",le="${le}"} ${n}`;
  const c = (route, status, n) => `http_request_duration_seconds_count{method="GET",route="${route}",status="${status}"} ${n}`;
  const prev = scrape(0, [c("/api/v1/languages", "200", 10), c("/metrics", "200", 50), h("/api/v1/languages", "200", "0.01", 10), h("/api/v1/languages", "200", "+Inf", 10), "code_execution_submissions_total 4"]);
  const cur = scrape(1000, [
    c("/api/v1/languages", "200", 16), c("/api/v1/submissions", "503", 2), c("/metrics", "200", 51),
    h("/api/v1/languages", "200", "0.01", 14), h("/api/v1/languages", "200", "+Inf", 16),
    h("/api/v1/submissions", "503", "0.01", 2), h("/api/v1/submissions", "503", "+Inf", 2),
    "code_execution_submissions_total 6", "code_execution_queue_depth 3", "code_execution_active_jobs 1", "code_execution_workers 4",
  ]);
  const iv = prom.interval(prev, cur);
  // 8 API requests (the scrape of /metrics is not one), 2 submissions.
  assert.deepEqual(iv.values[0], [8, 2]);
  // 6 of 8 within 10 ms: P50 inside the first bucket, P99 in +Inf answers its lower bound.
  assert.ok(Math.abs(iv.values[1][0] - (4 / 6) * 10) < 1e-9, String(iv.values[1][0]));
  assert.equal(iv.values[1][3], 10);
  assert.deepEqual(iv.values[2], [25, 0]);
  assert.deepEqual(iv.values[3], [3]);
  assert.deepEqual(iv.values[4], [25]);
  assert.equal(iv.texts[4], "25% (1 of 4 workers busy)");
  assert.equal(iv.queue, 3);
});

test("the language distribution is of the window, and survives a restart", () => {
  const j = (lang, n) => `code_execution_job_duration_seconds_count{language="${lang}",status="accepted"} ${n}`;
  const first = scrape(0, [j("python", 5), j("c", 2)]);
  const last = scrape(9000, [j("python", 9), j("c", 2), j("go", 1)]);
  assert.deepEqual(prom.languagesInWindow(first, last), [["go", 1], ["python", 4]]);
  assert.deepEqual(prom.languagesInWindow(last, last), [["c", 2], ["go", 1], ["python", 9]]);
  const restarted = scrape(10000, [j("python", 1)]);
  assert.deepEqual(prom.languagesInWindow(last, restarted), [["python", 1]]);
});
