// Exact decimal strings, as the API sends money: shown as they are, added exactly (BigInt), never
// turned into floats except to size a bar or place a point.

const DECIMAL = /^(-?)(\d+)(?:\.(\d+))?$/;

function parse(text) {
  const match = DECIMAL.exec(String(text).trim());
  if (!match) throw new Error(`not a decimal: ${text}`);
  const [, sign, whole, fraction = ""] = match;
  return { units: BigInt(sign + whole + fraction), scale: fraction.length };
}

function scaled(value, scale) {
  return value.units * 10n ** BigInt(scale - value.scale);
}

function format(units, scale) {
  const negative = units < 0n;
  let digits = (negative ? -units : units).toString().padStart(scale + 1, "0");
  let text = scale ? `${digits.slice(0, -scale)}.${digits.slice(-scale)}` : digits;
  if (scale) text = text.replace(/0+$/, "").replace(/\.$/, "");
  return (negative && text !== "0" ? "-" : "") + text;
}

// a + b + …, exactly: "0.1" + "0.2" is "0.3".
export function add(...values) {
  const parsed = values.map(parse);
  const scale = Math.max(0, ...parsed.map((value) => value.scale));
  return format(parsed.reduce((sum, value) => sum + scaled(value, scale), 0n), scale);
}

export function subtract(a, b) {
  return add(a, negate(b));
}

export function negate(value) {
  const text = String(value).trim();
  return text.startsWith("-") ? text.slice(1) : `-${text}`;
}

// -1, 0 or 1.
export function compare(a, b) {
  const difference = parse(subtract(a, b)).units;
  return difference < 0n ? -1 : difference > 0n ? 1 : 0;
}

// "$1,234.567891" — the API's digits, grouped; nothing rounded.
export function money(value) {
  if (value === undefined || value === null) return "—";
  const text = String(value);
  const negative = text.startsWith("-");
  const [whole, fraction] = (negative ? text.slice(1) : text).split(".");
  const grouped = whole.replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  return `${negative ? "−" : ""}$${grouped}${fraction ? `.${fraction}` : ""}`;
}

// For geometry only (bar lengths, point positions).
export function magnitude(value) {
  return Number(value);
}

export function count(value) {
  return Number(value).toLocaleString("en-US");
}
