// The REST API, with the signed-in key: every number on the dashboard comes through here.

const KEY = "ledger.apiKey";

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

export function apiKey() {
  return sessionStorage.getItem(KEY);
}

export function signIn(key) {
  sessionStorage.setItem(KEY, key);
}

export function signOut() {
  sessionStorage.removeItem(KEY);
}

// The query string of `params`, leaving out empty values.
export function query(params) {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(params || {})) {
    if (value !== undefined && value !== null && value !== "") search.set(name, String(value));
  }
  const text = search.toString();
  return text ? `?${text}` : "";
}

function message(status, body) {
  if (body && body.errors) {
    const parts = [];
    for (const fields of Object.values(body.errors)) {
      for (const [field, problems] of Object.entries(fields)) parts.push(`${field}: ${[].concat(problems).join(" ")}`);
    }
    if (parts.length) return parts.join("; ");
  }
  if (body && body.message) return body.message;
  return `HTTP ${status}`;
}

let onUnauthorized = () => {};

// Called when the API refuses the key (401): the page signs out and says why.
export function whenUnauthorized(callback) {
  onUnauthorized = callback;
}

// GET `path` with `params`; the JSON answer, or an ApiError with the API's own message.
export async function get(path, params, { key = apiKey() } = {}) {
  let response;
  try {
    response = await fetch(path + query(params), { headers: { Authorization: `Bearer ${key}` } });
  } catch (error) {
    throw new ApiError(0, `The service did not answer (${error.message}).`);
  }
  let body = null;
  try {
    body = await response.json();
  } catch (error) {
    body = null;
  }
  if (!response.ok) {
    const error = new ApiError(response.status, message(response.status, body));
    if (response.status === 401 && key === apiKey()) onUnauthorized(error);
    throw error;
  }
  return body;
}
