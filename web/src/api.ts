// Every call the console makes to Kiln goes through here: HTTP with
// `Authorization: Bearer KEY` when the tab has a key, and WebSockets
// authorised by the `kiln.key.<base64url(key)>` subprotocol (never a key in a
// URL). A 401 asks the user for a key once, then retries.

import { askForKey, getKey } from "./auth";

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** The subprotocol Kiln answers on every WebSocket route (crates/server/src/auth.rs). */
export const WS_PROTOCOL = "kiln";
const WS_KEY_PREFIX = "kiln.key.";

export function base64url(bytes: Uint8Array): string {
  let bin = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    bin += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

export function fromBase64url(s: string): Uint8Array {
  const b64 = s.replace(/-/g, "+").replace(/_/g, "/");
  const bin = atob(b64 + "=".repeat((4 - (b64.length % 4)) % 4));
  return Uint8Array.from(bin, (c) => c.charCodeAt(0));
}

function authHeaders(): Record<string, string> {
  const key = getKey();
  return key ? { Authorization: `Bearer ${key}` } : {};
}

async function errorOf(res: Response): Promise<ApiError> {
  let code = `http_${res.status}`;
  let message = `${res.status} ${res.statusText}`;
  try {
    const body = await res.json();
    if (body?.error?.message) {
      code = body.error.code ?? code;
      message = body.error.message;
    }
  } catch {
    // not JSON: keep the status line
  }
  return new ApiError(res.status, code, message);
}

export interface CallOptions extends Omit<RequestInit, "body"> {
  json?: unknown;
  body?: BodyInit;
}

/** A request; on 401 asks for a key and tries again. Throws ApiError on any other failure. */
export async function request(path: string, opts: CallOptions = {}): Promise<Response> {
  const { json, ...init } = opts;
  for (let attempt = 0; ; attempt++) {
    const headers: Record<string, string> = { ...authHeaders(), ...(init.headers as Record<string, string>) };
    let body = init.body;
    if (json !== undefined) {
      headers["Content-Type"] = "application/json";
      body = JSON.stringify(json);
    }
    let res: Response;
    try {
      res = await fetch(path, { ...init, headers, body });
    } catch (e) {
      throw new ApiError(0, "network", `cannot reach the server: ${e instanceof Error ? e.message : e}`);
    }
    if (res.status === 401 && attempt < 3) {
      const err = await errorOf(res);
      const had = getKey() !== null;
      if (await askForKey(had ? `The server refused the key this tab had: ${err.message}.` : undefined)) continue;
      throw err;
    }
    if (!res.ok) throw await errorOf(res);
    return res;
  }
}

export async function getJson<T>(path: string, opts: CallOptions = {}): Promise<T> {
  const res = await request(path, opts);
  return (await res.json()) as T;
}

/**
 * Opens a WebSocket to an API route of this server. The key rides in the
 * subprotocol list, so it never appears in a URL, a log line or history.
 */
export function openSocket(path: string): WebSocket {
  const url = new URL(path, window.location.href);
  url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
  const key = getKey();
  const protocols = [WS_PROTOCOL];
  if (key) protocols.push(WS_KEY_PREFIX + base64url(new TextEncoder().encode(key)));
  return new WebSocket(url.toString(), protocols);
}

/**
 * Makes sure the tab holds a working key before a WebSocket is opened (a
 * refused handshake tells the page nothing about why): a cheap authorised
 * call, which asks for a key on 401.
 */
export async function ensureAuthorised(): Promise<void> {
  await request("/api/v1/languages");
}

/** Query string from the defined values. */
export function query(params: Record<string, string | number | null | undefined>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v !== null && v !== undefined && v !== "") q.set(k, String(v));
  }
  const s = q.toString();
  return s ? `?${s}` : "";
}
