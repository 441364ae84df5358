// Scenario 1 of the load-test plan: burst, 1000 submissions in one minute.
// Python 40 %, JavaScript 25 %, C++ 20 %, Java 10 %, others 5 %.
// Criteria (k6 thresholds, exit 99 when one fails): success rate > 95 %,
// P95 < 3 s, P99 < 5 s, error rate < 5 %.
//
//   k6 run --no-usage-report loadtest/k6/burst-only.js
//   BASE_URL=http://kiln:3000 SCALE=0.1 DURATION=10s k6 run --no-usage-report loadtest/k6/burst-only.js
//
// Settings: lib/config.js. Plan data: lib/plan.js. docs/loadtest.md, section k6.
import { buildOptions } from './lib/options.js';

export { setup, burst } from './lib/kiln.js';

export const options = buildOptions(['burst']);
