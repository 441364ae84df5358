// The playground's inputs beside the editor: stdin, test cases with their
// expected outputs, and limits. Empty limits take the server's defaults.

import { field, h } from "../dom";
import type { Limits, TestCase } from "../types";

export interface InputsForm {
  element: HTMLElement;
  stdin(): string;
  closeStdin(): boolean;
  tests(): TestCase[];
  limits(): Limits | undefined;
  set(stdin: string | undefined, tests: TestCase[] | undefined, limits: Limits | undefined): void;
}

function textarea(rows: number, attrs: Record<string, string> = {}): HTMLTextAreaElement {
  return h("textarea", { rows, spellcheck: "false", autocapitalize: "off", ...attrs });
}

interface TestRow {
  stdin: HTMLTextAreaElement;
  expected: HTMLTextAreaElement;
  remove: HTMLButtonElement;
  li: HTMLElement;
}

/** The list of test cases, each labelled by its number. */
function testCases() {
  const list = h("ol", { class: "test-list" });
  const rows: TestRow[] = [];
  const count = h("span", { class: "count" }, "0");
  const addButton = h("button", { type: "button", class: "secondary" }, "Add a test");
  const renumber = () => {
    rows.forEach((r, i) => {
      (r.li.querySelector(".test-title") as HTMLElement).textContent = `Test ${i + 1}`;
      r.stdin.previousElementSibling!.textContent = `Test ${i + 1} input`;
      r.expected.previousElementSibling!.textContent = `Test ${i + 1} expected output`;
      r.remove.setAttribute("aria-label", `Remove test ${i + 1}`);
    });
    count.textContent = String(rows.length);
  };
  const add = (t?: TestCase, focus = true) => {
    const remove = h("button", { type: "button", class: "secondary small" }, "Remove");
    const row: TestRow = { stdin: textarea(2), expected: textarea(2), remove, li: h("li", { class: "test-case" }) };
    row.stdin.value = t?.stdin ?? "";
    row.expected.value = t?.expected_output ?? "";
    remove.addEventListener("click", () => {
      rows.splice(rows.indexOf(row), 1);
      row.li.remove();
      renumber();
      addButton.focus();
    });
    row.li.append(h("div", { class: "test-head" }, h("span", { class: "test-title" }), remove), field("input", row.stdin), field("expected", row.expected));
    rows.push(row);
    list.append(row.li);
    renumber();
    if (focus) row.stdin.focus();
  };
  addButton.addEventListener("click", () => add());
  const element = h(
    "section",
    { "aria-labelledby": "tests-title", class: "tests-box" },
    h("h2", { id: "tests-title" }, "Test cases ", h("span", { class: "hint" }, "(", count, ")")),
    h("p", { class: "hint" }, "Submit compiles once and judges each test against its expected output. Without tests, Submit judges the input above."),
    list,
    addButton,
  );
  return {
    element,
    tests: (): TestCase[] => rows.map((r) => ({ stdin: r.stdin.value, expected_output: r.expected.value })),
    set: (tests: TestCase[] | undefined) => {
      rows.splice(0).forEach((r) => r.li.remove());
      for (const t of tests ?? []) add(t, false);
      renumber();
    },
  };
}

/** CPU time, wall time and memory; empty fields are left to the server. */
function limitFields() {
  const input = () => h("input", { type: "number", min: 1, step: 1, inputmode: "numeric", placeholder: "server default" });
  const cpu = input();
  const wall = input();
  const memory = input();
  const num = (i: HTMLInputElement) => {
    const v = Number(i.value);
    return i.value.trim() && Number.isFinite(v) && v > 0 ? Math.round(v) : undefined;
  };
  const element = h(
    "details",
    { class: "limits" },
    h("summary", null, "Limits"),
    h("div", { class: "limit-fields" }, field("CPU time (ms)", cpu), field("Wall time (ms)", wall), field("Memory (MiB)", memory)),
  );
  return {
    element,
    limits: (): Limits | undefined => {
      const l: Limits = {};
      const [c, w, m] = [num(cpu), num(wall), num(memory)];
      if (c) l.cpu_time_ms = c;
      if (w) l.wall_time_ms = w;
      if (m) l.memory_kb = m * 1024;
      return Object.keys(l).length ? l : undefined;
    },
    set: (l: Limits | undefined) => {
      cpu.value = l?.cpu_time_ms ? String(l.cpu_time_ms) : "";
      wall.value = l?.wall_time_ms ? String(l.wall_time_ms) : "";
      memory.value = l?.memory_kb ? String(Math.round(l.memory_kb / 1024)) : "";
    },
  };
}

export function inputsForm(): InputsForm {
  const stdin = textarea(4, { name: "stdin", "data-testid": "stdin" });
  const close = h("input", { type: "checkbox", id: "close-stdin", checked: true });
  const tests = testCases();
  const limits = limitFields();
  const element = h(
    "div",
    { class: "inputs" },
    h(
      "section",
      { "aria-labelledby": "input-title" },
      h("h2", { id: "input-title" }, "Input"),
      field("Standard input", stdin, "Sent when the run starts; type more below while it runs."),
      h("div", { class: "field-inline" }, close, h("label", { for: close.id }, "Close stdin after this input")),
    ),
    tests.element,
    limits.element,
  );
  return {
    element,
    stdin: () => stdin.value,
    closeStdin: () => close.checked,
    tests: tests.tests,
    limits: limits.limits,
    set: (s, t, l) => {
      stdin.value = s ?? "";
      tests.set(t);
      limits.set(l);
    },
  };
}
