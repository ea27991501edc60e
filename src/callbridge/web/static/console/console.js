// The agent console shell: signs the agent in (from inside a CRM frame, through a pop-up) and shows
// who is signed in and their live status. The full console builds on these exports.
//
// Sign-in from a frame (docs/adr/0003-sso-in-frames.md): the provider's pages refuse framing, so the
// frame opens `/sso/login?...&popup=1&handoff=<S256(verifier)>` in a pop-up. The pop-up's last page
// posts `{type: "callbridge-sso", code}` to this window (exact origin). This frame then redeems the
// code with its verifier at `POST /sso/handoff`, which sets the session cookie in this frame's own
// cookie partition (SameSite=None; Secure; Partitioned; HttpOnly), and reloads signed in.

/**
 * @typedef {Object} ConsoleConfig
 * @property {string} tenant
 * @property {boolean} sandbox
 * @property {boolean} signedIn
 * @property {boolean} autoLogin     The agent's "auto login for single sign-on", as last seen here.
 * @property {boolean} signedOut     The agent signed out here: no automatic sign-in until they ask.
 * @property {boolean} ssoReady      false when the tenant has no identity provider yet.
 * @property {string|null} agentId
 * @property {string[]} [allowedOrigins]  The tenant's CRM origins (the console talks to no other).
 */

/** @returns {ConsoleConfig} */
export function readConfig() {
  const element = document.getElementById("console-config");
  return JSON.parse(element?.textContent || "{}");
}

/** @returns {boolean} */
export function inFrame() {
  try {
    return window.self !== window.top;
  } catch {
    return true;
  }
}

/** @param {Uint8Array} bytes */
function base64url(bytes) {
  let text = "";
  for (const b of bytes) text += String.fromCharCode(b);
  return btoa(text).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/** @returns {Promise<{verifier: string, challenge: string}>} */
export async function handoffPair() {
  const verifier = base64url(crypto.getRandomValues(new Uint8Array(32)));
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier));
  return { verifier, challenge: base64url(new Uint8Array(digest)) };
}

/** @param {string} message @param {string} [advice] */
function showError(message, advice) {
  const box = document.getElementById("sign-in-error");
  if (!box) return;
  box.textContent = advice ? `${message}. ${advice}` : message;
  box.hidden = false;
}

/**
 * Sign in through a pop-up and, once the pop-up reports back, reload this frame signed in.
 * @param {ConsoleConfig} config
 * @param {boolean} silent   Try prompt=none first (no provider pages when the agent is known and has consented).
 * @returns {Promise<boolean>} false when the pop-up could not be opened (blocked).
 */
export async function signInWithPopup(config, silent) {
  const { verifier, challenge } = await handoffPair();
  const params = new URLSearchParams({ tenant: config.tenant, popup: "1", handoff: challenge });
  if (config.sandbox) params.set("sandbox", "true");
  if (silent) params.set("silent", "1");
  const popup = window.open(`/sso/login?${params}`, "callbridge-sso", "popup,width=520,height=680");
  if (!popup) return false;
  /** @param {MessageEvent} event */
  const onMessage = async (event) => {
    if (event.origin !== window.location.origin || event.source !== popup) return;
    const data = event.data;
    if (!data || typeof data !== "object") return;
    if (data.type === "callbridge-sso-error") {
      window.removeEventListener("message", onMessage);
      showError(String(data.message || "Sign-in failed"), String(data.advice || ""));
      return;
    }
    if (data.type !== "callbridge-sso" || typeof data.code !== "string") return;
    window.removeEventListener("message", onMessage);
    const response = await fetch("/sso/handoff", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ tenant: config.tenant, code: data.code, verifier }),
      credentials: "same-origin",
    });
    if (!response.ok) {
      const body = await response.json().catch(() => ({}));
      showError(String(body.message || "Sign-in failed"));
      return;
    }
    window.location.reload();
  };
  window.addEventListener("message", onMessage);
  return true;
}

/**
 * A single-use ticket for the event WebSocket, obtained with this frame's session.
 * @returns {Promise<string>} the WebSocket URL to open.
 */
export async function realtimeUrl() {
  const response = await fetch("/api/v1/realtime/tickets", { method: "POST", credentials: "same-origin" });
  if (!response.ok) throw new Error(`ticket refused: ${response.status}`);
  const body = await response.json();
  const scheme = window.location.protocol === "https:" ? "wss:" : "ws:";
  return `${scheme}//${window.location.host}${body.url}&view=agent`; // my own view, even as a supervisor
}

/** Ends the session here and at the provider, then shows the signed-out console. */
export async function signOut() {
  await fetch("/sso/logout", { method: "POST", credentials: "same-origin" });
  window.location.reload();
}

/** @param {ConsoleConfig} config */
function start(config) {
  if (config.signedIn) {
    // The console proper (app.js) keeps the live connection and the sign-out button.
    import("./app.js")
      .then(({ mount }) => mount(config, { realtimeUrl, signOut }))
      .catch((error) => showError(String(error)));
    return;
  }
  if (!config.ssoReady) {
    showError("Single sign-on is not set up for this tenant", "Ask your Callbridge admin to connect your CRM.");
    return;
  }
  const link = document.getElementById("sign-in");
  if (inFrame()) {
    link?.addEventListener("click", (event) => {
      event.preventDefault();
      void signInWithPopup(config, false).then((opened) => {
        if (!opened) showError("The browser blocked the sign-in window", "Allow pop-ups for Callbridge and try again.");
      });
    });
  }
  // Storage APIs are blocked in third-party frames when third-party cookies are; the server tells us instead
  // (partitioned cookies set at hand-off and sign-out).
  if (!config.autoLogin || config.signedOut) return;
  if (inFrame()) {
    void signInWithPopup(config, true).then((opened) => {
      const help = document.getElementById("sign-in-help");
      if (!opened && help) help.textContent = "Your browser blocked automatic sign-in: use the link below.";
    });
  } else if (link instanceof HTMLAnchorElement) {
    window.location.assign(`${link.href}&silent=1`);
  }
}

start(readConfig());
