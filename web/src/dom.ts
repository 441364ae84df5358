// A small DOM builder and the formatters every page shares. Text always goes
// in as text nodes (never innerHTML), so what a program prints or a file holds
// is never markup.

type Child = Node | string | number | null | undefined | false | Child[];
type Handler = (ev: Event) => void;
export type Attrs = Record<string, string | number | boolean | Handler | null | undefined>;

export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Attrs | null = null,
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs ?? {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith("on") && typeof v === "function") {
      el.addEventListener(k.slice(2), v);
    } else if (k === "class") {
      el.className = String(v);
    } else if (k === "for") {
      (el as HTMLLabelElement).htmlFor = String(v);
    } else if (k === "value" || k === "checked" || k === "disabled" || k === "selected") {
      (el as unknown as Record<string, unknown>)[k] = v;
    } else {
      el.setAttribute(k, v === true ? "" : String(v));
    }
  }
  append(el, children);
  return el;
}

export function append(el: Node, children: Child[]): void {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.appendChild(typeof c === "string" || typeof c === "number" ? document.createTextNode(String(c)) : c);
  }
}

export function clear(el: Element): void {
  el.replaceChildren();
}

let ids = 0;
/** A unique id for label/aria wiring. */
export function uid(prefix: string): string {
  ids += 1;
  return `${prefix}-${ids}`;
}

/** A labelled form control: the label names the control for assistive tech. */
export function field(label: string, control: HTMLElement, hint?: string): HTMLElement {
  const id = control.id || uid("f");
  control.id = id;
  const hintEl = hint ? h("span", { class: "hint", id: `${id}-hint` }, hint) : null;
  if (hintEl) control.setAttribute("aria-describedby", hintEl.id);
  return h("div", { class: "field" }, h("label", { for: id }, label), control, hintEl);
}

export function fmtMs(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) return "—";
  if (ms < 1000) return `${Math.round(ms)} ms`;
  return `${(ms / 1000).toFixed(ms < 10000 ? 2 : 1)} s`;
}

export function fmtKb(kb: number | null | undefined): string {
  if (kb === null || kb === undefined) return "—";
  if (kb < 1024) return `${kb} KiB`;
  return `${(kb / 1024).toFixed(1)} MiB`;
}

export function fmtBytes(b: number): string {
  if (b < 1024) return `${b} B`;
  if (b < 1024 * 1024) return `${(b / 1024).toFixed(1)} KiB`;
  return `${(b / 1024 / 1024).toFixed(1)} MiB`;
}

export function fmtDate(iso: string | null | undefined): string {
  if (!iso) return "—";
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleString();
}

/** Words and a tone for a verdict or a workspace status. */
const STATUS: Record<string, [string, "ok" | "bad" | "warn" | "info"]> = {
  queued: ["Queued", "info"],
  running: ["Running", "info"],
  accepted: ["Accepted", "ok"],
  wrong_answer: ["Wrong answer", "bad"],
  compilation_error: ["Compilation error", "bad"],
  runtime_error: ["Runtime error", "bad"],
  time_limit_exceeded: ["Time limit exceeded", "warn"],
  memory_limit_exceeded: ["Memory limit exceeded", "warn"],
  output_limit_exceeded: ["Output limit exceeded", "warn"],
  internal_error: ["Internal error", "bad"],
  provisioning: ["Provisioning", "info"],
  stopping: ["Stopping", "info"],
  stopped: ["Stopped", "warn"],
  deleting: ["Deleting", "info"],
  deleted: ["Deleted", "warn"],
  failed: ["Failed", "bad"],
  connected: ["Connected", "ok"],
  connecting: ["Connecting", "info"],
  disconnected: ["Disconnected", "warn"],
};

export function statusWords(s: string): string {
  return STATUS[s]?.[0] ?? s;
}

/** A verdict badge (words, not only colour). */
export function badge(status: string): HTMLElement {
  const [words, tone] = STATUS[status] ?? [status, "info"];
  return h("span", { class: `badge badge-${tone}`, "data-status": status }, words);
}

/** Runs `fn` every `ms` while the tab is visible; returns the stop function. */
export function every(ms: number, fn: () => void | Promise<void>): () => void {
  let busy = false;
  const timer = window.setInterval(async () => {
    if (document.hidden || busy) return;
    busy = true;
    try {
      await fn();
    } finally {
      busy = false;
    }
  }, ms);
  return () => window.clearInterval(timer);
}

/** A status line that screen readers announce. */
export function liveRegion(cls = "status-line"): HTMLElement {
  return h("p", { class: cls, role: "status", "aria-live": "polite" });
}

export function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
