// Small helpers shared by the wallboard and the reports page (plain ES module, no build step).

/**
 * @param {string} tag
 * @param {Record<string, string>} [attributes]
 * @param {(Node | string | null | undefined)[]} [children]
 * @returns {HTMLElement}
 */
export function el(tag, attributes = {}, children = []) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
  for (const child of children) {
    if (child === null || child === undefined) continue;
    node.append(typeof child === "string" ? document.createTextNode(child) : child);
  }
  return node;
}

/** @param {number | null | undefined} seconds */
export function duration(seconds) {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) return "–";
  const s = Math.max(0, Math.round(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const rest = s % 60;
  const two = (/** @type {number} */ n) => String(n).padStart(2, "0");
  return h > 0 ? `${h}:${two(m)}:${two(rest)}` : `${m}:${two(rest)}`;
}

/** @param {number | null | undefined} ratio */
export function percent(ratio) {
  return ratio === null || ratio === undefined ? "–" : `${(ratio * 100).toFixed(1)} %`;
}

/**
 * @param {string} url
 * @param {RequestInit} [init]
 * @returns {Promise<any>}
 */
export async function getJson(url, init) {
  const response = await fetch(url, { credentials: "same-origin", ...init });
  if (!response.ok) {
    let message = `${response.status} ${response.statusText}`;
    let field = "";
    try {
      const body = await response.json();
      if (body && typeof body.message === "string") message = body.message;
      if (body && typeof body.field === "string") field = body.field;
    } catch {
      // not JSON
    }
    // the field the server named (a form shows the message beside it, without the field's code name)
    if (field && message.startsWith(`${field}: `)) message = message.slice(field.length + 2);
    throw Object.assign(new Error(message), { field });
  }
  return response.json();
}

/**
 * @param {HTMLElement} cell
 * @param {number | null | undefined} ratio
 */
export function slCell(cell, ratio) {
  cell.textContent = percent(ratio);
  cell.className = "num" + (ratio === null || ratio === undefined ? "" : ratio >= 0.8 ? " sl-good" : " sl-bad");
}
