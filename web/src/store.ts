// What the console remembers in this browser (localStorage, bounded): the
// playground's drafts, and the inputs of the submissions made from here, so
// the submissions page can show a submission's source even when the server
// does not echo it.

import type { SubmissionRequest } from "./types";

const DRAFTS = "kiln.playground";
const MINE = "kiln.submissions";
const MAX_MINE = 100;
/** Sources larger than this are not remembered (localStorage is small). */
const MAX_REMEMBERED_BYTES = 64 * 1024;

function read<T>(key: string, fallback: T): T {
  try {
    const v = localStorage.getItem(key);
    return v ? (JSON.parse(v) as T) : fallback;
  } catch {
    return fallback;
  }
}

function write(key: string, v: unknown): void {
  try {
    localStorage.setItem(key, JSON.stringify(v));
  } catch {
    // full or disabled: the console works without it
  }
}

export interface Drafts {
  language?: string;
  sources: Record<string, string>;
}

export function loadDrafts(): Drafts {
  const d = read<Drafts>(DRAFTS, { sources: {} });
  return { language: d.language, sources: d.sources ?? {} };
}

export function saveDrafts(d: Drafts): void {
  write(DRAFTS, d);
}

export interface Remembered {
  id: string;
  at: string;
  request: SubmissionRequest;
}

export function remember(id: string, request: SubmissionRequest): void {
  if (JSON.stringify(request).length > MAX_REMEMBERED_BYTES) return;
  const list = read<Remembered[]>(MINE, []).filter((r) => r.id !== id);
  list.unshift({ id, at: new Date().toISOString(), request });
  write(MINE, list.slice(0, MAX_MINE));
}

export function remembered(): Remembered[] {
  return read<Remembered[]>(MINE, []);
}

export function rememberedRequest(id: string): SubmissionRequest | null {
  return remembered().find((r) => r.id === id)?.request ?? null;
}
