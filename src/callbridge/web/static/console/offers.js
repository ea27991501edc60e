// Offers: who, which queue, channel, waiting time and a countdown; accept or reject. A new offer
// chimes, is announced to screen readers, and shows a browser notification when the page is hidden.
// An offer whose deadline passed, or that the server no longer lists, is removed at once.

import { busyWhile, h, setText } from "./dom.js";
import { channelName, customerLabel, formatDuration, liveOffers, secondsLeft } from "./state.js";
import { withShortcut } from "./shortcuts.js";
import { chime, notifyIfHidden } from "./sounds.js";

/** @typedef {import('./state.js').InteractionView} InteractionView */
/** @typedef {import('./state.js').Snapshot} Snapshot */

/**
 * @typedef {Object} OfferActions
 * @property {(id: string) => Promise<unknown>} accept
 * @property {(id: string) => Promise<unknown>} reject
 * @property {(message: string) => void} report
 * @property {(queueId: string|null) => string} queueName
 */

export class OfferList {
  /**
   * @param {HTMLElement} container  the list (aria-live region is `announcer`)
   * @param {HTMLElement} announcer
   * @param {OfferActions} actions
   */
  constructor(container, announcer, actions) {
    this.container = container;
    this.announcer = announcer;
    this.actions = actions;
    /** @type {Map<string, {element: HTMLElement, total: number, offerId: string|null}>} */
    this.cards = new Map();
  }

  /**
   * @param {Snapshot} snapshot
   * @param {number} now
   */
  render(snapshot, now) {
    const offers = liveOffers(snapshot, now);
    const keep = new Set(offers.map((o) => `${o.id}:${o.offer_id}`));
    for (const [key, card] of this.cards) {
      if (!keep.has(key)) {
        card.element.remove();
        this.cards.delete(key);
      }
    }
    for (const offer of offers) {
      const key = `${offer.id}:${offer.offer_id}`;
      let card = this.cards.get(key);
      if (!card) {
        card = { element: this.create(offer), total: Math.max(1, (offer.offer_deadline ?? now) - now), offerId: offer.offer_id };
        this.cards.set(key, card);
        this.container.append(card.element);
        this.announce(offer);
      }
      this.update(card.element, offer, now, card.total);
    }
    this.container.hidden = offers.length === 0;
  }

  /** @param {InteractionView} offer */
  announce(offer) {
    const queue = this.actions.queueName(offer.queue_id);
    const text = `${channelName(offer.channel)} from ${customerLabel(offer)}${queue ? ` in ${queue}` : ""}`;
    this.announcer.textContent = `New offer: ${text}`;
    chime();
    notifyIfHidden(`Callbridge: ${channelName(offer.channel)} offered`, text, `offer-${offer.id}`);
  }

  /** @param {InteractionView} offer */
  create(offer) {
    const accept = withShortcut(h("button", { type: "button", class: "primary", "data-action": "accept" }, "Accept"), "accept");
    const reject = withShortcut(h("button", { type: "button", "data-action": "reject" }, "Reject"), "reject");
    accept.addEventListener("click", () => void busyWhile(accept, () => this.actions.accept(offer.id), this.actions.report));
    reject.addEventListener("click", () => void busyWhile(reject, () => this.actions.reject(offer.id), this.actions.report));
    const label = `${channelName(offer.channel)} offer from ${customerLabel(offer)}`;
    return h(
      "li",
      { class: `offer card channel-${offer.channel}`, "data-interaction-id": offer.id, "data-channel": offer.channel, "aria-label": label },
      h(
        "div",
        { class: "card-head" },
        h("span", { class: `channel-badge ${offer.channel}`, text: channelName(offer.channel) }),
        h("strong", { class: "who", text: customerLabel(offer) }),
      ),
      h(
        "dl",
        { class: "facts" },
        h("dt", {}, "Queue"),
        h("dd", { class: "queue", text: this.actions.queueName(offer.queue_id) || "—" }),
        h("dt", {}, "Waiting"),
        h("dd", { class: "waiting" }),
      ),
      h(
        "div",
        { class: "countdown", role: "timer", "aria-label": "Time left to answer" },
        h("div", { class: "countdown-bar" }, h("span", { class: "countdown-fill" })),
        h("span", { class: "countdown-text" }),
      ),
      h("div", { class: "actions" }, accept, reject),
    );
  }

  /**
   * @param {HTMLElement} element
   * @param {InteractionView} offer
   * @param {number} now
   * @param {number} total
   */
  update(element, offer, now, total) {
    const left = secondsLeft(offer.offer_deadline, now);
    setText(element.querySelector(".waiting"), formatDuration(now - offer.enqueued_at));
    setText(element.querySelector(".countdown-text"), `${left} s`);
    const fill = /** @type {HTMLElement|null} */ (element.querySelector(".countdown-fill"));
    if (fill) fill.style.width = `${Math.round((100 * Math.max(0, (offer.offer_deadline ?? now) - now)) / total)}%`;
    element.classList.toggle("urgent", left <= 5);
  }

  /** Focus the first offer's Accept button (keyboard shortcut). */
  focusFirst() {
    const button = /** @type {HTMLButtonElement|null} */ (this.container.querySelector("button[data-action=accept]"));
    button?.focus();
  }
}
