// The API key of this tab: asked for once (when the server first answers
// 401, or from the header's button), checked against the server, and kept
// in sessionStorage, so it lives as long as the tab and is never written to
// disk by the console, put in a URL, or shared with other tabs.

import { h } from "./dom";

const STORAGE = "kiln.apiKey";

export function getKey(): string | null {
  try {
    return sessionStorage.getItem(STORAGE);
  } catch {
    return null;
  }
}

/** False when the browser keeps no session storage (then the key cannot be kept). */
function setKey(key: string | null): boolean {
  try {
    if (key) sessionStorage.setItem(STORAGE, key);
    else sessionStorage.removeItem(STORAGE);
    return true;
  } catch {
    return false;
  } finally {
    updateButton();
  }
}

let pending: Promise<boolean> | null = null;

/** Shows the key dialog; true once a key the server accepts is set, false if cancelled. */
export function askForKey(reason?: string): Promise<boolean> {
  pending ??= showDialog(reason).finally(() => {
    pending = null;
  });
  return pending;
}

/** Checks a key with a cheap authorised call. */
async function check(key: string): Promise<string | null> {
  let res: Response;
  try {
    res = await fetch("/api/v1/languages", { headers: { Authorization: `Bearer ${key}` } });
  } catch (e) {
    return `cannot reach the server: ${e instanceof Error ? e.message : e}`;
  }
  if (res.status === 401) return "the server does not accept this key";
  return null;
}

function showDialog(reason?: string): Promise<boolean> {
  return new Promise((resolve) => {
    const input = h("input", {
      type: "password",
      id: "api-key-input",
      autocomplete: "off",
      spellcheck: "false",
      required: true,
    });
    const show = h("input", { type: "checkbox", id: "api-key-show" });
    show.addEventListener("change", () => {
      input.type = show.checked ? "text" : "password";
    });
    const error = h("p", { class: "form-error", role: "alert", id: "api-key-error" });
    input.setAttribute("aria-describedby", "api-key-error api-key-help");
    const had = getKey() !== null;
    const forget = h("button", { type: "button", class: "secondary" }, "Forget the key");
    const cancel = h("button", { type: "button", class: "secondary" }, "Cancel");
    const submit = h("button", { type: "submit" }, "Use this key");
    const form = h(
      "form",
      { method: "dialog", class: "key-form" },
      h("h2", { id: "api-key-title" }, "API key"),
      reason ? h("p", { class: "notice" }, reason) : null,
      h(
        "p",
        { id: "api-key-help", class: "hint" },
        "This server needs an API key. The console keeps it for this tab only (session storage) and sends it as ",
        h("code", null, "Authorization: Bearer"),
        "; terminals and live runs carry it in the WebSocket subprotocol, never in a URL.",
      ),
      h("div", { class: "field" }, h("label", { for: input.id }, "Key"), input),
      h("div", { class: "field-inline" }, show, h("label", { for: show.id }, "Show the key")),
      error,
      h("div", { class: "actions" }, submit, had ? forget : null, cancel),
    );
    const dialog = h("dialog", { class: "key-dialog", "aria-labelledby": "api-key-title" }, form);
    document.body.appendChild(dialog);
    let done = false;
    const finish = (ok: boolean) => {
      if (done) return;
      done = true;
      dialog.close();
      dialog.remove();
      resolve(ok);
    };
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const key = input.value.trim();
      if (!key) {
        error.textContent = "Enter a key.";
        return;
      }
      submit.disabled = true;
      error.textContent = "Checking…";
      const why = await check(key);
      submit.disabled = false;
      if (why) {
        error.textContent = why;
        input.focus();
        return;
      }
      if (!setKey(key)) {
        error.textContent = "This browser refuses session storage, so the console cannot keep the key.";
        return;
      }
      finish(true);
    });
    forget.addEventListener("click", () => {
      setKey(null);
      finish(false);
    });
    cancel.addEventListener("click", () => finish(false));
    dialog.addEventListener("cancel", () => finish(false));
    dialog.showModal();
    input.focus();
  });
}

function updateButton(): void {
  const b = document.getElementById("key-button");
  if (!b) return;
  const set = getKey() !== null;
  b.textContent = set ? "API key: set" : "API key";
  b.setAttribute("aria-label", set ? "API key: set for this tab. Change or forget it" : "Enter an API key");
}

export function initKeyButton(): void {
  const b = document.getElementById("key-button");
  if (!b) return;
  b.hidden = false;
  updateButton();
  b.addEventListener("click", () => void askForKey());
}
