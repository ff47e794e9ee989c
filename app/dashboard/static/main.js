// The dashboard's shell: sign-in with an API key, the three pages, and the address (#/page?…)
// that holds what a page shows, so that every view is a link (drill-downs are plain links).

import { ApiError, apiKey, get, query, signIn, signOut, whenUnauthorized } from "./api.js";
import { clear } from "./dom.js";
import { overview } from "./overview.js";
import { peaks } from "./peaks.js";
import { periodBar, periodOf, today } from "./period.js";
import { recordsPage } from "./records.js";

const PAGES = { overview, peaks, records: recordsPage };
const view = document.getElementById("view");

function route() {
  const [path, search = ""] = location.hash.replace(/^#\/?/, "").split("?");
  const page = PAGES[path] ? path : "overview";
  return { page, params: Object.fromEntries(new URLSearchParams(search)) };
}

export function navigate(page, params) {
  const target = `#/${page}${query(params)}`;
  if (location.hash === target) render();
  else location.hash = target;
}

function showSignIn(reason) {
  document.getElementById("nav").hidden = true;
  document.getElementById("who").hidden = true;
  clear(view);
  const error = document.getElementById("sign-in-error");
  error.hidden = !reason;
  error.textContent = reason || "";
  document.getElementById("sign-in").hidden = false;
  document.body.dataset.page = "sign-in";
  document.getElementById("api-key").focus();
}

function render() {
  if (!apiKey()) return showSignIn();
  document.getElementById("sign-in").hidden = true;
  document.getElementById("nav").hidden = false;
  document.getElementById("who").hidden = false;
  const key = apiKey();
  document.getElementById("key-label").textContent = `key ${key.slice(0, 12)}…`;
  const { page, params } = route();
  const period = periodOf(params);
  for (const link of document.querySelectorAll("#nav a[data-page]")) {
    link.classList.toggle("current", link.dataset.page === page);
    link.setAttribute("href", `#/${link.dataset.page}${query(period)}`); // the period goes along
  }
  clear(view);
  document.body.dataset.page = page;
  if (page !== "records") {
    view.append(periodBar(period, (chosen) => navigate(page, { ...params, ...chosen })));
  }
  PAGES[page](view, period, params, navigate);
}

document.getElementById("sign-in-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const key = document.getElementById("api-key").value.trim();
  const button = event.target.querySelector("button");
  button.disabled = true;
  try {
    // A read of today's total: refused (401) for an unknown or revoked key, 403 without `read`.
    await get("/api/costs/summary", { startDate: today(), endDate: today(), top: 1 }, { key });
    signIn(key);
    document.getElementById("api-key").value = "";
    render();
  } catch (error) {
    const reason = error instanceof ApiError && error.status === 401 ? `This key was refused: ${error.message}`
      : error instanceof ApiError && error.status === 403 ? `This key cannot read spend: ${error.message}`
        : error.message;
    showSignIn(reason);
  } finally {
    button.disabled = false;
  }
});

document.getElementById("sign-out").addEventListener("click", () => {
  signOut();
  showSignIn();
});

whenUnauthorized((error) => {
  signOut();
  showSignIn(`Signed out: ${error.message}`);
});

window.addEventListener("hashchange", render);
render();
