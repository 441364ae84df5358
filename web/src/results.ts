// A submission's result as the playground and the submissions page show it:
// the verdict, the figures, the compile output, the outputs, and a verdict
// per test (with the expected output when the console knows it).

import { badge, fmtKb, fmtMs, h } from "./dom";
import type { Result, TestCase, TestResult } from "./types";

function outputBlock(title: string, text: string | null | undefined, cls: string, open = true): HTMLElement | null {
  if (!text) return null;
  const d = h("details", { class: `output-block ${cls}` }, h("summary", null, title), h("pre", { class: "output", tabindex: 0 }, text));
  d.open = open;
  return d;
}

function figures(r: Result): HTMLElement {
  const rows: [string, string][] = [
    ["CPU time", fmtMs(r.time_ms)],
    ["Wall time", fmtMs(r.wall_time_ms)],
    ["Memory", fmtKb(r.memory_kb)],
    ["Exit code", r.exit_code === null || r.exit_code === undefined ? "—" : String(r.exit_code)],
  ];
  if (r.signal !== null && r.signal !== undefined) rows.push(["Signal", String(r.signal)]);
  if (r.compile_time_ms !== null && r.compile_time_ms !== undefined) {
    rows.push(["Compile time", `${fmtMs(r.compile_time_ms)} CPU, ${fmtMs(r.compile_wall_time_ms ?? null)} wall`]);
  }
  if (r.queue_wait_ms !== null && r.queue_wait_ms !== undefined) rows.push(["Queue wait", fmtMs(r.queue_wait_ms)]);
  return h("dl", { class: "figures" }, rows.map(([k, v]) => h("div", null, h("dt", null, k), h("dd", null, v))));
}

function testRow(i: number, t: TestResult, expected?: TestCase): HTMLElement {
  const details = h(
    "details",
    null,
    h("summary", null, "Output"),
    expected ? h("p", { class: "io-label" }, "Input") : null,
    expected ? h("pre", { class: "output" }, expected.stdin || "(empty)") : null,
    h("p", { class: "io-label" }, "Output"),
    h("pre", { class: "output" }, t.stdout || "(empty)"),
    expected ? h("p", { class: "io-label" }, "Expected") : null,
    expected ? h("pre", { class: "output" }, expected.expected_output || "(empty)") : null,
    t.stderr ? h("p", { class: "io-label" }, "Standard error") : null,
    t.stderr ? h("pre", { class: "output stderr" }, t.stderr) : null,
  );
  return h(
    "tr",
    { "data-test": i + 1 },
    h("th", { scope: "row" }, `Test ${i + 1}`),
    h("td", null, badge(t.status), t.message ? h("span", { class: "hint" }, ` ${t.message}`) : null),
    h("td", null, fmtMs(t.time_ms)),
    h("td", null, fmtKb(t.memory_kb)),
    h("td", null, t.exit_code === null ? (t.signal !== null ? `signal ${t.signal}` : "—") : String(t.exit_code)),
    h("td", null, details),
  );
}

export function testsTable(tests: TestResult[], expected?: TestCase[]): HTMLElement {
  return h(
    "div",
    { class: "table-wrap" },
    h(
      "table",
      { class: "tests" },
      h("caption", null, "Verdict per test"),
      h(
        "thead",
        null,
        h("tr", null, ["Test", "Verdict", "CPU time", "Memory", "Exit", "Details"].map((c) => h("th", { scope: "col" }, c))),
      ),
      h(
        "tbody",
        null,
        tests.map((t, i) => testRow(i, t, expected?.[i])),
      ),
    ),
  );
}

/** The whole result. `expected` lists the tests as submitted, when known. */
export function renderResult(r: Result, expected?: TestCase[]): HTMLElement {
  const done = r.status !== "queued" && r.status !== "running";
  const tests = r.tests ?? [];
  return h(
    "section",
    { class: "result", "aria-label": "Result", "data-status": r.status },
    h("h3", { class: "verdict" }, "Verdict: ", badge(r.status)),
    r.message ? h("p", { class: "notice" }, r.message) : null,
    done ? figures(r) : h("p", null, "Waiting for a worker…"),
    outputBlock("Compile output", r.compile_output, "compile", r.status === "compilation_error"),
    tests.length > 0 ? testsTable(tests, expected) : null,
    outputBlock(tests.length > 0 ? "Standard output (of the deciding test)" : "Standard output", r.stdout, "stdout"),
    outputBlock("Standard error", r.stderr, "stderr"),
  );
}
