// Building elements without innerHTML: every text that came from the API is set as text, never parsed.

const SVG = "http://www.w3.org/2000/svg";

function build(element, attrs, children) {
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on") && typeof value === "function") element.addEventListener(name.slice(2), value);
    else if (name === "dataset") Object.assign(element.dataset, value);
    else element.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return element;
}

// h("a", {href: "#"}, "text", otherNode …)
export function h(tag, attrs, ...children) {
  return build(document.createElement(tag), attrs, children);
}

// s("rect", {x: 1, …}) — an SVG element.
export function s(tag, attrs, ...children) {
  return build(document.createElementNS(SVG, tag), attrs, children);
}

export function clear(element) {
  while (element.firstChild) element.firstChild.remove();
  return element;
}
