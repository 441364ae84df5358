#!/usr/bin/env node
// Checks the load-test plan's k6 scripts without k6 (CI cannot build it):
// each script is loaded in Node with stubbed k6 modules (hooks.mjs, stubs/);
// its options are compared with the plan (options-cases.mjs: rates, timeline,
// thresholds; lib/plan.js against `kiln loadtest`'s TOML scenarios) and its
// iterations run against a fake server (iteration-cases.mjs: requests, corpus
// bodies, mixes, polling, judging, queue sampler, setup).
//
//   node loadtest/k6/test/check.mjs          every case, one Node process each
//   node loadtest/k6/test/check.mjs --case N  one case (by index), in this process
//
// Needs Node >= 18.19 (module.register) and python3 >= 3.11 (tomllib).

import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

import { installK6 } from './harness.mjs';
import { CASES as ITERATION } from './iteration-cases.mjs';
import { CASES as OPTIONS } from './options-cases.mjs';

const CASES = [...OPTIONS, ...ITERATION];
const CASE_TIMEOUT_MS = 60_000;

async function runOne(index) {
  const c = CASES[index];
  installK6(c.env || {});
  await c.run();
}

function runAll() {
  const started = Date.now();
  let failed = 0;
  CASES.forEach((c, i) => {
    const t = Date.now();
    const r = spawnSync(process.execPath, [fileURLToPath(import.meta.url), '--case', String(i)], {
      encoding: 'utf8',
      timeout: CASE_TIMEOUT_MS,
    });
    const ok = r.status === 0;
    failed += ok ? 0 : 1;
    console.log(`${ok ? 'ok  ' : 'FAIL'} ${c.name} (${Date.now() - t} ms)`);
    if (!ok) {
      const why = r.error ? String(r.error) : `${r.stdout}${r.stderr}`.trim();
      console.log(why.replace(/^/gm, '     '));
    }
  });
  const secs = ((Date.now() - started) / 1000).toFixed(1);
  console.log(`k6 script check: ${CASES.length - failed} of ${CASES.length} cases passed in ${secs} s`);
  process.exit(failed ? 1 : 0);
}

const at = process.argv.indexOf('--case');
if (at === -1) {
  runAll();
} else {
  const index = Number(process.argv[at + 1]);
  if (!Number.isInteger(index) || !CASES[index]) {
    console.error(`--case: give 0 to ${CASES.length - 1}`);
    process.exit(2);
  }
  runOne(index).then(
    () => process.exit(0),
    (e) => {
      console.error(e && e.stack ? e.stack : e);
      process.exit(1);
    },
  );
}
