// The CTI host protocol, version 1: message shapes shared by the console workspace and plain pages.
// The full description is docs/cti-host-protocol.md.

export const PROTOCOL = "callbridge-cti";
export const VERSION = 1;

/** Error codes a host answers with. */
export const ErrorCode = Object.freeze({
  UNSUPPORTED_VERSION: "UNSUPPORTED_VERSION",
  INVALID_REQUEST: "INVALID_REQUEST",
  UNKNOWN_METHOD: "UNKNOWN_METHOD",
  INVALID_PARAMS: "INVALID_PARAMS",
  NOT_SIGNED_IN: "NOT_SIGNED_IN",
  UNSUPPORTED_IN_MODE: "UNSUPPORTED_IN_MODE",
  POPUP_BLOCKED: "POPUP_BLOCKED",
  SAVE_FAILED: "SAVE_FAILED",
  INTERNAL_ERROR: "INTERNAL_ERROR",
});

/** An error a method handler throws to answer `{"error": {"code", "message"}}`. */
export class CtiError extends Error {
  /** @param {string} code @param {string} message @param {unknown} [details] */
  constructor(code, message, details) {
    super(message);
    this.code = code;
    this.details = details;
  }
}

/** @param {unknown} data @returns {data is {protocol: string, version: unknown}} */
export function isProtocolMessage(data) {
  return typeof data === "object" && data !== null && /** @type {any} */ (data).protocol === PROTOCOL;
}

/** @param {string} replyTo @param {unknown} result */
export function replyMessage(replyTo, result) {
  return { protocol: PROTOCOL, version: VERSION, replyTo, result };
}

/** @param {string | null} replyTo @param {string} code @param {string} message @param {unknown} [details] */
export function errorMessage(replyTo, code, message, details) {
  const error = details === undefined ? { code, message } : { code, message, details };
  return { protocol: PROTOCOL, version: VERSION, replyTo, error };
}

/** @param {string} event @param {Record<string, unknown>} params */
export function eventMessage(event, params) {
  return { protocol: PROTOCOL, version: VERSION, event, params };
}
