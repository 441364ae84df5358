// The load-test plan (shared/seeds/003_*.txt) as data, in the vocabulary of
// `kiln loadtest`'s scenario files (crates/loadtest/scenarios/*.toml):
// stages give `rate` (constant), `requests` (that many over the stage) or
// `to` (a linear ramp from the previous rate, or from `from`); mixes are
// weights; criteria are the plan's success criteria with targets in % and
// seconds. loadtest/k6/test/check.mjs fails CI when this differs from the
// TOML scenarios.

export const PHASES = {
  burst: {
    description: 'Burst test: 1000 submissions in 60 s (sudden traffic spike)',
    load: { stages: [{ duration: '60s', requests: 1000 }] },
    languages: { python: 40, javascript: 25, cpp: 20, java: 10, others: 5 },
    complexity: { simple: 60, medium: 40 },
    submit: { timeout: '60s', unique_sources: false },
    criteria: [
      { metric: 'success_rate', op: '>', target: 95 },
      { metric: 'p95_latency_s', op: '<', target: 3 },
      { metric: 'p99_latency_s', op: '<', target: 5 },
      { metric: 'error_rate', op: '<', target: 5 },
    ],
  },
  sustained: {
    description: 'Sustained load: 100 RPS for 10 minutes (~60,000 submissions)',
    load: { stages: [{ duration: '10m', rate: 100 }] },
    languages: { python: 35, javascript: 30, cpp: 15, java: 15, others: 5 },
    complexity: { simple: 60, medium: 40 },
    submit: { timeout: '60s', unique_sources: false },
    criteria: [
      { metric: 'achieved_rps', op: '>=', target: 95 },
      { metric: 'success_rate', op: '>', target: 95 },
      { metric: 'p95_latency_s', op: '<', target: 5 },
      { metric: 'p99_latency_s', op: '<', target: 10 },
      { metric: 'queue_depth', op: 'stable' },
    ],
  },
  compilation: {
    description: 'Compilation stress: compiled languages, ramping 10 -> 100 -> 20 RPS over 8 minutes',
    load: {
      start_rate: 10,
      stages: [
        { duration: '1m', rate: 10 },
        { duration: '1m', to: 40 },
        { duration: '1m', to: 60 },
        { duration: '1m', to: 80 },
        { duration: '1m', to: 100 },
        { duration: '1m', rate: 100 },
        { duration: '1m', from: 100, to: 60 },
        { duration: '1m', to: 20 },
      ],
    },
    languages: { cpp: 40, c: 25, java: 20, rust: 10, go: 5 },
    complexity: { simple: 30, medium: 50, complex: 20 },
    // Every source differs, so a compile cache cannot hide the cost of compiling.
    submit: { timeout: '120s', unique_sources: true },
    criteria: [
      { metric: 'success_rate', op: '>', target: 90 },
      { metric: 'p95_latency_s', complexity: 'simple', op: '<', target: 5 },
      { metric: 'p95_latency_s', complexity: 'medium', op: '<', target: 8 },
      { metric: 'p95_latency_s', complexity: 'complex', op: '<', target: 15 },
      { metric: 'compilation_error_rate', op: '<', target: 5 },
    ],
  },
  soak: {
    description: 'Soak test: 50 RPS for 30 minutes',
    load: { stages: [{ duration: '30m', rate: 50 }] },
    languages: { python: 35, javascript: 30, cpp: 15, java: 15, others: 5 },
    complexity: { simple: 60, medium: 40 },
    submit: { timeout: '60s', unique_sources: false },
    criteria: [
      { metric: 'success_rate', op: '>', target: 95 },
      { metric: 'p95_latency_s', op: '<', target: 5 },
      { metric: 'p99_latency_s', op: '<', target: 10 },
      { metric: 'error_rate', op: '<', target: 5 },
      { metric: 'queue_depth', op: 'stable' },
    ],
  },
};

// The plan's complete suite: 0-1 burst, 2-12 sustained, 13-21 compilation,
// 22-52 soak (one minute between phases).
export const TIMELINE = { sequence: ['burst', 'sustained', 'compilation', 'soak'], gap: '1m' };
