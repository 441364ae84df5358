// The playground (`/`): an editor, a language picker from
// `GET /api/v1/languages`, stdin, test cases, limits; Run streams the output
// of an interactive run (stdin typed live), Submit queues a submission and
// shows its verdict per test; Share puts the program in the link
// (playground-actions.ts). Ctrl/Cmd-Enter runs, Ctrl/Cmd-Shift-Enter submits.

import { getJson } from "../api";
import { errorText, field, h, liveRegion } from "../dom";
import { createEditor } from "../editor";
import { helloFor } from "../languages";
import type { Page } from "../main";
import { decodeShared, type Shared } from "../share";
import { loadDrafts, saveDrafts, type Drafts } from "../store";
import type { Language, SubmissionRequest } from "../types";
import { runner, share, submitter, type OutputPane } from "./playground-actions";
import { inputsForm } from "./playground-form";

function keyHint(): HTMLElement {
  const k = (t: string) => h("kbd", null, t);
  return h("p", { class: "hint" }, k("Ctrl"), "+", k("Enter"), " runs, ", k("Ctrl"), "+", k("Shift"), "+", k("Enter"), " submits (", k("⌘"), " on a Mac). In the editor, ", k("Esc"), " then ", k("Tab"), " leaves it.");
}

function outputPane(): OutputPane {
  return {
    status: liveRegion(),
    out: h("pre", { class: "console", id: "run-output", tabindex: 0, "aria-label": "Program output", "data-testid": "output" }),
    result: h("div", { class: "result-box", "data-testid": "result" }),
    liveInput: h("input", { type: "text", id: "live-stdin", autocomplete: "off", disabled: true, spellcheck: "false" }),
    send: h("button", { type: "submit", class: "secondary", disabled: true }, "Send"),
    eof: h("button", { type: "button", class: "secondary", disabled: true }, "Close stdin"),
    run: h("button", { type: "button", "data-testid": "run", "aria-keyshortcuts": "Control+Enter Meta+Enter" }, "Run"),
    stop: h("button", { type: "button", class: "secondary", disabled: true }, "Stop"),
    submit: h("button", { type: "button", "data-testid": "submit", "aria-keyshortcuts": "Control+Shift+Enter Meta+Shift+Enter" }, "Submit"),
  };
}

/** The languages for the picker (Kiln's names carry the version: "Python 3.11.2"). */
async function fillPicker(picker: HTMLSelectElement, status: HTMLElement): Promise<Language[]> {
  let languages: Language[] = [];
  try {
    languages = (await getJson<{ languages: Language[] }>("/api/v1/languages")).languages;
  } catch (e) {
    status.textContent = `Cannot list the languages: ${errorText(e)}`;
  }
  for (const l of languages) {
    const label = l.version && !l.name.includes(l.version) ? `${l.name} (${l.version})` : l.name;
    picker.append(h("option", { value: l.id }, label));
  }
  return languages;
}

/** What the editor starts with: the link's program, else the draft, else a hello. */
async function startingProgram(languages: Language[], drafts: Drafts, status: HTMLElement) {
  let shared: Shared | null = null;
  try {
    shared = await decodeShared(window.location.hash.slice(1));
  } catch (e) {
    status.textContent = `This link's program cannot be opened: ${errorText(e)}`;
  }
  const known = (id?: string) => (id && languages.some((l) => l.id === id) ? id : undefined);
  const language = known(shared?.language) ?? known(drafts.language) ?? known("python") ?? languages[0]?.id ?? "python";
  if (shared && !known(shared.language)) status.textContent = `This server has no ${shared.language}; the program is shown as it is.`;
  return { shared, language, source: shared?.source ?? drafts.sources[language] ?? helloFor(language) };
}

export const page: Page = {
  title: "Playground",
  async mount(root) {
    const pane = outputPane();
    const picker = h("select", { id: "language", "data-testid": "language" });
    const shareBtn = h("button", { type: "button", class: "secondary" }, "Share");
    const shareBox = h("div", { class: "share-box", hidden: true });
    const editorHost = h("div", { class: "editor-host" });
    const form = inputsForm();
    root.append(
      h("div", { class: "page-head" }, h("h1", null, "Playground"), h("div", { class: "toolbar" }, field("Language", picker), pane.run, pane.stop, pane.submit, shareBtn)),
      shareBox,
      h(
        "div",
        { class: "play-grid" },
        h("section", { class: "pane editor-pane", "aria-labelledby": "program-title" }, h("h2", { id: "program-title", class: "visually-hidden" }, "Program"), editorHost, keyHint()),
        h("section", { class: "pane side-pane" }, form.element),
        h(
          "section",
          { class: "pane output-pane", "aria-labelledby": "output-title" },
          h("h2", { id: "output-title" }, "Output"),
          pane.status,
          pane.out,
          h("form", { class: "live-stdin" }, h("label", { for: pane.liveInput.id }, "Type into the program"), h("div", { class: "row" }, pane.liveInput, pane.send, pane.eof)),
          pane.result,
        ),
      ),
    );

    const languages = await fillPicker(picker, pane.status);
    const drafts = loadDrafts();
    const start = await startingProgram(languages, drafts, pane.status);
    let language = start.language;
    picker.value = language;
    if (start.shared) form.set(start.shared.stdin, start.shared.tests, start.shared.limits);

    const request_ = (): SubmissionRequest => {
      const req: SubmissionRequest = { language, source: editor.getDoc() };
      const limits = form.limits();
      if (limits) req.limits = limits;
      return req;
    };
    const runs = runner(pane, form, request_);
    const submits = submitter(pane, form, request_, runs.clear);
    const saveDraft = () => {
      drafts.sources[language] = editor.getDoc();
      drafts.language = language;
      saveDrafts(drafts);
    };
    let saveTimer = 0;
    const editor = createEditor(editorHost, {
      doc: start.source,
      language: start.shared?.language ?? language,
      label: "Program source",
      onRun: () => void runs.run(),
      onSubmit: () => void submits.submit(),
      onChange: () => {
        window.clearTimeout(saveTimer);
        saveTimer = window.setTimeout(saveDraft, 300);
      },
    });

    picker.addEventListener("change", () => {
      saveDraft();
      language = picker.value;
      drafts.language = language;
      saveDrafts(drafts);
      editor.setDoc(drafts.sources[language] ?? helloFor(language));
      editor.setLanguage(language);
    });
    shareBtn.addEventListener("click", () => {
      const program: Shared = { language, source: editor.getDoc() };
      if (form.stdin()) program.stdin = form.stdin();
      if (form.tests().length) program.tests = form.tests();
      program.limits = form.limits();
      void share(shareBox, program);
    });
    pane.run.addEventListener("click", () => void runs.run());
    pane.submit.addEventListener("click", () => void submits.submit());
    root.addEventListener("keydown", (ev) => {
      if (ev.defaultPrevented || ev.key !== "Enter" || !(ev.ctrlKey || ev.metaKey)) return;
      ev.preventDefault();
      if (ev.shiftKey) void submits.submit();
      else void runs.run();
    });
    return () => {
      runs.stop();
      submits.dispose();
      window.clearTimeout(saveTimer);
      saveDraft();
      editor.destroy();
    };
  },
};
