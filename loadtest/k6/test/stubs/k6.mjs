import { state } from './state.mjs';

export function check(value, sets, tags) {
  let all = true;
  for (const [name, fn] of Object.entries(sets)) {
    const ok = !!fn(value);
    state.checks.push({ name, ok, tags });
    all = all && ok;
  }
  return all;
}

export function sleep(seconds) {
  state.sleeps.push(seconds);
  if (state.onSleep) {
    state.onSleep(seconds);
  }
}

export function fail(message) {
  throw new Error(message);
}

export default { check, sleep, fail };
