// What the k6 stubs record, and the fake server they answer with.
export const state = {
  metrics: {}, // name -> {type, isTime, samples: [{value, tags}]}
  checks: [], // {name, ok, tags}
  requests: [], // {method, url, body, params}
  sleeps: [],
  scenario: 'default',
  // (method, url, body, params) -> {status, body, error, error_code}
  server: () => ({ status: 0, body: null, error: 'no fake server set', error_code: 1000 }),
};
