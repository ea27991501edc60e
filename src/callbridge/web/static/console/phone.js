// A call: caller, timer, hang up, hold / resume (with the time on hold), transfer to a queue.
// Hold asks the PBX through the tenant's telephony command webhook; without one the button stays
// unavailable (and says why): a button that only changed the console would not hold the caller.

import { withShortcut } from "./shortcuts.js";
import { api } from "./api.js";
import { busyWhile, h, setText } from "./dom.js";
import { formatDuration } from "./state.js";

/** The data key the server sets while the call is on hold (epoch seconds). */
export const HOLD_KEY = "on_hold_since";
export const HOLD_UNAVAILABLE = "Hold is not available: the PBX command channel is not set up (ask your admin)";

/**
 * When the call went on hold (epoch seconds), or null when it is not on hold.
 * @param {InteractionView} interaction
 * @returns {number|null}
 */
export function heldSince(interaction) {
  const value = interaction.state === "connected" ? interaction.data[HOLD_KEY] : undefined;
  if (value === undefined) return null;
  const since = Number(value);
  return Number.isFinite(since) ? since : null;
}

/** @typedef {import('./state.js').InteractionView} InteractionView */
/** @typedef {import('./interactions.js').CardContext} CardContext */
/** @typedef {import('./interactions.js').ChannelPart} ChannelPart */

/**
 * @param {InteractionView} interaction
 * @param {CardContext} ctx
 * @returns {ChannelPart}
 */
export function createPhonePart(interaction, ctx) {
  const hangUp = withShortcut(h("button", { type: "button", class: "danger", "data-action": "hang-up" }, "Hang up"), "hang-up");
  hangUp.addEventListener("click", () => void busyWhile(hangUp, () => api.end(interaction.id, "agent_hung_up"), ctx.report));
  const transfer = createTransfer(interaction, ctx);
  const hold = createHold(interaction, ctx);
  const direction = interaction.direction === "outbound" ? "Outbound call" : "Inbound call";
  const body = h(
    "dl",
    { class: "facts" },
    h("dt", {}, "Call"),
    h("dd", { text: direction }),
    h("dt", {}, "Number"),
    h("dd", { text: interaction.direction === "outbound" ? interaction.to_address : interaction.from_address || "unknown" }),
  );
  return {
    body,
    actions: h("div", { class: "actions" }, hold.status, hangUp, hold.button, hold.note, transfer),
    update: hold.update,
    destroy() {},
  };
}

/**
 * Hold / Resume, and "On hold m:ss" while held. Unavailable (aria-disabled, so it stays focusable and
 * its reason is read out) until the server says the tenant's PBX can be asked.
 * @param {InteractionView} interaction
 * @param {CardContext} ctx
 */
export function createHold(interaction, ctx) {
  const noteId = `hold-note-${interaction.id}`;
  const button = h("button", { type: "button", "data-action": "hold", "aria-disabled": "true", "aria-describedby": noteId }, "Hold");
  button.title = HOLD_UNAVAILABLE;
  const note = h("span", { id: noteId, class: "sr-only", text: HOLD_UNAVAILABLE });
  const status = h("p", { class: "hold-status", role: "status", hidden: true });
  let available = false;
  /** @type {InteractionView} */
  let current = interaction;

  /** @param {boolean} yes */
  const setAvailable = (yes) => {
    available = yes;
    button.setAttribute("aria-disabled", String(!yes));
    button.title = yes ? "" : HOLD_UNAVAILABLE;
    setText(note, yes ? "" : HOLD_UNAVAILABLE);
  };
  void api.holdState(interaction.id).then(
    (answer) => setAvailable(Boolean(answer && answer.available)),
    () => setAvailable(false),
  );
  button.addEventListener("click", () => {
    if (!available || button.disabled) return;
    const held = heldSince(current) !== null;
    void busyWhile(button, () => (held ? api.resume(current.id) : api.hold(current.id)), ctx.report);
  });

  /** @param {InteractionView} next @param {number} now */
  const update = (next, now) => {
    current = next;
    const since = heldSince(next);
    setText(button, since === null ? "Hold" : "Resume");
    button.dataset.action = since === null ? "hold" : "resume";
    button.setAttribute("aria-pressed", String(since !== null));
    status.hidden = since === null;
    if (since !== null) setText(status, `On hold ${formatDuration(Math.max(0, now - since))}`);
  };
  update(interaction, Date.now() / 1000);
  return { button, note, status, update };
}

/**
 * "Transfer to a queue": a queue picker and a button (phone, chat).
 * @param {InteractionView} interaction
 * @param {CardContext} ctx
 * @returns {HTMLElement}
 */
export function createTransfer(interaction, ctx) {
  const id = `transfer-${interaction.id}`;
  const select = h("select", { id, name: "transfer-queue" });
  const button = h("button", { type: "button", "data-action": "transfer" }, "Transfer");
  const fill = () => {
    const queues = ctx.transferQueues(interaction.channel);
    select.replaceChildren(...queues.map((q) => h("option", { value: q.id, text: q.name })));
    button.disabled = queues.length === 0;
    select.disabled = queues.length === 0;
  };
  fill();
  select.addEventListener("focus", fill);
  button.addEventListener("click", () => {
    if (!select.value) return;
    void busyWhile(button, () => api.transfer(interaction.id, select.value), ctx.report);
  });
  return h(
    "div",
    { class: "transfer" },
    h("label", { for: id, class: "sr-only" }, "Transfer to queue"),
    select,
    button,
  );
}
