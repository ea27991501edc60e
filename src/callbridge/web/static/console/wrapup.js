// Wrap-up: a disposition and notes, then Complete (the interaction's auto log takes both). What the agent
// types is saved to the server as they type, so a wrap-up that runs out of time completes with it.

import { api } from "./api.js";
import { busyWhile, h, setText } from "./dom.js";
import { withShortcut } from "./shortcuts.js";
import { secondsLeft } from "./state.js";

/** @typedef {import('./state.js').InteractionView} InteractionView */

/** The general list, for a queue that names none of its own. */
export const DISPOSITIONS = ["Resolved", "Follow-up needed", "Information given", "Escalated", "No answer", "Wrong number"];

/** How long typing must pause before the notes are saved (ms). */
export const SAVE_AFTER_MS = 600;

/**
 * @typedef {{dispositions: string[], required: boolean, templates?: string[]}} WrapUpChoices  the queue's list,
 *   whether one must be picked, and the tenant's notes templates
 */

/**
 * @param {InteractionView} interaction
 * @param {(message: string) => void} report
 * @param {WrapUpChoices} [choices]
 * @returns {{element: HTMLElement, update: (interaction: InteractionView, now: number) => void, flush: () => Promise<void>}}
 */
export function createWrapUp(interaction, report, choices = { dispositions: [], required: false }) {
  const dispositionId = `disposition-${interaction.id}`;
  const notesId = `notes-${interaction.id}`;
  const list = choices.dispositions.length ? choices.dispositions : DISPOSITIONS;
  const disposition = h(
    "select",
    { id: dispositionId, name: "disposition", "aria-required": String(choices.required) },
    h("option", { value: "", text: choices.required ? "Choose one…" : "Choose…" }),
    ...list.map((d) => h("option", { value: d, text: d })),
  );
  const notes = h("textarea", { id: notesId, name: "notes", rows: 3, maxlength: 32000 });
  const templates = choices.templates ?? [];
  const templateId = `template-${interaction.id}`;
  const template = templates.length
    ? h(
        "select",
        { id: templateId, class: "notes-template" },
        h("option", { value: "", text: "Add a template…" }),
        ...templates.map((t, i) => h("option", { value: String(i), text: t.length > 60 ? `${t.slice(0, 59)}…` : t })),
      )
    : null;
  const left = h("span", { class: "wrap-left muted" });
  const saved = h("span", { class: "wrap-saved muted", role: "status" });
  const complete = withShortcut(h("button", { type: "submit", class: "primary", "data-action": "complete" }, "Complete"), "complete");
  const form = h(
    "form",
    { class: "wrap-up", "aria-label": "Wrap-up", novalidate: true },
    h("div", { class: "wrap-head" }, h("strong", {}, "Wrap-up"), left),
    h("label", { for: dispositionId }, choices.required ? "Disposition (required)" : "Disposition"),
    disposition,
    h("label", { for: notesId }, "Notes"),
    template ? h("label", { for: templateId, class: "sr-only" }, "Notes template") : null,
    template,
    notes,
    h("div", { class: "actions" }, complete, saved),
  );

  let lastSaved = { disposition: "", notes: "" };
  let typed = false; // once the agent has typed, the server's copy never overwrites the form
  /** @type {number|undefined} */
  let timer;
  /** @type {Promise<void>} */
  let saving = Promise.resolve();

  const save = () => {
    window.clearTimeout(timer);
    timer = undefined;
    const draft = { disposition: disposition.value, notes: notes.value };
    if (draft.disposition === lastSaved.disposition && draft.notes === lastSaved.notes) return saving;
    setText(saved, "Saving…");
    saving = saving
      .then(() => api.saveWrapUp(interaction.id, draft.disposition, draft.notes))
      .then(
        () => {
          lastSaved = draft;
          if (draft.disposition === disposition.value && draft.notes === notes.value) setText(saved, "Notes saved");
        },
        () => setText(saved, "Not saved yet: your notes stay here; Complete sends them"),
      );
    return saving;
  };
  const typing = () => {
    typed = true;
    setText(saved, "");
    window.clearTimeout(timer);
    timer = window.setTimeout(() => void save(), SAVE_AFTER_MS);
  };
  notes.addEventListener("input", typing);
  // a template is added to the end of the notes (the agent then edits it), and saved like typing
  template?.addEventListener("change", () => {
    const chosen = templates[Number(template.value)];
    template.value = "";
    if (chosen === undefined) return;
    notes.value = notes.value.trim() ? `${notes.value.trimEnd()}\n${chosen}` : chosen;
    typing();
    notes.focus();
  });
  notes.addEventListener("blur", () => void save());
  disposition.addEventListener("change", () => {
    disposition.removeAttribute("aria-invalid");
    typed = true;
    void save();
  });
  // a console that reloads during wrap-up shows what was saved before
  void api.wrapUp(interaction.id).then(
    (/** @type {{disposition: string, notes: string}} */ draft) => {
      lastSaved = draft;
      if (typed) return;
      disposition.value = draft.disposition;
      notes.value = draft.notes;
    },
    () => undefined,
  );

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    window.clearTimeout(timer);
    const finish = async () => {
      try {
        await api.complete(interaction.id, disposition.value, notes.value);
      } catch (error) {
        // a refused disposition (required, or not in the queue's list): the picker says so and takes the focus
        if (error && typeof error === "object" && "field" in error && error.field === "disposition") {
          disposition.setAttribute("aria-invalid", "true");
          disposition.focus();
        }
        throw error;
      }
    };
    void busyWhile(complete, finish, report);
  });
  return {
    element: form,
    update(current, now) {
      const deadline = current.wrap_up_deadline;
      setText(left, deadline === null ? "" : `${secondsLeft(deadline, now)} s left`);
      // typing right up to the end: save at once rather than after the pause
      if (timer !== undefined && deadline !== null && secondsLeft(deadline, now) <= 2) void save();
    },
    flush: () => save(),
  };
}
