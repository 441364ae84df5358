// Reading the server's own `/metrics` (Prometheus text exposition 0.0.4) in
// the browser: the parser, sums over label sets, and the percentiles of a
// histogram between two scrapes (Prometheus' `histogram_quantile`: linear
// interpolation inside the bucket that holds the rank).

export type Labels = Record<string, string>;

export interface Sample {
  name: string;
  labels: Labels;
  value: number;
}

const LINE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+-?\d+)?\s*$/;

function parseValue(v: string): number {
  if (v === "+Inf" || v === "Inf") return Infinity;
  if (v === "-Inf") return -Infinity;
  return Number(v);
}

/** `a="x",b="y\"z"` → labels; null when malformed. */
export function parseLabels(s: string): Labels | null {
  const out: Labels = {};
  let i = 0;
  while (i < s.length) {
    while (s[i] === " " || s[i] === ",") i++;
    if (i >= s.length) break;
    const eq = s.indexOf("=", i);
    if (eq < 0 || s[eq + 1] !== '"') return null;
    const name = s.slice(i, eq).trim();
    let value = "";
    let j = eq + 2;
    for (; j < s.length && s[j] !== '"'; j++) {
      if (s[j] === "\\" && j + 1 < s.length) {
        j++;
        value += s[j] === "n" ? "\n" : s[j];
      } else {
        value += s[j];
      }
    }
    if (j >= s.length) return null;
    out[name] = value;
    i = j + 1;
  }
  return out;
}

/** Every sample of a text exposition; comments and malformed lines are skipped. */
export function parseMetrics(text: string): Sample[] {
  const out: Sample[] = [];
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (!line || line.startsWith("#")) continue;
    const m = LINE.exec(line);
    if (!m) continue;
    const labels = m[2] ? parseLabels(m[2]) : {};
    const value = parseValue(m[3]);
    if (!labels || Number.isNaN(value)) continue;
    out.push({ name: m[1], labels, value });
  }
  return out;
}

export type Filter = (labels: Labels) => boolean;

/** One scrape, with the sums the dashboard needs. */
export class Scrape {
  constructor(
    readonly samples: Sample[],
    readonly at: number,
  ) {}

  static parse(text: string, at: number): Scrape {
    return new Scrape(parseMetrics(text), at);
  }

  /** Sum of the series of `name` that pass `filter`; null when there is none. */
  sum(name: string, filter: Filter = () => true): number | null {
    let total: number | null = null;
    for (const s of this.samples) {
      if (s.name === name && filter(s.labels)) total = (total ?? 0) + s.value;
    }
    return total;
  }

  /** Sums of `name` by the value of one label. */
  by(name: string, label: string, filter: Filter = () => true): Map<string, number> {
    const out = new Map<string, number>();
    for (const s of this.samples) {
      if (s.name === name && filter(s.labels)) {
        const k = s.labels[label] ?? "";
        out.set(k, (out.get(k) ?? 0) + s.value);
      }
    }
    return out;
  }

  /** Cumulative bucket counts of histogram `name` (summed over series), by upper bound. */
  buckets(name: string, filter: Filter = () => true): Map<number, number> {
    const out = new Map<number, number>();
    for (const s of this.samples) {
      if (s.name === `${name}_bucket` && filter(s.labels) && s.labels.le !== undefined) {
        const le = parseValue(s.labels.le);
        out.set(le, (out.get(le) ?? 0) + s.value);
      }
    }
    return out;
  }
}

/**
 * Bucket counts of what happened between two scrapes, sorted by bound. A
 * counter that went down (the server restarted) counts from zero.
 */
export function bucketDelta(prev: Map<number, number>, cur: Map<number, number>): [number, number][] {
  const reset = [...cur].some(([le, n]) => n < (prev.get(le) ?? 0));
  return [...cur]
    .map(([le, n]): [number, number] => [le, reset ? n : n - (prev.get(le) ?? 0)])
    .sort((a, b) => a[0] - b[0]);
}

/** The q-quantile (0..1) of cumulative buckets; null without observations. */
export function quantile(q: number, buckets: [number, number][]): number | null {
  if (!buckets.length) return null;
  const total = buckets[buckets.length - 1][1];
  if (!(total > 0)) return null;
  const rank = q * total;
  let prevBound = 0;
  let prevCount = 0;
  for (const [le, count] of buckets) {
    if (count >= rank) {
      if (le === Infinity) return prevBound;
      if (count === prevCount) return le;
      return prevBound + ((le - prevBound) * (rank - prevCount)) / (count - prevCount);
    }
    prevBound = le;
    prevCount = count;
  }
  return prevBound;
}

/** Per-second rate of a counter between two scrapes (0 after a reset). */
export function rate(prev: number | null, cur: number | null, seconds: number): number | null {
  if (cur === null || !(seconds > 0)) return null;
  const p = prev ?? 0;
  return cur >= p ? (cur - p) / seconds : cur / seconds;
}
