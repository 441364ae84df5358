import { state } from './state.mjs';

export default {
  get scenario() {
    return { name: state.scenario };
  },
};
