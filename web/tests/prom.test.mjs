// The dashboard's Prometheus parser and histogram percentiles (src/prom.ts),
// compiled with the project's esbuild and run in Node: no browser needed.
import assert from "node:assert/strict";
import { test } from "node:test";
import { build } from "esbuild";

const out = await build({
  entryPoints: [new URL("../src/prom.ts", import.meta.url).pathname],
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
