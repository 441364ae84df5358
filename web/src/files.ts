// A workspace's files: a tree of its home (`/home/kiln`), listed one
// directory at a time with `find` run through the exec API (an argv, never a
// shell line), and moved with the files API: upload (PUT), download (GET),
// edit (GET, then PUT on save), new folder and delete (exec `mkdir`, `rm`).
// The server checks every path (no symlinks, nothing outside the home).

import { getJson, request } from "./api";
import { errorText, fmtBytes, h } from "./dom";
import type { ExecResult } from "./types";

export const HOME = "/home/kiln";
/** Files larger than this open for download only, not in the editor. */
export const MAX_EDIT_BYTES = 2 * 1024 * 1024;

export interface Entry {
  name: string;
  path: string;
  dir: boolean;
  size: number;
}

export interface FileActions {
  open(entry: Entry): void;
  status(text: string): void;
}

function join(dir: string, name: string): string {
  return dir.endsWith("/") ? dir + name : `${dir}/${name}`;
}

export class FileApi {
  constructor(private readonly id: string) {}

  private get base(): string {
    return `/api/v1/workspaces/${this.id}`;
  }

  async exec(command: string[]): Promise<ExecResult> {
    return getJson<ExecResult>(`${this.base}/exec`, { method: "POST", json: { command, timeout_ms: 15000 } });
  }

  /** The entries of one directory, folders first. */
  async list(dir: string): Promise<{ entries: Entry[]; truncated: boolean }> {
    const r = await this.exec(["find", dir, "-mindepth", "1", "-maxdepth", "1", "-printf", "%y\\t%s\\t%f\\0"]);
    if (r.exit_code !== 0 && !r.stdout) throw new Error(r.stderr.trim() || `find exited with ${r.exit_code}`);
    const entries = r.stdout
      .split("\0")
      .filter(Boolean)
      .map((line) => {
        const [type, size, ...rest] = line.split("\t");
        const name = rest.join("\t");
        return { name, path: join(dir, name), dir: type === "d", size: Number(size) || 0 };
      })
      .sort((a, b) => Number(b.dir) - Number(a.dir) || a.name.localeCompare(b.name));
    return { entries, truncated: r.output_truncated };
  }

  async read(path: string): Promise<Blob> {
    return (await request(`${this.base}/files?path=${encodeURIComponent(path)}`)).blob();
  }

  async write(path: string, body: Blob | string): Promise<void> {
    await request(`${this.base}/files?path=${encodeURIComponent(path)}`, {
      method: "PUT",
      body,
      headers: { "Content-Type": "application/octet-stream" },
    });
  }

  async mkdir(path: string): Promise<void> {
    const r = await this.exec(["mkdir", "-p", "--", path]);
    if (r.exit_code !== 0) throw new Error(r.stderr.trim() || `mkdir exited with ${r.exit_code}`);
  }

  async remove(path: string): Promise<void> {
    const r = await this.exec(["rm", "-rf", "--", path]);
    if (r.exit_code !== 0) throw new Error(r.stderr.trim() || `rm exited with ${r.exit_code}`);
  }
}

/** Saves a blob as a file of the user's (a download link clicked for them). */
export function saveBlob(blob: Blob, name: string): void {
  const url = URL.createObjectURL(blob);
  const a = h("a", { href: url, download: name, hidden: true });
  document.body.append(a);
  a.click();
  a.remove();
  window.setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

/**
 * The tree: nested lists of buttons (keyboard and screen-reader friendly).
 * A folder button expands it and makes it the target of uploads.
 */
export class FileTree {
  readonly element: HTMLElement;
  private target = HOME;
  private readonly targetLabel = h("code", { "data-testid": "upload-target" }, HOME);
  private readonly expanded = new Set<string>([HOME]);
  private readonly root: HTMLUListElement;

  constructor(
    private readonly files: FileApi,
    private readonly actions: FileActions,
  ) {
    this.root = h("ul", { class: "tree", "aria-label": "Files of the home directory", "data-testid": "file-tree" });
    this.element = h("div", { class: "tree-box" }, h("p", { class: "hint" }, "Uploads go to ", this.targetLabel), this.root);
  }

  get uploadTarget(): string {
    return this.target;
  }

  private setTarget(dir: string): void {
    this.target = dir;
    this.targetLabel.textContent = dir;
  }

  async refresh(): Promise<void> {
    await this.fill(this.root, HOME, 0);
  }

  private async fill(ul: HTMLUListElement, dir: string, depth: number): Promise<void> {
    let listing;
    try {
      listing = await this.files.list(dir);
    } catch (e) {
      ul.replaceChildren(h("li", { class: "hint" }, `Cannot list ${dir}: ${errorText(e)}`));
      return;
    }
    const items = await Promise.all(listing.entries.map((e) => this.item(e, depth)));
    ul.replaceChildren(...items);
    if (!listing.entries.length) ul.append(h("li", { class: "hint" }, "(empty)"));
    if (listing.truncated) ul.append(h("li", { class: "hint" }, "(more entries than can be listed)"));
  }

  private async item(e: Entry, depth: number): Promise<HTMLElement> {
    const li = h("li", { "data-path": e.path });
    const del = h("button", { type: "button", class: "icon secondary small", "aria-label": `Delete ${e.name}`, title: "Delete" }, "✕");
    del.addEventListener("click", async () => {
      if (!window.confirm(`Delete ${e.path}${e.dir ? " and everything in it" : ""}?`)) return;
      try {
        await this.files.remove(e.path);
        this.actions.status(`Deleted ${e.path}.`);
        if (this.target.startsWith(e.path)) this.setTarget(HOME);
        await this.refresh();
      } catch (err) {
        this.actions.status(`Cannot delete ${e.path}: ${errorText(err)}`);
      }
    });
    if (!e.dir) {
      const open = h("button", { type: "button", class: "tree-item file" }, e.name, h("span", { class: "hint" }, ` ${fmtBytes(e.size)}`));
      open.addEventListener("click", () => this.actions.open(e));
      const down = h("button", { type: "button", class: "icon secondary small", "aria-label": `Download ${e.name}`, title: "Download" }, "↓");
      down.addEventListener("click", async () => {
        try {
          saveBlob(await this.files.read(e.path), e.name);
        } catch (err) {
          this.actions.status(`Cannot download ${e.path}: ${errorText(err)}`);
        }
      });
      li.append(h("div", { class: "tree-row" }, open, down, del));
      return li;
    }
    const sub = h("ul", { role: "group" });
    const toggle = h("button", { type: "button", class: "tree-item dir", "aria-expanded": "false" }, e.name + "/");
    const expand = async (on: boolean, byUser: boolean) => {
      toggle.setAttribute("aria-expanded", String(on));
      if (on) {
        this.expanded.add(e.path);
        if (byUser) this.setTarget(e.path);
        await this.fill(sub, e.path, depth + 1);
      } else {
        this.expanded.delete(e.path);
        sub.replaceChildren();
        if (this.target.startsWith(e.path)) this.setTarget(HOME);
      }
    };
    toggle.addEventListener("click", () => void expand(toggle.getAttribute("aria-expanded") !== "true", true));
    li.append(h("div", { class: "tree-row" }, toggle, del), sub);
    if (this.expanded.has(e.path) && depth < 16) await expand(true, false);
    return li;
  }
}
