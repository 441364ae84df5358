// The k6 runtime as check.mjs needs it, in Node: globals (__ENV, __VU,
// open(), a fake clock that k6's sleep() advances) and the stubs' state.
// A case runs in its own Node process, so every script import sees its own
// environment and fresh modules.

import fs from 'node:fs';
import path from 'node:path';
import { register } from 'node:module';
import { fileURLToPath } from 'node:url';

import { state } from './stubs/state.mjs';

export { state };

const HERE = path.dirname(fileURLToPath(import.meta.url));
export const K6_DIR = path.resolve(HERE, '..');
export const ROOT = path.resolve(K6_DIR, '../..');

/** The file of the nearest stack frame outside this harness (k6 resolves open() against the module). */
function callerFile() {
  const frames = String(new Error().stack).match(/file:\/\/[^\s)]+?(?=:\d+:\d+)/g) || [];
  const outside = frames.find((f) => fileURLToPath(f) !== fileURLToPath(import.meta.url));
  if (!outside) {
    throw new Error('open(): cannot tell which module called it');
  }
  return fileURLToPath(outside);
}

/** Installs the k6 globals and module hooks; `env` becomes __ENV. */
export function installK6(env) {
  register('./hooks.mjs', import.meta.url);
  globalThis.__ENV = Object.assign({}, env);
  globalThis.__VU = 1;
  globalThis.__ITER = 0;
  globalThis.open = (p) => fs.readFileSync(path.resolve(path.dirname(callerFile()), p), 'utf8');
  state.clock = 1_700_000_000_000;
  Date.now = () => state.clock;
  state.onSleep = (s) => {
    state.clock += s * 1000;
  };
}

/** Imports a script of loadtest/k6 (after installK6). */
export function importScript(name) {
  return import(path.join(K6_DIR, name));
}

/** Runs an exec function `n` times as scenario `scenario`. */
export function iterate(fn, scenario, n) {
  state.scenario = scenario;
  for (let i = 0; i < n; i++) {
    globalThis.__ITER = i;
    fn();
  }
}

/** Forgets what the stubs recorded (metric definitions stay). */
export function resetRecords() {
  for (const m of Object.values(state.metrics)) {
    m.samples.length = 0;
  }
  state.checks.length = 0;
  state.requests.length = 0;
  state.sleeps.length = 0;
}

/** Values of metric `name` (optionally only samples whose tags match `where`). */
export function samples(name, where = {}) {
  const m = state.metrics[name];
  if (!m) {
    throw new Error(`no metric ${name}`);
  }
  return m.samples.filter((s) => Object.entries(where).every(([k, v]) => s.tags[k] === v)).map((s) => s.value);
}

/** The corpus as written on disk: "language/level" -> {language, files, stdin, expected_output, comment}. */
export function diskCorpus() {
  const dir = path.join(ROOT, 'loadtest/corpus');
  const manifest = JSON.parse(fs.readFileSync(path.join(dir, 'corpus.json'), 'utf8'));
  const out = {};
  for (const l of manifest.languages) {
    for (const level of ['simple', 'medium', 'complex']) {
      const served = typeof l.levels[level] === 'string' ? l.levels[level] : level;
      const d = path.join(dir, l.language, served);
      out[`${l.language}/${level}`] = {
        language: l.language,
        level: served,
        comment: l.comment,
        files: l.levels[served].map((name) => ({ name, content: fs.readFileSync(path.join(d, name), 'utf8') })),
        stdin: fs.readFileSync(path.join(d, 'input.txt'), 'utf8'),
        expected_output: fs.readFileSync(path.join(d, 'expected.txt'), 'utf8'),
      };
    }
  }
  return { manifest, programs: out };
}
