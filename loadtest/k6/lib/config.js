// The run's settings, from environment variables (k6 `-e NAME=value` or the
// process environment). Every variable is read and checked here, once; a bad
// value stops k6 at init with a message naming it.
//
//   BASE_URL        target, default http://localhost:3000 (a path prefix is kept)
//   API_KEY         sent as `Authorization: Bearer KEY` (KILN_API_KEY also works)
//   MODE            wait (POST ?wait=true, polling if the server's wait passes;
//                   default) or poll (POST, then GET until the verdict is final)
//   POLL_INTERVAL   between polls, default 200ms
//   SCALE           multiplies every arrival rate (and the achieved-RPS target), default 1
//   DURATION        length of each phase; stages and gaps shrink or stretch
//                   proportionally (as `kiln loadtest --duration`)
//   UNIQUE_SOURCES  1/0: force or forbid a nonce comment in every source
//                   (default: the phase's own setting)
//   MAX_VUS_SECONDS in-flight budget: a phase may hold peak rate x this many
//                   VUs (default 10); beyond it k6 drops iterations

const env = typeof __ENV === 'object' && __ENV !== null ? __ENV : {};

/** Parses `500ms`, `60s`, `1.5s`, `10m`, `1h`, `1m30s` into milliseconds. */
export function parseDuration(text, name) {
  const s = String(text).trim();
  const bad = () => new Error(`${name}: invalid duration \`${text}\`: write e.g. "500ms", "60s", "10m", "1m30s"`);
  if (s === '' || !/^(\d+(\.\d+)?(ms|s|m|h))+$/.test(s)) {
    throw bad();
  }
  const unit = { ms: 1, s: 1000, m: 60000, h: 3600000 };
  let total = 0;
  for (const [, value, , u] of s.matchAll(/(\d+(\.\d+)?)(ms|s|m|h)/g)) {
    total += Number(value) * unit[u];
  }
  return total;
}

function positiveNumber(name, fallback) {
  const raw = env[name];
  if (raw === undefined || raw === '') {
    return fallback;
  }
  const v = Number(raw);
  if (!Number.isFinite(v) || v <= 0) {
    throw new Error(`${name}=${raw}: must be a number > 0`);
  }
  return v;
}

function oneOf(name, allowed, fallback) {
  const raw = env[name];
  if (raw === undefined || raw === '') {
    return fallback;
  }
  if (!Object.prototype.hasOwnProperty.call(allowed, raw)) {
    throw new Error(`${name}=${raw}: must be one of ${Object.keys(allowed).join(', ')}`);
  }
  return allowed[raw];
}

function baseUrl() {
  const raw = env.BASE_URL || 'http://localhost:3000';
  if (!/^https?:\/\/[^/\s]+(\/\S*)?$/.test(raw)) {
    throw new Error(`BASE_URL=${raw}: must be an http:// or https:// URL`);
  }
  return raw.replace(/\/+$/, '');
}

function durationOrNull(name) {
  const raw = env[name];
  if (raw === undefined || raw === '') {
    return null;
  }
  const ms = parseDuration(raw, name);
  if (ms <= 0) {
    throw new Error(`${name}=${raw}: must be longer than 0`);
  }
  return ms;
}

const apiKey = env.API_KEY || env.KILN_API_KEY || '';

export const config = Object.freeze({
  baseUrl: baseUrl(),
  headers: Object.freeze(
    Object.assign({ 'Content-Type': 'application/json' }, apiKey ? { Authorization: `Bearer ${apiKey}` } : {}),
  ),
  mode: oneOf('MODE', { wait: 'wait', poll: 'poll' }, 'wait'),
  pollIntervalMs: durationOrNull('POLL_INTERVAL') || 200,
  scale: positiveNumber('SCALE', 1),
  phaseDurationMs: durationOrNull('DURATION'),
  uniqueSources: oneOf('UNIQUE_SOURCES', { 1: true, true: true, 0: false, false: false }, null),
  maxVusSeconds: positiveNumber('MAX_VUS_SECONDS', 10),
});
