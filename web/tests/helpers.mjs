// What the browser test shares: the server it drives (scripts/test-console.sh
// starts it), the browser (Debian's chromium through playwright-core), and
// checks every page must pass (no script error, no CSP violation, no request
// leaving the server, every control labelled).
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { chromium } from "playwright-core";

export const BASE = process.env.KILN_URL ?? "";
export const KEY = process.env.KILN_KEY ?? "";
export const REPORTS = process.env.KILN_REPORTS ?? "";
const SHOTS = process.env.SCREENSHOTS ?? "";
const CHROMIUM = process.env.CHROMIUM ?? "/usr/bin/chromium";

/** Why the browser tests cannot run here, or false. */
export const skip = BASE ? false : "KILN_URL is not set: scripts/test-console.sh starts kiln serve and sets it";

export async function launch() {
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"] });
  const context = await browser.newContext({ viewport: { width: 1400, height: 950 }, acceptDownloads: true });
  const page = await context.newPage();
  const problems = [];
  page.on("pageerror", (e) => problems.push(`uncaught: ${e.message}`));
  page.on("console", (m) => {
    const t = m.text();
    if (/Content.Security.Policy|Refused to/i.test(t)) problems.push(`CSP: ${t}`);
  });
  page.on("request", (r) => {
    const u = r.url();
    if (!u.startsWith(BASE) && !u.startsWith("ws" + BASE.slice(4)) && !/^(data|blob):/.test(u)) problems.push(`left the server: ${u}`);
  });
  return { browser, page, problems };
}

/** Fails on any problem seen so far on the page. */
export function assertClean(problems) {
  assert.deepEqual(problems.splice(0), [], "the page had problems");
}

/** Every visible form control has an accessible name. */
export async function assertLabelled(page) {
  const unnamed = await page.evaluate(() =>
    [...document.querySelectorAll("input, select, textarea, button, [contenteditable=true]")]
      .filter((el) => el.type !== "hidden" && (el.offsetParent !== null || el.type === "file"))
      .filter((el) => {
        const named =
          el.getAttribute("aria-label") ||
          el.getAttribute("aria-labelledby") ||
          (el.labels && el.labels.length > 0) ||
          el.title ||
          (el.tagName === "BUTTON" && el.textContent.trim());
        return !named;
      })
      .map((el) => el.outerHTML.slice(0, 160)),
  );
  assert.deepEqual(unnamed, [], "controls without a label");
}

/** No sideways scrolling at this width (the page fits a phone). */
export async function assertFitsWidth(page) {
  const { scroll, width } = await page.evaluate(() => ({ scroll: document.documentElement.scrollWidth, width: window.innerWidth }));
  assert.ok(scroll <= width + 1, `the page is ${scroll} px wide in a ${width} px window`);
}

export async function screenshot(page, name, { fullPage = false } = {}) {
  if (!SHOTS) return;
  mkdirSync(SHOTS, { recursive: true });
  await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage });
}

/** Replaces the editor's text by typing it (or pasting, where typing would trip auto-closing brackets). */
export async function setEditor(page, text, { paste = false } = {}) {
  const content = page.locator(".editor-pane .cm-content");
  await content.click();
  await page.keyboard.press("Control+A");
  await page.keyboard.press("Delete");
  if (paste) await page.keyboard.insertText(text);
  else await page.keyboard.type(text);
  const doc = await page.evaluate(() => [...document.querySelectorAll(".editor-pane .cm-line")].map((l) => l.textContent).join("\n"));
  assert.equal(doc.trimEnd(), text.trimEnd(), "the editor holds the program as typed");
}

/** Calls the API as the test's key would (outside the browser). */
export async function api(path, init = {}) {
  const res = await fetch(BASE + path, {
    ...init,
    headers: { Authorization: `Bearer ${KEY}`, "Content-Type": "application/json", ...(init.headers ?? {}) },
  });
  if (!res.ok) throw new Error(`${init.method ?? "GET"} ${path}: ${res.status} ${await res.text()}`);
  return res.status === 204 ? null : res.json();
}
