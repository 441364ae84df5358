// The plan's phases (plan.js) as k6 options: arrival-rate scenarios with the
// plan's rates (scaled by SCALE, stretched by DURATION), a queue sampler beside
// each phase that needs a stable queue, and the plan's success criteria as
// thresholds on the phase's submetrics ({scenario:<phase>}), so k6 exits 99
// when one fails.

import { config, parseDuration } from './config.js';
import { PHASES, TIMELINE } from './plan.js';

const SAMPLER_PREFIX = 'queue_';
/** Generator health, as `kiln loadtest` (exit 3): at most 1 % (and 2) of the
 * planned arrivals may be dropped because every VU was busy. */
const DROPPED_FRACTION = 0.01;

function round(x) {
  return Number(x.toPrecision(12));
}

/** `60000` -> `60s`, `1500` -> `1500ms`. */
export function formatMs(ms) {
  const whole = Math.round(ms);
  return whole % 1000 === 0 ? `${whole / 1000}s` : `${whole}ms`;
}

/** The phase's stages as [{ms, from, to}] (requests/s), resolved as kiln does. */
export function resolveStages(load) {
  let prev = load.start_rate === undefined ? 0 : load.start_rate;
  return load.stages.map((s, i) => {
    const ms = parseDuration(s.duration, `stage ${i}`);
    const given = ['rate', 'requests', 'to'].filter((k) => s[k] !== undefined);
    if (ms <= 0 || given.length !== 1 || (s.from !== undefined && s.to === undefined)) {
      throw new Error(`stage ${i}: give a duration > 0 and exactly one of rate, requests, to`);
    }
    let from;
    let to;
    if (s.rate !== undefined) {
      from = to = s.rate;
    } else if (s.requests !== undefined) {
      from = to = (s.requests * 1000) / ms;
    } else {
      from = s.from === undefined ? prev : s.from;
      to = s.to;
    }
    prev = to;
    return { ms, from, to };
  });
}

/** The phase's stages after SCALE and DURATION. */
export function scaledStages(name) {
  const stages = resolveStages(PHASES[name].load);
  const total = stages.reduce((sum, s) => sum + s.ms, 0);
  const stretch = config.phaseDurationMs === null ? 1 : config.phaseDurationMs / total;
  return stages.map((s) => ({
    ms: s.ms * stretch,
    from: s.from * config.scale,
    to: s.to * config.scale,
  }));
}

/** The smallest of 1s, 1m, 1h in which every rate is a whole number (k6 wants integers). */
function timeUnitFor(rates) {
  for (const seconds of [1, 60, 3600]) {
    if (rates.every((r) => Math.abs(r * seconds - Math.round(r * seconds)) < 1e-6)) {
      return seconds;
    }
  }
  return 3600;
}

function arrivalExecutor(name, stages) {
  const rates = stages.flatMap((s) => [s.from, s.to]);
  const unit = timeUnitFor(rates);
  const per = (r) => Math.round(r * unit);
  if (Math.max(...rates.map(per)) === 0) {
    throw new Error(`SCALE=${config.scale}: phase ${name} would get less than one arrival an hour`);
  }
  const timeUnit = formatMs(unit * 1000);
  if (stages.length === 1 && stages[0].from === stages[0].to) {
    return {
      executor: 'constant-arrival-rate',
      rate: per(stages[0].from),
      timeUnit,
      duration: formatMs(stages[0].ms),
    };
  }
  const out = [];
  let prev = stages[0].from;
  for (const s of stages) {
    if (per(s.from) !== per(prev)) {
      out.push({ target: per(s.from), duration: '0s' }); // a jump, not a ramp
    }
    out.push({ target: per(s.to), duration: formatMs(s.ms) });
    prev = s.to;
  }
  return { executor: 'ramping-arrival-rate', startRate: per(stages[0].from), timeUnit, stages: out };
}

/** Arrivals the phase plans (after SCALE and DURATION). */
export function plannedRequests(name) {
  return scaledStages(name).reduce((n, s) => n + ((s.from + s.to) / 2) * (s.ms / 1000), 0);
}

/** The k6 threshold (metric selector, expression) of one plan criterion. */
export function criterionThreshold(name, c, phaseMs) {
  const scope = [`scenario:${name}`];
  if (c.language) scope.push(`language:${c.language}`);
  if (c.complexity) scope.push(`complexity:${c.complexity}`);
  const sel = (metric) => `${metric}{${scope.join(',')}}`;
  const pct = () => round(c.target / 100);
  const quantiles = { p50: 'p(50)', p90: 'p(90)', p95: 'p(95)', p99: 'p(99)', p999: 'p(99.9)', max: 'max' };
  const latency = c.metric.match(/^(p\d+|max)_latency_s$/);
  if (latency && quantiles[latency[1]]) {
    return [sel('submission_duration'), `${quantiles[latency[1]]}${c.op}${round(c.target * 1000)}`];
  }
  switch (c.metric) {
    case 'success_rate':
      return [sel('submission_success'), `rate${c.op}${pct()}`];
    case 'error_rate':
      return [sel('submission_errors'), `rate${c.op}${pct()}`];
    case 'compilation_error_rate':
      return [sel('compilation_errors'), `rate${c.op}${pct()}`];
    case 'achieved_rps':
      // completed per second over the phase, as a count over its length
      return [
        sel('submissions_completed'),
        `count${c.op}${Math.ceil(round(c.target * config.scale * (phaseMs / 1000)))}`,
      ];
    case 'queue_depth':
      return [`queue_growing{scenario:${SAMPLER_PREFIX}${name}}`, 'value<1'];
    default:
      throw new Error(`phase ${name}: no k6 threshold for criterion metric \`${c.metric}\``);
  }
}

/** Scenarios and thresholds of one phase starting at `startMs`; returns its length too. */
function phase(name, startMs) {
  const p = PHASES[name];
  if (!p) {
    throw new Error(`unknown phase \`${name}\` (phases: ${Object.keys(PHASES).join(', ')})`);
  }
  const stages = scaledStages(name);
  const ms = stages.reduce((sum, s) => sum + s.ms, 0);
  const peak = Math.max(...stages.flatMap((s) => [s.from, s.to]));
  const timeoutMs = parseDuration(p.submit.timeout, `${name}.submit.timeout`);
  const preAllocatedVUs = Math.max(1, Math.ceil(peak * 2));
  const scenarios = {
    [name]: Object.assign(arrivalExecutor(name, stages), {
      exec: name,
      startTime: formatMs(startMs),
      gracefulStop: formatMs(timeoutMs + 5000),
      preAllocatedVUs,
      maxVUs: Math.max(preAllocatedVUs, Math.ceil(peak * config.maxVusSeconds)),
    }),
  };
  const thresholds = {};
  const add = ([metric, expr]) => (thresholds[metric] = (thresholds[metric] || []).concat(expr));
  for (const c of p.criteria) {
    add(criterionThreshold(name, c, ms));
    if (c.metric === 'queue_depth') {
      scenarios[`${SAMPLER_PREFIX}${name}`] = {
        executor: 'constant-arrival-rate',
        rate: 1,
        timeUnit: '1s',
        duration: formatMs(ms),
        startTime: formatMs(startMs),
        preAllocatedVUs: 1,
        maxVUs: 1,
        exec: 'sampleQueue',
      };
    }
  }
  const allowed = Math.max(2, Math.floor(DROPPED_FRACTION * plannedRequests(name)));
  add([`dropped_iterations{scenario:${name}}`, `count<=${allowed}`]);
  return { scenarios, thresholds, ms };
}

/** k6 options running `names` one after the other, `gapMs` apart (scaled like phases). */
export function buildOptions(names, gap = '0s') {
  const firstMs = resolveStages(PHASES[names[0]].load).reduce((sum, s) => sum + s.ms, 0);
  const gapMs = parseDuration(gap, 'gap') * (config.phaseDurationMs === null ? 1 : config.phaseDurationMs / firstMs);
  const options = {
    scenarios: {},
    thresholds: {},
    summaryTrendStats: ['avg', 'min', 'med', 'max', 'p(90)', 'p(95)', 'p(99)'],
  };
  let start = 0;
  for (const name of names) {
    const p = phase(name, start);
    Object.assign(options.scenarios, p.scenarios);
    Object.assign(options.thresholds, p.thresholds);
    start += p.ms + gapMs;
  }
  return options;
}

/** The whole timeline of the plan (scenarios.js). */
export function timelineOptions() {
  return buildOptions(TIMELINE.sequence, TIMELINE.gap);
}
