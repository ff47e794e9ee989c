// Peaks: when the money is spent — the hour × weekday grid of /api/insight/peaks, in the viewer's
// own time zone (or one chosen).

import { get } from "./api.js";
import { heatGrid } from "./charts.js";
import { card, fill } from "./cards.js";
import { h } from "./dom.js";
import { money } from "./decimal.js";

export function viewerTimeZone() {
  return Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
}

export function peaks(view, period, params, navigate) {
  const timezone = params.timezone || viewerTimeZone();
  const grid = card("peaks", `Spend by hour and weekday (${timezone})`, { wide: true });
  const zone = h("input", { type: "text", name: "timezone", value: timezone, "aria-label": "Time zone", spellcheck: "false" });
  view.append(h("form", { class: "zone", onsubmit: (event) => {
    event.preventDefault();
    navigate("peaks", { ...period, timezone: zone.value.trim() });
  } }, h("label", {}, "Time zone ", zone), h("button", { type: "submit" }, "Show")),
  h("div", { class: "grid" }, grid.element));
  fill(grid, get("/api/insight/peaks", { ...period, timezone }), (answer) => {
    const busiest = answer.weekdays.flatMap((day) => day.hours.map((hour) => ({ ...hour, weekday: day.weekday })))
      .filter((hour) => hour.calls > 0)
      .sort((a, b) => Number(b.cost) - Number(a.cost) || b.calls - a.calls)
      .slice(0, 3);
    grid.show(h("div", { class: "heat-wrap", "data-timezone": answer.timezone }, heatGrid(answer.weekdays)),
      busiest.length ? h("p", { class: "muted" }, "Busiest: ", busiest.map((hour, index) =>
        `${index ? "; " : ""}${hour.weekday} ${String(hour.hour).padStart(2, "0")}:00 ${money(hour.cost)} (${hour.calls} calls)`))
        : h("p", { class: "muted" }, "No calls in this period."));
  });
}
