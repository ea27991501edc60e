// Queue status for the agent's queues: how many wait and for how long the longest has waited.

import { h } from "./dom.js";
import { channelName, formatDuration, queueList } from "./state.js";

/**
 * @param {HTMLElement} container  a <tbody>
 * @param {import('./state.js').Snapshot} snapshot
 * @param {number} now
 */
export function renderQueues(container, snapshot, now) {
  const queues = queueList(snapshot);
  const rows = queues.map((q) =>
    h(
      "tr",
      { "data-queue-id": q.id, class: q.waiting > 0 ? "waiting" : "" },
      h("th", { scope: "row", text: q.name }),
      h("td", { text: channelName(q.channel) }),
      h("td", { class: "num waiting-count", text: String(q.waiting) }),
      h("td", { class: "num", text: q.oldest_enqueued_at === null ? "—" : formatDuration(now - q.oldest_enqueued_at) }),
      h("td", { class: "num", text: String(q.ready_agents) }),
    ),
  );
  if (!rows.length) rows.push(h("tr", {}, h("td", { colspan: 5, class: "muted", text: "You are in no queue." })));
  container.replaceChildren(...rows);
}
