import { state } from './state.mjs';

function metric(type) {
  return class {
    constructor(name, isTime = false) {
      if (!/^[a-zA-Z_][a-zA-Z0-9_]{0,127}$/.test(name)) {
        throw new Error(`invalid k6 metric name ${name}`);
      }
      if (state.metrics[name]) {
        throw new Error(`metric ${name} created twice`);
      }
      state.metrics[name] = { type, isTime, samples: [] };
      this.name = name;
    }

    add(value, tags) {
      state.metrics[this.name].samples.push({
        value,
        tags: Object.assign({ scenario: state.scenario }, tags),
      });
    }
  };
}

export const Counter = metric('counter');
export const Gauge = metric('gauge');
export const Rate = metric('rate');
export const Trend = metric('trend');

export default { Counter, Gauge, Rate, Trend };
