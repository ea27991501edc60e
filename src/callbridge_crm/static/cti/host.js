// The host side of the CTI protocol: receives requests from the agent console, answers them,
// and sends events to it. Only the configured console origin is ever heard or addressed.

import { CtiError, ErrorCode, VERSION, errorMessage, eventMessage, isProtocolMessage, replyMessage } from "./protocol.js";

/**
 * @typedef {(params: Record<string, any>, event: MessageEvent) => unknown | Promise<unknown>} Handler
 * @typedef {object} HostOptions
 * @property {string} consoleOrigin exact origin of the agent console, e.g. "http://127.0.0.1:8000"
 * @property {() => (Window | null)} consoleWindow where events go (null: not known yet)
 * @property {(source: MessageEventSource | null) => boolean} acceptSource whether a message's sender is the console
 * @property {Record<string, Handler>} handlers method name -> handler
 * @property {(source: Window) => void} [onConsoleSeen] called with the sender of every accepted message
 */

export class CtiHost {
  /** @param {HostOptions} options */
  constructor(options) {
    if (!options.consoleOrigin || options.consoleOrigin === "*") {
      throw new Error("the CTI host needs the console's exact origin");
    }
    this.options = options;
    this.onMessage = this.onMessage.bind(this);
  }

  start() {
    window.addEventListener("message", this.onMessage);
    return this;
  }

  stop() {
    window.removeEventListener("message", this.onMessage);
  }

  /** @param {string} name @param {Record<string, unknown>} params @returns {boolean} whether it was sent */
  sendEvent(name, params) {
    const target = this.options.consoleWindow();
    if (!target) return false;
    target.postMessage(eventMessage(name, params), this.options.consoleOrigin);
    return true;
  }

  /** @param {MessageEvent} event */
  async onMessage(event) {
    // Exact origin match: anything else (other sites, our own tabs) is not the console.
    if (event.origin !== this.options.consoleOrigin) return;
    if (!isProtocolMessage(event.data)) return;
    if (!this.options.acceptSource(event.source)) return;
    const source = /** @type {Window} */ (event.source);
    this.options.onConsoleSeen?.(source);
    const data = /** @type {Record<string, any>} */ (event.data);
    const answer = (/** @type {unknown} */ message) => source.postMessage(message, this.options.consoleOrigin);
    const id = typeof data.id === "string" ? data.id : null;
    if (data.version !== VERSION) {
      answer(errorMessage(id, ErrorCode.UNSUPPORTED_VERSION, `this host speaks version ${VERSION}`, { supported: [VERSION] }));
      return;
    }
    if (id === null || typeof data.method !== "string") {
      if ("replyTo" in data || "event" in data) return; // a reply or event from the console: not for us
      answer(errorMessage(id, ErrorCode.INVALID_REQUEST, "a request needs a string 'id' and 'method'"));
      return;
    }
    const handler = Object.hasOwn(this.options.handlers, data.method) ? this.options.handlers[data.method] : undefined;
    if (!handler) {
      answer(errorMessage(id, ErrorCode.UNKNOWN_METHOD, `unknown method '${data.method}'`));
      return;
    }
    const params = data.params ?? {};
    if (typeof params !== "object" || Array.isArray(params)) {
      answer(errorMessage(id, ErrorCode.INVALID_PARAMS, "'params' must be an object"));
      return;
    }
    try {
      const result = await handler(params, event);
      answer(replyMessage(id, result ?? {}));
    } catch (error) {
      if (error instanceof CtiError) {
        answer(errorMessage(id, error.code, error.message, error.details));
      } else {
        console.error("CTI host: method failed", data.method, error);
        answer(errorMessage(id, ErrorCode.INTERNAL_ERROR, String(error instanceof Error ? error.message : error)));
      }
    }
  }
}
