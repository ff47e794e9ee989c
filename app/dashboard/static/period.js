// The period a page shows (UTC days, as the API counts them) and the bar that chooses it.

import { h } from "./dom.js";

export function isoDay(date) {
  return date.toISOString().slice(0, 10);
}

export function today() {
  return isoDay(new Date());
}

export function addDays(day, days) {
  const date = new Date(`${day}T00:00:00Z`);
  date.setUTCDate(date.getUTCDate() + days);
  return isoDay(date);
}

export function daysBetween(first, last) {
  return Math.round((Date.parse(`${last}T00:00:00Z`) - Date.parse(`${first}T00:00:00Z`)) / 86_400_000);
}

export function monthStart(day) {
  return `${day.slice(0, 7)}-01`;
}

export function monthEnd(day) {
  const date = new Date(`${monthStart(day)}T00:00:00Z`);
  date.setUTCMonth(date.getUTCMonth() + 1, 0);
  return isoDay(date);
}

export const PRESETS = [
  { id: "7d", label: "7 days", range: () => [addDays(today(), -6), today()] },
  { id: "30d", label: "30 days", range: () => [addDays(today(), -29), today()] },
  { id: "90d", label: "90 days", range: () => [addDays(today(), -89), today()] },
  { id: "month", label: "This month", range: () => [monthStart(today()), today()] },
  {
    id: "last-month", label: "Last month",
    range: () => { const end = addDays(monthStart(today()), -1); return [monthStart(end), end]; },
  },
];

const DAY = /^\d{4}-\d{2}-\d{2}$/;

// The period in `params` (startDate, endDate, companyId), the last 30 days by default.
export function periodOf(params) {
  let [startDate, endDate] = PRESETS[1].range();
  if (DAY.test(params.startDate || "")) startDate = params.startDate;
  if (DAY.test(params.endDate || "")) endDate = params.endDate;
  if (endDate < startDate) endDate = startDate;
  return { startDate, endDate, companyId: params.companyId || "" };
}

// The bar: presets, the two dates and (for keys that span companies) a company; `change` gets the
// new period.
export function periodBar(period, change) {
  const start = h("input", { type: "date", name: "startDate", value: period.startDate, "aria-label": "From" });
  const end = h("input", { type: "date", name: "endDate", value: period.endDate, "aria-label": "To" });
  const company = h("input", {
    type: "text", name: "companyId", value: period.companyId, placeholder: "every company",
    "aria-label": "Company", spellcheck: "false",
  });
  const form = h("form", {
    class: "period",
    onsubmit: (event) => {
      event.preventDefault();
      change({ startDate: start.value, endDate: end.value, companyId: company.value.trim() });
    },
  },
  h("div", { class: "presets" }, PRESETS.map((preset) => {
    const [first, last] = preset.range();
    const active = first === period.startDate && last === period.endDate;
    return h("button", {
      type: "button", class: active ? "preset active" : "preset", "data-preset": preset.id,
      onclick: () => change({ startDate: first, endDate: last, companyId: company.value.trim() }),
    }, preset.label);
  })),
  h("label", {}, "From ", start), h("label", {}, "to ", end),
  h("label", {}, "Company ", company),
  h("button", { type: "submit" }, "Show"));
  return form;
}
