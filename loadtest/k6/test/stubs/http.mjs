import { state } from './state.mjs';

function request(method, url, body, params) {
  state.requests.push({ method, url, body, params });
  const r = state.server(method, url, body, params);
  return Object.assign({ status: 200, body: '', error: '', error_code: 0 }, r);
}

export function get(url, params) {
  return request('GET', url, null, params);
}

export function post(url, body, params) {
  return request('POST', url, body, params);
}

export default { get, post, request };
