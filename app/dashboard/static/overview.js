// Overview: the period's spend against the previous one, its daily trend by model with unusual days
// marked, the month's forecast, where the money went (models, providers, assistants, users), and
// budgets with their recent alerts. Every number is an API answer; each bar opens its records.

import { get, query } from "./api.js";
import { barList, legend, runningTotal, stackedBars } from "./charts.js";
import { card, fill } from "./cards.js";
import { h } from "./dom.js";
import { add, compare, count, money } from "./decimal.js";
import { monthEnd, monthStart, today } from "./period.js";

const TOP = 10;
const TREND_KEYS = 6;

function records(period, filters) {
  return `#/records${query({ startDate: period.startDate, endDate: period.endDate, companyId: period.companyId, ...filters })}`;
}

function changeNote(change) {
  if (!change) return { text: "new", cls: "up" };
  if (change.costPercent === null || change.costPercent === undefined) return { text: "new", cls: "up" };
  const up = !String(change.costPercent).startsWith("-");
  return { text: `${up ? "▲" : "▼"} ${String(change.costPercent).replace("-", "")}%`, cls: up ? "up" : "down" };
}

function headline(target, answer) {
  const totals = answer.totals;
  const note = changeNote(answer.change);
  target.show(
    h("div", { class: "headline" },
      h("div", { class: "total", id: "total-spend", "data-cost": totals.cost }, money(totals.cost)),
      h("div", { class: `change ${note.cls}`, id: "spend-change", "data-percent": answer.change?.costPercent ?? "" },
        note.text, " vs ", answer.previousStartDate, " – ", answer.previousEndDate,
        " (", h("span", { "data-cost": answer.previousTotals.cost, id: "previous-spend" }, money(answer.previousTotals.cost)), ")")),
    h("dl", { class: "facts" },
      h("dt", {}, "Calls"), h("dd", { id: "call-count", "data-value": totals.calls }, count(totals.calls)),
      h("dt", {}, "Tokens"), h("dd", { "data-value": totals.tokens }, count(totals.tokens)),
      h("dt", {}, "Failed"), h("dd", { "data-value": totals.failures }, count(totals.failures)),
      h("dt", {}, "Unpriced"), h("dd", { "data-value": totals.unpriced }, count(totals.unpriced))),
  );
}

function ranked(target, answer, period, filterOf, kind) {
  if (!answer.entries.length) return target.empty("No calls in this period.");
  const entries = answer.entries.map((entry) => {
    const note = entry.new ? { text: "new", cls: "up" } : changeNote(entry.change);
    return {
      label: kind === "assistant" && entry.name ? `${entry.name}` : entry.key,
      cost: entry.cost,
      href: entry.key === null ? null : records(period, { [filterOf]: entry.key }),
      note: `${note.text} · ${entry.share}%`, noteClass: note.cls,
      detail: `${count(entry.calls)} calls${kind === "assistant" && entry.name ? ` · ${entry.key}` : ""}`,
    };
  });
  const more = answer.keys - answer.entries.length;
  target.show(barList(entries, { kind }),
    more > 0 ? h("p", { class: "muted" }, `and ${count(more)} more`) : null);
}

function providerList(target, answer, period) {
  if (!answer.entries.length) return target.empty("No calls in this period.");
  target.show(barList(answer.entries.map((entry) => ({
    label: entry.key, cost: entry.cost, href: records(period, { provider: entry.key }),
    note: `${count(entry.calls)} calls`,
  })), { kind: "provider" }));
}

function trend(target, daily, anomalies, period) {
  const marked = Object.fromEntries(anomalies.anomalies.map((anomaly) => [anomaly.bucket, anomaly]));
  const chart = stackedBars({
    days: daily.days, keys: daily.keys, anomalies: marked,
    link: (day, keyIndex) => records({ ...period, startDate: day, endDate: day },
      keyIndex === null || daily.keys[keyIndex] === null ? {} : { model: daily.keys[keyIndex] }),
  });
  const explained = anomalies.anomalies.map((anomaly) => h("li", { class: "anomaly", "data-date": anomaly.bucket },
    h("a", { href: records({ ...period, startDate: anomaly.bucket, endDate: anomaly.bucket }, {}) }, anomaly.bucket),
    `: ${money(anomaly.actual)} against ${money(anomaly.expected)} expected (${anomaly.direction}, score ${anomaly.score}). `,
    ["model", "assistant", "user"].filter((part) => anomaly[part]).map((part) =>
      `${part} ${anomaly[part].key}: ${money(anomaly[part].actual)} vs ${money(anomaly[part].expected)}. `)));
  target.show(chart, legend(daily.keys, true),
    explained.length ? h("div", { class: "anomalies" }, h("h3", {}, "Unusual days"), h("ul", {}, explained))
      : h("p", { class: "muted" }, `No unusual day (${anomalies.checked} checked against the ${anomalies.baselineWeeks} weeks before each).`));
}

function forecastCard(target, forecast, daily) {
  let total = "0";
  const actual = daily.days.map((day) => ({ date: day.date, total: (total = add(total, day.cost)) }));
  const firstDay = monthStart(today());
  const note = compare(forecast.forecast, forecast.spent) >= 0 ? "" : " (below what is already spent)";
  target.show(
    h("p", { class: "forecast-text" },
      `${forecast.month}: `, h("strong", { id: "month-spent", "data-cost": forecast.spent }, money(forecast.spent)),
      " spent so far; forecast ", h("strong", { id: "month-forecast", "data-cost": forecast.forecast }, money(forecast.forecast)),
      ` at month end (likely ${money(forecast.low)} – ${money(forecast.high)})${note}.`),
    runningTotal({ actual, firstDay, lastDay: monthEnd(firstDay), forecast }),
    h("p", { class: "muted small" }, forecast.method));
}

// The calls a budget counts in its current period (from its start's UTC day to today).
function budgetRecords(state, budget) {
  const filters = budget ? { companyId: budget.companyId, userId: budget.userId, assistantId: budget.assistantId,
    model: budget.model, endpoint: budget.endpoint } : {};
  return `#/records${query({ startDate: new Date(state.periodStart).toISOString().slice(0, 10), endDate: today(), ...filters })}`;
}

function budgets(target, status, list, alerts) {
  if (!status.budgets.length) return target.hide();
  const byId = new Map(list.budgets.map((budget) => [budget.id, budget]));
  const scope = (budget) => ["userId", "assistantId", "model", "endpoint", "apiKeyId"]
    .filter((field) => budget && budget[field] !== null && budget[field] !== undefined)
    .map((field) => `${field.replace("Id", "")} ${budget[field]}`).join(", ") || "whole company";
  target.show(
    h("table", { class: "budgets" },
      h("thead", {}, h("tr", {}, ["Budget", "Company", "Scope", "Period", "Spent", "Limit", "Remaining", "Resets"].map((text) => h("th", {}, text)))),
      h("tbody", {}, status.budgets.map((state) => {
        const budget = byId.get(state.budgetId);
        return h("tr", { class: state.exceeded ? "exceeded" : "", "data-budget": state.budgetId },
          h("td", {}, h("a", { href: budgetRecords(state, budget) }, `#${state.budgetId}`)), h("td", {}, budget ? budget.companyId : ""), h("td", {}, scope(budget)),
          h("td", {}, state.period), h("td", { "data-cost": state.spent }, money(state.spent)),
          h("td", { "data-cost": state.limit }, money(state.limit)),
          h("td", { "data-cost": state.remaining }, money(state.remaining)), h("td", {}, state.resetsAt.slice(0, 16).replace("T", " ")));
      }))),
    h("h3", {}, "Recent alerts"),
    alerts.alerts.length
      ? h("ul", { class: "alerts" }, alerts.alerts.map((alert) => h("li", { "data-alert": alert.id },
        `${alert.createdAt.slice(0, 16).replace("T", " ")} — budget #${alert.budgetId} crossed ${alert.threshold}% `,
        `(${money(alert.spent)} of ${money(alert.limit)}, ${alert.period}); delivery: ${alert.delivery}`)))
      : h("p", { class: "muted" }, "No alert yet."));
}

export function overview(view, period) {
  const scope = { startDate: period.startDate, endDate: period.endDate, companyId: period.companyId };
  const company = { companyId: period.companyId };
  const cards = {
    headline: card("headline", "Spend"),
    forecast: card("forecast", "This month and its forecast"),
    trend: card("trend", "Daily spend by model"),
    models: card("models", "By model"),
    users: card("users", "Top users"),
    assistants: card("assistants", "Top assistants"),
    providers: card("providers", "By provider"),
    budgets: card("budgets", "Budgets"),
  };
  view.append(h("div", { class: "grid overview" }, Object.values(cards).map((entry) => entry.element)));

  // The headline and the models share one answer: the period's totals, the previous period's, by model.
  const models = get("/api/insight/top", { ...scope, by: "model", top: TOP });
  fill(cards.headline, models, (answer) => {
    headline(cards.headline, answer);
    requestAnimationFrame(() => performance.mark("ledger:first-meaningful-paint"));
  });
  fill(cards.models, models, (answer) => ranked(cards.models, answer, period, "model", "model"));
  fill(cards.providers, get("/api/costs/breakdown", { ...scope, by: "provider", limit: 20 }),
    (answer) => providerList(cards.providers, answer, period));
  fill(cards.assistants, get("/api/insight/top", { ...scope, by: "assistant", top: TOP }),
    (answer) => ranked(cards.assistants, answer, period, "assistantId", "assistant"));
  fill(cards.users, get("/api/insight/top", { ...scope, by: "user", top: TOP }),
    (answer) => ranked(cards.users, answer, period, "userId", "user"));
  fill(cards.trend, Promise.all([get("/api/costs/daily", { ...scope, by: "model", top: TREND_KEYS }),
    get("/api/insight/anomalies", scope)]), ([daily, anomalies]) => trend(cards.trend, daily, anomalies, period));
  const day = today();
  fill(cards.forecast, Promise.all([get("/api/insight/forecast", company),
    get("/api/costs/daily", { ...company, startDate: monthStart(day), endDate: day })]),
  ([forecast, daily]) => forecastCard(cards.forecast, forecast, daily));
  fill(cards.budgets, Promise.all([get("/api/budgets/status", company), get("/api/budgets", company),
    get("/api/alerts", { ...company, limit: 5 })]), ([status, list, alerts]) => budgets(cards.budgets, status, list, alerts));
}
