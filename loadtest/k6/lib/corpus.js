// Kiln's load-test corpus (loadtest/corpus/corpus.json and the program files
// beside it), the same programs `kiln loadtest` and the Locust file send. Read
// once at init into a SharedArray (one copy for all VUs); picks follow a
// phase's language and complexity mixes.

import { SharedArray } from 'k6/data';

// open() resolves a relative path against the module being evaluated, so this
// runs at this module's top level.
const CORPUS_DIR = '../../corpus';

const LEVELS = ['simple', 'medium', 'complex'];

function loadCorpus() {
  const manifest = JSON.parse(open(`${CORPUS_DIR}/corpus.json`));
  const programs = [];
  for (const lang of manifest.languages) {
    for (const level of LEVELS) {
      const spec = lang.levels[level];
      if (typeof spec === 'string') {
        continue; // served by another level, see `servedBy`
      }
      const dir = `${CORPUS_DIR}/${lang.language}/${level}`;
      programs.push({
        language: lang.language,
        complexity: level,
        comment: lang.comment,
        files: spec.map((name) => ({ name, content: open(`${dir}/${name}`) })),
        stdin: open(`${dir}/input.txt`),
        expected_output: open(`${dir}/expected.txt`),
      });
    }
  }
  return [
    {
      others: manifest.others,
      // "language/level" -> the level whose program serves it
      servedBy: Object.fromEntries(
        manifest.languages.flatMap((l) =>
          LEVELS.map((level) => [
            `${l.language}/${level}`,
            typeof l.levels[level] === 'string' ? l.levels[level] : level,
          ]),
        ),
      ),
    },
    ...programs,
  ];
}

const shared = new SharedArray('kiln load-test corpus', loadCorpus);
const index = shared[0];
const programs = {};
for (let i = 1; i < shared.length; i++) {
  programs[`${shared[i].language}/${shared[i].complexity}`] = shared[i];
}

/** The corpus's languages, and what the plan's "others" stands for. */
export const LANGUAGES = Object.freeze([...new Set(Object.values(programs).map((p) => p.language))]);
export const OTHERS = Object.freeze([...index.others]);

/** The program of `language` at `level` (or the level the manifest serves it with). */
export function findProgram(language, level) {
  const served = index.servedBy[`${language}/${level}`];
  const p = served && programs[`${language}/${served}`];
  if (!p) {
    throw new Error(`the corpus has no ${level} program for \`${language}\``);
  }
  return p;
}

/** Draws a key of `weights` ({key: weight}) with probability weight / total. */
export function weighted(weights) {
  const entries = Object.entries(weights).filter(([, w]) => w > 0);
  let x = Math.random() * entries.reduce((sum, [, w]) => sum + w, 0);
  for (const [key, w] of entries) {
    if (x < w) {
      return key;
    }
    x -= w;
  }
  return entries[entries.length - 1][0];
}

let nonceCounter = 0;

/**
 * A program for one request, drawn from the mixes: {language, complexity (the
 * level of the program sent, as `kiln loadtest` counts it), program, files}. With `unique`, the entry file ends with a
 * fresh nonce comment, so no two sources are the same.
 */
export function pick(languages, complexity, unique) {
  let language = weighted(languages);
  if (language === 'others') {
    language = OTHERS[Math.floor(Math.random() * OTHERS.length)];
  }
  const level = weighted(complexity);
  const program = findProgram(language, level);
  const files = program.files.map((f) => ({ name: f.name, content: f.content }));
  if (unique) {
    nonceCounter += 1;
    const vu = typeof __VU === 'number' ? __VU : 0;
    const nonce = `${vu}-${nonceCounter}-${Math.random().toString(16).slice(2, 10)}`;
    files[0].content += `\n${program.comment} k6 nonce ${nonce}\n`;
  }
  return { language, complexity: program.complexity, program, files };
}
