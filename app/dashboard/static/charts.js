// Charts as SVG and HTML built from the API's answers. Every mark carries the API's exact string
// (data-cost, and its tooltip); floats only size and place marks.

import { h, s } from "./dom.js";
import { magnitude, money } from "./decimal.js";

export const PALETTE = ["#4f6bed", "#e8804a", "#2ea37a", "#c24f8f", "#8a6fdf", "#d4b13c", "#3aa6c9", "#9a9a9a"];
export const OTHER_COLOUR = "#c8ccd4";

function niceMax(value) {
  if (!(value > 0)) return 1;
  const power = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 2.5, 5, 10]) if (step * power >= value) return step * power;
  return 10 * power;
}

function tickLabel(value) {
  return value >= 1000 ? `$${(value / 1000).toLocaleString("en-US")}k` : `$${Number(value.toPrecision(6))}`;
}

function yAxis(width, top, height, max) {
  const ticks = [];
  for (let i = 0; i <= 4; i += 1) {
    const y = top + height - (height * i) / 4;
    ticks.push(s("line", { x1: 48, x2: width, y1: y, y2: y, class: "grid" }));
    ticks.push(s("text", { x: 44, y: y + 4, class: "tick", "text-anchor": "end" }, tickLabel((max * i) / 4)));
  }
  return ticks;
}

// Daily bars stacked by key. `days`: [{date, cost, split: [...], other}], `keys` aligned with
// split; `anomalies`: {date: anomaly}; `link(day, keyIndex|null)` gives a drill-down href.
export function stackedBars({ days, keys, anomalies = {}, link }) {
  const width = 900, height = 280, top = 16, bottom = 28, left = 52;
  const plot = height - top - bottom;
  const max = niceMax(Math.max(0, ...days.map((day) => magnitude(day.cost))));
  const step = (width - left) / Math.max(days.length, 1);
  const barWidth = Math.max(2, Math.min(28, step * 0.72));
  const labelEvery = Math.ceil(days.length / 10);
  const marks = [];
  days.forEach((day, index) => {
    const x = left + index * step + (step - barWidth) / 2;
    let y = top + plot;
    const parts = (day.split || []).map((cost, keyIndex) => ({ cost, keyIndex }));
    parts.push({ cost: day.other ?? (day.split ? "0" : day.cost), keyIndex: null });
    const segments = [];
    for (const part of parts) {
      const size = (plot * magnitude(part.cost)) / max;
      if (!(size > 0)) continue;
      y -= size;
      const name = part.keyIndex === null ? (day.split ? "other" : "all") : keys[part.keyIndex] ?? "(none)";
      const rect = s("rect", {
        x, y, width: barWidth, height: size, class: "segment",
        fill: part.keyIndex === null ? OTHER_COLOUR : PALETTE[part.keyIndex % PALETTE.length],
        "data-date": day.date, "data-key": name, "data-cost": part.cost,
      }, s("title", {}, `${day.date} · ${name}: ${money(part.cost)}`));
      const href = link && link(day.date, part.keyIndex);
      segments.push(href ? s("a", { href }, rect) : rect);
    }
    const anomaly = anomalies[day.date];
    const group = s("g", {
      class: anomaly ? "day anomalous" : "day", "data-date": day.date, "data-cost": day.cost,
    }, s("title", {}, `${day.date}: ${money(day.cost)}`), segments);
    if (anomaly) {
      group.append(s("path", {
        d: `M${x + barWidth / 2 - 6},${Math.max(top - 2, y - 14)} l6,10 l6,-10 z`,
        class: `anomaly-marker ${anomaly.direction}`, "data-date": day.date,
      }, s("title", {}, `Unusual: ${money(anomaly.actual)} against ${money(anomaly.expected)} expected`)));
    }
    marks.push(group);
    if (index % labelEvery === 0) {
      marks.push(s("text", { x: x + barWidth / 2, y: height - 8, class: "tick", "text-anchor": "middle" },
        day.date.slice(5)));
    }
  });
  return s("svg", { viewBox: `0 0 ${width} ${height}`, class: "chart", role: "img",
    "aria-label": "Daily spend stacked by model" }, yAxis(width, top, plot, max), marks);
}

// The legend of a stacked chart.
export function legend(keys, withOther) {
  return h("ul", { class: "legend" },
    keys.map((key, index) => h("li", {},
      h("span", { class: "swatch", "data-colour": index % PALETTE.length }), key ?? "(none)")),
    withOther ? h("li", {}, h("span", { class: "swatch other" }), "other") : null);
}

function fill(share) {
  const bar = h("div", { class: "fill", "data-share": share.toFixed(2) });
  bar.style.width = `${share}%`; // through the CSSOM: the page's policy forbids style attributes
  return bar;
}

// Horizontal bars: [{label, cost, href, note, detail}] (cost is the API's string).
export function barList(entries, { kind }) {
  const max = Math.max(0, ...entries.map((entry) => magnitude(entry.cost)));
  return h("ol", { class: "bars", "data-kind": kind }, entries.map((entry) => {
    const share = max > 0 ? (100 * magnitude(entry.cost)) / max : 0;
    const label = h("span", { class: "label" }, entry.label ?? "(none)");
    const row = [
      h("div", { class: "bar-line" },
        entry.href ? h("a", { href: entry.href, class: "drill" }, label) : label,
        h("span", { class: "value" }, money(entry.cost)),
        entry.note ? h("span", { class: `note ${entry.noteClass || ""}` }, entry.note) : null),
      h("div", { class: "track" }, fill(share)),
      entry.detail ? h("div", { class: "detail" }, entry.detail) : null,
    ];
    return h("li", { "data-key": entry.label ?? "", "data-cost": entry.cost }, row);
  }));
}

// A month's running total and the forecast to its end: `actual` [{date, total}] (exact strings),
// `forecast` {forecast, low, high} at `lastDay`.
export function runningTotal({ actual, firstDay, lastDay, forecast }) {
  const width = 900, height = 220, top = 14, bottom = 26, left = 52;
  const plot = height - top - bottom;
  const dayCount = Math.round((Date.parse(lastDay) - Date.parse(firstDay)) / 86_400_000) + 1;
  const max = niceMax(Math.max(0, ...actual.map((point) => magnitude(point.total)),
    forecast ? magnitude(forecast.high) : 0));
  const xOf = (day) => left + ((width - left - 8) * (Math.round((Date.parse(day) - Date.parse(firstDay)) / 86_400_000) + 0.5)) / dayCount;
  const yOf = (value) => top + plot - (plot * magnitude(value)) / max;
  const marks = [yAxis(width, top, plot, max)];
  if (actual.length) {
    marks.push(s("polyline", { class: "actual", points: actual.map((p) => `${xOf(p.date)},${yOf(p.total)}`).join(" ") }));
    for (const point of actual) {
      marks.push(s("circle", { cx: xOf(point.date), cy: yOf(point.total), r: 2.5, class: "actual-point",
        "data-date": point.date, "data-total": point.total }, s("title", {}, `${point.date}: ${money(point.total)} so far`)));
    }
  }
  if (forecast && actual.length) {
    const last = actual[actual.length - 1];
    const x0 = xOf(last.date), y0 = yOf(last.total), x1 = xOf(lastDay);
    marks.push(s("path", { class: "forecast-range", d: `M${x0},${y0} L${x1},${yOf(forecast.high)} L${x1},${yOf(forecast.low)} Z` },
      s("title", {}, `Likely range at month end: ${money(forecast.low)} – ${money(forecast.high)}`)));
    marks.push(s("line", { class: "forecast-line", x1: x0, y1: y0, x2: x1, y2: yOf(forecast.forecast),
      "data-forecast": forecast.forecast }, s("title", {}, `Forecast at month end: ${money(forecast.forecast)}`)));
    marks.push(s("circle", { cx: x1, cy: yOf(forecast.forecast), r: 3.5, class: "forecast-point" }));
  }
  for (const day of [firstDay, lastDay]) {
    marks.push(s("text", { x: xOf(day), y: height - 6, class: "tick", "text-anchor": "middle" }, day.slice(5)));
  }
  return s("svg", { viewBox: `0 0 ${width} ${height}`, class: "chart", role: "img",
    "aria-label": "Running total of the month and its forecast" }, marks);
}

// The hour × weekday grid of /api/insight/peaks.
export function heatGrid(weekdays) {
  const max = Math.max(0, ...weekdays.flatMap((day) => day.hours.map((hour) => magnitude(hour.cost))));
  const hours = Array.from({ length: 24 }, (_, hour) => hour);
  return h("table", { class: "heat" },
    h("thead", {}, h("tr", {}, h("th", {}), hours.map((hour) => h("th", { scope: "col" }, String(hour).padStart(2, "0"))))),
    h("tbody", {}, weekdays.map((day) => {
      const byHour = new Map(day.hours.map((hour) => [hour.hour, hour]));
      return h("tr", { "data-weekday": day.weekday }, h("th", { scope: "row" }, day.weekday.slice(0, 3)),
        hours.map((hour) => {
          const cell = byHour.get(hour);
          const cost = cell ? cell.cost : "0";
          const level = max > 0 ? Math.ceil((8 * magnitude(cost)) / max) : 0;
          return h("td", {
            class: `level-${level}`, "data-hour": hour, "data-cost": cost, "data-calls": cell ? cell.calls : 0,
            title: `${day.weekday} ${String(hour).padStart(2, "0")}:00 — ${money(cost)}, ${cell ? cell.calls : 0} calls`,
          });
        }));
    })));
}
