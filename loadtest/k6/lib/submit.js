// One submission through Kiln's native API, followed to its final verdict and
// judged as `kiln loadtest` judges it (crates/loadtest/src/client.rs):
// `POST /api/v1/submissions?wait=true` (or, with MODE=poll, a plain POST),
// then `GET /api/v1/submissions/{id}` every POLL_INTERVAL while the status is
// `queued` or `running`, all within the phase's timeout. Success is
// `accepted` with the expected stdout (trailing whitespace ignored).

import { check, sleep } from 'k6';
import http from 'k6/http';

import { config } from './config.js';
import {
  compilationErrors,
  submissionDuration,
  submissionErrors,
  submissionsCompleted,
  submissionSuccess,
} from './metrics.js';

const PENDING = ['queued', 'running'];
const ERRORS = ['internal_error', 'http_error', 'timeout', 'transport'];

/** The outcome of an HTTP response: {doc} for a 2xx JSON body, else {outcome} (429 and 503 are HTTP errors too). */
export function classifyResponse(res, timeoutMs) {
  if (res.status === 0) {
    // k6 gives status 0 with error_code 1050 when the request timed out.
    return { outcome: res.error_code === 1050 || timeoutMs <= 0 ? 'timeout' : 'transport' };
  }
  if (res.status < 200 || res.status > 299) {
    return { outcome: 'http_error' };
  }
  try {
    return { doc: JSON.parse(res.body) };
  } catch (e) {
    return { outcome: 'transport' };
  }
}

/** Judges a final result against the program's expected stdout. */
export function judge(doc, expected) {
  switch (doc.status) {
    case 'accepted':
      return String(doc.stdout == null ? '' : doc.stdout).trimEnd() === expected.trimEnd()
        ? 'success'
        : 'wrong_verdict';
    case 'compilation_error':
      return 'compilation_error';
    case 'internal_error':
      return 'internal_error';
    default:
      return 'wrong_verdict';
  }
}

function params(timeoutMs, name, tags) {
  return {
    headers: config.headers,
    timeout: `${Math.max(1, Math.ceil(timeoutMs))}ms`,
    tags: Object.assign({ name }, tags),
  };
}

/** Sends, follows and judges one submission; returns {outcome, doc}. */
function follow(body, expected, timeoutMs, tags) {
  const start = Date.now();
  const left = () => timeoutMs - (Date.now() - start);
  const path = config.mode === 'wait' ? '/api/v1/submissions?wait=true' : '/api/v1/submissions';
  let res = http.post(`${config.baseUrl}${path}`, body, params(left(), 'POST /api/v1/submissions', tags));
  let r = classifyResponse(res, left());
  while (r.doc && PENDING.includes(r.doc.status)) {
    if (typeof r.doc.id !== 'string' || r.doc.id === '') {
      return { outcome: 'transport', doc: r.doc };
    }
    if (left() <= config.pollIntervalMs) {
      return { outcome: 'timeout', doc: r.doc };
    }
    sleep(config.pollIntervalMs / 1000);
    const url = `${config.baseUrl}/api/v1/submissions/${encodeURIComponent(r.doc.id)}`;
    res = http.get(url, params(left(), 'GET /api/v1/submissions/{id}', tags));
    r = classifyResponse(res, left());
  }
  if (!r.doc) {
    return { outcome: r.outcome, doc: null };
  }
  if (typeof r.doc.status !== 'string' || r.doc.status === '') {
    return { outcome: 'transport', doc: r.doc };
  }
  return { outcome: judge(r.doc, expected), doc: r.doc };
}

/**
 * Submits a pick (see corpus.js `pick`), records the metrics and checks, and
 * returns the outcome.
 */
export function submit(p, timeoutMs) {
  const tags = { language: p.language, complexity: p.complexity };
  const body = JSON.stringify({
    language: p.language,
    files: p.files,
    stdin: p.program.stdin,
    expected_output: p.program.expected_output,
  });
  const start = Date.now();
  const { outcome, doc } = follow(body, p.program.expected_output, timeoutMs, tags);
  submissionDuration.add(Date.now() - start, tags);
  submissionSuccess.add(outcome === 'success', tags);
  submissionErrors.add(ERRORS.includes(outcome), tags);
  compilationErrors.add(outcome === 'compilation_error', tags);
  if (doc && doc.status && !PENDING.includes(doc.status)) {
    submissionsCompleted.add(1, tags);
  }
  check(
    doc,
    {
      'final verdict received': (d) => d !== null && !!d.status && !PENDING.includes(d.status),
      'verdict is accepted': (d) => d !== null && d.status === 'accepted',
      'stdout is the expected output': () => outcome === 'success',
    },
    tags,
  );
  return outcome;
}
