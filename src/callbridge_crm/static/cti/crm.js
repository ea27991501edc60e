// What both host modes share: the page's configuration, screen-pop targets, searches and saving logs
// through the CRM's own same-origin endpoints (the signed-in person's session).

import { CtiError, ErrorCode } from "./protocol.js";

export const CONSOLE_WINDOW_NAME = "callbridge-console";
const OBJECT_TYPES = ["contact", "account", "lead", "case", "activity"];
const NEW_OBJECT_TYPES = ["contact", "account", "lead", "case"];

/** @returns {{consoleUrl: string, consoleOrigin: string, crmOrigin: string, embedded: boolean}} */
export function hostConfig() {
  const element = document.getElementById("crm-host-config");
  return JSON.parse(element ? element.textContent || "{}" : "{}");
}

function csrfToken() {
  const meta = document.querySelector('meta[name="csrf-token"]');
  return meta ? meta.getAttribute("content") || "" : "";
}

/**
 * The CRM path a screen pop opens, checked so the console can only open pages of this CRM.
 * @param {Record<string, any>} params
 * @returns {{path: string, kind: string}}
 */
export function screenPopTarget(params) {
  switch (params.type) {
    case "record": {
      if (!OBJECT_TYPES.includes(params.objectType)) throw invalid(`objectType must be one of ${OBJECT_TYPES.join(", ")}`);
      if (!Number.isSafeInteger(Number(params.recordId)) || Number(params.recordId) <= 0) throw invalid("recordId must be a positive integer");
      return { path: `/records/${params.objectType}/${Number(params.recordId)}`, kind: "record" };
    }
    case "search": {
      if (typeof params.query !== "string" || !params.query.trim()) throw invalid("query must be a non-empty string");
      return { path: `/search?${new URLSearchParams({ q: params.query })}`, kind: "search" };
    }
    case "newRecord": {
      if (!NEW_OBJECT_TYPES.includes(params.objectType)) throw invalid(`objectType must be one of ${NEW_OBJECT_TYPES.join(", ")}`);
      const defaults = params.defaults ?? {};
      if (typeof defaults !== "object" || Array.isArray(defaults)) throw invalid("defaults must be an object of field values");
      const query = new URLSearchParams();
      for (const [key, value] of Object.entries(defaults)) {
        if (value !== null && value !== undefined && value !== "") query.set(key, String(value));
      }
      const suffix = query.toString() ? `?${query}` : "";
      return { path: `/new/${params.objectType}${suffix}`, kind: "newRecord" };
    }
    case "url": {
      if (typeof params.url !== "string") throw invalid("url must be a string");
      const url = new URL(params.url, window.location.origin);
      // Only pages of this CRM: a screen pop must never become a way to open arbitrary sites.
      if (url.origin !== window.location.origin) throw invalid("url must be a page of this CRM (same origin)");
      return { path: url.pathname + url.search + url.hash, kind: "url" };
    }
    default:
      throw invalid("type must be one of record, search, newRecord, url");
  }
}

/** @param {string} message */
export function invalid(message) {
  return new CtiError(ErrorCode.INVALID_PARAMS, message);
}

/** @param {string} path @param {boolean} embedded */
export function withEmbedded(path, embedded) {
  if (!embedded) return path;
  const url = new URL(path, window.location.origin);
  url.searchParams.set("embedded", "1");
  return url.pathname + url.search + url.hash;
}

/** @param {Response} response */
async function readJson(response) {
  const body = await response.json().catch(() => null);
  if (response.status === 401) throw new CtiError(ErrorCode.NOT_SIGNED_IN, "sign in to the CRM first");
  if (!response.ok) {
    const first = Array.isArray(body) && body[0] ? body[0] : { errorCode: "HTTP_" + response.status, message: response.statusText };
    const code = first.errorCode === "STRING_TOO_LONG" || response.status === 400 ? ErrorCode.INVALID_PARAMS : ErrorCode.SAVE_FAILED;
    throw new CtiError(code, first.message, body);
  }
  return body;
}

/**
 * Search the way searchAndScreenPop asks: by phone, case number, text or rules.
 * @param {Record<string, any>} params
 * @returns {Promise<Array<{objectType: string, id: number, name: string, url: string}>>}
 */
export async function searchRecords(params) {
  const given = ["phone", "caseNumber", "query", "rules"].filter((key) => params[key] !== undefined && params[key] !== "");
  if (given.length !== 1) throw invalid("give exactly one of phone, caseNumber, query, rules");
  let response;
  if (given[0] === "rules") {
    response = await fetch("/host-api/search/rules", {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrfToken() },
      body: JSON.stringify(params.rules),
    });
  } else {
    const key = given[0] === "query" ? "q" : given[0];
    response = await fetch(`/host-api/search?${new URLSearchParams({ [key]: String(params[given[0]]) })}`, { credentials: "same-origin" });
  }
  const body = await readJson(response);
  return body.records;
}

/**
 * Where searchAndScreenPop goes for its matches: one record, a results list, or a new-record form.
 * @param {Record<string, any>} params @param {Array<{objectType: string, id: number}>} matches
 */
export function searchPopTarget(params, matches) {
  if (matches.length === 1) return { ...screenPopTarget({ type: "record", objectType: matches[0].objectType, recordId: matches[0].id }), popped: "record" };
  if (matches.length > 1) {
    const ids = matches.map((match) => `${match.objectType}:${match.id}`).join(",");
    return { path: `/search?${new URLSearchParams({ ids })}`, kind: "search", popped: "search" };
  }
  const defaults = params.defaults ?? {};
  const objectType = defaults.objectType ?? (params.caseNumber ? "case" : "contact");
  const fields = { ...(defaults.fields ?? {}) };
  if (params.phone && objectType !== "case" && !fields.phone) fields.phone = params.phone;
  return { ...screenPopTarget({ type: "newRecord", objectType, defaults: fields }), popped: "newRecord" };
}

/** @param {Record<string, any>} params */
export async function saveLog(params) {
  if (typeof params.fields !== "object" || params.fields === null) throw invalid("fields must be an object of activity fields");
  const response = await fetch("/host-api/activities", {
    method: "POST",
    credentials: "same-origin",
    headers: { "Content-Type": "application/json", "X-CSRF-Token": csrfToken() },
    body: JSON.stringify({ fields: params.fields, externalId: params.externalId }),
  });
  const body = await readJson(response);
  return { id: body.id, created: body.created, url: new URL(body.url, window.location.origin).href };
}

/** What a page shows, for getPageInfo and navigationChange. @param {Document} doc */
export function pageInfo(doc) {
  const meta = doc.querySelector('meta[name="crm-record"]');
  const url = new URL(doc.location.href);
  url.searchParams.delete("embedded");
  return {
    url: url.href,
    title: doc.title,
    objectType: meta ? meta.getAttribute("data-object-type") : null,
    recordId: meta ? Number(meta.getAttribute("data-record-id")) : null,
    recordName: meta ? meta.getAttribute("data-record-name") : null,
  };
}

/**
 * Make every phone link in `doc` call `onDial` while click to dial is enabled.
 * @param {Document} doc @param {() => boolean} enabled @param {(params: Record<string, unknown>) => void} onDial
 */
export function wirePhoneLinks(doc, enabled, onDial) {
  doc.addEventListener("click", (event) => {
    const target = /** @type {Element | null} */ (event.target);
    const link = target && target.closest ? target.closest("a.phone[data-phone]") : null;
    if (!link || !enabled()) return; // disabled: the tel: link does what the system does
    event.preventDefault();
    const recordId = link.getAttribute("data-record-id");
    onDial({
      number: link.getAttribute("data-phone"),
      recordId: recordId ? Number(recordId) : null,
      objectType: link.getAttribute("data-object-type"),
      recordName: link.getAttribute("data-record-name"),
    });
  });
}

/** @param {Document} doc @param {boolean} enabled */
export function showClickToDial(doc, enabled) {
  doc.body.classList.toggle("click-to-dial-on", enabled);
  doc.body.dataset.clickToDial = enabled ? "enabled" : "disabled";
}
