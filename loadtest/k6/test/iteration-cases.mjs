// Cases that run the scripts' iterations against a fake server: the
// requests (URL, key, body = the corpus on disk), the mixes, unique sources,
// polling, the judging of every outcome, the queue sampler and setup().

import assert from 'node:assert/strict';

import { diskCorpus, importScript, iterate, resetRecords, samples, state } from './harness.mjs';

const json = (status, doc) => ({ status, body: JSON.stringify(doc) });

/** A server that accepts every submission and prints the expected output. */
function echoServer(method, url, body) {
  if (method === 'POST') {
    return json(200, { id: 'x', status: 'accepted', stdout: JSON.parse(body).expected_output });
  }
  throw new Error(`unexpected ${method} ${url}`);
}

/** Shares of `values` per key, compared with `weights` (normalised) within `tol`. */
function assertMix(values, weights, tol, what) {
  const total = Object.values(weights).reduce((a, b) => a + b, 0);
  const counts = {};
  for (const v of values) counts[v] = (counts[v] || 0) + 1;
  for (const [k, w] of Object.entries(weights)) {
    const share = (counts[k] || 0) / values.length;
    assert.ok(
      Math.abs(share - w / total) < tol,
      `${what}: ${k} ${(100 * share).toFixed(1)} %, want ${((100 * w) / total).toFixed(1)} %`,
    );
  }
  const unknown = Object.keys(counts).filter((k) => !(k in weights));
  assert.deepEqual(unknown, [], `${what}: unexpected ${unknown}`);
}

const { manifest, programs } = diskCorpus();
const group = (lang) => (manifest.others.includes(lang) ? 'others' : lang);

/** Runs `n` iterations of a phase; checks every request against the corpus on disk. */
async function runPhase(script, phase, n, { unique }) {
  const mod = await importScript(script);
  state.server = echoServer;
  iterate(mod[phase], phase, n);
  assert.equal(state.requests.length, n, 'one request per iteration');
  const sources = new Set();
  for (const r of state.requests) {
    const body = JSON.parse(r.body);
    const tagged = r.params.tags;
    const want = programs[`${body.language}/${tagged.complexity}`];
    assert.ok(want && want.level === tagged.complexity, `no ${body.language}/${tagged.complexity} program`);
    assert.equal(body.stdin, want.stdin);
    assert.equal(body.expected_output, want.expected_output);
    assert.deepEqual(body.files.slice(1), want.files.slice(1), 'the other files as on disk');
    const entry = body.files[0];
    assert.equal(entry.name, want.files[0].name);
    if (unique) {
      const nonce = entry.content.slice(want.files[0].content.length);
      assert.ok(entry.content.startsWith(want.files[0].content), 'the entry file as on disk, then the nonce');
      assert.match(
        nonce,
        new RegExp(`^\\n${want.comment.replace(/[/]/g, '\\/')} k6 nonce \\S+\\n$`),
        `nonce line of ${body.language}`,
      );
    } else {
      assert.equal(entry.content, want.files[0].content, 'an unchanged source');
    }
    sources.add(entry.content);
  }
  if (unique) assert.equal(sources.size, n, 'every source differs');
  assert.ok(state.checks.length === 3 * n && state.checks.every((c) => c.ok), 'every check passes');
  assert.deepEqual([...new Set(samples('submission_success'))], [true]);
  assert.deepEqual([...new Set(samples('submission_errors'))], [false]);
  assert.equal(samples('submissions_completed', { scenario: phase }).length, n);
  return state.requests.map((r) => JSON.parse(r.body).language);
}

/** One iteration of `burst` against `server`; returns the recorded outcome. */
function once(mod, server) {
  resetRecords();
  state.server = server;
  iterate(mod.burst, 'burst', 1);
  return {
    success: samples('submission_success')[0],
    error: samples('submission_errors')[0],
    compile: samples('compilation_errors')[0],
    completed: samples('submissions_completed').length,
    duration: samples('submission_duration')[0],
    gets: state.requests.filter((r) => r.method === 'GET').length,
  };
}

export const CASES = [
  {
    name: "burst: requests to BASE_URL with the key, corpus bodies, the plan's mixes",
    env: { BASE_URL: 'http://kiln.test:3000/prefix/', API_KEY: 'secret' },
    run: async () => {
      const langs = await runPhase('burst-only.js', 'burst', 4000, { unique: false });
      for (const r of state.requests) {
        assert.equal(r.url, 'http://kiln.test:3000/prefix/api/v1/submissions?wait=true');
        assert.equal(r.params.headers.Authorization, 'Bearer secret');
        assert.equal(r.params.headers['Content-Type'], 'application/json');
        assert.equal(r.params.tags.name, 'POST /api/v1/submissions');
      }
      assertMix(
        langs.map(group),
        { python: 40, javascript: 25, cpp: 20, java: 10, others: 5 },
        0.03,
        'burst languages',
      );
      assertMix(
        langs.filter((l) => manifest.others.includes(l)),
        { bash: 1, ruby: 1, php: 1, perl: 1, lua: 1 },
        0.1,
        'burst others',
      );
      assertMix(
        samples('submission_duration').map((_, i) => state.metrics.submission_duration.samples[i].tags.complexity),
        { simple: 60, medium: 40 },
        0.03,
        'burst complexity',
      );
    },
  },
  {
    name: 'sustained and soak: the mixed language mix, no key header without API_KEY',
    run: async () => {
      const langs = await runPhase('scenarios.js', 'sustained', 3000, { unique: false });
      assert.ok(state.requests.every((r) => !('Authorization' in r.params.headers)));
      assertMix(
        langs.map(group),
        { python: 35, javascript: 30, cpp: 15, java: 15, others: 5 },
        0.03,
        'sustained languages',
      );
      resetRecords();
      const soak = await runPhase('scenarios.js', 'soak', 3000, { unique: false });
      assertMix(soak.map(group), { python: 35, javascript: 30, cpp: 15, java: 15, others: 5 }, 0.03, 'soak languages');
    },
  },
  {
    name: 'compilation: compiled languages, 30/50/20 complexity, every source unique',
    run: async () => {
      const langs = await runPhase('compilation-stress.js', 'compilation', 3000, { unique: true });
      assertMix(langs, { cpp: 40, c: 25, java: 20, rust: 10, go: 5 }, 0.03, 'compilation languages');
      const levels = state.metrics.submission_duration.samples.map((s) => s.tags.complexity);
      assertMix(levels, { simple: 30, medium: 50, complex: 20 }, 0.03, 'compilation complexity');
    },
  },
  {
    name: 'UNIQUE_SOURCES=0 turns the nonce off',
    env: { UNIQUE_SOURCES: '0' },
    run: () => runPhase('compilation-stress.js', 'compilation', 200, { unique: false }),
  },
  {
    name: 'UNIQUE_SOURCES=1 turns it on',
    env: { UNIQUE_SOURCES: '1' },
    run: () => runPhase('burst-only.js', 'burst', 200, { unique: true }),
  },
  {
    name: 'MODE=poll: POST, then GET every POLL_INTERVAL until the verdict is final',
    env: { MODE: 'poll', POLL_INTERVAL: '50ms', BASE_URL: 'http://k' },
    run: async () => {
      const mod = await importScript('burst-only.js');
      const answers = ['running', 'accepted'];
      const r = once(mod, (method, url, body) => {
        if (method === 'POST') {
          assert.equal(url, 'http://k/api/v1/submissions');
          state.expected = JSON.parse(body).expected_output;
          return json(202, { id: 'a/1', status: 'queued' });
        }
        assert.equal(url, 'http://k/api/v1/submissions/a%2F1');
        return json(200, { id: 'a/1', status: answers.shift(), stdout: state.expected });
      });
      assert.deepEqual(r, { success: true, error: false, compile: false, completed: 1, duration: 100, gets: 2 });
      assert.deepEqual(state.sleeps, [0.05, 0.05]);
      assert.equal(state.requests[1].params.tags.name, 'GET /api/v1/submissions/{id}');
    },
  },
  {
    name: 'every outcome is judged as kiln loadtest judges it',
    run: async () => {
      const mod = await importScript('burst-only.js');
      const final = (doc) => (method, url, body) =>
        json(200, Object.assign({ id: 'i' }, typeof doc === 'function' ? doc(JSON.parse(body)) : doc));
      const raw = (res) => () => res;
      const cases = [
        [
          'trailing blank lines',
          final((b) => ({ status: 'accepted', stdout: `${b.expected_output}\n\n` })),
          { success: true, error: false, compile: false, completed: 1 },
        ],
        [
          'wrong stdout',
          final({ status: 'accepted', stdout: 'nope' }),
          { success: false, error: false, compile: false, completed: 1 },
        ],
        [
          'wrong_answer',
          final({ status: 'wrong_answer', stdout: '' }),
          { success: false, error: false, compile: false, completed: 1 },
        ],
        [
          'compilation_error',
          final({ status: 'compilation_error' }),
          { success: false, error: false, compile: true, completed: 1 },
        ],
        [
          'internal_error',
          final({ status: 'internal_error' }),
          { success: false, error: true, compile: false, completed: 1 },
        ],
        ['503', raw({ status: 503, body: '{}' }), { success: false, error: true, compile: false, completed: 0 }],
        ['429', raw({ status: 429, body: '{}' }), { success: false, error: true, compile: false, completed: 0 }],
        ['404', raw({ status: 404, body: '{}' }), { success: false, error: true, compile: false, completed: 0 }],
        [
          'request timeout',
          raw({ status: 0, error_code: 1050 }),
          { success: false, error: true, compile: false, completed: 0 },
        ],
        [
          'connection refused',
          raw({ status: 0, error_code: 1212 }),
          { success: false, error: true, compile: false, completed: 0 },
        ],
        [
          'not JSON',
          raw({ status: 200, body: '<html>' }),
          { success: false, error: true, compile: false, completed: 0 },
        ],
        [
          'pending without an id',
          raw(json(202, { status: 'queued' })),
          { success: false, error: true, compile: false, completed: 0 },
        ],
        ['no status', raw(json(200, { id: 'i' })), { success: false, error: true, compile: false, completed: 0 }],
      ];
      for (const [what, server, want] of cases) {
        const got = once(mod, server);
        assert.deepEqual(
          { success: got.success, error: got.error, compile: got.compile, completed: got.completed },
          want,
          what,
        );
      }
      const forever = once(mod, raw(json(202, { id: 'q', status: 'queued' })));
      assert.deepEqual([forever.success, forever.error, forever.completed], [false, true, 0], 'never final: a timeout');
      assert.ok(
        forever.duration >= 59_800 && forever.duration <= 60_000,
        `gave up after ${forever.duration} ms, the phase's 60 s`,
      );
      assert.equal(forever.gets, 299);
    },
  },
  {
    name: 'queue sampler: growing, stable and missing queue depth',
    run: async () => {
      const mod = await importScript('sustained-100rps.js');
      const { trend, isGrowing } = await import('../lib/queue.js');
      assert.equal(
        trend([
          [0, 1],
          [1, 3],
          [2, 5],
        ]).tStat,
        Infinity,
      );
      assert.equal(
        trend([
          [0, 1],
          [1, 1],
        ]),
        null,
      );
      assert.ok(isGrowing(Array.from({ length: 60 }, (_, t) => [t, 2 * t + (t % 2 ? -1 : 1)])));
      assert.ok(!isGrowing(Array.from({ length: 60 }, (_, t) => [t, 5 + (t % 3)])));
      // The rule's edges: t > 3 and more than 5 jobs over the run.
      const noisy = (slope, noise) => Array.from({ length: 60 }, (_, t) => [t, slope * t + (t % 2 ? -noise : noise)]);
      assert.ok(trend(noisy(0.1, 3)).tStat > 3 && trend(noisy(0.1, 3)).tStat < 6);
      assert.ok(isGrowing(noisy(0.1, 3)), 't about 4.4, 5.9 jobs: growing');
      assert.ok(!isGrowing(noisy(0.1, 5)), 't about 2.6: not a clear trend');
      assert.ok(!isGrowing(noisy(0.08, 0)), '4.7 jobs over the run: not growing');
      const sample = (scenario, depths) => {
        state.scenario = scenario;
        for (const d of depths) {
          state.server = (m, url) => {
            assert.equal(url, 'http://localhost:3000/metrics');
            return d === null
              ? { status: 200, body: 'other 1\n' }
              : { status: 200, body: `# TYPE code_execution_queue_depth gauge\ncode_execution_queue_depth ${d}\n` };
          };
          mod.sampleQueue();
          state.clock += 1000;
        }
        return samples('queue_growing', { scenario }).pop();
      };
      const warnings = [];
      console.warn = (m) => warnings.push(m);
      assert.equal(
        sample(
          'queue_a',
          Array.from({ length: 30 }, (_, t) => 3 + (t % 2)),
        ),
        0,
        'stable',
      );
      assert.equal(
        sample(
          'queue_b',
          Array.from({ length: 30 }, (_, t) => t),
        ),
        1,
        'growing',
      );
      assert.equal(sample('queue_c', [null, null, null]), 1, 'no samples: not stable');
      assert.equal(warnings.length, 1);
      assert.deepEqual(samples('queue_depth', { scenario: 'queue_a' }).slice(0, 3), [3, 4, 3]);
    },
  },
  {
    name: 'setup() refuses a target whose /health is not 200',
    env: { BASE_URL: 'http://down:1' },
    run: async () => {
      const mod = await importScript('scenarios.js');
      state.server = () => ({ status: 200, body: '{"status":"ok"}' });
      assert.equal(mod.setup().baseUrl, 'http://down:1');
      state.server = () => ({ status: 0, error: 'dial: connection refused', error_code: 1212 });
      assert.throws(
        () => mod.setup(),
        /http:\/\/down:1\/health did not answer 200 \(dial: connection refused\).*BASE_URL/,
      );
    },
  },
];
