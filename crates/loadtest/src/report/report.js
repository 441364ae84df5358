// Draws the report's panels from KILN_DATA with uPlot (embedded above this
// script; no network). Each panel: {x, xlabel, unit, series: [{name, values,
// color, width, dash, scale}], names (bar charts), range}.
(function () {
  "use strict";
  const W = 520, H = 240;

  function seriesOpts(s, bars, i) {
    const o = { label: s.name, stroke: s.color, width: s.width || 1.5, scale: s.scale || "y", points: { show: false } };
    if (s.dash) o.dash = s.dash;
    if (bars) {
      // Overlaid, each narrower than the one before: requests, then the
      // successful ones inside them; the legend shows the same fills.
      o.fill = s.color;
      o.paths = uPlot.paths.bars({ size: [0.7 - 0.25 * i], align: 0 });
    }
    return o;
  }

  function options(d, bars) {
    const scales = { x: { time: false }, y: { range: d.range ? () => d.range : (u, min, max) => [0, max > 0 ? max * 1.1 : 1] } };
    const x = { label: d.xlabel };
    if (bars) {
      x.incrs = [1];
      x.values = (u, ticks) => ticks.map((t) => (Number.isInteger(t) ? d.names[t] || "" : ""));
    }
    const axes = [x, { label: d.unit, scale: "y", size: 56 }];
    if (d.series.some((s) => s.scale === "count")) {
      scales.count = { range: (u, min, max) => [0, max > 0 ? max * 1.1 : 1] };
      axes.push({ label: "count", scale: "count", side: 1, grid: { show: false }, size: 48 });
    }
    if (bars) scales.x.range = () => [-0.5, d.names.length - 0.5];
    return {
      width: W, height: H, scales: scales, axes: axes,
      series: [{ label: d.xlabel }].concat(d.series.map((s, i) => seriesOpts(s, bars, i))),
      legend: { live: !bars },
    };
  }

  let panels = 0;
  document.querySelectorAll("div.chart").forEach((el) => {
    const d = KILN_DATA[+el.dataset.phase][el.dataset.panel];
    const drawn = d.series.filter((s) => s.values.some((v) => v !== null)).length;
    el.setAttribute("data-drawn", String(drawn));
    panels++;
    if (drawn === 0) {
      el.textContent = "no data: the target exposes no such metric";
      el.className += " no-data";
      return;
    }
    const bars = el.dataset.panel === "languages";
    const data = [d.x].concat(d.series.map((s) => s.values));
    new uPlot(options(d, bars), data, el);
  });
  document.body.setAttribute("data-charts-drawn", String(panels));
})();
