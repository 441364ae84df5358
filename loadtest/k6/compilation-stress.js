// Scenario 3 of the load-test plan: compilation stress over 8 minutes,
// ramping 10 -> 40 -> 60 -> 80 -> 100 -> 60 -> 20 RPS.
// C++ 40 %, C 25 %, Java 20 %, Rust 10 %, Go 5 %; simple 30 %, medium 50 %,
// complex 20 %; every source unique (no compile cache can help).
// Criteria (k6 thresholds, exit 99 when one fails): success rate > 90 %,
// P95 < 5 s (simple), < 8 s (medium), < 15 s (complex), compilation errors < 5 %.
//
//   k6 run --no-usage-report loadtest/k6/compilation-stress.js
//
// Settings: lib/config.js. Plan data: lib/plan.js. docs/loadtest.md, section k6.
import { buildOptions } from './lib/options.js';

export { setup, compilation } from './lib/kiln.js';

export const options = buildOptions(['compilation']);
