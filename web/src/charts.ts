// Line and bar charts (uPlot) for the dashboard and the reports: sized to
// their container, redrawn on resize. The figures are also given as text
// beside each chart, so the charts are not the only way to read them.

import uPlot from "uplot";

/** Colours that keep a 3:1 contrast on white (WCAG 1.4.11). */
export const COLORS = ["#1a5fb4", "#c64600", "#26723a", "#b3261e", "#6b3fa0", "#00727a"];

export interface Chart {
  destroy(): void;
}

export interface LineChart extends Chart {
  update(x: number[], ys: (number | null)[][]): void;
}

export interface BarChart extends Chart {
  update(names: string[], values: number[][]): void;
}

function sized(host: HTMLElement, height: number, make: (width: number) => uPlot): { plot: uPlot; ro: ResizeObserver } {
  const plot = make(Math.max(200, host.clientWidth));
  const ro = new ResizeObserver(() => {
    const w = Math.max(200, host.clientWidth);
    if (w !== plot.width) plot.setSize({ width: w, height });
  });
  ro.observe(host);
  return { plot, ro };
}

function fmt(v: number | null): string {
  if (v === null || v === undefined || Number.isNaN(v)) return "—";
  const a = Math.abs(v);
  if (a >= 1000) return `${(v / 1000).toFixed(1)}k`;
  if (a >= 10 || v === Math.round(v)) return String(Math.round(v * 10) / 10);
  return v.toFixed(2);
}

export interface LineOptions {
  series: string[];
  unit: string;
  /** x is Unix seconds (dashboard) rather than seconds from a start (reports). */
  time: boolean;
  height?: number;
  /** A fixed x range (the dashboard's window), else the data's. */
  xRange?: () => [number, number];
}

export function lineChart(host: HTMLElement, o: LineOptions): LineChart {
  const height = o.height ?? 200;
  const empty: uPlot.AlignedData = [[], ...o.series.map(() => [])];
  const { plot, ro } = sized(
    host,
    height,
    (width) =>
      new uPlot(
        {
          width,
          height,
          scales: {
            x: o.xRange ? { time: o.time, range: () => o.xRange!() } : { time: o.time },
            y: { range: (_u, min, max) => [Math.min(0, min ?? 0), Math.max(max ?? 0, 1) * 1.1] },
          },
          axes: [
            { label: o.time ? "" : "seconds", stroke: "#3d4450", grid: { stroke: "#e3e6ea" } },
            { label: o.unit, stroke: "#3d4450", grid: { stroke: "#e3e6ea" }, values: (_u, splits) => splits.map((v) => fmt(v)), size: 56 },
          ],
          series: [
            { label: o.time ? "time" : "second" },
            ...o.series.map((label, i) => ({
              label,
              stroke: COLORS[i % COLORS.length],
              width: 2,
              spanGaps: false,
              value: (_u: uPlot, v: number | null) => `${fmt(v)} ${o.unit}`,
            })),
          ],
          cursor: { drag: { x: false, y: false } },
        },
        empty,
        host,
      ),
  );
  return {
    update: (x, ys) => plot.setData([x, ...ys] as uPlot.AlignedData),
    destroy: () => {
      ro.disconnect();
      plot.destroy();
    },
  };
}

/** Bars per name; several series overlap, the later ones narrower (e.g. "successful" within "requests"). */
export function barChart(host: HTMLElement, seriesNames: string[], unit: string, height = 200): BarChart {
  let names: string[] = [];
  const { plot, ro } = sized(
    host,
    height,
    (width) =>
      new uPlot(
        {
          width,
          height,
          scales: { x: { time: false, range: () => [-0.5, Math.max(names.length, 1) - 0.5] }, y: { range: (_u, _min, max) => [0, Math.max(max ?? 1, 1) * 1.1] } },
          axes: [
            { stroke: "#3d4450", grid: { show: false }, splits: () => names.map((_, i) => i), values: (_u, splits) => splits.map((i) => names[i] ?? "") },
            { label: unit, stroke: "#3d4450", grid: { stroke: "#e3e6ea" }, size: 56 },
          ],
          series: [
            { label: "language", value: (_u, i) => names[i] ?? "" },
            ...seriesNames.map((label, i) => ({
              label,
              fill: COLORS[(i + 1) % COLORS.length],
              stroke: COLORS[(i + 1) % COLORS.length],
              paths: uPlot.paths.bars!({ size: [0.7 - i * 0.3, 100] }),
              points: { show: false },
            })),
          ],
          cursor: { drag: { x: false, y: false } },
        },
        [[], ...seriesNames.map(() => [])],
        host,
      ),
  );
  return {
    update: (n, values) => {
      names = n;
      plot.setData([n.map((_, i) => i), ...values] as uPlot.AlignedData);
    },
    destroy: () => {
      ro.disconnect();
      plot.destroy();
    },
  };
}
