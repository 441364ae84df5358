// One workspace (`/console/workspaces/{id}`): its status and build, start,
// stop and delete, a terminal (terminal.ts) and its files (files.ts) with
// upload, download, and edit in the code editor.

import { getJson } from "../api";
import { append, badge, errorText, every, fmtDate, h, liveRegion } from "../dom";
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

export const page: Page = {
  title: "Workspace",
  async mount(root, params) {
    const id = params.id;
    const status = liveRegion();
    const head = h("div", { class: "ws-head" });
    const body = h("div", { class: "ws-body" });
    root.append(h("p", null, h("a", { href: "/console/workspaces", "data-nav": true }, "← All workspaces")), head, status, body);

    let term: WorkspaceTerminal | null = null;
    let shown: string | null = null;
    const files = new FileApi(id);
    const editorHost = h("section", { class: "pane file-editor", hidden: true, "aria-label": "File editor" });
    let tree: FileTree | null = null;
    const editor = fileEditor(files, status, editorHost, () => void tree?.refresh());

    const showBody = (w: Workspace) => {
      const ready = w.status === "running" && w.agent.status === "connected";
      const mode = ready ? "running" : w.status;
      if (mode === shown) return;
      shown = mode;
      term?.dispose();
      term = null;
      editor.close();
      if (!ready) {
        body.replaceChildren(h("p", { class: "notice" }, w.status === "provisioning" ? "The workspace is being built…" : `The workspace is ${w.status}. Start it to use its terminal and files.`));
        return;
      }
      const termHost = h("div", { class: "terminal-host", "data-testid": "terminal" });
      const termState = h("span", { class: "hint", role: "status" });
      const reconnect = h("button", { type: "button", class: "secondary small" }, "Reconnect");
      const sr = h("input", { type: "checkbox", id: "sr-mode" });
      const tabOut = h("input", { type: "checkbox", id: "tab-out" });
      const upload = h("input", { type: "file", multiple: true, id: "upload", class: "visually-hidden", "data-testid": "upload" });
      const newDir = h("button", { type: "button", class: "secondary small" }, "New folder");
      const newFile = h("button", { type: "button", class: "secondary small" }, "New file");
      const refresh = h("button", { type: "button", class: "secondary small" }, "Refresh");
      const ft = new FileTree(files, { open: (e) => void editor.open(e), status: (t) => (status.textContent = t) });
      tree = ft;
      body.replaceChildren(
        h(
          "div",
          { class: "ws-grid" },
          h(
            "section",
            { class: "pane terminal-pane", "aria-labelledby": "term-title" },
            h("div", { class: "pane-head" }, h("h2", { id: "term-title" }, "Terminal"), termState, reconnect),
            h(
              "div",
              { class: "row wrap term-options" },
              h("div", { class: "field-inline" }, sr, h("label", { for: sr.id }, "Screen reader mode")),
              h("div", { class: "field-inline" }, tabOut, h("label", { for: tabOut.id }, "Tab leaves the terminal")),
            ),
            termHost,
          ),
          h(
            "section",
            { class: "pane files-pane", "aria-labelledby": "files-title" },
            h("div", { class: "pane-head" }, h("h2", { id: "files-title" }, "Files")),
            h("div", { class: "row wrap" }, h("label", { for: upload.id, class: "button small", tabindex: 0, role: "button" }, "Upload files"), upload, newFile, newDir, refresh),
            ft.element,
          ),
          editorHost,
        ),
      );
      const t = new WorkspaceTerminal(termHost, id, { state: (text) => (termState.textContent = text) });
      term = t;
      void t.connect();
      reconnect.addEventListener("click", () => {
        t.reconnect();
        t.focus();
      });
      sr.addEventListener("change", () => t.setScreenReaderMode(sr.checked));
      tabOut.addEventListener("change", () => t.setTabLeaves(tabOut.checked));
      const uploadLabel = upload.previousElementSibling as HTMLElement;
      uploadLabel.addEventListener("keydown", (ev) => {
        if (ev.key === "Enter" || ev.key === " ") {
          ev.preventDefault();
          upload.click();
        }
      });
      upload.addEventListener("change", async () => {
        const chosen = Array.from(upload.files ?? []);
        for (const [i, f] of chosen.entries()) {
          const path = `${ft.uploadTarget}/${f.name}`;
          status.textContent = `Uploading ${f.name} (${i + 1} of ${chosen.length})…`;
          try {
            await files.write(path, f);
          } catch (e) {
            status.textContent = `Cannot upload ${f.name}: ${errorText(e)}`;
            upload.value = "";
            return;
          }
        }
        status.textContent = `Uploaded ${chosen.map((f) => f.name).join(", ")} to ${ft.uploadTarget}.`;
        upload.value = "";
        await ft.refresh();
      });
      const ask = async (what: string, make: (path: string) => Promise<void>) => {
        const name = window.prompt(`${what} in ${ft.uploadTarget}:`);
        if (!name) return;
        if (name.includes("/") || name === "." || name === "..") {
          status.textContent = "A name may not hold / (pick the folder in the tree first).";
          return;
        }
        try {
          await make(`${ft.uploadTarget}/${name}`);
          await ft.refresh();
        } catch (e) {
          status.textContent = `${what} failed: ${errorText(e)}`;
        }
      };
      newFile.addEventListener("click", () => void ask("New file", (p) => files.write(p, "")));
      newDir.addEventListener("click", () => void ask("New folder", (p) => files.mkdir(p)));
      refresh.addEventListener("click", () => void ft.refresh());
      void ft.refresh();
    };

    let headSig = "";
    const load = async () => {
      let w: Workspace;
      try {
        w = await getJson<Workspace>(`/api/v1/workspaces/${id}`);
      } catch (e) {
        head.replaceChildren(h("h1", null, "Workspace"));
        body.replaceChildren(h("p", { role: "alert" }, `Cannot open this workspace: ${errorText(e)}`));
        shown = null;
        headSig = "";
        term?.dispose();
        term = null;
        return;
      }
      document.title = `${w.name} · Kiln`;
      // Redrawn only on a change, so the refresh does not steal the focus.
      const sig = JSON.stringify([w.status, w.error, w.agent, w.build]);
      if (sig !== headSig) {
        headSig = sig;
        head.replaceChildren();
        append(head, [
          h("div", { class: "page-head" }, h("h1", null, w.name), h("div", { class: "row" }, badge(w.status), lifecycleButtons(w, status, () => void load()))),
          h("p", { class: "hint" }, `Template ${w.template} · agent ${w.agent.status} · uid ${w.uid} · created ${fmtDate(w.created_at)} · last build `, buildTimings(w)),
          w.error ? h("p", { class: "notice" }, w.error) : null,
        ]);
      }
      showBody(w);
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
