// The console's host module when it runs in a window of its own with no CRM page behind it
// (non-console mode): a screen pop opens the CRM page in a browser window, a new one each time or one
// reused window, sized by the admin's window properties. There is no CRM page to click numbers on.

/** @typedef {import('./host.js').CrmHost} CrmHost */
/** @typedef {import('./host.js').WindowProperties} WindowProperties */

export const POP_WINDOW_NAME = "callbridge-screenpop";

/**
 * window.open's name and features for a pop.
 * @param {WindowProperties} win
 * @returns {{name: string, features: string}}
 */
export function popWindowArguments(win) {
  const parts = [];
  if (win.width && win.width >= 100) parts.push(`width=${Math.round(win.width)}`);
  if (win.height && win.height >= 100) parts.push(`height=${Math.round(win.height)}`);
  if (parts.length) parts.unshift("popup");
  return { name: win.reuse ? POP_WINDOW_NAME : "_blank", features: parts.join(",") };
}

/**
 * @param {{allowedOrigins: string[], open?: (url: string, name: string, features: string) => Window | null}} options
 * @returns {CrmHost}
 */
export function createHost(options) {
  const open = options.open ?? ((url, name, features) => window.open(url, name, features));
  return {
    name: "standalone",
    consoleMode: false,
    async init() {},
    async screenPop(target, win) {
      const url = new URL(target.url);
      if (url.protocol !== "https:" && url.protocol !== "http:") throw new Error("a screen pop opens web pages only");
      const { name, features } = popWindowArguments(win);
      const opened = open(url.href, name, features);
      if (!opened) throw new Error("the browser blocked the screen-pop window: allow pop-ups for Callbridge");
    },
    async enableClickToDial() {},
    async disableClickToDial() {},
    async setPanelVisible() {},
    onNavigationChange() {},
  };
}
