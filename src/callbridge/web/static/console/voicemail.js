// A voicemail: caller, duration, transcription when there is one, and the recording in a player
// (the audio answers range requests, so the player can seek). "Done" ends it and starts wrap-up.

import { api } from "./api.js";
import { busyWhile, h, setText } from "./dom.js";
import { formatDuration } from "./state.js";

/** @typedef {import('./state.js').InteractionView} InteractionView */
/** @typedef {import('./interactions.js').CardContext} CardContext */
/** @typedef {import('./interactions.js').ChannelPart} ChannelPart */

/**
 * @param {InteractionView} interaction
 * @param {CardContext} ctx
 * @returns {ChannelPart}
 */
export function createVoicemailPart(interaction, ctx) {
  const audio = h("audio", { controls: true, preload: "metadata", class: "voicemail-audio" });
  audio.setAttribute("aria-label", `Voicemail from ${interaction.from_address || "unknown caller"}`);
  const duration = h("dd", { class: "duration", text: "…" });
  const transcription = h("p", { class: "transcription muted", hidden: true });
  const done = h("button", { type: "button", class: "primary", "data-action": "done" }, "Done");
  done.addEventListener("click", () => void busyWhile(done, () => api.end(interaction.id, "listened"), ctx.report));
  // Call back: dials the caller through the ordinary outbound call path (as click to dial does); it stays
  // while the agent wraps the voicemail up, since that is when people usually call back.
  const caller = interaction.from_address;
  const callBack = caller
    ? h("button", { type: "button", class: "call-back", "data-action": "call-back", title: `Call ${caller}` }, "Call back")
    : null;
  callBack?.addEventListener("click", () => {
    ctx.report("");
    void busyWhile(callBack, () => api.dial({ to_address: caller }), (message) => ctx.report(`Could not call ${caller}: ${message}`));
  });
  const body = h(
    "div",
    {},
    h("dl", { class: "facts" }, h("dt", {}, "Caller"), h("dd", { text: caller || "unknown" }), h("dt", {}, "Duration"), duration),
    audio,
    transcription,
    callBack ? h("div", { class: "actions call-back-row" }, callBack) : null,
  );
  api
    .voicemail(interaction.id)
    .then((/** @type {{audio_url: string, duration_seconds: number|null, transcription: string}} */ voicemail) => {
      audio.src = voicemail.audio_url;
      setText(duration, voicemail.duration_seconds === null ? "unknown" : formatDuration(voicemail.duration_seconds));
      if (voicemail.transcription) {
        transcription.textContent = voicemail.transcription;
        transcription.hidden = false;
      }
    })
    .catch((/** @type {Error} */ error) => ctx.report(`Voicemail: ${error.message}`));
  audio.addEventListener("loadedmetadata", () => {
    if (Number.isFinite(audio.duration) && duration.textContent === "unknown") setText(duration, formatDuration(audio.duration));
  });
  return {
    body,
    actions: h("div", { class: "actions" }, done),
    update() {},
    destroy() {
      audio.pause();
    },
  };
}
