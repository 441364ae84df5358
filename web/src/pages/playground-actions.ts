// The playground's three actions: Run (an interactive run over the
// WebSocket, output streamed, stdin typed live), Submit (queued, polled to a
// verdict per test) and Share (the program in the link's fragment).

import { ApiError, getJson, request } from "../api";
import { errorText, h } from "../dom";
import { LiveRun } from "../liverun";
import { renderResult } from "../results";
import { encodeShared, type Shared } from "../share";
import { remember } from "../store";
import { FINAL_STATUSES, type Result, type SubmissionRequest } from "../types";
import type { InputsForm } from "./playground-form";

/** Characters of streamed output kept on screen (the result has it all). */
const MAX_SHOWN_OUTPUT = 1 << 20;
/** How long Submit waits for a verdict before it gives up polling. */
const SUBMIT_DEADLINE_MS = 15 * 60 * 1000;

/** The output pane's elements. */
export interface OutputPane {
  status: HTMLElement;
  out: HTMLElement;
  result: HTMLElement;
  liveInput: HTMLInputElement;
  send: HTMLButtonElement;
  eof: HTMLButtonElement;
  run: HTMLButtonElement;
  stop: HTMLButtonElement;
  submit: HTMLButtonElement;
}

/** Appends streamed output, bounded. */
function outputWriter(out: HTMLElement) {
  let shown = 0;
  return {
    clear() {
      out.replaceChildren();
      shown = 0;
    },
    append(kind: "stdout" | "stderr" | "stdin", text: string) {
      if (shown >= MAX_SHOWN_OUTPUT) return;
      const part = text.slice(0, MAX_SHOWN_OUTPUT - shown);
      shown += part.length;
      const last = out.lastElementChild as HTMLElement | null;
      if (last && last.dataset.kind === kind) last.append(part);
      else out.append(h("span", { class: kind, "data-kind": kind }, part));
      if (shown >= MAX_SHOWN_OUTPUT) out.append(h("span", { class: "note" }, "\n[more output: see the result below]\n"));
      out.scrollTop = out.scrollHeight;
    },
  };
}

/** Run: returns start and stop; the pane's buttons are wired here. */
export function runner(pane: OutputPane, form: InputsForm, request_: () => SubmissionRequest) {
  const writer = outputWriter(pane.out);
  let live: LiveRun | null = null;
  const setRunning = (on: boolean) => {
    pane.run.disabled = on;
    pane.stop.disabled = !on;
    const canType = on && !!live?.stdinOpen;
    pane.liveInput.disabled = !canType;
    pane.send.disabled = !canType;
    pane.eof.disabled = !canType;
  };
  const sendLine = () => {
    if (live?.sendStdin(pane.liveInput.value + "\n")) {
      writer.append("stdin", pane.liveInput.value + "\n");
      pane.liveInput.value = "";
    }
  };
  pane.liveInput.form?.addEventListener("submit", (ev) => {
    ev.preventDefault();
    sendLine();
  });
  pane.eof.addEventListener("click", () => {
    live?.eof();
    setRunning(!!live?.running);
  });
  const stop = () => {
    live?.stop();
    setRunning(false);
  };
  pane.stop.addEventListener("click", () => {
    stop();
    pane.status.textContent = "Stopped.";
  });

  async function run() {
    if (live?.running) return;
    writer.clear();
    pane.result.replaceChildren();
    pane.status.textContent = "Running…";
    const session = new LiveRun({
      output: writer.append,
      result: (r) => {
        pane.status.textContent = `Finished: ${r.status.replace(/_/g, " ")}.`;
        pane.result.replaceChildren(renderResult(r));
      },
      error: (msg) => {
        pane.status.textContent = `The run failed: ${msg}`;
      },
      closed: (finished) => {
        if (!finished && live === session && pane.status.textContent === "Running…") {
          pane.status.textContent = "The connection closed before the run finished.";
        }
        if (live === session) setRunning(false);
      },
    });
    live = session;
    setRunning(true);
    try {
      await session.start(request_(), form.stdin(), form.closeStdin());
      setRunning(session.running);
      if (!form.closeStdin()) pane.liveInput.focus();
    } catch (e) {
      pane.status.textContent = `The run could not start: ${errorText(e)}`;
      setRunning(false);
    }
  }
  return { run, stop, clear: writer.clear };
}

/** Submit: queues the submission and polls it to its verdict. */
export function submitter(pane: OutputPane, form: InputsForm, request_: () => SubmissionRequest, clearOutput: () => void) {
  let generation = 0;
  let disposed = false;
  async function submit() {
    const gen = ++generation;
    const req = request_();
    const tests = form.tests();
    if (tests.length) req.tests = tests;
    else req.stdin = form.stdin();
    pane.submit.disabled = true;
    pane.status.textContent = "Submitting…";
    clearOutput();
    pane.result.replaceChildren();
    try {
      const made = await (await request("/api/v1/submissions", { method: "POST", json: req })).json();
      remember(made.id, req);
      const started = Date.now();
      let r: Result = made;
      for (let wait = 200; !FINAL_STATUSES.includes(r.status); wait = Math.min(wait * 1.5, 2000)) {
        if (gen !== generation || disposed) return;
        if (Date.now() - started > SUBMIT_DEADLINE_MS) throw new Error(`no verdict after ${SUBMIT_DEADLINE_MS / 60000} minutes; see Submissions later`);
        pane.status.textContent = r.status === "running" ? "Running…" : "Queued…";
        await new Promise((res) => setTimeout(res, wait));
        r = await getJson<Result>(`/api/v1/submissions/${encodeURIComponent(made.id)}`);
      }
      pane.status.textContent = `Verdict: ${r.status.replace(/_/g, " ")}.`;
      const link = h("a", { href: `/console/submissions/${encodeURIComponent(made.id)}`, "data-nav": true }, h("code", null, made.id));
      pane.result.replaceChildren(renderResult(r, tests.length ? tests : undefined), h("p", { class: "hint" }, "Submission ", link, "."));
    } catch (e) {
      pane.status.textContent = e instanceof ApiError ? `Refused: ${e.message}` : `Submit failed: ${errorText(e)}`;
    } finally {
      if (gen === generation) pane.submit.disabled = false;
    }
  }
  return {
    submit,
    dispose: () => {
      disposed = true;
    },
  };
}

/** Share: puts the program in the address bar and shows the link to copy. */
export async function share(box: HTMLElement, program: Shared): Promise<void> {
  const link = `${window.location.origin}/#${await encodeShared(program)}`;
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
  box.replaceChildren(h("label", { for: input.id }, "Link to this program"), h("div", { class: "row" }, input, copy));
  box.hidden = false;
  input.focus();
  input.select();
}
