// Active interactions side by side, one card each: a header (channel, customer, timer), the channel's
// own part (phone, chat, voicemail) and, once the interaction ends, the wrap-up form.

import { h, setText } from "./dom.js";
import { activeInteractions, channelName, customerLabel, formatDuration } from "./state.js";
import { createPhonePart } from "./phone.js";
import { createChatPart } from "./chat.js";
import { createVoicemailPart } from "./voicemail.js";
import { createWrapUp } from "./wrapup.js";

/** @typedef {import('./state.js').InteractionView} InteractionView */
/** @typedef {import('./state.js').QueueView} QueueView */
/** @typedef {import('./state.js').AgentView} AgentView */
/** @typedef {import('./state.js').Snapshot} Snapshot */

/**
 * @typedef {Object} CardContext
 * @property {(message: string) => void} report
 * @property {(channel: string) => QueueView[]} transferQueues
 * @property {(channel: string) => AgentView[]} transferAgents
 * @property {(queueId: string|null) => string} queueName
 * @property {(interactionId: string) => string} [knownName]  the caller's name from a screen pop's match
 * @property {(queueId: string|null) => import('./wrapup.js').WrapUpChoices} [wrapUpChoices]  the queue's dispositions
 * @property {() => string[]} [quickReplies]  the tenant's chat quick replies
 * @property {import('./softphone.js').Softphone} [softphone]  the browser phone, when this console has one
 */

/**
 * @typedef {Object} ChannelPart
 * @property {HTMLElement} body
 * @property {HTMLElement} actions           shown while connected
 * @property {(interaction: InteractionView, now: number) => void} update
 * @property {(event: Record<string, any>) => void} [onChatEvent]
 * @property {() => void} [reload]           read again what the wire does not replay (chat transcript)
 * @property {() => void} destroy
 */

/**
 * @typedef {Object} Card
 * @property {HTMLElement} element
 * @property {ChannelPart} part
 * @property {ReturnType<typeof createWrapUp>|null} wrapUp
 */

/** @param {InteractionView} interaction @param {CardContext} ctx @returns {ChannelPart} */
function createPart(interaction, ctx) {
  if (interaction.channel === "chat") return createChatPart(interaction, ctx);
  if (interaction.channel === "voicemail") return createVoicemailPart(interaction, ctx);
  return createPhonePart(interaction, ctx);
}

export class InteractionBoard {
  /** @param {HTMLElement} container @param {CardContext} ctx */
  constructor(container, ctx) {
    this.container = container;
    this.ctx = ctx;
    /** @type {Map<string, Card>} */
    this.cards = new Map();
  }

  /** @param {Snapshot} snapshot @param {number} now */
  render(snapshot, now) {
    const active = activeInteractions(snapshot);
    const ids = new Set(active.map((i) => i.id));
    for (const [id, card] of this.cards) {
      if (!ids.has(id)) {
        card.part.destroy();
        card.element.remove();
        this.cards.delete(id);
      }
    }
    for (const interaction of active) {
      let card = this.cards.get(interaction.id);
      if (!card) {
        card = this.create(interaction);
        this.cards.set(interaction.id, card);
        this.container.append(card.element);
      }
      this.update(card, interaction, now);
    }
    this.container.hidden = active.length === 0;
    this.container.dataset.count = String(active.length);
  }

  /** @param {InteractionView} interaction @returns {Card} */
  create(interaction) {
    const part = createPart(interaction, this.ctx);
    const queue = this.ctx.queueName(interaction.queue_id);
    const element = h(
      "article",
      {
        class: `interaction card channel-${interaction.channel}`,
        "data-interaction-id": interaction.id,
        "data-channel": interaction.channel,
        "aria-label": `${channelName(interaction.channel)} with ${customerLabel(interaction)}`,
      },
      h(
        "header",
        { class: "card-head" },
        h("span", { class: `channel-badge ${interaction.channel}`, text: channelName(interaction.channel) }),
        h("strong", { class: "who", text: customerLabel(interaction) }),
        h("span", { class: "timer", role: "timer", "aria-label": "Duration" }),
      ),
      queue ? h("p", { class: "queue muted", text: queue }) : null,
      part.body,
      part.actions,
    );
    return { element, part, wrapUp: null };
  }

  /** @param {Card} card @param {InteractionView} interaction @param {number} now */
  update(card, interaction, now) {
    card.element.dataset.state = interaction.state;
    const who = customerLabel(interaction, this.ctx.knownName?.(interaction.id));
    const whoElement = card.element.querySelector(".who");
    if (whoElement && whoElement.textContent !== who) {
      setText(whoElement, who);
      card.element.setAttribute("aria-label", `${channelName(interaction.channel)} with ${who}`);
    }
    const started = interaction.connected_at ?? interaction.created_at;
    const ended = interaction.ended_at ?? now;
    setText(card.element.querySelector(".timer"), formatDuration(ended - started));
    card.part.update(interaction, now);
    const connected = interaction.state === "connected";
    card.part.actions.hidden = !connected;
    if (interaction.state === "wrap_up" && !card.wrapUp) {
      card.wrapUp = createWrapUp(interaction, this.ctx.report, this.ctx.wrapUpChoices?.(interaction.queue_id));
      card.element.append(card.wrapUp.element);
      const focused = document.activeElement;
      if (!focused || focused === document.body || !this.container.contains(focused)) {
        /** @type {HTMLElement|null} */ (card.wrapUp.element.querySelector("select"))?.focus();
      }
    }
    card.wrapUp?.update(interaction, now);
  }

  /** @param {Record<string, any>} event */
  chatEvent(event) {
    this.cards.get(event.interaction_id)?.part.onChatEvent?.(event);
  }

  /** After a reconnection: read again what events do not replay. */
  reload() {
    for (const card of this.cards.values()) card.part.reload?.();
  }
}
