// Submissions: the caller's recent submissions from `GET /api/v1/submissions`
// (filters: status, language, time range; cursor pages), each opening its
// result and its source. A server without that route still shows the
// submissions made from this browser (by `GET /api/v1/submissions/batch`).

import { ApiError, getJson, query } from "../api";
import { badge, errorText, field, fmtDate, fmtKb, fmtMs, h, liveRegion } from "../dom";
import type { Page } from "../main";
import { navigate } from "../nav";
import { renderResult } from "../results";
import { encodeShared } from "../share";
import { remembered, rememberedRequest } from "../store";
import { ALL_STATUSES, type Language, type Result, type SubmissionList, type SubmissionRequest, type SubmissionSummary } from "../types";

const PAGE_SIZES = [20, 50, 100, 200];

function toRfc3339(local: string): string | undefined {
  if (!local) return undefined;
  const d = new Date(local);
  return Number.isNaN(d.getTime()) ? undefined : d.toISOString();
}

/** What was submitted: the server's echo (`?include=input`), or what this browser remembered. */
function inputOf(r: Result): SubmissionRequest | null {
  const i = r.input;
  if (i && i.files.length) {
    return {
      language: i.language,
      source: i.files[0].content,
      stdin: i.stdin || undefined,
      limits: { cpu_time_ms: i.limits.cpu_time_ms, wall_time_ms: i.limits.wall_time_ms, memory_kb: i.limits.memory_kb },
      tests: i.tests.length ? i.tests.map((t) => ({ stdin: t.stdin, expected_output: t.expected_output ?? "" })) : undefined,
    };
  }
  return r.id ? rememberedRequest(r.id) : null;
}

/** The submission with its input; a server that cannot echo inputs answers 400 to `include`. */
async function fetchWithInput(id: string): Promise<Result> {
  const path = `/api/v1/submissions/${encodeURIComponent(id)}`;
  try {
    return await getJson<Result>(`${path}?include=input`);
  } catch (e) {
    if (e instanceof ApiError && e.status === 400) return getJson<Result>(path);
    throw e;
  }
}

async function detail(id: string): Promise<HTMLElement> {
  const r = await fetchWithInput(id);
  const req = inputOf(r);
  const open = h("button", { type: "button", class: "secondary" }, "Open in the playground");
  open.addEventListener("click", async () => {
    if (!req) return;
    navigate(`/#${await encodeShared({ language: req.language, source: req.source, stdin: req.stdin, tests: req.tests, limits: req.limits })}`);
  });
  const files = r.input && r.input.files.length > 1 ? r.input.files : null;
  return h(
    "section",
    { class: "submission-detail", "aria-labelledby": "detail-title", "data-testid": "submission-detail" },
    h("h2", { id: "detail-title", tabindex: -1 }, "Submission ", h("code", null, id)),
    h("p", { class: "hint" }, `${r.language ?? ""} · created ${fmtDate(r.created_at)} · finished ${fmtDate(r.finished_at)}`),
    renderResult(r, req?.tests),
    h("h3", null, "Source"),
    files
      ? files.map((f) => h("details", { open: true }, h("summary", null, f.name), h("pre", { class: "source" }, f.content)))
      : req
        ? h("pre", { class: "source", tabindex: 0 }, req.source)
        : h("p", { class: "hint" }, "This server does not return the source of a submission, and it was not made from this browser."),
    req ? open : null,
  );
}

/** A row's figures, from a list item or (without the list route) a full result. */
function summaryOf(r: SubmissionSummary | Result): SubmissionSummary {
  if ("result" in r) return r;
  const done = r.status !== "queued" && r.status !== "running";
  const tests = r.tests ?? [];
  return {
    id: r.id ?? "",
    language: r.language ?? "",
    status: r.status,
    created_at: r.created_at ?? "",
    started_at: r.started_at ?? null,
    finished_at: r.finished_at ?? null,
    result: done
      ? {
          exit_code: r.exit_code,
          signal: r.signal,
          time_ms: r.time_ms ?? 0,
          wall_time_ms: r.wall_time_ms ?? 0,
          memory_kb: r.memory_kb ?? 0,
          compile_time_ms: r.compile_time_ms ?? null,
          tests: tests.length,
          tests_passed: tests.filter((t) => t.status === "accepted").length,
        }
      : null,
  };
}

/** The filter form, filled from the page's query string. */
function filters() {
  const q = new URLSearchParams(window.location.search);
  const status = h("select", { id: "f-status", name: "status" }, h("option", { value: "" }, "Any"), ALL_STATUSES.map((s) => h("option", { value: s }, s.replace(/_/g, " "))));
  const language = h("select", { id: "f-language", name: "language" }, h("option", { value: "" }, "Any"));
  const since = h("input", { type: "datetime-local", id: "f-since", name: "since" });
  const until = h("input", { type: "datetime-local", id: "f-until", name: "until" });
  const limit = h("select", { id: "f-limit", name: "limit" }, PAGE_SIZES.map((n) => h("option", { value: n }, String(n))));
  status.value = q.get("status") ?? "";
  since.value = q.get("since") ?? "";
  until.value = q.get("until") ?? "";
  limit.value = q.get("limit") ?? "50";
  const ready = getJson<{ languages: Language[] }>("/api/v1/languages")
    .then(({ languages }) => {
      for (const l of languages) language.append(h("option", { value: l.id }, l.name));
      language.value = q.get("language") ?? "";
    })
    .catch(() => {});
  const form = h(
    "form",
    { class: "filters", "aria-label": "Filter submissions" },
    field("Verdict", status),
    field("Language", language),
    field("From", since),
    field("To", until),
    field("Show", limit),
    h("div", { class: "actions" }, h("button", { type: "submit" }, "Apply"), h("button", { type: "reset", class: "secondary" }, "Reset")),
  );
  form.addEventListener("reset", () => {
    window.setTimeout(() => {
      limit.value = "50";
      form.requestSubmit();
    });
  });
  return {
    form,
    /** Settles once the language filter has its options. */
    ready,
    /** The list's query (times as RFC 3339). */
    api: (cursor: string | null) =>
      query({ status: status.value, language: language.value, since: toRfc3339(since.value), until: toRfc3339(until.value), limit: limit.value, cursor }),
    /** The page's own query string, to keep the filters on reload. */
    page: () => query({ status: status.value, language: language.value, since: since.value, until: until.value, limit: limit.value === "50" ? "" : limit.value }),
    keeps: (r: Result) => (!status.value || r.status === status.value) && (!language.value || r.language === language.value),
  };
}

function rowOf(item: SubmissionSummary | Result, open: (id: string) => void): HTMLElement {
  const r = summaryOf(item);
  const link = h("a", { href: `/console/submissions/${encodeURIComponent(r.id)}`, "aria-label": `Submission ${r.id}` }, h("code", null, r.id.slice(0, 8)));
  link.addEventListener("click", (ev) => {
    if (ev.metaKey || ev.ctrlKey || ev.shiftKey) return;
    ev.preventDefault();
    open(r.id);
  });
  const res = r.result;
  return h(
    "tr",
    { "data-id": r.id },
    h("td", null, fmtDate(r.created_at)),
    h("th", { scope: "row" }, link),
    h("td", null, r.language),
    h("td", null, badge(r.status)),
    h("td", null, res && res.tests ? `${res.tests_passed}/${res.tests}` : "—"),
    h("td", null, fmtMs(res?.time_ms)),
    h("td", null, fmtKb(res?.memory_kb)),
  );
}

export const page: Page = {
  title: "Submissions",
  async mount(root, params) {
    const status = liveRegion();
    const f = filters();
    const tbody = h("tbody");
    const more = h("button", { type: "button", class: "secondary", hidden: true }, "Load more");
    const detailBox = h("div", { class: "detail-box" });
    const head = h("thead", null, h("tr", null, ["Created", "Submission", "Language", "Verdict", "Tests passed", "CPU", "Memory"].map((c) => h("th", { scope: "col" }, c))));
    const table = h("table", { class: "list", "data-testid": "submissions" }, h("caption", { class: "visually-hidden" }, "Your submissions, newest first"), head, tbody);
    root.append(h("div", { class: "page-head" }, h("h1", null, "Submissions")), f.form, status, h("div", { class: "split" }, h("div", { class: "table-wrap" }, table, more), detailBox));

    const showDetail = async (id: string) => {
      detailBox.replaceChildren(h("p", null, "Loading…"));
      for (const tr of tbody.querySelectorAll("tr")) tr.classList.toggle("selected", tr.dataset.id === id);
      try {
        const d = await detail(id);
        detailBox.replaceChildren(d);
        (d.querySelector("#detail-title") as HTMLElement).focus();
      } catch (e) {
        detailBox.replaceChildren(h("p", { role: "alert" }, `Cannot open submission ${id}: ${errorText(e)}`));
      }
    };
    const open = (id: string) => {
      window.history.pushState(null, "", `/console/submissions/${encodeURIComponent(id)}${window.location.search}`);
      void showDetail(id);
    };

    let cursor: string | null = null;
    let gen = 0;
    const load = async (append: boolean) => {
      const g = ++gen;
      if (!append) {
        tbody.replaceChildren();
        cursor = null;
      }
      status.textContent = "Loading…";
      try {
        const list = await getJson<SubmissionList>(`/api/v1/submissions${f.api(append ? cursor : null)}`);
        if (g !== gen) return;
        tbody.append(...list.submissions.map((r) => rowOf(r, open)));
        cursor = list.next_cursor;
        more.hidden = !cursor;
        const n = tbody.children.length;
        status.textContent = n ? `${n} submission${n === 1 ? "" : "s"}${cursor ? " (more below)" : ""}.` : "No submission matches.";
      } catch (e) {
        if (g !== gen) return;
        if (e instanceof ApiError && (e.status === 404 || e.status === 405)) return loadRemembered(g);
        status.textContent = `Cannot list the submissions: ${errorText(e)}`;
      }
    };
    /** Without the list route: the submissions made from this browser. */
    const loadRemembered = async (g: number) => {
      const ids = remembered().map((r) => r.id).slice(0, 100);
      more.hidden = true;
      if (!ids.length) {
        status.textContent = "This server does not list submissions, and none was made from this browser yet.";
        return;
      }
      const { submissions } = await getJson<{ submissions: (Result | null)[] }>(`/api/v1/submissions/batch${query({ ids: ids.join(",") })}`);
      if (g !== gen) return;
      tbody.append(...submissions.filter((r): r is Result => !!r && f.keeps(r)).map((r) => rowOf(r, open)));
      status.textContent = "This server does not list submissions (GET /api/v1/submissions): showing those made from this browser.";
    };

    f.form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      window.history.replaceState(null, "", `${window.location.pathname}${f.page()}`);
      void load(false);
    });
    more.addEventListener("click", () => void load(true));
    await f.ready;
    await load(false);
    if (params.id) await showDetail(decodeURIComponent(params.id));
  },
};
