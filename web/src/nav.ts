// Moving between console pages without a reload: the router in main.ts
// renders on popstate, which a pushState does not fire by itself.

export function navigate(path: string): void {
  if (path === window.location.pathname + window.location.search + window.location.hash) return;
  window.history.pushState(null, "", path);
  window.dispatchEvent(new PopStateEvent("popstate"));
}
