// What every script of loadtest/k6 shares: the phases' iteration functions
// and the setup check of the target. A script is its options plus re-exports:
//
//   import { buildOptions } from './lib/options.js';
//   export { setup, burst } from './lib/kiln.js';
//   export const options = buildOptions(['burst']);

import http from 'k6/http';

import { config, parseDuration } from './config.js';
import { pick } from './corpus.js';
import { PHASES } from './plan.js';
import { submit } from './submit.js';

export { sampleQueue } from './queue.js';

const TIMEOUT_MS = Object.fromEntries(
  Object.entries(PHASES).map(([name, p]) => [name, parseDuration(p.submit.timeout, `${name}.submit.timeout`)]),
);

/** One iteration of a phase: a program drawn from its mixes, submitted and judged. */
export function runPhase(name) {
  const p = PHASES[name];
  const unique = config.uniqueSources === null ? p.submit.unique_sources : config.uniqueSources;
  return submit(pick(p.languages, p.complexity, unique), TIMEOUT_MS[name]);
}

export function burst() {
  runPhase('burst');
}

export function sustained() {
  runPhase('sustained');
}

export function compilation() {
  runPhase('compilation');
}

export function soak() {
  runPhase('soak');
}

/** Stops the run before any load when the target does not answer GET /health. */
export function setup() {
  const res = http.get(`${config.baseUrl}/health`, { timeout: '10s', tags: { name: 'GET /health' } });
  if (res.status !== 200) {
    const why = res.status === 0 ? res.error : `HTTP ${res.status}`;
    throw new Error(`${config.baseUrl}/health did not answer 200 (${why}): is Kiln running there? Set BASE_URL.`);
  }
  return { baseUrl: config.baseUrl, mode: config.mode, scale: config.scale };
}
