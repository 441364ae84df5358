// Cases about the scripts' options: the plan's rates, timeline and criteria
// (written out here as the plan gives them), SCALE/DURATION, bad settings,
// and plan.js against `kiln loadtest`'s TOML scenarios.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';

import { importScript, K6_DIR, ROOT, state } from './harness.mjs';

const SECONDS = { ms: 0.001, s: 1, m: 60, h: 3600 };

/** k6 duration text -> seconds. */
function secs(text) {
  let total = 0;
  for (const [, v, u] of String(text).matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h)/g)) {
    total += Number(v) * SECONDS[u];
  }
  return total;
}

const close = (a, b) => Math.abs(a - b) < 1e-9 * Math.max(1, Math.abs(b));

/** A scenario as {executor, start, end, exec, rps: [[seconds, rate from, rate to]…]}. */
function norm(sc) {
  const unit = secs(sc.timeUnit || '1s');
  const out = { executor: sc.executor, exec: sc.exec, start: secs(sc.startTime || '0s') };
  if (sc.executor === 'constant-arrival-rate') {
    out.rps = [[secs(sc.duration), sc.rate / unit, sc.rate / unit]];
  } else {
    let prev = sc.startRate / unit;
    out.rps = sc.stages.map((st) => {
      const r = [secs(st.duration), prev, st.target / unit];
      prev = st.target / unit;
      return r;
    });
  }
  assert.ok(
    [sc.rate, sc.startRate, ...(sc.stages || []).map((s) => s.target)].every(
      (v) => v === undefined || Number.isInteger(v),
    ),
    `${sc.exec}: k6 rates must be integers`,
  );
  out.end = out.start + out.rps.reduce((t, r) => t + r[0], 0);
  return out;
}

function assertScenario(sc, want, where) {
  const got = norm(sc);
  assert.equal(got.executor, want.executor, `${where}: executor`);
  assert.equal(got.exec, want.exec, `${where}: exec`);
  assert.ok(close(got.start, want.start), `${where}: starts at ${got.start}s, want ${want.start}s`);
  assert.equal(got.rps.length, want.rps.length, `${where}: ${JSON.stringify(got.rps)} vs ${JSON.stringify(want.rps)}`);
  got.rps.forEach((r, i) =>
    assert.ok(
      r.every((v, j) => close(v, want.rps[i][j])),
      `${where}: stage ${i} ${JSON.stringify(r)}, want ${JSON.stringify(want.rps[i])}`,
    ),
  );
}

const BUILTIN_METRICS = {
  dropped_iterations: 'counter',
  http_req_duration: 'trend',
  http_req_failed: 'rate',
  checks: 'rate',
};
const METHODS = {
  trend: /^(avg|min|max|med|p\(\d+(\.\d+)?\))$/,
  rate: /^rate$/,
  counter: /^(count|rate)$/,
  gauge: /^value$/,
};

/** Every threshold is valid k6: a known metric, a method its type has, known scenarios and tags. */
function assertThresholdsValid(options) {
  for (const [key, exprs] of Object.entries(options.thresholds)) {
    const m = key.match(/^([a-z_]+)\{([^}]*)\}$/);
    assert.ok(m, `threshold ${key}: not metric{tags}`);
    const type = (state.metrics[m[1]] && state.metrics[m[1]].type) || BUILTIN_METRICS[m[1]];
    assert.ok(type, `threshold ${key}: metric ${m[1]} is not defined by the script`);
    for (const tag of m[2].split(',')) {
      const [k, v] = tag.split(':');
      if (k === 'scenario') assert.ok(options.scenarios[v], `threshold ${key}: no scenario ${v}`);
      else assert.ok(['language', 'complexity'].includes(k), `threshold ${key}: tag ${k}`);
    }
    for (const e of exprs) {
      const p = e.match(/^(.+?)(<=|>=|<|>|==|!=)(-?\d+(\.\d+)?)$/);
      assert.ok(p && METHODS[type].test(p[1]), `threshold ${key}: \`${e}\` is not valid for a ${type}`);
    }
  }
}

// The plan, as its text gives it (shared/seeds/003_*.txt).
const BURST = { executor: 'constant-arrival-rate', exec: 'burst', start: 0, rps: [[60, 1000 / 60, 1000 / 60]] };
const SUSTAINED = { executor: 'constant-arrival-rate', exec: 'sustained', start: 0, rps: [[600, 100, 100]] };
const COMPILATION = {
  executor: 'ramping-arrival-rate',
  exec: 'compilation',
  start: 0,
  rps: [
    [60, 10, 10],
    [60, 10, 40],
    [60, 40, 60],
    [60, 60, 80],
    [60, 80, 100],
    [60, 100, 100],
    [60, 100, 60],
    [60, 60, 20],
  ],
};
const SOAK = { executor: 'constant-arrival-rate', exec: 'soak', start: 0, rps: [[1800, 50, 50]] };
const sampler = (of) => ({
  executor: 'constant-arrival-rate',
  exec: 'sampleQueue',
  start: of.start,
  rps: [[of.rps[0][0], 1, 1]],
});
const at = (sc, start) => Object.assign({}, sc, { start });
const T = {
  burst: {
    'submission_success{scenario:burst}': ['rate>0.95'],
    'submission_duration{scenario:burst}': ['p(95)<3000', 'p(99)<5000'],
    'submission_errors{scenario:burst}': ['rate<0.05'],
    'dropped_iterations{scenario:burst}': ['count<=10'],
  },
  sustained: {
    'submissions_completed{scenario:sustained}': ['count>=57000'],
    'submission_success{scenario:sustained}': ['rate>0.95'],
    'submission_duration{scenario:sustained}': ['p(95)<5000', 'p(99)<10000'],
    'queue_growing{scenario:queue_sustained}': ['value<1'],
    'dropped_iterations{scenario:sustained}': ['count<=600'],
  },
  compilation: {
    'submission_success{scenario:compilation}': ['rate>0.9'],
    'submission_duration{scenario:compilation,complexity:simple}': ['p(95)<5000'],
    'submission_duration{scenario:compilation,complexity:medium}': ['p(95)<8000'],
    'submission_duration{scenario:compilation,complexity:complex}': ['p(95)<15000'],
    'compilation_errors{scenario:compilation}': ['rate<0.05'],
    'dropped_iterations{scenario:compilation}': ['count<=279'],
  },
  soak: {
    'submission_success{scenario:soak}': ['rate>0.95'],
    'submission_duration{scenario:soak}': ['p(95)<5000', 'p(99)<10000'],
    'submission_errors{scenario:soak}': ['rate<0.05'],
    'queue_growing{scenario:queue_soak}': ['value<1'],
    'dropped_iterations{scenario:soak}': ['count<=900'],
  },
};

async function fullScale(script, want, thresholds) {
  const mod = await importScript(script);
  assert.deepEqual(Object.keys(mod.options.scenarios).sort(), Object.keys(want).sort(), `${script}: scenarios`);
  for (const [name, w] of Object.entries(want)) {
    assertScenario(mod.options.scenarios[name], w, `${script} ${name}`);
    assert.equal(typeof mod[w.exec], 'function', `${script}: exec ${w.exec} is not exported`);
  }
  assert.equal(typeof mod.setup, 'function', `${script}: no setup`);
  assert.deepEqual(mod.options.thresholds, thresholds, `${script}: thresholds`);
  assertThresholdsValid(mod.options);
}

/** plan.js against crates/loadtest/scenarios/*.toml (read with python3's tomllib). */
async function planMatchesToml() {
  const dir = path.join(ROOT, 'crates/loadtest/scenarios');
  const py = spawnSync(
    'python3',
    [
      '-c',
      'import json,sys,tomllib; print(json.dumps({a: tomllib.load(open(a, "rb")) for a in sys.argv[1:]}))',
      ...['burst', 'sustained', 'compilation', 'soak', 'all'].map((n) => path.join(dir, `${n}.toml`)),
    ],
    { encoding: 'utf8' },
  );
  assert.equal(py.status, 0, `python3 tomllib: ${py.stderr}`);
  const toml = Object.fromEntries(
    Object.entries(JSON.parse(py.stdout)).map(([f, v]) => [path.basename(f, '.toml'), v]),
  );
  const { PHASES, TIMELINE } = await import(path.join(K6_DIR, 'lib/plan.js'));
  assert.deepEqual(TIMELINE, { sequence: toml.all.sequence, gap: toml.all.gap }, 'TIMELINE vs all.toml');
  assert.deepEqual(Object.keys(PHASES).sort(), [...toml.all.sequence].sort(), 'phases vs all.toml');
  for (const [name, p] of Object.entries(PHASES)) {
    const t = toml[name];
    const submit = t.submit || {};
    const where = `lib/plan.js ${name} vs ${name}.toml`;
    assert.equal(p.description, t.description, `${where}: description`);
    assert.deepEqual(
      p.load,
      Object.fromEntries(
        Object.entries({ start_rate: t.load.start_rate, stages: t.load.stages }).filter(([, v]) => v !== undefined),
      ),
      `${where}: load`,
    );
    assert.ok(!t.load.model || t.load.model === 'open', `${where}: an open model`);
    assert.deepEqual(p.languages, t.languages || { python: 1 }, `${where}: languages`);
    assert.deepEqual(p.complexity, t.complexity || { simple: 1 }, `${where}: complexity`);
    assert.deepEqual(
      p.submit,
      { timeout: submit.timeout || '60s', unique_sources: submit.unique_sources || false },
      `${where}: submit`,
    );
    assert.equal(submit.mode || 'wait', 'wait', `${where}: MODE's default is wait`);
    assert.deepEqual(p.criteria, t.criteria, `${where}: criteria`);
  }
}

function badEnv(variable, value, message) {
  return {
    name: `${variable}=${value} is refused`,
    env: { [variable]: value },
    run: async () => {
      await assert.rejects(importScript('burst-only.js'), (e) => message.test(e.message), `${variable}=${value}`);
    },
  };
}

export const CASES = [
  { name: "lib/plan.js equals kiln loadtest's TOML scenarios", run: planMatchesToml },
  {
    name: 'burst-only.js: 1000 in 60 s and the burst criteria',
    run: () => fullScale('burst-only.js', { burst: BURST }, T.burst),
  },
  {
    name: 'sustained-100rps.js: 100 RPS for 10 m, queue sampler, sustained criteria',
    run: () =>
      fullScale('sustained-100rps.js', { sustained: SUSTAINED, queue_sustained: sampler(SUSTAINED) }, T.sustained),
  },
  {
    name: 'compilation-stress.js: 10-40-60-80-100-60-20 RPS over 8 m and its criteria',
    run: () => fullScale('compilation-stress.js', { compilation: COMPILATION }, T.compilation),
  },
  {
    name: "scenarios.js: the 52-minute timeline (0, 2, 13, 22 m) with every phase's criteria",
    run: () =>
      fullScale(
        'scenarios.js',
        {
          burst: BURST,
          sustained: at(SUSTAINED, 120),
          queue_sustained: sampler(at(SUSTAINED, 120)),
          compilation: at(COMPILATION, 780),
          soak: at(SOAK, 1320),
          queue_soak: sampler(at(SOAK, 1320)),
        },
        Object.assign({}, T.burst, T.sustained, T.compilation, T.soak),
      ),
  },
  {
    name: 'SCALE=0.05 DURATION=8s shrinks rates, phases, gaps and the achieved-RPS count',
    env: { SCALE: '0.05', DURATION: '8s' },
    run: async () => {
      const { options } = await importScript('scenarios.js');
      assertScenario(
        options.scenarios.burst,
        { executor: 'constant-arrival-rate', exec: 'burst', start: 0, rps: [[8, 50 / 60, 50 / 60]] },
        'burst',
      );
      assertScenario(
        options.scenarios.sustained,
        { executor: 'constant-arrival-rate', exec: 'sustained', start: 16, rps: [[8, 5, 5]] },
        'sustained',
      );
      assertScenario(
        options.scenarios.compilation,
        Object.assign({}, COMPILATION, { start: 32, rps: COMPILATION.rps.map(([, a, b]) => [1, a * 0.05, b * 0.05]) }),
        'compilation',
      );
      assertScenario(
        options.scenarios.soak,
        { executor: 'constant-arrival-rate', exec: 'soak', start: 48, rps: [[8, 2.5, 2.5]] },
        'soak',
      );
      assert.deepEqual(options.thresholds['submissions_completed{scenario:sustained}'], ['count>=38']);
      assert.deepEqual(options.thresholds['dropped_iterations{scenario:burst}'], ['count<=2']);
      assertThresholdsValid(options);
    },
  },
  badEnv('SCALE', '0', /SCALE=0: must be a number > 0/),
  badEnv('SCALE', 'lots', /SCALE=lots/),
  badEnv('SCALE', '0.0000001', /SCALE=1e-7: phase burst would get less than one arrival an hour/),
  badEnv('DURATION', '10x', /DURATION: invalid duration `10x`/),
  badEnv('DURATION', '0s', /DURATION=0s: must be longer than 0/),
  badEnv('POLL_INTERVAL', '0ms', /POLL_INTERVAL=0ms: must be longer than 0/),
  badEnv('MODE', 'fast', /MODE=fast: must be one of wait, poll/),
  badEnv('BASE_URL', 'localhost:3000', /BASE_URL=localhost:3000: must be an http/),
  badEnv('UNIQUE_SOURCES', 'maybe', /UNIQUE_SOURCES=maybe/),
];
