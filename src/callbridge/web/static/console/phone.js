// A call: caller, timer, hang up, hold / resume (with the time on hold), transfer (queue, colleague, outside
// number); on a call carried by the console's browser softphone also Mute (the microphone) and a dial pad (DTMF).
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

/** How a call ended, in the agent's words (the server's reasons for placed calls are short codes). */
const END_REASONS = /** @type {Record<string, string>} */ ({
  busy: "Busy: the number was engaged",
  no_answer: "No answer",
  agent_hung_up: "You hung up",
});

/** @param {string} reason */
export function endReason(reason) {
  return END_REASONS[reason] ?? reason;
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
  const browser = createSoftphoneControls(interaction, ctx);
  const direction = interaction.direction === "outbound" ? "Outbound call" : "Inbound call";
  const endedLabel = h("dt", { hidden: true }, "Ended");
  const ended = h("dd", { class: "end-reason", hidden: true });
  const body = h(
    "dl",
    { class: "facts" },
    h("dt", {}, "Call"),
    h("dd", { text: direction }),
    h("dt", {}, "Number"),
    h("dd", { text: interaction.direction === "outbound" ? interaction.to_address : interaction.from_address || "unknown" }),
    endedLabel,
    ended,
  );
  return {
    body,
    actions: h("div", { class: "actions" }, hold.status, hangUp, hold.button, hold.note, browser.mute, transfer, browser.pad),
    update(next, now) {
      hold.update(next, now);
      browser.update();
      // a placed call that did not connect (busy, no answer) says so on its card during wrap-up
      const reason = next.state === "connected" ? "" : endReason(next.end_reason);
      endedLabel.hidden = !reason;
      ended.hidden = !reason;
      setText(ended, reason);
    },
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
 * "Transfer": a target picker (the channel's queues, then colleagues who are available now; for a call, also
 * an outside number typed in E.164) and a button (phone, chat).
 * @param {InteractionView} interaction
 * @param {CardContext} ctx
 * @returns {HTMLElement}
 */
export function createTransfer(interaction, ctx) {
  const id = `transfer-${interaction.id}`;
  const select = h("select", { id, name: "transfer-target" });
  const phone = interaction.channel === "phone";
  const number = h("input", {
    type: "tel",
    name: "transfer-number",
    placeholder: "+14155550123",
    pattern: "\\+[1-9][0-9]{6,14}",
    "aria-label": "Outside number to transfer to",
    hidden: true,
  });
  const button = h("button", { type: "button", "data-action": "transfer" }, "Transfer");
  // warm transfer (calls Callbridge carries itself): talk to the colleague first, the caller holds meanwhile
  const consult = h("button", { type: "button", "data-action": "consult", hidden: true }, "Consult");
  const complete = h("button", { type: "button", "data-action": "consult-complete", hidden: true }, "Complete transfer");
  const cancel = h("button", { type: "button", "data-action": "consult-cancel", hidden: true }, "Cancel consult");
  // while consulting, who (the picker is locked on them): the picker itself would show only a sliver beside the buttons
  const consultNote = h("span", { class: "muted consult-note", role: "status", hidden: true });
  const consulting = (/** @type {boolean} */ on) => {
    complete.hidden = !on;
    cancel.hidden = !on;
    button.hidden = on;
    select.disabled = on;
    select.hidden = on;
    consultNote.hidden = !on;
    setText(consultNote, on ? `Consulting ${select.selectedOptions[0]?.textContent ?? "a colleague"}; the caller hears hold music.` : "");
    consult.hidden = on || !phone || !select.value.startsWith("agent:");
  };
  /** Runs a consult request; `then` only once the server has taken it. @param {HTMLButtonElement} on @param {() => Promise<unknown>} action @param {() => void} then */
  const step = async (on, action, then) => {
    let done = false;
    await busyWhile(on, async () => {
      await action();
      done = true;
    }, ctx.report);
    if (done) then();
  };
  consult.addEventListener("click", () => {
    const target = select.value.replace(/^agent:/, "");
    void step(consult, () => api.consult(interaction.id, target), () => consulting(true));
  });
  complete.addEventListener("click", () => void step(complete, () => api.consultComplete(interaction.id), () => {}));
  cancel.addEventListener("click", () => void step(cancel, () => api.consultCancel(interaction.id), () => consulting(false)));
  const fill = () => {
    const chosen = select.value;
    const queues = ctx.transferQueues(interaction.channel);
    const colleagues = ctx.transferAgents(interaction.channel).filter((a) => a.id !== interaction.agent_id);
    const groups = [];
    if (queues.length) {
      groups.push(h("optgroup", { label: "Queues" }, ...queues.map((q) => h("option", { value: q.id, text: q.name }))));
    }
    if (colleagues.length) {
      const options = colleagues.map((a) => h("option", { value: `agent:${a.id}`, text: a.display_name }));
      groups.push(h("optgroup", { label: "Available colleagues" }, ...options));
    }
    if (phone) groups.push(h("option", { value: "number", text: "Outside number…" }));
    select.replaceChildren(...groups);
    if (chosen && [...select.options].some((o) => o.value === chosen)) select.value = chosen;
    const empty = select.options.length === 0;
    button.disabled = empty;
    select.disabled = empty;
    number.hidden = select.value !== "number";
    consult.hidden = !phone || !complete.hidden || !select.value.startsWith("agent:");
  };
  fill();
  select.addEventListener("focus", fill);
  select.addEventListener("change", () => {
    number.hidden = select.value !== "number";
    consult.hidden = !phone || !complete.hidden || !select.value.startsWith("agent:");
  });
  button.addEventListener("click", () => {
    const value = select.value;
    if (!value) return;
    const target = value === "number" ? number.value.trim() : value.replace(/^agent:/, "");
    if (!target) {
      number.focus();
      return;
    }
    void busyWhile(button, () => api.transfer(interaction.id, target), ctx.report);
  });
  return h(
    "div",
    { class: "transfer" },
    h("label", { for: id, class: "sr-only" }, "Transfer to"),
    select,
    consultNote,
    number,
    button,
    consult,
    complete,
    cancel,
  );
}

const DIGITS = ["1", "2", "3", "4", "5", "6", "7", "8", "9", "*", "0", "#"];

/**
 * Mute and the dial pad, shown while the call is up in this browser's softphone.
 * @param {InteractionView} interaction
 * @param {CardContext} ctx
 */
export function createSoftphoneControls(interaction, ctx) {
  const phone = ctx.softphone;
  const mute = h("button", { type: "button", "data-action": "mute", "aria-pressed": "false", hidden: true }, "Mute");
  let muted = false;
  mute.addEventListener("click", () => {
    if (!phone || !phone.setMuted(interaction.id, !muted)) return;
    muted = !muted;
    mute.setAttribute("aria-pressed", String(muted));
    setText(mute, muted ? "Unmute" : "Mute");
  });
  const sent = h("output", { class: "dialled", "aria-live": "polite" });
  const keys = DIGITS.map((digit) => {
    const key = h("button", { type: "button", "data-digit": digit, "aria-label": `Send ${digit}` }, digit);
    key.addEventListener("click", () => {
      if (phone?.sendDigit(interaction.id, digit)) setText(sent, `${sent.textContent ?? ""}${digit}`);
    });
    return key;
  });
  const pad = h("details", { class: "dial-pad", hidden: true }, h("summary", {}, "Dial pad"), h("div", { class: "keys" }, ...keys), sent);
  const update = () => {
    const live = Boolean(phone?.inCall(interaction.id));
    mute.hidden = !live;
    pad.hidden = !live;
  };
  update();
  return { mute, pad, update };
}
