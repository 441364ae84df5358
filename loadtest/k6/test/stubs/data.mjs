export class SharedArray {
  constructor(name, fn) {
    if (typeof name !== 'string' || typeof fn !== 'function') {
      throw new Error('SharedArray(name, fn)');
    }
    const data = fn();
    if (!Array.isArray(data)) {
      throw new Error('SharedArray: the function must return an array');
    }
    // k6 hands every VU a read-only copy that went through JSON.
    return Object.freeze(JSON.parse(JSON.stringify(data)));
  }
}

export default { SharedArray };
