// "Queue depth: stable (not growing)": a sampler scenario reads
// `code_execution_queue_depth` from the target's /metrics once a second beside
// a phase and fits a least-squares line through the phase's samples so far,
// with the rule `kiln loadtest` uses (crates/loadtest/src/metrics_scrape.rs):
// growing when t > 3 and the line adds more than 5 jobs over the run. The
// `queue_growing` gauge holds the verdict (its last value is the phase's);
// no sample at all counts as not stable.

import http from 'k6/http';
import exec from 'k6/execution';

import { config } from './config.js';
import { queueDepth, queueGrowing } from './metrics.js';

/** Least-squares line through [t, y] points: {slope, tStat}, or null under 3 points. */
export function trend(points) {
  const n = points.length;
  if (n < 3) {
    return null;
  }
  const mx = points.reduce((s, p) => s + p[0], 0) / n;
  const my = points.reduce((s, p) => s + p[1], 0) / n;
  const sxx = points.reduce((s, p) => s + (p[0] - mx) ** 2, 0);
  const sxy = points.reduce((s, p) => s + (p[0] - mx) * (p[1] - my), 0);
  if (sxx <= 0) {
    return null;
  }
  const slope = sxy / sxx;
  const sse = points.reduce((s, p) => s + (p[1] - my - slope * (p[0] - mx)) ** 2, 0);
  const se = Math.sqrt(sse / (n - 2) / sxx);
  let tStat;
  if (se > 0) {
    tStat = slope / se;
  } else {
    tStat = slope === 0 ? 0 : Math.sign(slope) * Infinity;
  }
  return { slope, tStat };
}

/** Whether depth samples [t seconds, depth] show a growing queue. */
export function isGrowing(points) {
  const tr = trend(points);
  if (!tr) {
    return false;
  }
  const span = points[points.length - 1][0] - points[0][0];
  return tr.tStat > 3 && tr.slope * span > 5;
}

/** The value of an unlabelled gauge in Prometheus text, or null. */
export function gauge(text, name) {
  for (const line of String(text).split('\n')) {
    const m = line.match(/^([A-Za-z_:][A-Za-z0-9_:]*)(\{[^}]*\})?\s+(\S+)/);
    if (m && m[1] === name) {
      const v = Number(m[3]);
      return Number.isFinite(v) ? v : null;
    }
  }
  return null;
}

// This VU's samples, per sampler scenario (a VU may serve several in a run).
const series = {};
let warned = false;

/** One sample; the exec function of a phase's `queue_<phase>` scenario. */
export function sampleQueue() {
  const name = exec.scenario.name;
  const points = series[name] || (series[name] = []);
  const res = http.get(`${config.baseUrl}/metrics`, {
    timeout: '5s',
    tags: { name: 'GET /metrics' },
  });
  const depth = res.status === 200 ? gauge(res.body, 'code_execution_queue_depth') : null;
  if (depth === null) {
    if (!warned) {
      warned = true;
      console.warn(
        `${config.baseUrl}/metrics gave no code_execution_queue_depth (HTTP ${res.status}); ` +
          'the queue-depth criterion cannot pass without it',
      );
    }
  } else {
    points.push([Date.now() / 1000, depth]);
    queueDepth.add(depth);
  }
  queueGrowing.add(points.length === 0 || isGrowing(points) ? 1 : 0);
}
