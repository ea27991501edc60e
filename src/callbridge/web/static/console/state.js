// The console's picture of the world: the snapshot from the event WebSocket's `init` frame, kept
// current by applying events in order (docs/events.md; `callbridge.realtime.wire.apply_event` is the
// reference). Pure functions only: no DOM, no clock reads (time is passed in), so Node tests them.

// The wire types are generated from the server's Pydantic models (callbridge.realtime.wire) by scripts/setup.
/** @typedef {import('callbridge-wire').AgentView} AgentView */
/** @typedef {import('callbridge-wire').QueueView} QueueView */
/** @typedef {import('callbridge-wire').InteractionView} InteractionView */
/** @typedef {import('callbridge-wire').Snapshot} Snapshot */
/** @typedef {import('callbridge-wire').ConsoleEvent} ConsoleEvent */

export const FINAL_STATES = new Set(["completed", "abandoned", "failed"]);

/**
 * A deep copy, so that applying events never changes a snapshot someone else holds.
 * @param {Snapshot} snapshot
 * @returns {Snapshot}
 */
export function cloneSnapshot(snapshot) {
  return {
    tenant_id: snapshot.tenant_id,
    me: snapshot.me,
    agents: { ...snapshot.agents },
    queues: { ...snapshot.queues },
    interactions: { ...snapshot.interactions },
  };
}

/**
 * Applies one wire event; returns a new snapshot (the old one is left as it was).
 * Events that are not part of the snapshot (chat, screen pop, offer.ended) leave it unchanged.
 * @param {Snapshot} snapshot
 * @param {ConsoleEvent} event
 * @returns {Snapshot}
 */
export function applyEvent(snapshot, event) {
  switch (event.type) {
    case "agents.changed": {
      const next = cloneSnapshot(snapshot);
      for (const agent of event.agents) next.agents[agent.id] = agent;
      return next;
    }
    case "agent.status_changed": {
      const next = cloneSnapshot(snapshot);
      next.agents[event.agent.id] = event.agent;
      return next;
    }
    case "interaction.changed": {
      const next = cloneSnapshot(snapshot);
      const interaction = event.interaction;
      const visible =
        !FINAL_STATES.has(interaction.state) && (snapshot.me === null || interaction.agent_id === snapshot.me);
      if (visible) next.interactions[interaction.id] = interaction;
      else delete next.interactions[interaction.id];
      return next;
    }
    case "queue.changed": {
      if (snapshot.me !== null && !(event.queue.id in snapshot.queues)) return snapshot;
      const next = cloneSnapshot(snapshot);
      next.queues[event.queue.id] = event.queue;
      return next;
    }
    default:
      return snapshot;
  }
}

/**
 * The offers to show: offered to me, deadline not yet passed, soonest deadline first. An offer whose
 * deadline has passed is never shown, even before the server says it timed out.
 * @param {Snapshot} snapshot
 * @param {number} now  epoch seconds
 * @returns {InteractionView[]}
 */
export function liveOffers(snapshot, now) {
  return Object.values(snapshot.interactions)
    .filter((i) => i.state === "offered" && i.agent_id === snapshot.me && (i.offer_deadline ?? 0) > now)
    .sort((a, b) => (a.offer_deadline ?? 0) - (b.offer_deadline ?? 0));
}

/**
 * What the agent is handling: connected or in wrap-up, oldest first.
 * @param {Snapshot} snapshot
 * @returns {InteractionView[]}
 */
export function activeInteractions(snapshot) {
  return Object.values(snapshot.interactions)
    .filter((i) => (i.state === "connected" || i.state === "wrap_up") && i.agent_id === snapshot.me)
    .sort((a, b) => (a.connected_at ?? a.created_at) - (b.connected_at ?? b.created_at));
}

/**
 * My own agent view, if the snapshot has it.
 * @param {Snapshot} snapshot
 * @returns {AgentView|undefined}
 */
export function myAgent(snapshot) {
  return snapshot.me ? snapshot.agents[snapshot.me] : undefined;
}

/**
 * Colleagues (everyone but me), by status (available first) then name.
 * @param {Snapshot} snapshot
 * @returns {AgentView[]}
 */
export function colleagues(snapshot) {
  const order = ["available", "busy", "wrap_up", "break", "working_offline", "logged_out"];
  return Object.values(snapshot.agents)
    .filter((a) => a.id !== snapshot.me)
    .sort(
      (a, b) =>
        order.indexOf(a.status) - order.indexOf(b.status) || a.display_name.localeCompare(b.display_name),
    );
}

/**
 * My queues by name.
 * @param {Snapshot} snapshot
 * @returns {QueueView[]}
 */
export function queueList(snapshot) {
  return Object.values(snapshot.queues).sort((a, b) => a.name.localeCompare(b.name));
}

/**
 * "0:07", "12:34", "1:02:03": a duration for timers, never negative.
 * @param {number} seconds
 * @returns {string}
 */
export function formatDuration(seconds) {
  const total = Math.max(0, Math.floor(seconds));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  const ss = String(s).padStart(2, "0");
  return h > 0 ? `${h}:${String(m).padStart(2, "0")}:${ss}` : `${m}:${ss}`;
}

/**
 * Whole seconds left before `deadline` (0 once it has passed).
 * @param {number|null} deadline  epoch seconds
 * @param {number} now  epoch seconds
 * @returns {number}
 */
export function secondsLeft(deadline, now) {
  if (deadline === null) return 0;
  return Math.max(0, Math.ceil(deadline - now));
}

/**
 * Fraction of an offer's time still left, 0…1 (for the countdown bar).
 * @param {InteractionView} offer
 * @param {number} now
 * @param {number} [total]  the offer time-out, when known; else measured from when it was first seen
 * @returns {number}
 */
export function offerProgress(offer, now, total = 20) {
  if (offer.offer_deadline === null || total <= 0) return 0;
  return Math.min(1, Math.max(0, (offer.offer_deadline - now) / total));
}

/** @type {Record<string, string>} */
const CHANNEL_NAMES = { phone: "Call", chat: "Chat", voicemail: "Voicemail" };

/** @param {string} channel */
export function channelName(channel) {
  return CHANNEL_NAMES[channel] ?? channel;
}

/** @type {Record<string, string>} */
const STATUS_NAMES = {
  logged_out: "Signed out",
  break: "Break",
  available: "Available",
  working_offline: "Working offline",
  busy: "Busy",
  wrap_up: "Wrap-up",
};

/** @param {string} status */
export function statusName(status) {
  return STATUS_NAMES[status] ?? status;
}

/** @type {Record<string, string>} */
const REASON_NAMES = {
  signed_in: "just signed in",
  missed_offer: "missed an offer",
  connection_lost: "connection lost",
  phone_not_registered: "phone not registered",
};

/** @param {string} reason */
export function reasonName(reason) {
  return REASON_NAMES[reason] ?? reason;
}

/**
 * Who the customer is, as the agent should read it: a name from the chat form or IVR when known (or the
 * CRM record a screen pop matched, `knownName`), else the number or address.
 * @param {InteractionView} interaction
 * @param {string} [knownName]
 * @returns {string}
 */
export function customerLabel(interaction, knownName = "") {
  const data = interaction.data ?? {};
  const name = data.name || data.customer_name || data.caller_name || data["crm.record_name"] || knownName || "";
  const address = interaction.direction === "outbound" ? interaction.to_address : interaction.from_address;
  if (name && address) return `${name} (${address})`;
  return name || address || "Unknown caller";
}
