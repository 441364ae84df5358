// The console's entry: a small history router over the pages. Each page is
// its own chunk (the editor, the terminal and the charts load only where they
// are used) and returns a cleanup that closes its sockets and timers.
//
// Paths (crates/console serves index.html for each): `/` the playground,
// `/console/submissions[/ID]`, `/console/workspaces[/ID]`,
// `/console/dashboard`, `/console/reports`.

import { initKeyButton } from "./auth";
import { errorText, h } from "./dom";
import { navigate } from "./nav";

export type Cleanup = () => void;
export interface Page {
  title: string;
  mount(root: HTMLElement, params: Record<string, string>): Cleanup | void | Promise<Cleanup | void>;
}

interface Route {
  name: string;
  pattern: RegExp;
  load: () => Promise<{ page: Page }>;
}

const ROUTES: Route[] = [
  { name: "playground", pattern: /^\/(console\/?)?$/, load: () => import("./pages/playground") },
  { name: "submissions", pattern: /^\/console\/submissions(?:\/(?<id>[^/]+))?\/?$/, load: () => import("./pages/submissions") },
  { name: "workspaces", pattern: /^\/console\/workspaces\/?$/, load: () => import("./pages/workspaces") },
  { name: "workspaces", pattern: /^\/console\/workspaces\/(?<id>[0-9a-fA-F-]{36})\/?$/, load: () => import("./pages/workspace") },
  { name: "dashboard", pattern: /^\/console\/dashboard\/?$/, load: () => import("./pages/dashboard") },
  { name: "reports", pattern: /^\/console\/reports\/?$/, load: () => import("./pages/reports") },
];

let cleanup: Cleanup | null = null;
let generation = 0;

function markNav(name: string | null): void {
  for (const a of document.querySelectorAll<HTMLAnchorElement>("nav a[data-page]")) {
    if (a.dataset.page === name) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
}

async function render(focus: boolean): Promise<void> {
  const gen = ++generation;
  cleanup?.();
  cleanup = null;
  const main = document.getElementById("main") as HTMLElement;
  const path = window.location.pathname;
  const route = ROUTES.map((r) => ({ r, m: r.pattern.exec(path) })).find((x) => x.m);
  main.replaceChildren();
  if (!route) {
    markNav(null);
    document.title = "Not found · Kiln";
    main.append(
      h("h1", null, "No such page"),
      h("p", null, "The console has no page at ", h("code", null, path), ". ", h("a", { href: "/", "data-nav": true }, "Open the playground"), "."),
    );
    if (focus) main.focus();
    return;
  }
  markNav(route.r.name);
  try {
    const { page } = await route.r.load();
    if (gen !== generation) return;
    document.title = `${page.title} · Kiln`;
    const root = h("div", { class: `page page-${route.r.name}` });
    main.append(root);
    const done = await page.mount(root, { ...(route.m?.groups ?? {}) });
    if (gen !== generation) {
      done?.();
      return;
    }
    cleanup = done ?? null;
  } catch (e) {
    main.replaceChildren(h("h1", null, "This page failed to load"), h("p", { role: "alert" }, errorText(e)));
  }
  if (focus) main.focus();
}

document.addEventListener("click", (ev) => {
  const a = (ev.target as Element | null)?.closest?.("a[data-nav]") as HTMLAnchorElement | null;
  if (!a || ev.defaultPrevented || ev.button !== 0 || ev.metaKey || ev.ctrlKey || ev.shiftKey || ev.altKey) return;
  const url = new URL(a.href);
  if (url.origin !== window.location.origin) return;
  ev.preventDefault();
  navigate(url.pathname + url.search + url.hash);
});

window.addEventListener("popstate", () => void render(true));

initKeyButton();
void render(false);
