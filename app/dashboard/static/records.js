// Records: the calls behind any number — filters, paging, token breakdown and duration.

import { get } from "./api.js";
import { card, fill } from "./cards.js";
import { h } from "./dom.js";
import { count, money } from "./decimal.js";

export const FILTERS = ["userId", "assistantId", "model", "provider", "endpoint", "success"];
const LIMIT = 50;

function tokens(record) {
  const parts = [
    ["in", record.inputTokens], ["cached", record.cachedInputTokens], ["cache write", record.cacheWriteTokens + record.cacheWrite1hTokens],
    ["out", record.outputTokens], ["reasoning", record.reasoningTokens],
    ["audio in", record.inputAudioTokens], ["audio out", record.outputAudioTokens],
  ].filter(([, value], index) => index < 1 || index === 3 || value > 0);
  return parts.map(([name, value]) => `${name} ${count(value)}`).join(" · ");
}

function filterForm(period, params, navigate) {
  const input = (name, label) => h("label", {}, label,
    h("input", { type: "text", name, value: params[name] || "", spellcheck: "false" }));
  const success = h("select", { name: "success" },
    [["", "any"], ["true", "succeeded"], ["false", "failed"]].map(([value, text]) =>
      h("option", { value, selected: (params.success || "") === value }, text)));
  const form = h("form", { class: "filters", id: "record-filters", onsubmit: (event) => {
    event.preventDefault();
    const data = Object.fromEntries(new FormData(form).entries());
    navigate("records", { ...data, page: 1 });
  } },
  h("label", {}, "From", h("input", { type: "date", name: "startDate", value: period.startDate })),
  h("label", {}, "To", h("input", { type: "date", name: "endDate", value: period.endDate })),
  input("companyId", "Company"), input("userId", "User"), input("assistantId", "Assistant"),
  input("model", "Model"), input("provider", "Provider"), input("endpoint", "Endpoint"),
  h("label", {}, "Status", success),
  h("button", { type: "submit" }, "Filter"),
  h("a", { href: `#/records?startDate=${period.startDate}&endDate=${period.endDate}`, class: "reset" }, "Clear"));
  return form;
}

export function recordsPage(view, period, params, navigate) {
  const page = Math.max(1, parseInt(params.page || "1", 10) || 1);
  const table = card("records", "Calls", { wide: true });
  view.append(filterForm(period, params, navigate), h("div", { class: "grid" }, table.element));
  const filters = Object.fromEntries(FILTERS.map((name) => [name, params[name]]));
  fill(table, get("/api/costs", { ...period, ...filters, page, limit: LIMIT }), (answer) => {
    const { pagination } = answer;
    if (!answer.records.length) return table.empty("No calls match these filters.");
    const go = (to) => () => navigate("records", { ...period, ...filters, page: to });
    const pager = h("div", { class: "pager" },
      h("button", { type: "button", id: "previous-page", disabled: page <= 1, onclick: go(page - 1) }, "← Newer"),
      h("span", { id: "page-of" }, `page ${count(page)} of ${pagination.totalExact ? "" : "about "}${count(pagination.totalPages)} `,
        `(${pagination.totalExact ? "" : "about "}${count(pagination.total)} calls)`),
      h("button", { type: "button", id: "next-page", disabled: page >= pagination.totalPages, onclick: go(page + 1) }, "Older →"));
    table.show(pager, h("div", { class: "table-wrap" }, h("table", { class: "records" },
      h("thead", {}, h("tr", {}, ["Time (UTC)", "Company", "User", "Assistant", "Model", "Provider", "Endpoint",
        "Tokens", "Total", "Duration", "Cost", "Status"].map((text) => h("th", {}, text)))),
      h("tbody", {}, answer.records.map((record) => h("tr", {
        class: record.success ? "" : "failed", "data-id": record.id, "data-cost": record.totalCost ?? "",
      },
      h("td", {}, record.timestamp.slice(0, 19).replace("T", " ")),
      h("td", {}, record.companyId), h("td", { class: "user" }, record.userId ?? ""),
      h("td", { class: "assistant", title: record.assistantId ?? "" }, record.assistantName || record.assistantId || ""),
      h("td", { class: "model" }, record.model), h("td", { class: "provider" }, record.provider),
      h("td", {}, record.endpoint ?? ""), h("td", { class: "tokens" }, tokens(record)),
      h("td", { class: "num" }, count(record.totalTokens)),
      h("td", { class: "num duration", "data-ms": record.durationMs ?? "" }, record.durationMs === null ? "" : `${count(record.durationMs)} ms`),
      h("td", { class: "num cost", title: record.priced ? `in ${money(record.inputCost)} · out ${money(record.outputCost)}` : record.unpricedReason || "unpriced" },
        record.priced ? money(record.totalCost) : "unpriced"),
      h("td", { class: "status", title: record.error || "" }, record.success ? "ok" : "failed")))))), pager.cloneNode(true));
    // The copy of the pager at the bottom needs its own handlers.
    const [, bottom] = table.element.querySelectorAll(".pager");
    bottom.querySelectorAll("button").forEach((button) => { button.removeAttribute("id"); });
    bottom.children[0].addEventListener("click", go(page - 1));
    bottom.children[2].addEventListener("click", go(page + 1));
  });
}
