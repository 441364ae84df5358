// The custom metrics the plan's criteria are judged on (k6 creates metrics
// in the init context, so they live in this module, imported once). Every
// submission sample is tagged with `language` and `complexity`; k6 adds
// `scenario`.

import { Counter, Gauge, Rate, Trend } from 'k6/metrics';

/** Time from sending a submission to its final verdict (polls included), ms. */
export const submissionDuration = new Trend('submission_duration', true);
/** Accepted with the expected stdout. */
export const submissionSuccess = new Rate('submission_success');
/** HTTP error, 429/503, timeout, transport error or `internal_error` (as `kiln loadtest`). */
export const submissionErrors = new Rate('submission_errors');
/** Answered `compilation_error`. */
export const compilationErrors = new Rate('compilation_errors');
/** Submissions that reached a final verdict (achieved RPS = count / phase length). */
export const submissionsCompleted = new Counter('submissions_completed');
/** `code_execution_queue_depth` from the target's /metrics, once a second. */
export const queueDepth = new Trend('queue_depth');
/** 1 while the queue-depth trend of the phase so far is growing (or unmeasurable), else 0. */
export const queueGrowing = new Gauge('queue_growing');

/** Metric name and type of every custom metric (for the thresholds' checks). */
export const CUSTOM_METRICS = {
  submission_duration: 'trend',
  submission_success: 'rate',
  submission_errors: 'rate',
  compilation_errors: 'rate',
  submissions_completed: 'counter',
  queue_depth: 'trend',
  queue_growing: 'gauge',
};
