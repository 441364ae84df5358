// A program in a link: the playground's state in the URL fragment (never
// sent to the server), as `#z.` + base64url of deflated JSON, or `#j.` +
// base64url of plain JSON where the browser has no CompressionStream.
// Decoding is bounded: a link may not expand past MAX_SHARED_BYTES.

import { base64url, fromBase64url } from "./api";
import type { Limits, TestCase } from "./types";

export interface Shared {
  language: string;
  source: string;
  stdin?: string;
  tests?: TestCase[];
  limits?: Limits;
}

export const MAX_SHARED_BYTES = 1 << 20;

async function pipe(bytes: Uint8Array, stream: CompressionStream | DecompressionStream, limit: number): Promise<Uint8Array> {
  const reader = new Blob([bytes as Uint8Array<ArrayBuffer>]).stream().pipeThrough(stream).getReader();
  const parts: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.length;
    if (total > limit) {
      await reader.cancel();
      throw new Error(`the shared program is larger than ${limit} bytes`);
    }
    parts.push(value);
  }
  const out = new Uint8Array(total);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

export async function encodeShared(s: Shared): Promise<string> {
  const json = new TextEncoder().encode(JSON.stringify(s));
  try {
    return "z." + base64url(await pipe(json, new CompressionStream("deflate-raw"), Number.MAX_SAFE_INTEGER));
  } catch {
    // No CompressionStream, or one without deflate-raw: the plain form.
    return "j." + base64url(json);
  }
}

function isTests(v: unknown): v is TestCase[] {
  return Array.isArray(v) && v.every((t) => t && typeof t.stdin === "string" && typeof t.expected_output === "string");
}

/** The program of a fragment (without `#`), or null when it holds none; throws on a damaged link. */
export async function decodeShared(fragment: string): Promise<Shared | null> {
  const m = /^([zj])\.([A-Za-z0-9_-]+)$/.exec(fragment);
  if (!m) return null;
  let bytes = fromBase64url(m[2]);
  if (m[1] === "z") {
    if (typeof DecompressionStream !== "function") throw new Error("this browser cannot open compressed links");
    bytes = await pipe(bytes, new DecompressionStream("deflate-raw"), MAX_SHARED_BYTES);
  } else if (bytes.length > MAX_SHARED_BYTES) {
    throw new Error(`the shared program is larger than ${MAX_SHARED_BYTES} bytes`);
  }
  const v = JSON.parse(new TextDecoder().decode(bytes));
  if (!v || typeof v.language !== "string" || typeof v.source !== "string") throw new Error("the link holds no program");
  return {
    language: v.language,
    source: v.source,
    stdin: typeof v.stdin === "string" ? v.stdin : undefined,
    tests: isTests(v.tests) ? v.tests : undefined,
    limits: v.limits && typeof v.limits === "object" ? pickLimits(v.limits) : undefined,
  };
}

function pickLimits(l: Record<string, unknown>): Limits {
  const out: Limits = {};
  for (const k of ["cpu_time_ms", "wall_time_ms", "memory_kb"] as const) {
    if (typeof l[k] === "number" && Number.isFinite(l[k])) out[k] = l[k] as number;
  }
  return out;
}
