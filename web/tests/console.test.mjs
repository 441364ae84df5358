// The console in a real browser against a real `kiln serve` with API keys on
// (scripts/test-console.sh): a Python program typed into the playground
// streams its output; a C++ program with two tests gets both verdicts; the
// shared link restores the program; a workspace's terminal echoes; a file
// uploads, edits and downloads; the dashboard's queue depth rises under a
// burst; the reports of `kiln loadtest` and `kiln scaletest` open.
import assert from "node:assert/strict";
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { BASE, KEY, REPORTS, api, assertClean, assertFitsWidth, assertLabelled, launch, screenshot, setEditor, skip } from "./helpers.mjs";

let browser;
let page;
let problems;

before(async () => {
  if (skip) return;
  ({ browser, page, problems } = await launch());
});

after(async () => {
  await browser?.close();
});

const nav = async (name) => {
  await page.getByRole("navigation", { name: "Console" }).getByRole("link", { name }).click();
  await page.waitForFunction((n) => document.querySelector(`nav a[aria-current=page]`)?.textContent === n, name);
};

test("the playground asks for the key once, then streams a typed Python program's output, with stdin typed live", { skip }, async () => {
  await page.goto(BASE + "/");
  // Keys are on: the first API call asks for one; a wrong key is refused in the dialog.
  const input = page.locator("#api-key-input");
  await input.waitFor();
  await screenshot(page, "key-dialog");
  await input.fill("not-the-key");
  await page.getByRole("button", { name: "Use this key" }).click();
  await page.getByText("the server does not accept this key").waitFor();
  await input.fill(KEY);
  await page.getByRole("button", { name: "Use this key" }).click();
  await input.waitFor({ state: "detached" });
  assert.equal(await page.evaluate(() => sessionStorage.getItem("kiln.apiKey")), KEY);
  assert.ok(!page.url().includes(KEY), "the key is not in the URL");

  await page.locator("#language option[value=python]").waitFor({ state: "attached" });
  await page.selectOption("#language", "python");
  // The program prints, then blocks on stdin: what shows before the line is typed was streamed.
  await setEditor(page, 'import sys\nprint("first", flush=True)\nname = sys.stdin.readline().strip()\nprint("hello", name)\n');
  await page.locator("#close-stdin").uncheck();
  await page.keyboard.press("Control+Enter");
  const out = page.getByTestId("output");
  await page.waitForFunction(() => document.querySelector("[data-testid=output]").textContent.includes("first"), null, { timeout: 30000 });
  assert.ok(!(await out.textContent()).includes("hello"), "the program is still waiting for its input");
  assert.equal(await page.locator("[data-testid=result] .result").count(), 0, "no result while it runs");
  const live = page.locator("#live-stdin");
  await page.waitForFunction(() => !document.querySelector("#live-stdin").disabled);
  await live.fill("kiln");
  await live.press("Enter");
  await page.locator('[data-testid=result] .result[data-status="accepted"]').waitFor({ timeout: 30000 });
  assert.match(await out.textContent(), /^first\nkiln\nhello kiln\n$/);
  await page.locator("#close-stdin").check();
  await assertLabelled(page);
  assertClean(problems);
});

const CPP = `#include <iostream>
int main() {
    long long a, b;
    std::cin >> a >> b;
    std::cout << a + b << std::endl;
}`;

test("a C++ program with two tests gets a verdict per test, and its link restores it", { skip }, async () => {
  await page.selectOption("#language", "cpp");
  await setEditor(page, CPP, { paste: true });
  for (const [stdin, expected] of [["1 2", "3"], ["2 2", "5"]]) {
    await page.getByRole("button", { name: "Add a test" }).click();
    const n = await page.locator(".test-case").count();
    await page.getByLabel(`Test ${n} input`).fill(stdin);
    await page.getByLabel(`Test ${n} expected output`).fill(expected);
  }
  await page.keyboard.press("Control+Shift+Enter");
  const result = page.locator("[data-testid=result] .result");
  await page.locator('[data-testid=result] .result:not([data-status="queued"]):not([data-status="running"])').waitFor({ timeout: 90000 });
  assert.equal(await result.getAttribute("data-status"), "wrong_answer");
  assert.equal(await result.locator('tr[data-test="1"] [data-status]').getAttribute("data-status"), "accepted");
  assert.equal(await result.locator('tr[data-test="2"] [data-status]').getAttribute("data-status"), "wrong_answer");
  await screenshot(page, "playground", { fullPage: true });

  await page.getByRole("button", { name: "Share" }).click();
  const link = await page.getByTestId("share-link").inputValue();
  assert.ok(link.startsWith(`${BASE}/#z.`) || link.startsWith(`${BASE}/#j.`), link);
  await nav("Dashboard");
  await page.goto(link);
  await page.locator(".editor-pane .cm-content").waitFor();
  await page.waitForFunction(() => document.querySelector("#language").value === "cpp");
  const doc = await page.evaluate(() => [...document.querySelectorAll(".editor-pane .cm-line")].map((l) => l.textContent).join("\n"));
  assert.equal(doc, CPP);
  assert.equal(await page.locator(".test-case").count(), 2);
  assert.equal(await page.getByLabel("Test 2 expected output").inputValue(), "5");
  assertClean(problems);
});

test("submissions lists the caller's submissions and opens one with the source the server echoes", { skip }, async () => {
  await nav("Submissions");
  const rows = page.locator("[data-testid=submissions] tbody tr");
  await rows.first().waitFor();
  // The server's list (GET /api/v1/submissions), not the browser's own memory of what it sent.
  assert.match(await page.locator(".status-line").textContent(), /^\d+ submissions?/);
  await page.evaluate(() => localStorage.removeItem("kiln.submissions"));
  await page.selectOption("#f-language", "cpp");
  await page.getByRole("button", { name: "Apply" }).click();
  await page.waitForFunction(() => [...document.querySelectorAll("[data-testid=submissions] tbody tr")].length > 0 && [...document.querySelectorAll("[data-testid=submissions] tbody tr td:nth-child(3)")].every((td) => td.textContent === "cpp"));
  await rows.first().locator("a").click();
  const detail = page.getByTestId("submission-detail");
  await detail.waitFor();
  assert.match(await detail.locator("pre.source").textContent(), /std::cin >> a >> b;/);
  assert.equal(await detail.locator('tr[data-test="2"] [data-status]').getAttribute("data-status"), "wrong_answer");
  assert.match(page.url(), /\/console\/submissions\/[0-9a-f-]+/);
  await assertLabelled(page);
  await screenshot(page, "submissions");
  assertClean(problems);
});

let workspaceId = null;

test("a workspace: create it, type echo hi in its terminal, upload, edit and download a file; stop, start, delete", { skip }, async () => {
  await nav("Workspaces");
  const name = `console-${Date.now().toString(36)}`;
  await page.getByLabel("Name").fill(name);
  await page.locator("#ws-template option").first().waitFor({ state: "attached" });
  await page.selectOption("#ws-template", "pod-swdev");
  await page.getByRole("button", { name: "Create" }).click();
  await page.waitForURL(/\/console\/workspaces\/[0-9a-f-]{36}$/);
  workspaceId = page.url().split("/").pop();
  await page.locator(".terminal-pane").waitFor({ timeout: 60000 });
  await page.getByText("Connected", { exact: true }).waitFor({ timeout: 30000 });
  await page.getByTestId("terminal").click();
  await page.keyboard.type("echo hi\n");
  const sawHi = () => [...document.querySelectorAll(".xterm-rows > div")].some((d) => d.textContent.trim() === "hi");
  await page.waitForFunction(sawHi, null, { timeout: 20000 });

  // Keyboard users can leave the terminal: with the option on, Tab moves the focus on.
  await page.getByLabel("Tab leaves the terminal").check();
  await page.getByTestId("terminal").click();
  await page.keyboard.press("Tab");
  assert.ok(!(await page.evaluate(() => document.activeElement?.classList.contains("xterm-helper-textarea"))), "Tab left the terminal");
  await page.getByLabel("Tab leaves the terminal").uncheck();

  // Reconnect: the same shell, its recent output replayed.
  await page.getByRole("button", { name: "Reconnect" }).click();
  await page.getByText("Connected", { exact: true }).waitFor();
  await page.waitForFunction(sawHi, null, { timeout: 20000 });

  const text = "hello from the browser test\n";
  await page.getByTestId("upload").setInputFiles({ name: "hello.txt", mimeType: "text/plain", buffer: Buffer.from(text) });
  const item = page.locator('[data-testid=file-tree] li[data-path="/home/kiln/hello.txt"]');
  await item.waitFor({ timeout: 20000 });
  const onDisk = await api(`/api/v1/workspaces/${workspaceId}/exec`, { method: "POST", body: JSON.stringify({ command: ["cat", "/home/kiln/hello.txt"] }) });
  assert.equal(onDisk.stdout, text);

  await item.locator("button.file").click();
  const editor = page.locator(".file-editor .cm-content");
  await editor.waitFor();
  assert.equal(await editor.textContent(), text.trim());
  await editor.click();
  await page.keyboard.press("Control+End");
  await page.keyboard.type("edited");
  await page.keyboard.press("Control+S");
  await page.getByText("Saved /home/kiln/hello.txt.").waitFor();
  const [download] = await Promise.all([page.waitForEvent("download"), page.getByRole("button", { name: "Download hello.txt" }).click()]);
  assert.equal(readFileSync(await download.path(), "utf8"), `${text}edited`);
  await assertLabelled(page);
  await page.evaluate(() => window.scrollTo(0, 0));
  await screenshot(page, "workspace", { fullPage: true });
  await nav("Workspaces");
  const row = (status) => page.locator(`[data-testid=workspaces] tr[data-name="${name}"][data-status=${status}]`);
  await row("running").waitFor();
  await screenshot(page, "workspaces");

  // Stop, start and delete from the list (the list refreshes itself).
  await page.getByRole("button", { name: `Stop ${name}` }).click();
  await row("stopped").waitFor({ timeout: 20000 });
  await page.getByRole("button", { name: `Start ${name}` }).click();
  await row("running").waitFor({ timeout: 30000 });
  page.once("dialog", (d) => d.accept());
  await page.getByRole("button", { name: `Delete ${name}` }).click();
  await page.locator(`[data-testid=workspaces] tr[data-name="${name}"]`).waitFor({ state: "detached", timeout: 20000 });
  workspaceId = null;
  assertClean(problems);
});

test("the dashboard's queue depth rises under a burst", { skip }, async () => {
  await nav("Dashboard");
  await page.selectOption("#window", "60");
  const queue = page.getByTestId("now-queue");
  await page.waitForFunction(() => document.querySelector("[data-testid=now-queue]").dataset.value !== undefined, null, { timeout: 10000 });
  const sub = { language: "python", source: "import time\ntime.sleep(0.5)\nprint('ok')\n" };
  const burst = Array.from({ length: 24 }, () => api("/api/v1/submissions", { method: "POST", body: JSON.stringify(sub) }));
  const ids = (await Promise.all(burst)).map((r) => r.id);
  let peak = 0;
  const deadline = Date.now() + 15000;
  while (Date.now() < deadline && peak < 5) {
    peak = Math.max(peak, Number(await queue.getAttribute("data-value")) || 0);
    await page.waitForTimeout(200);
  }
  assert.ok(peak >= 5, `the queue depth panel showed at most ${peak} with 24 submissions queued on 2 workers`);
  assert.ok((await page.locator("[data-panel] canvas").count()) >= 6, "every panel has a chart");
  await page.waitForFunction(() => /\d/.test(document.querySelector("[data-testid=now-rate]").textContent));
  // Let the burst drain so the next test's server is quiet.
  for (const id of ids) {
    for (let i = 0; i < 200 && ["queued", "running"].includes((await api(`/api/v1/submissions/${id}`)).status); i++) await new Promise((r) => setTimeout(r, 100));
  }
  await page.waitForFunction(() => document.querySelector("[data-testid=now-queue]").dataset.value === "0", null, { timeout: 10000 });
  await screenshot(page, "dashboard", { fullPage: true });
  await assertLabelled(page);
  assertClean(problems);
});

function findFiles(dir, match, out = []) {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) findFiles(p, match, out);
    else if (match.test(e.name)) out.push(p);
  }
  return out;
}

test("the reports page opens loadtest and scaletest results", { skip: skip || (!REPORTS && "KILN_REPORTS is not set") }, async () => {
  await nav("Reports");
  const files = findFiles(REPORTS, /^(results\.json|report\.html|summary-report\.md|dashboard-results\.json)$/);
  assert.ok(files.length >= 4, `reports found: ${files.join(", ")}`);
  await page.getByTestId("report-files").setInputFiles(files);
  await page.locator("article.report").nth(files.length - 1).waitFor();
  for (const kind of ["loadtest", "loadtest-html"]) {
    const report = page.locator(`article[data-kind="${kind}"]`);
    assert.equal(await report.locator("[data-panel]").count(), 6, `${kind}: six panels`);
    await page.waitForFunction((k) => document.querySelectorAll(`article[data-kind="${k}"] [data-panel] canvas`).length >= 4, kind);
  }
  assert.equal(await page.locator('article[data-kind="scaletest"]').count(), 1);
  assert.ok((await page.locator('article[data-kind="text"] pre').count()) >= 1);
  await assertLabelled(page);
  await screenshot(page, "reports");
  assertClean(problems);
});

test("on a phone's width every page fits and stays usable", { skip }, async () => {
  await page.setViewportSize({ width: 390, height: 844 });
  for (const name of ["Playground", "Submissions", "Workspaces", "Dashboard", "Reports"]) {
    await nav(name);
    await page.waitForTimeout(300);
    await assertFitsWidth(page);
  }
  await nav("Playground");
  await page.locator(".editor-pane .cm-content").waitFor();
  await screenshot(page, "playground-phone", { fullPage: true });
  // A mistyped address shows the console's own "no such page", with its navigation.
  const res = await page.goto(`${BASE}/console/nowhere`);
  assert.equal(res.status(), 200);
  await page.getByRole("heading", { name: "No such page" }).waitFor();
  const res2 = await page.goto(`${BASE}/no/such/thing`);
  assert.equal(res2.status(), 404);
  await page.getByRole("heading", { name: "No such page" }).waitFor();
  await page.setViewportSize({ width: 1400, height: 950 });
  assertClean(problems);
});

after(async () => {
  // A workspace a failed test left behind.
  if (workspaceId) await api(`/api/v1/workspaces/${workspaceId}`, { method: "DELETE" }).catch(() => {});
});
