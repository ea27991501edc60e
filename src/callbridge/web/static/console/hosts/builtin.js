// The console's host module for the built-in CRM: the CTI host protocol over postMessage
// (docs/cti-host-protocol.md). Console mode: the CRM's workspace frames the console (target =
// window.parent). Non-console mode: a CRM page opened the console window (target = window.opener).
//
// Messages are posted only to an allowed CRM origin (never "*") and accepted only from the origin
// that answered the handshake and from the target window.

/** @typedef {import('./host.js').CrmHost} CrmHost */
/** @typedef {import('./host.js').PopTarget} PopTarget */
/** @typedef {import('./host.js').WindowProperties} WindowProperties */
/** @typedef {import('./host.js').ClickToDialRequest} ClickToDialRequest */
/** @typedef {import('./host.js').PageInfo} PageInfo */

export const PROTOCOL = "callbridge-cti";
export const VERSION = 1;

/**
 * @typedef {Object} BuiltinHostOptions
 * @property {string[]} allowedOrigins  candidate CRM origins (the handshake keeps the one that answers)
 * @property {Window|null} target       the CRM window: window.parent (console mode) or window.opener
 * @property {number} [timeoutMs]       how long to wait for a reply
 */

/**
 * The host's screen-pop parameters for a Callbridge pop target.
 * @param {PopTarget} target
 * @param {WindowProperties} [win]
 * @returns {Record<string, unknown>}
 */
export function screenPopParams(target, win) {
  /** @type {Record<string, unknown>} */
  let params;
  switch (target.kind) {
    case "record":
      params = { type: "record", objectType: (target.objectType ?? "").toLowerCase(), recordId: Number(target.recordId) };
      break;
    case "search":
      params = { type: "search", query: target.query ?? "" };
      break;
    case "new_record":
      params = { type: "newRecord", objectType: (target.objectType ?? "contact").toLowerCase(), defaults: { ...(target.prefill ?? {}) } };
      break;
    default:
      params = { type: "url", url: target.url };
  }
  if (win) {
    /** @type {Record<string, unknown>} */
    const window = { target: win.reuse ? "reuseWindow" : "newWindow" };
    if (win.width) window.width = win.width;
    if (win.height) window.height = win.height;
    params.window = window;
  }
  return params;
}

/** An error answered by the host. */
export class HostError extends Error {
  /** @param {string} code @param {string} message */
  constructor(code, message) {
    super(`${code}: ${message}`);
    this.code = code;
  }
}

/**
 * @param {BuiltinHostOptions} options
 * @returns {CrmHost & {mode: () => string, origin: () => string, call: (method: string, params?: Record<string, unknown>) => Promise<any>}}
 */
export function createHost(options) {
  const timeoutMs = options.timeoutMs ?? 5000;
  let origin = "";
  let mode = "";
  /** @type {Map<string, {resolve: (value: any) => void, reject: (error: Error) => void, timer: ReturnType<typeof setTimeout>}>} */
  const pending = new Map();
  /** @type {((request: ClickToDialRequest) => void) | null} */
  let dialHandler = null;
  /** @type {Array<(page: PageInfo) => void>} */
  const navigationHandlers = [];

  /** @param {MessageEvent} event */
  function onMessage(event) {
    if (!options.allowedOrigins.includes(event.origin)) return;
    if (origin && event.origin !== origin) return;
    if (options.target && event.source !== options.target) return;
    const message = event.data;
    if (!message || typeof message !== "object" || message.protocol !== PROTOCOL) return;
    if (typeof message.replyTo === "string") {
      const waiting = pending.get(message.replyTo);
      if (!waiting) return;
      pending.delete(message.replyTo);
      clearTimeout(waiting.timer);
      if (!origin) origin = event.origin;
      if (message.error) waiting.reject(new HostError(String(message.error.code), String(message.error.message)));
      else waiting.resolve(message.result ?? {});
      return;
    }
    if (!origin) return;
    const params = message.params ?? {};
    if (message.event === "clickToDial" && dialHandler) {
      dialHandler({
        number: String(params.number ?? ""),
        recordId: params.recordId === null || params.recordId === undefined ? undefined : String(params.recordId),
        objectType: params.objectType ?? undefined,
        recordName: params.recordName ?? undefined,
      });
    } else if (message.event === "navigationChange") {
      const page = {
        url: String(params.url ?? ""),
        recordId: params.recordId === null || params.recordId === undefined ? undefined : String(params.recordId),
        objectType: params.objectType ?? undefined,
      };
      for (const handler of navigationHandlers) handler(page);
    }
  }

  /**
   * @param {string} method
   * @param {Record<string, unknown>} [params]
   * @returns {Promise<any>}
   */
  function call(method, params = {}) {
    const target = options.target;
    if (!target) return Promise.reject(new Error("no CRM window to talk to"));
    const id = crypto.randomUUID();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        pending.delete(id);
        reject(new Error(`the CRM did not answer ${method}`));
      }, timeoutMs);
      pending.set(id, { resolve, reject, timer });
      const message = { protocol: PROTOCOL, version: VERSION, id, method, params };
      for (const candidate of origin ? [origin] : options.allowedOrigins) {
        try {
          target.postMessage(message, candidate);
        } catch {
          // a closed window or a malformed origin: the time-out reports it
        }
      }
    });
  }

  return {
    name: "builtin",
    get consoleMode() {
      return mode === "console";
    },
    mode: () => mode,
    origin: () => origin,
    call,

    async init() {
      window.addEventListener("message", onMessage);
      const result = await call("connect");
      mode = String(result.mode ?? "");
      // Non-console mode: the CRM page changes as the agent navigates; saying hello again on focus
      // lets the page in front know this window.
      if (mode !== "console") window.addEventListener("focus", () => void call("connect").catch(() => {}));
    },

    get popsInBackground() {
      return mode === "console";
    },

    async screenPop(target, win, popOptions = {}) {
      const params = screenPopParams(target, mode === "console" ? undefined : win);
      if (mode === "console" && popOptions.background) params.focus = false;
      const result = await call("screenPop", params);
      if (mode !== "console" || typeof result?.tabId !== "string") return null;
      return { id: result.tabId, created: result.created !== false };
    },

    async focusPop(handle) {
      await call("focusTab", { tabId: handle.id });
    },

    async closePop(handle) {
      await call("closeTab", { tabId: handle.id });
    },

    async enableClickToDial(handler) {
      dialHandler = handler;
      await call("enableClickToDial");
    },

    async disableClickToDial() {
      dialHandler = null;
      await call("disableClickToDial");
    },

    async setPanelVisible(visible) {
      if (mode === "console") await call("setSoftphonePanelVisibility", { visible });
    },

    onNavigationChange(handler) {
      navigationHandlers.push(handler);
    },
  };
}
