// A chat: the transcript (plain text, always), the customer's typing indicator, and a composer
// (Enter sends, Shift+Enter starts a new line). Several chats run side by side, each in its card.
// On (re)connection the transcript is read again; messages already shown (same seq) are not repeated.

import { withShortcut } from "./shortcuts.js";
import { api } from "./api.js";
import { busyWhile, h, setText } from "./dom.js";
import { createTransfer } from "./phone.js";

/** @typedef {import('./state.js').InteractionView} InteractionView */
/** @typedef {import('./interactions.js').CardContext} CardContext */
/** @typedef {import('./interactions.js').ChannelPart} ChannelPart */

/**
 * @typedef {Object} ChatMessage
 * @property {number} seq
 * @property {string} sender
 * @property {string} text
 * @property {number} sent_at
 * @property {number|null} [delivered_at]
 */

const TYPING_SHOWN_SECONDS = 6;
const OWN_TYPING_IDLE_MS = 3000;

/**
 * Merges messages into a transcript by seq (pure; exported for tests).
 * @param {Map<number, ChatMessage>} transcript
 * @param {ChatMessage[]} messages
 * @returns {ChatMessage[]} the messages that were new
 */
export function mergeMessages(transcript, messages) {
  const added = [];
  for (const message of messages) {
    if (!transcript.has(message.seq)) {
      transcript.set(message.seq, message);
      added.push(message);
    }
  }
  return added.sort((a, b) => a.seq - b.seq);
}

/**
 * @param {InteractionView} interaction
 * @param {CardContext} ctx
 * @returns {ChannelPart}
 */
export function createChatPart(interaction, ctx) {
  /** @type {Map<number, ChatMessage>} */
  const transcript = new Map();
  let deliveredUpTo = 0;
  let typingUntil = 0;
  let ownTyping = false;
  /** @type {ReturnType<typeof setTimeout>|null} */
  let ownTypingTimer = null;
  let connected = interaction.state === "connected";

  const list = h("ol", { class: "transcript", "aria-label": "Conversation", "aria-live": "polite" });
  const typing = h("p", { class: "typing muted", "aria-live": "polite" });
  const inputId = `message-${interaction.id}`;
  const input = h("textarea", { id: inputId, name: "message", rows: 2, placeholder: "Write a reply…" });
  const send = h("button", { type: "submit", class: "primary", "data-action": "send" }, "Send");
  // the tenant's quick replies: one goes into the reply box, for the agent to edit or send
  const replies = ctx.quickReplies?.() ?? [];
  const replyPickerId = `quick-reply-${interaction.id}`;
  const replyPicker = replies.length
    ? h(
        "select",
        { id: replyPickerId, class: "quick-reply" },
        h("option", { value: "", text: "Quick reply…" }),
        ...replies.map((r, i) => h("option", { value: String(i), text: r.length > 60 ? `${r.slice(0, 59)}…` : r })),
      )
    : null;
  replyPicker?.addEventListener("change", () => {
    const chosen = replies[Number(replyPicker.value)];
    replyPicker.value = "";
    if (chosen === undefined) return;
    input.value = chosen;
    input.focus();
  });
  const composer = h(
    "form",
    { class: "composer" },
    replyPicker ? h("label", { for: replyPickerId, class: "sr-only" }, "Quick reply") : null,
    replyPicker,
    h("label", { for: inputId, class: "sr-only" }, "Reply"),
    input,
    send,
  );
  const endChat = withShortcut(h("button", { type: "button", class: "danger", "data-action": "end-chat" }, "End chat"), "end-chat");
  endChat.addEventListener("click", () => void busyWhile(endChat, () => api.end(interaction.id, "agent_ended_chat"), ctx.report));

  /** @param {ChatMessage[]} messages */
  function show(messages) {
    const added = mergeMessages(transcript, messages);
    if (!added.length) return;
    const ordered = [...transcript.values()].sort((a, b) => a.seq - b.seq);
    list.replaceChildren(
      ...ordered.map((m) =>
        h(
          "li",
          { class: `message ${m.sender}`, "data-seq": m.seq },
          h("span", { class: "sender sr-only", text: m.sender === "agent" ? "You: " : "Customer: " }),
          h("span", { class: "text", text: m.text }),
          h("time", { class: "meta", text: new Date(m.sent_at * 1000).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" }) }),
        ),
      ),
    );
    list.scrollTop = list.scrollHeight;
    if (added.some((m) => m.sender === "customer")) typingUntil = 0;
    acknowledge();
  }

  function acknowledge() {
    const last = Math.max(0, ...[...transcript.values()].filter((m) => m.sender === "customer").map((m) => m.seq));
    if (last > deliveredUpTo && connected) {
      deliveredUpTo = last;
      void api.delivered(interaction.id, last).catch(() => {});
    }
  }

  function load() {
    api
      .transcript(interaction.id, 0)
      .then((/** @type {{messages: ChatMessage[]}} */ body) => show(body.messages))
      .catch((/** @type {Error} */ error) => ctx.report(`Chat: ${error.message}`));
  }

  /** @param {boolean} active */
  function setOwnTyping(active) {
    if (ownTypingTimer) clearTimeout(ownTypingTimer);
    ownTypingTimer = active ? setTimeout(() => setOwnTyping(false), OWN_TYPING_IDLE_MS) : null;
    if (active === ownTyping) return;
    ownTyping = active;
    void api.typing(interaction.id, active).catch(() => {});
  }

  input.addEventListener("input", () => setOwnTyping(input.value.length > 0));
  input.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      composer.requestSubmit();
    }
  });
  composer.addEventListener("submit", (event) => {
    event.preventDefault();
    const text = input.value.trim();
    if (!text) return;
    void busyWhile(
      send,
      async () => {
        const message = await api.sendChat(interaction.id, text);
        input.value = "";
        setOwnTyping(false);
        show([message]);
        input.focus();
      },
      ctx.report,
    );
  });

  load();
  return {
    body: h("div", { class: "chat" }, list, typing),
    actions: h("div", { class: "chat-actions" }, composer, h("div", { class: "actions" }, endChat, createTransfer(interaction, ctx))),
    update(current, now) {
      connected = current.state === "connected";
      setText(typing, connected && now < typingUntil ? "Customer is typing…" : "");
    },
    onChatEvent(event) {
      if (event.type === "chat.message") {
        show([/** @type {ChatMessage} */ (/** @type {unknown} */ (event))]);
      } else if (event.type === "chat.typing" && event.sender === "customer") {
        typingUntil = event.active ? Date.now() / 1000 + TYPING_SHOWN_SECONDS : 0;
        setText(typing, event.active ? "Customer is typing…" : "");
      }
    },
    reload: load,
    destroy() {
      if (ownTypingTimer) clearTimeout(ownTypingTimer);
    },
  };
}
