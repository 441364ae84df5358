// Scenario 2 of the load-test plan: sustained load, 100 RPS for 10 minutes.
// Python 35 %, JavaScript 30 %, C++ 15 %, Java 15 %, others 5 %.
// Criteria (k6 thresholds, exit 99 when one fails): achieved RPS >= 95
// (>= 57,000 completed in the 600 s), success rate > 95 %, P95 < 5 s,
// P99 < 10 s, queue depth stable (sampled from /metrics once a second).
//
//   k6 run --no-usage-report loadtest/k6/sustained-100rps.js
//
// Settings: lib/config.js. Plan data: lib/plan.js. docs/loadtest.md, section k6.
import { buildOptions } from './lib/options.js';

export { setup, sustained, sampleQueue } from './lib/kiln.js';

export const options = buildOptions(['sustained']);
