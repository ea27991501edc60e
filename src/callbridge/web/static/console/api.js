// The agent REST API as the console uses it (same origin, the session cookie of this frame).

/** An error answered by Callbridge: `{error, message, field}`. */
export class ApiError extends Error {
  /** @param {number} status @param {string} message @param {string|null} field @param {string} code */
  constructor(status, message, field, code) {
    super(message);
    this.status = status;
    this.field = field;
    this.code = code;
  }
}

/**
 * @param {string} path
 * @param {{method?: string, json?: unknown, body?: BodyInit}} [options]
 * @returns {Promise<any>} the JSON answer (null for 204)
 */
export async function request(path, options = {}) {
  /** @type {RequestInit} */
  const init = { method: options.method ?? "GET", credentials: "same-origin", headers: {} };
  if (options.json !== undefined) {
    init.headers = { "Content-Type": "application/json" };
    init.body = JSON.stringify(options.json);
  } else if (options.body !== undefined) {
    init.body = options.body;
  }
  const response = await fetch(path, init);
  if (response.status === 204) return null;
  const body = await response.json().catch(() => null);
  if (!response.ok) {
    const message = body && typeof body.message === "string" ? body.message : `${response.status} ${response.statusText}`;
    throw new ApiError(response.status, message, body?.field ?? null, body?.error ?? "");
  }
  return body;
}

/** @param {string} id */
const enc = (id) => encodeURIComponent(id);

export const api = {
  /** @param {string} status @param {string} reason */
  setStatus: (status, reason) => request("/api/v1/me/status", { method: "PUT", json: { status, reason } }),
  /** @param {string} id */
  accept: (id) => request(`/api/v1/me/offers/${enc(id)}/accept`, { method: "POST" }),
  /** @param {string} id */
  reject: (id) => request(`/api/v1/me/offers/${enc(id)}/reject`, { method: "POST" }),
  /** @param {string} id @param {string} reason */
  end: (id, reason) => request(`/api/v1/me/interactions/${enc(id)}/end`, { method: "POST", json: { reason } }),
  /** @param {string} id @param {string} disposition @param {string} notes */
  complete: (id, disposition, notes) =>
    request(`/api/v1/me/interactions/${enc(id)}/complete`, { method: "POST", json: { disposition, notes } }),
  /** Keeps the wrap-up typed so far. @param {string} id @param {string} disposition @param {string} notes */
  saveWrapUp: (id, disposition, notes) =>
    request(`/api/v1/me/interactions/${enc(id)}/wrap-up`, { method: "PUT", json: { disposition, notes } }),
  /** @param {string} id */
  wrapUp: (id) => request(`/api/v1/me/interactions/${enc(id)}/wrap-up`),
  /** A queue id, an agent id or an outside E.164 number. @param {string} id @param {string} target */
  transfer: (id, target) =>
    request(`/api/v1/me/interactions/${enc(id)}/transfer`, { method: "POST", json: { target } }),
  /** Warm transfer: the colleague's desk phone rings, the caller holds. @param {string} id @param {string} agentId */
  consult: (id, agentId) =>
    request(`/api/v1/me/interactions/${enc(id)}/consult`, { method: "POST", json: { target: agentId } }),
  /** @param {string} id */
  consultComplete: (id) => request(`/api/v1/me/interactions/${enc(id)}/consult/complete`, { method: "POST" }),
  /** @param {string} id */
  consultCancel: (id) => request(`/api/v1/me/interactions/${enc(id)}/consult/cancel`, { method: "POST" }),
  /** @param {string} id */
  hold: (id) => request(`/api/v1/me/interactions/${enc(id)}/hold`, { method: "POST" }),
  /** @param {string} id */
  resume: (id) => request(`/api/v1/me/interactions/${enc(id)}/resume`, { method: "POST" }),
  /** `{available, on_hold_since}`: whether the call can be held (the tenant's telephony command webhook). @param {string} id */
  holdState: (id) => request(`/api/v1/me/interactions/${enc(id)}/hold`),
  /** @param {Record<string, unknown>} body */
  dial: (body) => request("/api/v1/me/calls", { method: "POST", json: body }),
  /** @param {string} id @param {number} afterSeq */
  transcript: (id, afterSeq = 0) => request(`/api/v1/me/chats/${enc(id)}/messages?after_seq=${afterSeq}`),
  /** @param {string} id @param {string} text */
  sendChat: (id, text) => request(`/api/v1/me/chats/${enc(id)}/messages`, { method: "POST", json: { text } }),
  /** @param {string} id @param {boolean} active */
  typing: (id, active) => request(`/api/v1/me/chats/${enc(id)}/typing`, { method: "POST", json: { active } }),
  /** @param {string} id @param {number} upToSeq */
  delivered: (id, upToSeq) =>
    request(`/api/v1/me/chats/${enc(id)}/delivered`, { method: "POST", json: { up_to_seq: upToSeq } }),
  /** What the browser softphone registers with (short-lived SIP credentials), or why it cannot. */
  softphone: () => request("/api/v1/me/softphone"),
  /** `{notes_templates, quick_replies}`: the tenant's ready-made texts. */
  consoleTexts: () => request("/api/v1/me/console-texts"),
  /** My last `limit` completed interactions, newest first. @param {number} limit */
  recent: (limit) => request(`/api/v1/me/interactions?limit=${limit}`),
  /** @param {string} id */
  voicemail: (id) => request(`/api/v1/me/voicemail/${enc(id)}`),
  greetings: () => request("/api/v1/me/greetings"),
  /** @param {string} name @param {Blob} audio @param {string} filename @param {number} [seconds] how long it plays */
  addGreeting: (name, audio, filename, seconds) => {
    const form = new FormData();
    form.append("name", name);
    if (seconds && seconds > 0) form.append("duration_seconds", seconds.toFixed(2));
    form.append("audio", audio, filename);
    return request("/api/v1/me/greetings", { method: "POST", body: form });
  },
  /** @param {string} id @param {string} name */
  renameGreeting: (id, name) => request(`/api/v1/me/greetings/${enc(id)}`, { method: "PATCH", json: { name } }),
  /** @param {string} id */
  deleteGreeting: (id) => request(`/api/v1/me/greetings/${enc(id)}`, { method: "DELETE" }),
};
