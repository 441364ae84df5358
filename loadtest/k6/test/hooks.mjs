// Node module hooks for check.mjs: `k6` and `k6/*` resolve to the stubs in
// ./stubs/, and the k6 scripts' .js files load as ES modules.
import { readFile } from 'node:fs/promises';

const K6_DIR = new URL('../', import.meta.url).href;

export async function resolve(specifier, context, next) {
  if (specifier === 'k6' || specifier.startsWith('k6/')) {
    const name = specifier === 'k6' ? 'k6' : specifier.slice(3);
    return { url: new URL(`./stubs/${name}.mjs`, import.meta.url).href, shortCircuit: true };
  }
  return next(specifier, context);
}

export async function load(url, context, next) {
  if (url.startsWith(K6_DIR) && url.endsWith('.js')) {
    return { format: 'module', source: await readFile(new URL(url)), shortCircuit: true };
  }
  return next(url, context);
}
