// The playground (`/`): an editor, a language picker from
// `GET /api/v1/languages`, stdin, test cases, limits; Run streams the output
// of an interactive run (stdin typed live), Submit queues a submission and
// shows its verdict per test; Share puts the program in the link.
// Ctrl/Cmd-Enter runs, Ctrl/Cmd-Shift-Enter submits.

import { ApiError, getJson, request } from "../api";
import { errorText, field, h, liveRegion } from "../dom";
import { createEditor, type Editor } from "../editor";
import { helloFor } from "../languages";
import { LiveRun } from "../liverun";
import type { Page } from "../main";
import { renderResult } from "../results";
import { decodeShared, encodeShared, type Shared } from "../share";
import { loadDrafts, remember, saveDrafts } from "../store";
import { FINAL_STATUSES, type Language, type Result, type SubmissionRequest } from "../types";
import { inputsForm } from "./playground-form";

/** Characters of streamed output kept on screen (the result has it all). */
const MAX_SHOWN_OUTPUT = 1 << 20;
/** How long Submit waits for a verdict before it gives up polling. */
const SUBMIT_DEADLINE_MS = 15 * 60 * 1000;

export const page: Page = {
  title: "Playground",
  async mount(root) {
    const status = liveRegion();
    const picker = h("select", { id: "language", "data-testid": "language" });
    const runBtn = h("button", { type: "button", "data-testid": "run", "aria-keyshortcuts": "Control+Enter Meta+Enter" }, "Run");
    const stopBtn = h("button", { type: "button", class: "secondary", disabled: true }, "Stop");
    const submitBtn = h("button", { type: "button", "data-testid": "submit", "aria-keyshortcuts": "Control+Shift+Enter Meta+Shift+Enter" }, "Submit");
    const shareBtn = h("button", { type: "button", class: "secondary" }, "Share");
    const shareBox = h("div", { class: "share-box", hidden: true });
    const editorHost = h("div", { class: "editor-host" });
    const form = inputsForm();
    const out = h("pre", { class: "console", id: "run-output", tabindex: 0, "aria-label": "Program output", "data-testid": "output" });
    const liveInput = h("input", { type: "text", id: "live-stdin", autocomplete: "off", disabled: true, spellcheck: "false" });
    const sendBtn = h("button", { type: "submit", class: "secondary", disabled: true }, "Send");
    const eofBtn = h("button", { type: "button", class: "secondary", disabled: true }, "Close stdin");
    const resultBox = h("div", { class: "result-box", "data-testid": "result" });

    root.append(
      h(
        "div",
        { class: "page-head" },
        h("h1", null, "Playground"),
        h("div", { class: "toolbar" }, field("Language", picker), runBtn, stopBtn, submitBtn, shareBtn),
      ),
      shareBox,
      h(
        "div",
        { class: "play-grid" },
        h(
          "section",
          { class: "pane editor-pane", "aria-labelledby": "program-title" },
          h("h2", { id: "program-title", class: "visually-hidden" }, "Program"),
          editorHost,
          h("p", { class: "hint" }, h("kbd", null, "Ctrl"), "+", h("kbd", null, "Enter"), " runs, ", h("kbd", null, "Ctrl"), "+", h("kbd", null, "Shift"), "+", h("kbd", null, "Enter"), " submits (", h("kbd", null, "⌘"), " on a Mac). In the editor, ", h("kbd", null, "Esc"), " then ", h("kbd", null, "Tab"), " leaves it."),
        ),
        h("section", { class: "pane side-pane" }, form.element),
        h(
          "section",
          { class: "pane output-pane", "aria-labelledby": "output-title" },
          h("h2", { id: "output-title" }, "Output"),
          status,
          out,
          h("form", { class: "live-stdin", onsubmit: (ev: Event) => { ev.preventDefault(); sendLine(); } }, h("label", { for: liveInput.id }, "Type into the program"), h("div", { class: "row" }, liveInput, sendBtn, eofBtn)),
          resultBox,
        ),
      ),
    );

    let languages: Language[] = [];
    try {
      languages = (await getJson<{ languages: Language[] }>("/api/v1/languages")).languages;
    } catch (e) {
      status.textContent = `Cannot list the languages: ${errorText(e)}`;
    }
    for (const l of languages) {
      // Kiln's names carry the version ("Python 3.11.2"); say it once.
      const label = l.version && !l.name.includes(l.version) ? `${l.name} (${l.version})` : l.name;
      picker.append(h("option", { value: l.id }, label));
    }

    const drafts = loadDrafts();
    let shared: Shared | null = null;
    try {
      shared = await decodeShared(window.location.hash.slice(1));
    } catch (e) {
      status.textContent = `This link's program cannot be opened: ${errorText(e)}`;
    }
    const known = (id?: string) => (id && languages.some((l) => l.id === id) ? id : undefined);
    let language = known(shared?.language) ?? known(drafts.language) ?? known("python") ?? languages[0]?.id ?? "python";
    if (shared && !known(shared.language)) status.textContent = `This server has no ${shared.language}; the program is shown as it is.`;
    picker.value = language;
    const initial = shared?.source ?? drafts.sources[language] ?? helloFor(language);
    if (shared) form.set(shared.stdin, shared.tests, shared.limits);

    let saveTimer = 0;
    const editor: Editor = createEditor(editorHost, {
      doc: initial,
      language: shared?.language ?? language,
      label: "Program source",
      onRun: () => void run(),
      onSubmit: () => void submit(),
      onChange: (doc) => {
        window.clearTimeout(saveTimer);
        saveTimer = window.setTimeout(() => {
          drafts.sources[language] = doc;
          drafts.language = language;
          saveDrafts(drafts);
        }, 300);
      },
    });

    picker.addEventListener("change", () => {
      drafts.sources[language] = editor.getDoc();
      language = picker.value;
      drafts.language = language;
      saveDrafts(drafts);
      editor.setDoc(drafts.sources[language] ?? helloFor(language));
      editor.setLanguage(language);
    });

    const request_ = (): SubmissionRequest => {
      const req: SubmissionRequest = { language, source: editor.getDoc() };
      const limits = form.limits();
      if (limits) req.limits = limits;
      return req;
    };

    // --- Run: the interactive WebSocket run ---
    let live: LiveRun | null = null;
    let shown = 0;
    const append = (kind: "stdout" | "stderr" | "stdin", text: string) => {
      if (shown >= MAX_SHOWN_OUTPUT) return;
      const part = text.slice(0, MAX_SHOWN_OUTPUT - shown);
      shown += part.length;
      const last = out.lastElementChild as HTMLElement | null;
      if (last && last.dataset.kind === kind) last.append(part);
      else out.append(h("span", { class: kind, "data-kind": kind }, part));
      if (shown >= MAX_SHOWN_OUTPUT) out.append(h("span", { class: "note" }, "\n[more output: see the result below]\n"));
      out.scrollTop = out.scrollHeight;
    };
    const setRunning = (on: boolean) => {
      runBtn.disabled = on;
      stopBtn.disabled = !on;
      const canType = on && !!live?.stdinOpen;
      liveInput.disabled = !canType;
      sendBtn.disabled = !canType;
      eofBtn.disabled = !canType;
    };
    const sendLine = () => {
      if (live?.sendStdin(liveInput.value + "\n")) {
        append("stdin", liveInput.value + "\n");
        liveInput.value = "";
      }
    };
    eofBtn.addEventListener("click", () => {
      live?.eof();
      setRunning(!!live?.running);
    });
    stopBtn.addEventListener("click", () => {
      live?.stop();
      status.textContent = "Stopped.";
      setRunning(false);
    });

    async function run() {
      if (live?.running) return;
      out.replaceChildren();
      resultBox.replaceChildren();
      shown = 0;
      status.textContent = "Running…";
      const session = new LiveRun({
        output: append,
        result: (r) => {
          status.textContent = `Finished: ${r.status.replace(/_/g, " ")}.`;
          resultBox.replaceChildren(renderResult(r));
        },
        error: (msg) => {
          status.textContent = `The run failed: ${msg}`;
        },
        closed: (finished) => {
          if (!finished && live === session && status.textContent === "Running…") {
            status.textContent = "The connection closed before the run finished.";
          }
          if (live === session) setRunning(false);
        },
      });
      live = session;
      setRunning(true);
      try {
        await session.start(request_(), form.stdin(), form.closeStdin());
        setRunning(session.running);
        if (!form.closeStdin()) liveInput.focus();
      } catch (e) {
        status.textContent = `The run could not start: ${errorText(e)}`;
        setRunning(false);
      }
    }

    // --- Submit: queued, judged per test ---
    let submitting = 0;
    async function submit() {
      const gen = ++submitting;
      const req = request_();
      const tests = form.tests();
      if (tests.length) req.tests = tests;
      else req.stdin = form.stdin();
      submitBtn.disabled = true;
      status.textContent = "Submitting…";
      out.replaceChildren();
      resultBox.replaceChildren();
      try {
        const made = await (await request("/api/v1/submissions", { method: "POST", json: req })).json();
        remember(made.id, req);
        const started = Date.now();
        let r: Result = made;
        for (let wait = 200; !FINAL_STATUSES.includes(r.status); wait = Math.min(wait * 1.5, 2000)) {
          if (gen !== submitting || disposed) return;
          if (Date.now() - started > SUBMIT_DEADLINE_MS) throw new Error(`no verdict after ${SUBMIT_DEADLINE_MS / 60000} minutes; see Submissions later`);
          status.textContent = r.status === "running" ? "Running…" : "Queued…";
          await new Promise((res) => setTimeout(res, wait));
          r = await getJson<Result>(`/api/v1/submissions/${encodeURIComponent(made.id)}`);
        }
        status.textContent = `Verdict: ${r.status.replace(/_/g, " ")}.`;
        resultBox.replaceChildren(
          renderResult(r, tests.length ? tests : undefined),
          h("p", { class: "hint" }, "Submission ", h("a", { href: `/console/submissions/${encodeURIComponent(made.id)}`, "data-nav": true }, h("code", null, made.id)), "."),
        );
      } catch (e) {
        status.textContent = e instanceof ApiError ? `Refused: ${e.message}` : `Submit failed: ${errorText(e)}`;
      } finally {
        if (gen === submitting) submitBtn.disabled = false;
      }
    }

    // --- Share: the program in the link's fragment ---
    shareBtn.addEventListener("click", async () => {
      const s: Shared = { language, source: editor.getDoc() };
      const stdin = form.stdin();
      if (stdin) s.stdin = stdin;
      const tests = form.tests();
      if (tests.length) s.tests = tests;
      const limits = form.limits();
      if (limits) s.limits = limits;
      const link = `${window.location.origin}/#${await encodeShared(s)}`;
      window.history.replaceState(null, "", link);
      const input = h("input", { type: "text", readonly: true, value: link, id: "share-link", "data-testid": "share-link" });
      const copy = h("button", { type: "button", class: "secondary" }, "Copy");
      copy.addEventListener("click", async () => {
        input.select();
        try {
          await navigator.clipboard.writeText(link);
          copy.textContent = "Copied";
        } catch {
          copy.textContent = "Press Ctrl+C to copy";
        }
      });
      shareBox.replaceChildren(h("label", { for: input.id }, "Link to this program"), h("div", { class: "row" }, input, copy));
      shareBox.hidden = false;
      input.focus();
      input.select();
    });

    runBtn.addEventListener("click", () => void run());
    submitBtn.addEventListener("click", () => void submit());
    const keys = (ev: KeyboardEvent) => {
      if (ev.defaultPrevented || ev.key !== "Enter" || !(ev.ctrlKey || ev.metaKey)) return;
      ev.preventDefault();
      if (ev.shiftKey) void submit();
      else void run();
    };
    root.addEventListener("keydown", keys);
    let disposed = false;
    return () => {
      disposed = true;
      live?.stop();
      window.clearTimeout(saveTimer);
      drafts.sources[language] = editor.getDoc();
      saveDrafts(drafts);
      editor.destroy();
    };
  },
};
