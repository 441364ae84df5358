// Workspaces: the caller's workspaces with status and build timings, created
// from a template (docs/workspaces.md); start, stop, delete; each opens its
// terminal and files (pages/workspace.ts).

import { getJson, request } from "../api";
import { badge, errorText, every, field, fmtDate, fmtMs, h, liveRegion } from "../dom";
import type { Page } from "../main";
import { navigate } from "../nav";
import type { Template, Workspace } from "../types";

export function buildTimings(w: Workspace): HTMLElement {
  const b = w.build;
  if (!b) return h("span", null, "—");
  const steps = b.timings.map((t) => `${t.step} ${fmtMs(t.duration_ms)}`).join(" · ");
  return h("span", { class: "timings" }, b.duration_ms === null ? "building…" : fmtMs(b.duration_ms), steps ? h("span", { class: "hint" }, ` (${steps})`) : null);
}

/** Start, stop, delete buttons for a workspace; `after` runs when one is done. */
export function lifecycleButtons(w: Workspace, status: HTMLElement, after: () => void): HTMLElement {
  const act = async (what: string, method: string, path: string) => {
    if (what === "delete" && !window.confirm(`Delete workspace ${w.name} and its home directory?`)) return;
    status.textContent = `${what} ${w.name}…`;
    try {
      await request(path, { method });
      status.textContent = `${w.name}: ${what} requested.`;
    } catch (e) {
      status.textContent = `${w.name}: ${what} failed: ${errorText(e)}`;
    }
    after();
  };
  const base = `/api/v1/workspaces/${w.id}`;
  const btn = (label: string, show: boolean, fn: () => void) =>
    show ? h("button", { type: "button", class: "secondary small", onclick: fn, "aria-label": `${label} ${w.name}` }, label) : null;
  return h(
    "div",
    { class: "row-actions" },
    btn("Start", w.status === "stopped" || w.status === "failed", () => void act("start", "POST", `${base}/start`)),
    btn("Stop", w.status === "running" || w.status === "failed", () => void act("stop", "POST", `${base}/stop`)),
    btn("Delete", w.status !== "deleting" && w.status !== "deleted", () => void act("delete", "DELETE", base)),
  );
}

/** The create form: name, template (with what it offers), its shell. */
function createForm(status: HTMLElement) {
  const name = h("input", { type: "text", id: "ws-name", required: true, pattern: "[a-z0-9-]{1,63}", maxlength: 63, autocomplete: "off", spellcheck: "false" });
  const template = h("select", { id: "ws-template", required: true });
  const shell = h("select", { id: "ws-shell" });
  const about = h("p", { class: "hint template-about" });
  const create = h("button", { type: "submit" }, "Create");
  const form = h(
    "form",
    { class: "create-form", "aria-labelledby": "create-title" },
    h("h2", { id: "create-title" }, "New workspace"),
    h("div", { class: "row wrap" }, field("Name", name, "1 to 63 of a–z, 0–9 and -"), field("Template", template), field("Shell", shell), h("div", { class: "actions" }, create)),
    about,
  );
  let templates: Template[] = [];
  const showTemplate = () => {
    const t = templates.find((x) => x.name === template.value);
    shell.replaceChildren();
    if (!t) return;
    const p = t.parameters.find((x) => x.name === "shell");
    for (const o of p?.options ?? []) shell.append(h("option", { value: o, selected: o === p?.default }, o));
    shell.disabled = !p;
    about.textContent = `${t.description} — ${t.cpu} CPU, ${t.memory_mb} MiB memory, ${t.disk_mb} MiB disk, ${t.pids} processes. Languages: ${t.languages.join(", ") || "none found"}.`;
  };
  template.addEventListener("change", showTemplate);
  getJson<{ templates: Template[] }>("/api/v1/templates")
    .then((v) => {
      templates = v.templates;
      for (const t of templates) template.append(h("option", { value: t.name }, t.name));
      showTemplate();
    })
    .catch((e) => {
      status.textContent = `Workspaces are not available: ${errorText(e)}`;
      create.disabled = true;
    });
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    create.disabled = true;
    status.textContent = `Creating ${name.value}…`;
    try {
      const parameters = shell.disabled || !shell.value ? {} : { shell: shell.value };
      const w = await (await request("/api/v1/workspaces", { method: "POST", json: { name: name.value, template: template.value, parameters } })).json();
      status.textContent = `Created ${w.name}; it is ${w.status}.`;
      navigate(`/console/workspaces/${w.id}`);
    } catch (e) {
      status.textContent = `Cannot create ${name.value}: ${errorText(e)}`;
      create.disabled = false;
      name.focus();
    }
  });
  return form;
}

/**
 * The table body, kept in step with the list. Rows are replaced only when
 * their workspace changed, so the periodic refresh does not take the focus
 * away from a button in the table.
 */
function workspaceRows(tbody: HTMLElement, status: HTMLElement, refresh: () => void) {
  const rows = new Map<string, { sig: string; tr: HTMLElement }>();
  const rowOf = (w: Workspace) =>
    h(
      "tr",
      { "data-name": w.name, "data-status": w.status },
      h("th", { scope: "row" }, h("a", { href: `/console/workspaces/${w.id}`, "data-nav": true }, w.name)),
      h("td", null, w.template),
      h("td", null, badge(w.status), w.error ? h("span", { class: "hint" }, ` ${w.error}`) : null),
      h("td", null, badge(w.agent.status)),
      h("td", null, buildTimings(w)),
      h("td", null, fmtDate(w.created_at)),
      h("td", null, lifecycleButtons(w, status, refresh)),
    );
  const empty = h("tr", null, h("td", { colspan: 7 }, "No workspace yet: create one above."));
  return (workspaces: Workspace[]) => {
    const order: HTMLElement[] = [];
    for (const w of workspaces) {
      const sig = JSON.stringify([w.status, w.error, w.agent.status, w.build]);
      let r = rows.get(w.id);
      if (!r || r.sig !== sig) {
        const tr = rowOf(w);
        r?.tr.replaceWith(tr);
        r = { sig, tr };
        rows.set(w.id, r);
      }
      order.push(r.tr);
    }
    for (const [id, r] of rows) {
      if (!workspaces.some((w) => w.id === id)) {
        r.tr.remove();
        rows.delete(id);
      }
    }
    if (!order.length) order.push(empty);
    order.forEach((tr, i) => {
      if (tbody.children[i] !== tr) tbody.insertBefore(tr, tbody.children[i] ?? null);
    });
    while (tbody.children.length > order.length) tbody.lastElementChild!.remove();
  };
}

export const page: Page = {
  title: "Workspaces",
  async mount(root) {
    const status = liveRegion();
    const tbody = h("tbody");
    const head = h("thead", null, h("tr", null, ["Name", "Template", "Status", "Agent", "Last build", "Created", "Actions"].map((c) => h("th", { scope: "col" }, c))));
    root.append(
      h("div", { class: "page-head" }, h("h1", null, "Workspaces")),
      createForm(status),
      status,
      h("div", { class: "table-wrap" }, h("table", { class: "list", "data-testid": "workspaces" }, h("caption", { class: "visually-hidden" }, "Your workspaces"), head, tbody)),
    );
    const refresh = async () => {
      try {
        const { workspaces } = await getJson<{ workspaces: Workspace[] }>("/api/v1/workspaces");
        show(workspaces.sort((a, b) => b.created_at.localeCompare(a.created_at)));
      } catch (e) {
        status.textContent = `Cannot list the workspaces: ${errorText(e)}`;
      }
    };
    const show = workspaceRows(tbody, status, () => void refresh());
    await refresh();
    return every(2000, refresh);
  },
};
