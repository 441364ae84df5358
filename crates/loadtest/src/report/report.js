// Draws the report's panels as SVG from KILN_DATA. No libraries, no network.
(function () {
  "use strict";
  const NS = "http://www.w3.org/2000/svg";
  const COLORS = ["#1a73e8", "#e8710a", "#137333", "#c5221f", "#9334e6", "#12b5cb"];
  const W = 520, H = 240, L = 56, R = 12, T = 12, B = 44;

  function el(parent, name, attrs, text) {
    const e = document.createElementNS(NS, name);
    for (const k in attrs) e.setAttribute(k, attrs[k]);
    if (text !== undefined) e.textContent = text;
    parent.appendChild(e);
    return e;
  }

  function nice(max) {
    if (!(max > 0)) return 1;
    const p = Math.pow(10, Math.floor(Math.log10(max)));
    for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= max) return m * p;
    return 10 * p;
  }

  function fmt(v) {
    return Math.abs(v) >= 1000 ? (v / 1000).toFixed(1) + "k" : +v.toFixed(2) + "";
  }

  function axes(svg, xmax, ymax, xlabel, ylabel) {
    const sx = (x) => L + (x / xmax) * (W - L - R);
    const sy = (y) => H - B - (y / ymax) * (H - T - B);
    el(svg, "line", { x1: L, y1: H - B, x2: W - R, y2: H - B, stroke: "#888" });
    el(svg, "line", { x1: L, y1: T, x2: L, y2: H - B, stroke: "#888" });
    for (let i = 0; i <= 4; i++) {
      const y = (ymax * i) / 4, x = (xmax * i) / 4;
      el(svg, "line", { x1: L, y1: sy(y), x2: W - R, y2: sy(y), stroke: "#eee" });
      el(svg, "text", { x: L - 4, y: sy(y) + 4, "text-anchor": "end", "font-size": 10 }, fmt(y));
      el(svg, "text", { x: sx(x), y: H - B + 14, "text-anchor": "middle", "font-size": 10 }, fmt(x));
    }
    el(svg, "text", { x: (L + W - R) / 2, y: H - B + 28, "text-anchor": "middle", "font-size": 11 }, xlabel);
    el(svg, "text", { x: 12, y: T + (H - T - B) / 2, "font-size": 11, transform: `rotate(-90 12 ${T + (H - T - B) / 2})`, "text-anchor": "middle" }, ylabel);
    return [sx, sy];
  }

  function legend(svg, names) {
    names.forEach((n, i) => {
      const x = L + 8 + i * 110;
      el(svg, "rect", { x: x, y: H - 12, width: 10, height: 10, fill: COLORS[i % COLORS.length] });
      el(svg, "text", { x: x + 14, y: H - 3, "font-size": 11 }, n);
    });
  }

  function noData(svg) {
    el(svg, "text", { x: W / 2, y: H / 2, "text-anchor": "middle", fill: "#888", class: "no-data" }, "no data (target exposes no such metric)");
  }

  function lineChart(svg, series, unit) {
    const pts = series.flatMap((s) => s.points);
    if (pts.length === 0) return noData(svg), 0;
    const xmax = Math.max(1, ...pts.map((p) => p[0]));
    const ymax = nice(Math.max(...pts.map((p) => p[1])));
    const [sx, sy] = axes(svg, xmax, ymax, "seconds", unit);
    let drawn = 0;
    series.forEach((s, i) => {
      if (s.points.length === 0) return;
      const d = s.points.map((p, j) => (j ? "L" : "M") + sx(p[0]).toFixed(1) + "," + sy(p[1]).toFixed(1)).join("");
      el(svg, "path", { d: d, fill: "none", stroke: COLORS[i % COLORS.length], "stroke-width": 1.6, "data-series": s.name });
      drawn++;
    });
    legend(svg, series.map((s) => s.name));
    return drawn;
  }

  function barChart(svg, bars) {
    if (bars.length === 0) return noData(svg), 0;
    const ymax = nice(Math.max(...bars.map((b) => b.count)));
    const sy = (y) => H - B - (y / ymax) * (H - T - B);
    axes(svg, 1, ymax, "", "requests").forEach(() => {});
    svg.querySelectorAll("text").forEach((t) => { if (+t.getAttribute("y") > H - B) t.remove(); });
    const bw = (W - L - R) / bars.length;
    bars.forEach((b, i) => {
      const x = L + i * bw + bw * 0.15, w = bw * 0.7;
      el(svg, "rect", { x: x, y: sy(b.count), width: w, height: H - B - sy(b.count), fill: COLORS[1], "data-bar": b.name });
      el(svg, "rect", { x: x, y: sy(b.success), width: w, height: H - B - sy(b.success), fill: COLORS[2] });
      el(svg, "text", { x: x + w / 2, y: H - B + 14, "text-anchor": "middle", "font-size": 10 }, b.name);
      el(svg, "text", { x: x + w / 2, y: sy(b.count) - 3, "text-anchor": "middle", "font-size": 10 }, b.count);
    });
    legend(svg, ["requests", "successful"]);
    return bars.length;
  }

  let panels = 0;
  document.querySelectorAll("svg.chart").forEach((svg) => {
    const data = KILN_DATA[+svg.dataset.phase];
    const key = svg.dataset.panel;
    const n = key === "languages" ? barChart(svg, data.languages) : lineChart(svg, data[key], svg.dataset.unit || "%");
    svg.setAttribute("data-drawn", String(n));
    panels++;
  });
  document.body.setAttribute("data-charts-drawn", String(panels));
})();
