// One workspace (`/console/workspaces/{id}`): its status and build, start,
// stop and delete, a terminal (terminal.ts) and its files (files.ts) with
// upload, download, and edit in the code editor.

import { getJson } from "../api";
import { badge, errorText, every, fmtDate, h, liveRegion } from "../dom";
import { createEditor, type Editor } from "../editor";
import { FileApi, FileTree, MAX_EDIT_BYTES, type Entry } from "../files";
import { languageOfFile } from "../languages";
import type { Page } from "../main";
import { WorkspaceTerminal } from "../terminal";
import type { Workspace } from "../types";
import { buildTimings, lifecycleButtons } from "./workspaces";

function fileEditor(files: FileApi, status: HTMLElement, host: HTMLElement, saved: () => void) {
  let editor: Editor | null = null;
  const close = () => {
    editor?.destroy();
    editor = null;
    host.replaceChildren();
    host.hidden = true;
  };
  const open = async (e: Entry) => {
    if (e.size > MAX_EDIT_BYTES) {
      status.textContent = `${e.name} is larger than ${MAX_EDIT_BYTES >> 20} MiB: download it instead.`;
      return;
    }
    let text: string;
    try {
      const blob = await files.read(e.path);
      text = new TextDecoder("utf-8", { fatal: true }).decode(await blob.arrayBuffer());
    } catch (err) {
      status.textContent = err instanceof TypeError ? `${e.name} is not UTF-8 text: download it instead.` : `Cannot open ${e.path}: ${errorText(err)}`;
      return;
    }
    close();
    const saveBtn = h("button", { type: "button", "aria-keyshortcuts": "Control+S Meta+S" }, "Save");
    const closeBtn = h("button", { type: "button", class: "secondary" }, "Close");
    const where = h("div", { class: "editor-host" });
    host.append(h("div", { class: "editor-head" }, h("h3", null, "Editing ", h("code", null, e.path)), h("div", { class: "row" }, saveBtn, closeBtn)), where);
    host.hidden = false;
    let dirty = false;
    const save = async () => {
      try {
        await files.write(e.path, editor!.getDoc());
        dirty = false;
        status.textContent = `Saved ${e.path}.`;
        saved();
      } catch (err) {
        status.textContent = `Cannot save ${e.path}: ${errorText(err)}`;
      }
    };
    editor = createEditor(where, {
      doc: text,
      language: languageOfFile(e.name),
      label: `Contents of ${e.path}`,
      onSave: () => void save(),
      onChange: () => {
        dirty = true;
      },
    });
    saveBtn.addEventListener("click", () => void save());
    closeBtn.addEventListener("click", () => {
      if (!dirty || window.confirm(`Close ${e.name} without saving?`)) close();
    });
    editor.focus();
  };
  return { open, close };
}

/** The terminal pane: xterm.js on the workspace's PTY, with its options. */
function terminalPane(id: string): { element: HTMLElement; start: () => WorkspaceTerminal } {
  const host = h("div", { class: "terminal-host", "data-testid": "terminal" });
  const state = h("span", { class: "hint", role: "status" });
  const reconnect = h("button", { type: "button", class: "secondary small" }, "Reconnect");
  const sr = h("input", { type: "checkbox", id: "sr-mode" });
  const tabOut = h("input", { type: "checkbox", id: "tab-out" });
  const element = h(
    "section",
    { class: "pane terminal-pane", "aria-labelledby": "term-title" },
    h("div", { class: "pane-head" }, h("h2", { id: "term-title" }, "Terminal"), state, reconnect),
    h(
      "div",
      { class: "row wrap term-options" },
      h("div", { class: "field-inline" }, sr, h("label", { for: sr.id }, "Screen reader mode")),
      h("div", { class: "field-inline" }, tabOut, h("label", { for: tabOut.id }, "Tab leaves the terminal")),
    ),
    host,
  );
  // The terminal measures its box: it is made once the pane is in the page.
  const start = () => {
    const term = new WorkspaceTerminal(host, id, { state: (text) => (state.textContent = text) });
    reconnect.addEventListener("click", () => {
      term.reconnect();
      term.focus();
    });
    sr.addEventListener("change", () => term.setScreenReaderMode(sr.checked));
    tabOut.addEventListener("change", () => term.setTabLeaves(tabOut.checked));
    void term.connect();
    return term;
  };
  return { element, start };
}

/** The files pane: the tree, upload, new file and folder, refresh. */
function filesPane(files: FileApi, tree: FileTree, status: HTMLElement): HTMLElement {
  const upload = h("input", { type: "file", multiple: true, id: "upload", class: "visually-hidden", "data-testid": "upload" });
  const uploadLabel = h("label", { for: upload.id, class: "button small", tabindex: 0, role: "button" }, "Upload files");
  const newDir = h("button", { type: "button", class: "secondary small" }, "New folder");
  const newFile = h("button", { type: "button", class: "secondary small" }, "New file");
  const refresh = h("button", { type: "button", class: "secondary small" }, "Refresh");
  uploadLabel.addEventListener("keydown", (ev) => {
    if (ev.key === "Enter" || ev.key === " ") {
      ev.preventDefault();
      upload.click();
    }
  });
  upload.addEventListener("change", async () => {
    const chosen = Array.from(upload.files ?? []);
    upload.value = "";
    for (const [i, f] of chosen.entries()) {
      status.textContent = `Uploading ${f.name} (${i + 1} of ${chosen.length})…`;
      try {
        await files.write(`${tree.uploadTarget}/${f.name}`, f);
      } catch (e) {
        status.textContent = `Cannot upload ${f.name}: ${errorText(e)}`;
        return;
      }
    }
    status.textContent = `Uploaded ${chosen.map((f) => f.name).join(", ")} to ${tree.uploadTarget}.`;
    await tree.refresh();
  });
  const ask = async (what: string, make: (path: string) => Promise<void>) => {
    const name = window.prompt(`${what} in ${tree.uploadTarget}:`);
    if (!name) return;
    if (name.includes("/") || name === "." || name === "..") {
      status.textContent = "A name may not hold / (pick the folder in the tree first).";
      return;
    }
    try {
      await make(`${tree.uploadTarget}/${name}`);
      await tree.refresh();
    } catch (e) {
      status.textContent = `${what} failed: ${errorText(e)}`;
    }
  };
  newFile.addEventListener("click", () => void ask("New file", (p) => files.write(p, "")));
  newDir.addEventListener("click", () => void ask("New folder", (p) => files.mkdir(p)));
  refresh.addEventListener("click", () => void tree.refresh());
  return h(
    "section",
    { class: "pane files-pane", "aria-labelledby": "files-title" },
    h("div", { class: "pane-head" }, h("h2", { id: "files-title" }, "Files")),
    h("div", { class: "row wrap" }, uploadLabel, upload, newFile, newDir, refresh),
    tree.element,
  );
}

/** The header: name, status, lifecycle buttons, build. */
function header(w: Workspace, status: HTMLElement, reload: () => void): HTMLElement[] {
  const out = [
    h("div", { class: "page-head" }, h("h1", null, w.name), h("div", { class: "row" }, badge(w.status), lifecycleButtons(w, status, reload))),
    h("p", { class: "hint" }, `Template ${w.template} · agent ${w.agent.status} · uid ${w.uid} · created ${fmtDate(w.created_at)} · last build `, buildTimings(w)),
  ];
  if (w.error) out.push(h("p", { class: "notice" }, w.error));
  return out;
}

export const page: Page = {
  title: "Workspace",
  async mount(root, params) {
    const id = params.id;
    const status = liveRegion();
    const head = h("div", { class: "ws-head" });
    const body = h("div", { class: "ws-body" });
    root.append(h("p", null, h("a", { href: "/console/workspaces", "data-nav": true }, "← All workspaces")), head, status, body);

    const files = new FileApi(id);
    const editorHost = h("section", { class: "pane file-editor", hidden: true, "aria-label": "File editor" });
    const tree = new FileTree(files, { open: (e) => void editor.open(e), status: (t) => (status.textContent = t) });
    const editor = fileEditor(files, status, editorHost, () => void tree.refresh());
    let term: WorkspaceTerminal | null = null;
    // What the body shows ("running", or another status), and the header's last state:
    // each is redrawn only on a change, so the refresh does not steal the focus.
    let shown: string | null = null;
    let headSig = "";

    const showBody = (mode: string | null, w?: Workspace) => {
      if (mode === shown) return;
      shown = mode;
      term?.dispose();
      term = null;
      editor.close();
      if (mode !== "running") {
        const why = w?.status === "provisioning" ? "The workspace is being built…" : `The workspace is ${w?.status}. Start it to use its terminal and files.`;
        body.replaceChildren(w ? h("p", { class: "notice" }, why) : "");
        return;
      }
      const pane = terminalPane(id);
      body.replaceChildren(h("div", { class: "ws-grid" }, pane.element, filesPane(files, tree, status), editorHost));
      term = pane.start();
      void tree.refresh();
    };

    const load = async () => {
      let w: Workspace;
      try {
        w = await getJson<Workspace>(`/api/v1/workspaces/${id}`);
      } catch (e) {
        head.replaceChildren(h("h1", null, "Workspace"));
        showBody(null);
        body.replaceChildren(h("p", { role: "alert" }, `Cannot open this workspace: ${errorText(e)}`));
        headSig = "";
        return;
      }
      document.title = `${w.name} · Kiln`;
      const sig = JSON.stringify([w.status, w.error, w.agent, w.build]);
      if (sig !== headSig) {
        headSig = sig;
        head.replaceChildren(...header(w, status, () => void load()));
      }
      const ready = w.status === "running" && w.agent.status === "connected";
      showBody(ready ? "running" : w.status, w);
    };

    await load();
    const stop = every(2000, load);
    return () => {
      stop();
      term?.dispose();
      editor.close();
    };
  },
};
