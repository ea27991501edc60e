// The agent's own recent interactions (the "Recent" tab): the last ones completed, newest first, each with
// channel, customer, outcome (the disposition) and when. Read from GET /api/v1/me/interactions when the tab
// opens and each time one of the agent's interactions completes while it is open.

import { api } from "./api.js";
import { h, setText } from "./dom.js";
import { channelName, formatDuration } from "./state.js";

/** How many the tab lists. */
export const RECENT_COUNT = 10;

/**
 * @typedef {{id: string, channel: string, direction: string, queue_id: string|null, customer: string, name: string,
 *   disposition: string, created_at: number, connected_at: number|null, ended_at: number|null,
 *   completed_at: number|null}} RecentInteraction
 */

/** @param {number} at epoch seconds @returns {string} "14:05" today, else "3 Dec 14:05" */
export function when(at) {
  const moment = new Date(at * 1000);
  const time = moment.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  if (moment.toDateString() === new Date().toDateString()) return time;
  return `${moment.toLocaleDateString([], { day: "numeric", month: "short" })} ${time}`;
}

export class RecentList {
  /** @param {HTMLElement} list @param {HTMLElement} note */
  constructor(list, note) {
    this.list = list;
    this.note = note;
    this.loaded = false;
  }

  async load() {
    this.loaded = true;
    try {
      const answer = /** @type {{interactions: RecentInteraction[]}} */ (await api.recent(RECENT_COUNT));
      this.render(answer.interactions);
    } catch (error) {
      setText(this.note, `Could not read your recent interactions: ${error instanceof Error ? error.message : error}`);
      this.note.hidden = false;
    }
  }

  /** @param {RecentInteraction[]} items */
  render(items) {
    this.note.hidden = items.length > 0;
    setText(this.note, items.length ? "" : "Nothing completed yet.");
    this.list.replaceChildren(
      ...items.map((i) => {
        const who = i.name && i.customer ? `${i.name} (${i.customer})` : i.name || i.customer || "Unknown";
        const talk = i.connected_at !== null && i.ended_at !== null ? formatDuration(i.ended_at - i.connected_at) : "";
        const direction = i.direction === "outbound" ? " out" : "";
        return h(
          "li",
          { class: "recent-item", "data-interaction-id": i.id, "data-channel": i.channel },
          h("span", { class: `channel-badge ${i.channel}`, text: `${channelName(i.channel)}${direction}` }),
          h("strong", { class: "who", text: who }),
          h("span", { class: "outcome", text: i.disposition || "No disposition" }),
          h("span", { class: "muted when", text: `${when(i.completed_at ?? i.created_at)}${talk ? ` · ${talk}` : ""}` }),
        );
      }),
    );
  }
}
