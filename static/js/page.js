// What the portal's page scripts share (buy.js, withdraw.js): JSON calls to the portal with the
// page's CSRF token, answered as {ok, status, body} (never a throw), and small DOM builders.

export function csrfToken() {
  const field = document.querySelector("input[name=csrfmiddlewaretoken]");
  if (field && field.value) return field.value;
  const match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
  return match ? decodeURIComponent(match[1]) : "";
}

export async function postJSON(url, body) {
  return fetchJSON(url, {
    method: "POST",
    headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken() },
    body: JSON.stringify(body),
    credentials: "same-origin",
  });
}

export async function getJSON(url) {
  return fetchJSON(url, { credentials: "same-origin", headers: { Accept: "application/json" } });
}

export async function fetchJSON(url, options) {
  try {
    const response = await fetch(url, options);
    let body = {};
    try {
      body = await response.json();
    } catch {
      body = { message: `The portal answered ${response.status}.` };
    }
    return { ok: response.ok, status: response.status, body };
  } catch {
    return { ok: false, status: 503, body: { message: "The portal cannot be reached." } };
  }
}

export function para(text) {
  const p = document.createElement("p");
  p.textContent = text;
  return p;
}

export function code(text) {
  const element = document.createElement("code");
  element.textContent = text;
  return element;
}

export function txLink(hash, explorerUrl) {
  if (!explorerUrl) return code(hash);
  const link = document.createElement("a");
  link.href = explorerUrl;
  link.rel = "noopener";
  link.append(code(hash));
  return link;
}

export function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
