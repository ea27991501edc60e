// A small helper to build DOM nodes. Text is always set with textContent: nothing from the wire is
// ever parsed as HTML.

import { agentMessage } from "./words.js";

/**
 * @typedef {Record<string, string|number|boolean|null|undefined|((event: any) => void)>} Attributes
 */

/**
 * h("button", {class: "primary", onclick: fn, "aria-label": "Accept"}, "Accept")
 * @template {keyof HTMLElementTagNameMap} K
 * @param {K} tag
 * @param {Attributes} [attributes]
 * @param {...(Node|string|null|undefined|false)} children
 * @returns {HTMLElementTagNameMap[K]}
 */
export function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [key, value] of Object.entries(attributes)) {
    if (value === null || value === undefined || value === false) continue;
    if (typeof value === "function") element.addEventListener(key.replace(/^on/, ""), value);
    else if (key === "class") element.className = String(value);
    else if (key === "text") element.textContent = String(value);
    else if (value === true) element.setAttribute(key, "");
    else element.setAttribute(key, String(value));
  }
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    element.append(typeof child === "string" ? document.createTextNode(child) : child);
  }
  return element;
}

/**
 * Sets textContent only when it changed (keeps screen readers and selection calm).
 * @param {Element|null} element
 * @param {string} text
 */
export function setText(element, text) {
  if (element && element.textContent !== text) element.textContent = text;
}

/**
 * Runs an action from a button: disables it meanwhile and reports a failure in the agent's words
 * (by the button's `data-action`, see words.js).
 * @param {HTMLButtonElement} button
 * @param {() => Promise<unknown>} action
 * @param {(message: string) => void} report
 */
export async function busyWhile(button, action, report) {
  button.disabled = true;
  button.setAttribute("aria-busy", "true");
  try {
    await action();
  } catch (error) {
    report(agentMessage(button.dataset.action, error));
  } finally {
    button.disabled = false;
    button.removeAttribute("aria-busy");
  }
}
