// Keyboard shortcuts for the console's everyday actions: Alt+Shift and a letter (by the key's position,
// `event.code`, so they work in every keyboard layout and never clash with typing, the browser's own
// shortcuts or the CRM page's). Each button they press says so (`aria-keyshortcuts` and its tooltip), and
// the console's footer lists them (docs/console.md).

/** @typedef {{action: string, code: string, keys: string, words: string}} Shortcut */

/** @type {Shortcut[]} */
export const SHORTCUTS = [
  { action: "accept", code: "KeyA", keys: "Alt+Shift+A", words: "Accept the first offer" },
  { action: "reject", code: "KeyR", keys: "Alt+Shift+R", words: "Reject the first offer" },
  { action: "hang-up", code: "KeyH", keys: "Alt+Shift+H", words: "Hang up the call (or end the chat)" },
  { action: "complete", code: "KeyC", keys: "Alt+Shift+C", words: "Complete the wrap-up" },
  { action: "focus-offer", code: "KeyO", keys: "Alt+Shift+O", words: "Go to the first offer's Accept button" },
];

/**
 * The shortcut's action for a key press, or null.
 * @param {{altKey: boolean, shiftKey: boolean, ctrlKey: boolean, metaKey: boolean, code: string}} event
 * @returns {string|null}
 */
export function shortcutAction(event) {
  if (!event.altKey || !event.shiftKey || event.ctrlKey || event.metaKey) return null;
  return SHORTCUTS.find((s) => s.code === event.code)?.action ?? null;
}

/** @param {string} action @returns {string} e.g. "Alt+Shift+A", "" when the action has none */
export function shortcutKeys(action) {
  return SHORTCUTS.find((s) => s.action === action)?.keys ?? "";
}

/**
 * Marks a button with its shortcut (screen readers announce it; the tooltip shows it).
 * @template {HTMLElement} T
 * @param {T} button
 * @param {string} action  the shortcut's action ("end-chat" uses hang-up's keys)
 * @returns {T}
 */
export function withShortcut(button, action) {
  const keys = shortcutKeys(action === "end-chat" ? "hang-up" : action);
  if (keys) {
    button.setAttribute("aria-keyshortcuts", keys);
    button.title = `${button.textContent} (${keys})`;
  }
  return button;
}

/**
 * The button a shortcut presses in the console: the first offer's Accept or Reject, the first connected
 * call's Hang up (or chat's End chat), the first wrap-up's Complete. Null when there is none.
 * @param {ParentNode} root
 * @param {string} action
 * @returns {HTMLButtonElement|null}
 */
export function shortcutTarget(root, action) {
  /** @type {Record<string, string>} */
  const selectors = {
    accept: ".offer button[data-action=accept]",
    reject: ".offer button[data-action=reject]",
    "hang-up":
      ".interaction[data-state=connected] button[data-action=hang-up], .interaction[data-state=connected] button[data-action=end-chat]",
    complete: ".interaction[data-state=wrap_up] button[data-action=complete]",
  };
  const selector = selectors[action];
  return selector ? /** @type {HTMLButtonElement|null} */ (root.querySelector(selector)) : null;
}
