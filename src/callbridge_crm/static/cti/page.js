// Non-console mode: plain CRM pages. The agent console runs in its own window (opened by the
// "Contact Center" link); this page is its CTI host while it is shown.

import { CtiHost } from "./host.js";
import { PROTOCOL, VERSION, CtiError, ErrorCode } from "./protocol.js";
import {
  CONSOLE_WINDOW_NAME,
  hostConfig,
  invalid,
  pageInfo,
  saveLog,
  screenPopTarget,
  searchPopTarget,
  searchRecords,
  showClickToDial,
  wirePhoneLinks,
} from "./crm.js";

const config = hostConfig();
const CLICK_TO_DIAL_KEY = "callbridge-cti.clickToDial";
const CONSOLE_OPENED_KEY = "callbridge-cti.consoleOpened";
const SCREEN_POP_WINDOW = "callbridge-screenpop";
/** @type {Window | null} */
let consoleWindow = null;
/** @type {Array<[string, Record<string, unknown>]>} */
let pendingEvents = [];

// Inside a console-workspace tab the workspace is the host; this page does nothing itself.
if (!config.embedded) start();

function start() {
  /** @type {CtiHost} */
  const host = new CtiHost({
    consoleOrigin: config.consoleOrigin,
    consoleWindow: () => (consoleWindow && !consoleWindow.closed ? consoleWindow : null),
    // The console window is found by its messages (origin checked by the host): pages come and go,
    // the console stays, so the console's window is whoever speaks from its origin.
    acceptSource: (source) => source !== null && typeof (/** @type {Window} */ (source)).postMessage === "function",
    onConsoleSeen: (source) => {
      consoleWindow = source;
      const queued = pendingEvents;
      pendingEvents = [];
      for (const [name, params] of queued) host.sendEvent(name, params);
    },
    handlers: {
      connect: () => ({
        protocol: PROTOCOL,
        version: VERSION,
        mode: "nonConsole",
        crmOrigin: window.location.origin,
        clickToDialEnabled: clickToDialEnabled(),
        methods: Object.keys(handlers),
        events: ["clickToDial", "navigationChange"],
      }),
      screenPop: (params) => {
        const target = screenPopTarget(params);
        return popWindow(params, target.path);
      },
      searchAndScreenPop: async (params) => {
        const matches = await searchRecords(params);
        if (params.noPop) return { matches, popped: "none" };
        const target = searchPopTarget(params, matches);
        return { matches, popped: target.popped, ...popWindow(params, target.path) };
      },
      enableClickToDial: () => setClickToDial(true),
      disableClickToDial: () => setClickToDial(false),
      setSoftphonePanelVisibility: () => {
        throw new CtiError(ErrorCode.UNSUPPORTED_IN_MODE, "non-console mode has no softphone panel: the console is its own window");
      },
      setSoftphonePanelSize: () => {
        throw new CtiError(ErrorCode.UNSUPPORTED_IN_MODE, "non-console mode has no softphone panel: the console is its own window");
      },
      getPageInfo: () => ({ mode: "nonConsole", ...pageInfo(document) }),
      saveLog: (params) => saveLog(params),
    },
  });
  const handlers = host.options.handlers;
  host.start();

  /** Send now, or as soon as the console is known (it may still be loading). @param {string} name @param {Record<string, unknown>} params */
  const send = (name, params) => {
    if (!host.sendEvent(name, params)) pendingEvents.push([name, params]);
  };

  const contactCenter = document.querySelector("[data-open-console]");
  if (contactCenter) {
    contactCenter.addEventListener("click", (event) => {
      event.preventDefault();
      openConsole(true);
    });
  }
  wirePhoneLinks(document, clickToDialEnabled, (params) => {
    // A click is a user gesture, so finding (or reopening) the console window is allowed here.
    if (!consoleWindow || consoleWindow.closed) openConsole(false);
    send("clickToDial", params);
  });
  showClickToDial(document, clickToDialEnabled());
  document.body.dataset.ctiHost = "ready";
  if (consoleWindow) send("navigationChange", { mode: "nonConsole", ...pageInfo(document) });
}

/** Open the console window, or find the one this browser session opened before. @param {boolean} focus */
function openConsole(focus) {
  const alreadyOpened = sessionStorage.getItem(CONSOLE_OPENED_KEY) === "1";
  let win = null;
  if (alreadyOpened) {
    // An empty URL finds an existing window by name without reloading it.
    win = window.open("", CONSOLE_WINDOW_NAME);
    if (win && isBlank(win)) win.location.href = config.consoleUrl; // it had been closed: open it again
  } else {
    win = window.open(config.consoleUrl, CONSOLE_WINDOW_NAME, "popup,width=420,height=760");
  }
  if (win) {
    sessionStorage.setItem(CONSOLE_OPENED_KEY, "1");
    consoleWindow = win;
    if (focus) win.focus();
  }
  return win;
}

/** A window we can read is a blank one we just created (the console's origin is another one). @param {Window} win */
function isBlank(win) {
  try {
    return win.location.href === "about:blank";
  } catch {
    return false;
  }
}

function clickToDialEnabled() {
  return sessionStorage.getItem(CLICK_TO_DIAL_KEY) === "1";
}

/** @param {boolean} enabled */
function setClickToDial(enabled) {
  // Kept for the browser tab's session: the next CRM page comes up with the same setting.
  sessionStorage.setItem(CLICK_TO_DIAL_KEY, enabled ? "1" : "0");
  showClickToDial(document, enabled);
  return { enabled };
}

/**
 * Non-console screen pop: a new window, the one reused pop-up window, or this window, as asked.
 * @param {Record<string, any>} params @param {string} path
 */
function popWindow(params, path) {
  const options = params.window ?? {};
  const target = options.target ?? "newWindow";
  const url = new URL(path, window.location.origin).href;
  const size = [];
  for (const key of ["width", "height"]) {
    if (options[key] !== undefined) {
      const pixels = Number(options[key]);
      if (!Number.isFinite(pixels) || pixels < 100) throw invalid(`window.${key} must be a number of pixels >= 100`);
      size.push(`${key}=${Math.round(pixels)}`);
    }
  }
  const features = size.length ? ["popup", ...size].join(",") : "";
  if (target === "currentWindow") {
    // Answer first: the reply must leave before this page unloads.
    setTimeout(() => window.location.assign(url), 0);
    return { mode: "nonConsole", url, target };
  }
  let name;
  if (target === "reuseWindow") name = typeof options.name === "string" && options.name ? options.name : SCREEN_POP_WINDOW;
  else if (target === "newWindow") name = "_blank";
  else throw invalid("window.target must be newWindow, reuseWindow or currentWindow");
  const opened = window.open(url, name, features);
  if (!opened) throw new CtiError(ErrorCode.POPUP_BLOCKED, "the browser blocked the pop-up window: allow pop-ups for this CRM");
  return { mode: "nonConsole", url, target };
}
