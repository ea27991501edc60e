// What the console says when an action fails, in the agent's words: the server's messages are written
// for integrators ("interaction 'x' has already ended (wrap_up)"); an agent needs to know what happened
// and what to do next.

/** @type {Record<string, string>} */
const GONE = {
  "hang-up": "The call has already ended. Write your notes and click Complete.",
  "end-chat": "The chat has already ended. Write your notes and click Complete.",
  hold: "The call is no longer connected, so it cannot be put on hold.",
  resume: "The call is no longer connected.",
  transfer: "This interaction has already ended, so it cannot be transferred.",
  consult: "The call has already ended, so it cannot be transferred.",
  "consult-complete": "The call has already ended, so it cannot be transferred.",
  "consult-cancel": "The call has already ended.",
  accept: "This offer is no longer yours: its time ran out or the customer left.",
  reject: "This offer has already gone back to the queue.",
  complete: "This interaction is already completed.",
  done: "This voicemail is already done. Write your notes and click Complete.",
  send: "The chat has ended: the customer will not see new messages.",
};

const TRANSFERS = new Set(["transfer", "consult", "consult-complete", "consult-cancel"]);

/**
 * @param {string|undefined} action  the button's data-action
 * @param {unknown} error            an ApiError (status, message) or any other failure
 * @returns {string}
 */
export function agentMessage(action, error) {
  const status = error && typeof error === "object" && "status" in error ? Number(error.status) : 0;
  const message = error instanceof Error ? error.message : String(error);
  // a transfer is also refused while the call goes on (the colleague cannot take it now, a consult is on):
  // then the server's own words say why
  const refusedLive = status === 409 && TRANSFERS.has(action ?? "") && !message.includes("has already ended");
  if (refusedLive) return message;
  if ((status === 409 || status === 404) && action && GONE[action]) return GONE[action];
  // a refused field: the server's message already speaks to the agent, without the field's code name
  const field = error && typeof error === "object" && "field" in error ? String(error.field ?? "") : "";
  if (status === 422 && field && message.startsWith(`${field}: `)) return message.slice(field.length + 2);
  if (status === 404) return "This interaction is no longer there: it has ended.";
  if (status === 0 && error instanceof TypeError) {
    return "Callbridge could not be reached. Check your network connection and try again.";
  }
  if (status >= 500 && status !== 503) return "Callbridge could not do that just now. Try again in a moment.";
  return message;
}
