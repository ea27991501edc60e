// Colleagues' presence: status and time in status.

import { h } from "./dom.js";
import { colleagues, formatDuration, reasonName, statusName } from "./state.js";

/**
 * @param {HTMLElement} container  a <ul>
 * @param {import('./state.js').Snapshot} snapshot
 * @param {number} now
 */
export function renderPresence(container, snapshot, now) {
  const people = colleagues(snapshot).filter((a) => a.status !== "logged_out");
  const items = people.map((a) =>
    h(
      "li",
      { "data-agent-id": a.id },
      h("span", { class: "name", text: a.display_name }),
      h("span", { class: `status ${a.status}`, text: statusName(a.status) + (a.reason ? ` (${reasonName(a.reason)})` : "") }),
      h("span", { class: "muted since", text: formatDuration(now - a.since) }),
    ),
  );
  if (!items.length) items.push(h("li", { class: "muted", text: "No colleague is signed in." }));
  container.replaceChildren(...items);
}
