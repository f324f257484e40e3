// The HTTP API as the console uses it: JSON requests with the session's bearer token,
// and a category's Server-Sent Events read through fetch (EventSource cannot send the
// Authorization header).

const tokenKey = "thalo.console.token";

/** The bearer token kept for this browser session, or null. */
export function token() {
  return sessionStorage.getItem(tokenKey);
}

export function setToken(value) {
  if (value) sessionStorage.setItem(tokenKey, value);
  else sessionStorage.removeItem(tokenKey);
}

/** An answer of the API that is not a success: the HTTP status and Thalo's error object. */
export class APIError extends Error {
  constructor(status, error) {
    super(error.message);
    this.status = status;
    this.code = error.code;
    this.details = error.details ?? [];
    this.body = error;
  }
}

let askForToken = async () => false;

/** Sets the function called when the server wants a token: it resolves to true once one is kept. */
export function onTokenNeeded(ask) {
  askForToken = ask;
}

function headers(extra = {}) {
  const result = { Accept: "application/json", ...extra };
  const kept = token();
  if (kept) result.Authorization = `Bearer ${kept}`;
  return result;
}

/**
 * Sends a request and returns the parsed JSON answer. A 401 asks for the token once and
 * retries; any other failure throws an APIError that carries the server's message.
 */
export async function request(method, path, { body, extraHeaders, retried = false } = {}) {
  const init = { method, headers: headers(extraHeaders) };
  if (body !== undefined) {
    init.body = typeof body === "string" ? body : JSON.stringify(body);
    init.headers["Content-Type"] = "application/json";
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch (failure) {
    throw new APIError(0, { code: "connectionFailed", message: `the server cannot be reached (${failure.message})` });
  }
  const text = await response.text();
  let parsed = null;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {
    parsed = null;
  }
  if (response.status === 401 && !retried && (await askForToken(parsed?.error?.message))) {
    return request(method, path, { body, extraHeaders, retried: true });
  }
  if (!response.ok) {
    throw new APIError(response.status, parsed?.error ?? { code: "httpError", message: `HTTP ${response.status}: ${text.slice(0, 200)}` });
  }
  return parsed;
}

export const get = (path) => request("GET", path);

/** A path segment, escaped. */
export const segment = (text) => encodeURIComponent(text);

/**
 * Follows a category live: calls onMessage(message) for each message after `position`
 * (a global position), reconnecting after a dropped connection from the last one seen.
 * Returns a function that stops it.
 */
export function follow(category, position, onMessage, onState = () => {}) {
  const controller = new AbortController();
  let next = position;
  let stopped = false;
  async function run() {
    while (!stopped) {
      try {
        const response = await fetch(`/v1/categories/${segment(category)}/events?position=${next}&keepAlive=5`, {
          headers: headers({ Accept: "text/event-stream" }),
          signal: controller.signal,
        });
        if (response.status === 401 && (await askForToken())) continue;
        if (!response.ok) throw new Error(`HTTP ${response.status}`);
        onState("live");
        const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
        let buffer = "";
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buffer += value;
          let end;
          while ((end = buffer.indexOf("\n\n")) >= 0) {
            const block = buffer.slice(0, end);
            buffer = buffer.slice(end + 2);
            const event = parseEvent(block);
            if (event.event === "error") throw new Error(JSON.parse(event.data).error.message);
            if (event.data === undefined) continue;
            const message = JSON.parse(event.data);
            next = message.globalPosition + 1;
            onMessage(message);
          }
        }
      } catch (failure) {
        if (stopped) return;
        onState(`reconnecting (${failure.message})`);
      }
      if (!stopped) await new Promise((resolve) => setTimeout(resolve, 1000));
    }
  }
  run();
  return () => {
    stopped = true;
    controller.abort();
  };
}

function parseEvent(block) {
  const event = {};
  for (const line of block.split("\n")) {
    if (line.startsWith(":")) continue;
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
    event[field] = field === "data" && event.data !== undefined ? `${event.data}\n${value}` : value;
  }
  return event;
}
