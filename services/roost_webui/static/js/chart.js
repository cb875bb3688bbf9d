// A small SVG time chart: the mean as a line, min..max as a band (from the recorder's
// buckets), with time and value axes, a hover readout, and a live tail appended as state
// arrives. No library: about two hundred lines are all a sensor chart needs.
import { h, clear } from "./dom.js";
import { formatNumber, clock } from "./format.js";

const H = 200, PAD = { l: 48, r: 12, t: 10, b: 24 };

export function timeChart(spec) {
  const svg = h("svg.chart", { role: "img", height: H });
  const readout = h("div.chart-readout");
  const el = h("div.chart-box", svg, readout);
  let points = [];      // [ts, min, max, mean]
  let span = 3600;
  let end = Date.now() / 1000;

  const setData = (raw, seconds) => {
    span = seconds;
    end = Date.now() / 1000;
    points = raw.map((p) => p.length >= 6 ? [p[0], p[1], p[2], p[3]] : [p[0], p[1], p[1], p[1]])
      .filter((p) => typeof p[3] === "number");
    draw();
  };
  const append = (ts, value) => {
    if (typeof value !== "number") return;
    end = Math.max(end, ts);
    points.push([ts, value, value, value]);
    const start = end - span;
    while (points.length && points[0][0] < start) points.shift();
    draw();
  };

  // Drawn at the box's own width in pixels, so text is never stretched; redrawn on resize.
  let W = 640;
  new ResizeObserver(() => {
    const width = Math.round(el.clientWidth);
    if (width && width !== W) { W = width; draw(); }
  }).observe(el);

  function draw() {
    clear(svg);
    svg.setAttribute("viewBox", `0 0 ${W} ${H}`);
    const start = end - span;
    const shown = points.filter((p) => p[0] >= start);
    svg.dataset.points = String(shown.length);
    if (!shown.length) {
      svg.append(h("text.empty", { x: W / 2, y: H / 2, "text-anchor": "middle", text: "no data in this range" }));
      return;
    }
    let lo = Math.min(...shown.map((p) => p[1]));
    let hi = Math.max(...shown.map((p) => p[2]));
    if (spec.min !== undefined && spec.max !== undefined && spec.settable) { lo = Math.min(lo, spec.min); hi = Math.max(hi, spec.max); }
    if (hi === lo) { hi += 1; lo -= 1; }
    const padY = (hi - lo) * 0.08;
    lo -= padY; hi += padY;
    const x = (t) => PAD.l + ((t - start) / span) * (W - PAD.l - PAD.r);
    const y = (v) => H - PAD.b - ((v - lo) / (hi - lo)) * (H - PAD.t - PAD.b);

    for (const tick of niceTicks(lo, hi, 4)) {
      svg.append(h("line.grid", { x1: PAD.l, x2: W - PAD.r, y1: y(tick), y2: y(tick) }));
      svg.append(h("text.axis", { x: PAD.l - 6, y: y(tick) + 4, "text-anchor": "end", text: formatNumber(tick, {}) }));
    }
    for (let i = 0; i <= 4; i++) {
      const t = start + (span * i) / 4;
      svg.append(h("text.axis", { x: x(t), y: H - 6, "text-anchor": i === 0 ? "start" : i === 4 ? "end" : "middle", text: timeLabel(t, span) }));
    }
    const banded = shown.some((p) => p[1] !== p[2]);
    if (banded) {
      const top = shown.map((p) => `${x(p[0]).toFixed(1)},${y(p[2]).toFixed(1)}`);
      const bottom = shown.slice().reverse().map((p) => `${x(p[0]).toFixed(1)},${y(p[1]).toFixed(1)}`);
      svg.append(h("path.band", { d: `M${top.join("L")}L${bottom.join("L")}Z` }));
    }
    const line = shown.map((p, i) => `${i ? "L" : "M"}${x(p[0]).toFixed(1)},${y(p[3]).toFixed(1)}`).join("");
    svg.append(h("path.line", { d: line }));
    const last = shown[shown.length - 1];
    svg.append(h("circle.last", { cx: x(last[0]), cy: y(last[3]), r: 3 }));
    const cursor = h("line.cursor", { y1: PAD.t, y2: H - PAD.b, x1: -10, x2: -10 });
    svg.append(cursor);
    svg.onpointermove = (event) => {
      const box = svg.getBoundingClientRect();
      const t = start + ((event.clientX - box.left) / box.width * W - PAD.l) / (W - PAD.l - PAD.r) * span;
      let best = shown[0];
      for (const p of shown) if (Math.abs(p[0] - t) < Math.abs(best[0] - t)) best = p;
      cursor.setAttribute("x1", x(best[0])); cursor.setAttribute("x2", x(best[0]));
      const unit = spec.unit ? ` ${spec.unit}` : "";
      const range = best[1] !== best[2] ? ` (${formatNumber(best[1], spec)}–${formatNumber(best[2], spec)})` : "";
      readout.textContent = `${clock(best[0])}: ${formatNumber(best[3], spec)}${unit}${range}`;
    };
    svg.onpointerleave = () => { readout.textContent = ""; cursor.setAttribute("x1", -10); cursor.setAttribute("x2", -10); };
  }

  draw();
  return { el, setData, append };
}

function niceTicks(lo, hi, count) {
  const raw = (hi - lo) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) || raw;
  const ticks = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi; v += step) ticks.push(+v.toFixed(10));
  return ticks;
}

function timeLabel(t, span) {
  const d = new Date(t * 1000);
  if (span > 2 * 86400) return d.toLocaleDateString([], { weekday: "short", day: "numeric" });
  return d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}
