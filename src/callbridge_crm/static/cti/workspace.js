// Console mode: the workspace page. Records open as tabs; the agent console is the docked softphone
// frame (another origin), and this page is its CTI host.

import { CtiHost } from "./host.js";
import { PROTOCOL, VERSION } from "./protocol.js";
import {
  hostConfig,
  invalid,
  pageInfo,
  saveLog,
  screenPopTarget,
  searchPopTarget,
  searchRecords,
  showClickToDial,
  wirePhoneLinks,
  withEmbedded,
} from "./crm.js";

const config = hostConfig();
const strip = /** @type {HTMLElement} */ (document.querySelector(".tab-strip"));
const panels = /** @type {HTMLElement} */ (document.querySelector(".tab-panels"));
const softphonePanel = /** @type {HTMLElement} */ (document.getElementById("softphone-panel"));
const softphone = /** @type {HTMLIFrameElement} */ (document.getElementById("softphone-frame"));
let clickToDialEnabled = false;
let tabCounter = 0;

/** @param {string} id */
const tabButton = (id) => /** @type {HTMLElement | null} */ (strip.querySelector(`[data-tab-id="${CSS.escape(id)}"]`));
/** @param {string} id */
const tabFrame = (id) => /** @type {HTMLIFrameElement | null} */ (panels.querySelector(`iframe[data-tab-id="${CSS.escape(id)}"]`));
const activeFrame = () => /** @type {HTMLIFrameElement} */ (panels.querySelector("iframe.tab-panel.active"));

/** @param {string} id */
function activateTab(id) {
  for (const element of strip.querySelectorAll(".tab")) {
    element.classList.toggle("active", element.getAttribute("data-tab-id") === id);
    element.setAttribute("aria-selected", String(element.getAttribute("data-tab-id") === id));
  }
  for (const frame of panels.querySelectorAll("iframe.tab-panel")) {
    frame.classList.toggle("active", frame.getAttribute("data-tab-id") === id);
  }
  announceNavigation();
}

/** @param {string} id */
function closeTab(id) {
  const wasActive = tabButton(id)?.classList.contains("active");
  tabButton(id)?.remove();
  tabFrame(id)?.remove();
  if (wasActive) activateTab("home");
}

/**
 * Open `path` in a tab: a record already open is brought to front, anything else gets a new tab.
 * Returns the tab's id and whether this call opened it.
 * @param {string} path @param {string} kind @param {boolean} focus
 * @returns {{id: string, created: boolean}}
 */
function openTab(path, kind, focus) {
  const key = kind === "record" ? path : null;
  if (key) {
    const existing = /** @type {HTMLIFrameElement | null} */ (panels.querySelector(`iframe[data-tab-key="${CSS.escape(key)}"]`));
    if (existing) {
      const id = /** @type {string} */ (existing.getAttribute("data-tab-id"));
      if (focus) activateTab(id);
      return { id, created: false };
    }
  }
  const id = `tab-${++tabCounter}`;
  const button = document.createElement("button");
  button.className = "tab";
  button.setAttribute("role", "tab");
  button.setAttribute("aria-selected", "false");
  button.dataset.tabId = id;
  const label = document.createElement("span");
  label.className = "tab-label";
  label.textContent = "Loading…";
  const close = document.createElement("span");
  close.className = "close";
  close.textContent = "×";
  close.title = "Close tab";
  close.setAttribute("role", "button");
  button.append(label, close);
  strip.append(button);
  const frame = document.createElement("iframe");
  frame.className = "tab-panel";
  frame.dataset.tabId = id;
  if (key) frame.dataset.tabKey = key;
  frame.title = "Record";
  frame.src = withEmbedded(path, true);
  panels.append(frame);
  watchFrame(frame);
  if (focus || !strip.querySelector(".tab.active")) activateTab(id);
  return { id, created: true };
}

/** Keep a tab's title in step with its page, and make its phone numbers click-to-dial. @param {HTMLIFrameElement} frame */
function watchFrame(frame) {
  frame.addEventListener("load", () => {
    const doc = frame.contentDocument;
    if (!doc) return;
    const id = /** @type {string} */ (frame.getAttribute("data-tab-id"));
    const label = tabButton(id)?.querySelector(".tab-label") ?? tabButton(id);
    if (label) label.textContent = doc.title.replace(/ · Callbridge CRM$/, "");
    showClickToDial(doc, clickToDialEnabled);
    wirePhoneLinks(doc, () => clickToDialEnabled, (params) => host.sendEvent("clickToDial", params));
    if (frame.classList.contains("active")) announceNavigation();
  });
}

function announceNavigation() {
  const doc = activeFrame()?.contentDocument;
  if (doc && doc.readyState !== "loading") host.sendEvent("navigationChange", { mode: "console", ...pageInfo(doc) });
}

/** @param {boolean} enabled */
function setClickToDial(enabled) {
  clickToDialEnabled = enabled;
  for (const frame of panels.querySelectorAll("iframe.tab-panel")) {
    const doc = /** @type {HTMLIFrameElement} */ (frame).contentDocument;
    if (doc && doc.body) showClickToDial(doc, enabled);
  }
  return { enabled };
}

/** @param {Record<string, any>} params @param {string} path @param {string} kind */
function pop(params, path, kind) {
  const { id, created } = openTab(path, kind, params.focus !== false);
  return { mode: "console", url: new URL(path, window.location.origin).href, tabId: id, created };
}

/** @param {Record<string, any>} params */
function knownTab(params) {
  const id = typeof params.tabId === "string" ? params.tabId : "";
  if (!id || id === "home" || !tabButton(id)) throw invalid(`no such tab: ${JSON.stringify(params.tabId)}`);
  return id;
}

/** @type {CtiHost} */
const host = new CtiHost({
  consoleOrigin: config.consoleOrigin,
  consoleWindow: () => softphone.contentWindow,
  // The docked softphone frame is the only console this page listens to.
  acceptSource: (source) => source !== null && source === softphone.contentWindow,
  handlers: {
    connect: () => ({
      protocol: PROTOCOL,
      version: VERSION,
      mode: "console",
      crmOrigin: window.location.origin,
      clickToDialEnabled,
      methods: Object.keys(handlers),
      events: ["clickToDial", "navigationChange"],
    }),
    screenPop: (params) => {
      const target = screenPopTarget(params);
      return pop(params, target.path, target.kind);
    },
    searchAndScreenPop: async (params) => {
      const matches = await searchRecords(params);
      if (params.noPop) return { matches, popped: "none" };
      const target = searchPopTarget(params, matches);
      return { matches, popped: target.popped, ...pop(params, target.path, target.kind) };
    },
    focusTab: (params) => {
      const id = knownTab(params);
      activateTab(id);
      return { tabId: id };
    },
    closeTab: (params) => {
      const id = knownTab(params);
      closeTab(id);
      return { tabId: id, closed: true };
    },
    enableClickToDial: () => setClickToDial(true),
    disableClickToDial: () => setClickToDial(false),
    setSoftphonePanelVisibility: (params) => {
      if (typeof params.visible !== "boolean") throw invalid("visible must be true or false");
      softphonePanel.classList.toggle("hidden", !params.visible);
      return { visible: params.visible };
    },
    setSoftphonePanelSize: (params) => {
      if (params.width === undefined) throw invalid("width (pixels) is required");
      const width = Number(params.width);
      if (!Number.isFinite(width)) throw invalid("width must be a number of pixels");
      const clamped = Math.round(Math.min(Math.max(width, 240), 720));
      softphonePanel.style.width = `${clamped}px`;
      return { width: clamped, height: softphonePanel.getBoundingClientRect().height };
    },
    getPageInfo: () => {
      const doc = activeFrame()?.contentDocument;
      return { mode: "console", ...(doc ? pageInfo(doc) : { url: window.location.href, title: document.title }) };
    },
    saveLog: (params) => saveLog(params),
  },
});
const handlers = host.options.handlers;

strip.addEventListener("click", (event) => {
  const target = /** @type {HTMLElement} */ (event.target);
  const tab = /** @type {HTMLElement | null} */ (target.closest(".tab"));
  if (!tab) return;
  const id = /** @type {string} */ (tab.getAttribute("data-tab-id"));
  if (target.classList.contains("close")) closeTab(id);
  else activateTab(id);
});
for (const frame of panels.querySelectorAll("iframe.tab-panel")) watchFrame(/** @type {HTMLIFrameElement} */ (frame));

host.start();
document.body.dataset.ctiHost = "ready";
