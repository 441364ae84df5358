// The load-test plan's complete suite, in its timeline (52 minutes):
//   0-1 burst (1000 in 1 m), 2-12 sustained (100 RPS), 13-21 compilation
//   stress, 22-52 soak (50 RPS, 30 m).
// Each phase is a k6 scenario with its own thresholds ({scenario:<phase>}),
// so k6 exits 99 when any phase misses one of the plan's criteria.
//
//   k6 run --no-usage-report loadtest/k6/scenarios.js
//   BASE_URL=https://api.example.com k6 run --no-usage-report loadtest/k6/scenarios.js
//   k6 run --no-usage-report --out json=results.json loadtest/k6/scenarios.js
//
// Settings: lib/config.js. Plan data: lib/plan.js. docs/loadtest.md, section k6.
import { timelineOptions } from './lib/options.js';

export { setup, burst, sustained, compilation, soak, sampleQueue } from './lib/kiln.js';

export const options = timelineOptions();
