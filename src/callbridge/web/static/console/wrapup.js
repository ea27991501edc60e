// Wrap-up: a disposition and notes, then Complete (the interaction's auto log takes both).

import { api } from "./api.js";
import { busyWhile, h, setText } from "./dom.js";
import { secondsLeft } from "./state.js";

/** @typedef {import('./state.js').InteractionView} InteractionView */

export const DISPOSITIONS = ["Resolved", "Follow-up needed", "Information given", "Escalated", "No answer", "Wrong number"];

/**
 * @param {InteractionView} interaction
 * @param {(message: string) => void} report
 * @returns {{element: HTMLElement, update: (interaction: InteractionView, now: number) => void}}
 */
export function createWrapUp(interaction, report) {
  const dispositionId = `disposition-${interaction.id}`;
  const notesId = `notes-${interaction.id}`;
  const disposition = h(
    "select",
    { id: dispositionId, name: "disposition" },
    h("option", { value: "", text: "Choose…" }),
    ...DISPOSITIONS.map((d) => h("option", { value: d, text: d })),
  );
  const notes = h("textarea", { id: notesId, name: "notes", rows: 3, maxlength: 32000 });
  const left = h("span", { class: "wrap-left muted" });
  const complete = h("button", { type: "submit", class: "primary", "data-action": "complete" }, "Complete");
  const form = h(
    "form",
    { class: "wrap-up", "aria-label": "Wrap-up" },
    h("div", { class: "wrap-head" }, h("strong", {}, "Wrap-up"), left),
    h("label", { for: dispositionId }, "Disposition"),
    disposition,
    h("label", { for: notesId }, "Notes"),
    notes,
    h("div", { class: "actions" }, complete),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    void busyWhile(complete, () => api.complete(interaction.id, disposition.value, notes.value), report);
  });
  return {
    element: form,
    update(current, now) {
      const deadline = current.wrap_up_deadline;
      setText(left, deadline === null ? "" : `${secondsLeft(deadline, now)} s left`);
    },
  };
}
