// A card of a page: a titled box that shows loading, its content, nothing-to-show, or the API's error.

import { clear, h } from "./dom.js";

export function card(id, title, { wide = false } = {}) {
  const body = h("div", { class: "card-body" }, h("p", { class: "muted" }, "Loading…"));
  const element = h("section", { class: wide ? "card wide" : "card", id, "data-state": "loading" },
    h("h2", {}, title), body);
  return {
    element,
    show(...content) {
      clear(body).append(...content.flat().filter(Boolean));
      element.dataset.state = "ready";
    },
    empty(text) {
      clear(body).append(h("p", { class: "muted" }, text));
      element.dataset.state = "empty";
    },
    fail(error) {
      clear(body).append(h("p", { class: "error", role: "alert" }, error.message));
      element.dataset.state = "error";
    },
    hide() {
      element.hidden = true;
      element.dataset.state = "hidden";
    },
  };
}

// Runs `render` on `promise`'s answer into `target`, or shows the error there.
export async function fill(target, promise, render) {
  try {
    const answer = await promise;
    render(answer);
  } catch (error) {
    target.fail(error);
  }
}
