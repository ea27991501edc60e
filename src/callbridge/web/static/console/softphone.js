// The browser softphone: SIP over WebSocket to Callbridge's Kamailio (npm sip.js, served as a plain ES module
// from /static/vendor/), media as WebRTC through rtpengine. It registers once the agent is signed in, with
// short-lived credentials the server derives from this session (GET /api/v1/me/softphone), fetched again
// before they expire. A call offered to the agent rings here as a SIP INVITE naming its interaction
// (X-Callbridge-Interaction); Accept in the console answers it. The caller is heard in an <audio> element.
// Ending the call in the console (Hang up) makes Callbridge hang up this leg; Mute stops sending the microphone.
// A colleague's consult (warm transfer) rings here too, naming the interaction and the colleague
// (X-Callbridge-Consult): the consult panel says who asks about which caller, with Answer and Decline, then Hang up;
// when the colleague completes the transfer the call becomes this agent's own and its card takes over.

import { api } from "./api.js";
import { h, setText } from "./dom.js";

/** Loaded at run time (not a type-checked import): a console without the package still works, minus the phone. */
const SIP_URL = "/static/vendor/sip.js/index.js";
const INTERACTION_HEADER = "X-Callbridge-Interaction";
const CONSULT_HEADER = "X-Callbridge-Consult";
const REGISTER_EXPIRES = 600;
const RECONNECT_SECONDS = [1, 2, 5, 10, 30];

/**
 * @typedef {Object} SoftphoneInfo
 * @property {boolean} available
 * @property {boolean} voice
 * @property {string} rings
 * @property {string} reason
 * @property {string|null} ws_url
 * @property {string|null} aor
 * @property {string|null} username
 * @property {string|null} password
 * @property {number|null} expires_at
 * @property {{urls: string[], username: string|null, credential: string|null}[]} [ice_servers]  STUN/TURN servers
 */

/**
 * @typedef {Object} SoftphoneHooks
 * @property {(interactionId: string) => "offered"|"connected"|"other"} stateOf  the interaction as this agent sees it
 * @property {() => void} changed  a call started or ended here (cards update their Mute, dial pad)
 * @property {(agentId: string) => string} agentName  a colleague's display name (who consults this agent)
 */

export class Softphone {
  /**
   * @param {HTMLElement} status  where the agent reads the phone's state, in words
   * @param {HTMLAudioElement} audio  plays the far end
   * @param {SoftphoneHooks} hooks
   */
  constructor(status, audio, hooks, consultPanel = /** @type {HTMLElement|null} */ (null)) {
    this.status = status;
    this.audio = audio;
    this.hooks = hooks;
    /** where a colleague's consult rings (Answer, Decline, Hang up) */
    this.consultPanel = consultPanel;
    /** @type {Map<string, {colleague: string, caller: string}>} interaction id -> a colleague's consult ringing or talking here */
    this.consults = new Map();
    /** @type {any} */
    this.sip = null;
    /** @type {any} */
    this.ua = null;
    /** @type {any} */
    this.registerer = null;
    /** @type {Map<string, any>} interaction id -> sip.js Invitation (ringing or answered) */
    this.calls = new Map();
    /** @type {Set<string>} accepted in the console before its INVITE arrived: answered on arrival */
    this.accepted = new Set();
    this.stopped = false;
    this.attempt = 0;
    /** @type {ReturnType<typeof setTimeout>|undefined} */
    this.refreshTimer = undefined;
    /** @type {ReturnType<typeof setTimeout>|undefined} */
    this.reconnectTimer = undefined;
  }

  /** @param {string} state @param {string} text */
  show(state, text) {
    this.status.dataset.state = state;
    setText(this.status, text);
  }

  async start() {
    this.show("connecting", "Phone connecting…");
    /** @type {SoftphoneInfo} */
    let info;
    try {
      info = await api.softphone();
    } catch (error) {
      this.show("error", `Phone not connected: Callbridge did not give this browser its phone (${errorText(error)}). Reload the page.`);
      return;
    }
    if (!info.available) {
      this.show(info.rings === "desk" ? "desk" : "off", info.rings === "desk" ? info.reason : `Phone not connected: ${info.reason}`);
      this.status.hidden = !info.voice; // a Callbridge without phone calls has no phone to talk about
      return;
    }
    if (!navigator.mediaDevices?.getUserMedia) {
      this.show("error", "Phone not connected: this page is not served over HTTPS, so the browser offers no microphone. Open Callbridge over HTTPS.");
      return;
    }
    try {
      const probe = await navigator.mediaDevices.getUserMedia({ audio: true, video: false });
      for (const track of probe.getTracks()) track.stop();
    } catch (error) {
      this.show("error", `Phone not connected: the browser may not use your microphone (${errorText(error)}). Allow the microphone for this site, then reload.`);
      return;
    }
    try {
      this.sip = await import(SIP_URL);
    } catch {
      this.show("error", "Phone not connected: the phone's library is not installed on this Callbridge (ask your admin to run scripts/setup).");
      return;
    }
    this.connect(info);
  }

  /** @param {SoftphoneInfo} info */
  connect(info) {
    const SIP = this.sip;
    this.ua = new SIP.UserAgent({
      uri: SIP.UserAgent.makeURI(info.aor),
      transportOptions: { server: info.ws_url },
      authorizationUsername: info.username,
      authorizationPassword: info.password,
      logLevel: "error",
      noAnswerTimeout: 300, // the offer's own timeout decides; Callbridge cancels the INVITE when it ends
      // The STUN/TURN servers Callbridge names (none: only the browser's own addresses; never sip.js's default
      // public STUN server). Replaced at each renewal: the TURN credentials expire with the SIP ones.
      sessionDescriptionHandlerFactoryOptions: handlerOptions(info),
      delegate: {
        onInvite: (/** @type {any} */ invitation) => this.incoming(invitation),
        onConnect: () => void this.register(),
        onDisconnect: (/** @type {Error|undefined} */ error) => {
          if (this.stopped || !error) return;
          this.show("error", "Phone not connected: the phone server cannot be reached. Retrying by itself; if this lasts, check your network or ask your admin.");
          this.scheduleReconnect();
        },
      },
    });
    this.registerer = new SIP.Registerer(this.ua, { expires: REGISTER_EXPIRES });
    this.registerer.stateChange.addListener((/** @type {string} */ state) => {
      if (state === SIP.RegistererState.Registered) {
        this.attempt = 0;
        this.show("ready", "Phone ready");
      }
    });
    this.scheduleRefresh(info);
    this.ua.start().catch(() => {
      this.show("error", "Phone not connected: the phone server cannot be reached. Retrying by itself; if this lasts, check your network or ask your admin.");
      this.scheduleReconnect();
    });
  }

  async register() {
    try {
      await this.registerer.register({
        requestDelegate: {
          onReject: (/** @type {any} */ response) => {
            const code = response.message.statusCode;
            if (code === 403 || code === 401) {
              // voice restarted (its secret is new) or the credentials ran out: fetch new ones once
              void this.renew(true);
            } else {
              this.show("error", `Phone not connected: the phone server answered ${code} ${response.message.reasonPhrase}. Reload the page; if it happens again, ask your admin.`);
            }
          },
        },
      });
    } catch (error) {
      this.show("error", `Phone not connected: ${errorText(error)}. Reload the page.`);
    }
  }

  /** @param {SoftphoneInfo} info */
  scheduleRefresh(info) {
    clearTimeout(this.refreshTimer);
    const left = (info.expires_at ?? 0) * 1000 - Date.now();
    // well before they run out: the registration refreshes itself every few minutes with them
    this.refreshTimer = setTimeout(() => void this.renew(false), Math.max(30_000, left * 0.8));
  }

  /** @param {boolean} afterRefusal */
  async renew(afterRefusal) {
    if (this.stopped) return;
    try {
      /** @type {SoftphoneInfo} */
      const info = await api.softphone();
      if (!info.available) {
        this.show("off", `Phone not connected: ${info.reason}`);
        return;
      }
      this.ua.configuration.authorizationUsername = info.username;
      this.ua.configuration.authorizationPassword = info.password;
      // read by sip.js for each new call's peer connection
      this.ua.configuration.sessionDescriptionHandlerFactoryOptions = handlerOptions(info);
      this.scheduleRefresh(info);
      if (afterRefusal) {
        if (this.attempt++ > 0) {
          this.show("error", "Phone not connected: the phone server refused this browser's sign-in. Reload the page; if it happens again, ask your admin.");
          return;
        }
        await this.register();
      }
    } catch (error) {
      this.show("error", `Phone not connected: new phone credentials could not be fetched (${errorText(error)}). Reload the page.`);
    }
  }

  scheduleReconnect() {
    clearTimeout(this.reconnectTimer);
    const delay = RECONNECT_SECONDS[Math.min(this.attempt, RECONNECT_SECONDS.length - 1)];
    this.attempt += 1;
    this.reconnectTimer = setTimeout(() => {
      if (this.stopped) return;
      this.ua.reconnect().catch(() => this.scheduleReconnect());
    }, delay * 1000);
  }

  /** @param {any} invitation */
  incoming(invitation) {
    const SIP = this.sip;
    const id = invitation.request.getHeader(INTERACTION_HEADER) || "";
    const current = id ? this.calls.get(id) : undefined;
    // A new call for the agent's connected call takes its place (after a consult the agent cancelled, Callbridge
    // calls the browser again and hangs up the old call): answered at once below.
    const replaces = Boolean(current && current.state === SIP.SessionState.Established && this.hooks.stateOf(id) === "connected");
    if (!id || (current && !replaces)) {
      void invitation.reject({ statusCode: 486 });
      return;
    }
    this.calls.set(id, invitation);
    invitation.stateChange.addListener((/** @type {string} */ state) => {
      // what the interaction's call did (Establishing, Established, Terminated); not a replaced call's end
      if (this.calls.get(id) === invitation || state !== SIP.SessionState.Terminated) this.status.dataset.call = state;
      if (state === SIP.SessionState.Established) this.play(invitation);
      if (state === SIP.SessionState.Terminated) {
        if (this.calls.get(id) === invitation) this.calls.delete(id);
        this.accepted.delete(id);
        this.consults.delete(id);
        if (this.calls.size === 0) this.audio.srcObject = null;
      }
      this.hooks.changed();
    });
    this.status.dataset.ringing = id;
    const colleague = invitation.request.getHeader(CONSULT_HEADER) || "";
    if (colleague && this.hooks.stateOf(id) === "other") {
      const caller = invitation.remoteIdentity?.uri?.user || "";
      this.consults.set(id, { colleague, caller });
    }
    // accepted in the console already (or the INVITE came after the Accept click): answer now
    if (this.accepted.has(id) || this.hooks.stateOf(id) === "connected") void this.answer(id);
    this.hooks.changed();
  }

  /**
   * The consult panel: a colleague's consult ringing (Answer, Decline) or talking (Hang up). Hidden once the call
   * is this agent's own (the colleague completed the transfer: its card has the controls) or over.
   */
  renderConsult() {
    const panel = this.consultPanel;
    if (!panel) return;
    for (const id of [...this.consults.keys()]) if (this.hooks.stateOf(id) !== "other") this.consults.delete(id);
    const [entry] = this.consults.entries();
    if (!entry) {
      if (!panel.hidden) panel.replaceChildren();
      panel.hidden = true;
      delete panel.dataset.interactionId;
      return;
    }
    const [id, { colleague, caller }] = entry;
    const invitation = this.calls.get(id);
    const talking = Boolean(invitation && this.sip && invitation.state === this.sip.SessionState.Established);
    const state = talking ? "talking" : "ringing";
    if (panel.dataset.interactionId === id && panel.dataset.state === state) return;
    panel.dataset.interactionId = id;
    panel.dataset.state = state;
    const name = this.hooks.agentName(colleague) || colleague;
    const about = caller ? `a call from ${caller}` : "a call";
    const line = talking
      ? `Consult with ${name} about ${about}. The caller is on hold: ${name} completes the transfer to you, or ends the consult.`
      : `${name} is consulting you about ${about}.`;
    const actions = talking
      ? [h("button", { type: "button", class: "danger", "data-action": "consult-hang-up", onclick: () => void this.leaveConsult(id) }, "Hang up")]
      : [
          h("button", { type: "button", class: "primary", "data-action": "consult-answer", onclick: () => void this.answerConsult(id) }, "Answer"),
          h("button", { type: "button", "data-action": "consult-decline", onclick: () => void this.leaveConsult(id) }, "Decline"),
        ];
    panel.replaceChildren(
      h("div", { class: "card-head" }, h("span", { class: "channel-badge" }, "Consult"), h("strong", { class: "who" }, name)),
      h("p", {}, line),
      h("div", { class: "actions" }, ...actions),
    );
    panel.hidden = false;
  }

  /** @param {string} id */
  async answerConsult(id) {
    const invitation = this.calls.get(id);
    if (!invitation || invitation.state !== this.sip.SessionState.Initial) return;
    await invitation.accept({ sessionDescriptionHandlerOptions: { constraints: { audio: true, video: false } } });
  }

  /** Declines a ringing consult, or hangs up an answered one: the colleague is back with their caller. @param {string} id */
  async leaveConsult(id) {
    const invitation = this.calls.get(id);
    if (!invitation) return;
    if (invitation.state === this.sip.SessionState.Initial) await invitation.reject({ statusCode: 486 });
    else if (invitation.state === this.sip.SessionState.Established) await invitation.bye();
  }

  /** @param {any} invitation */
  play(invitation) {
    const handler = invitation.sessionDescriptionHandler;
    if (!handler) return;
    this.audio.srcObject = handler.remoteMediaStream;
    void this.audio.play().catch(() => undefined);
  }

  /**
   * Whether the phone rings or carries this interaction's call.
   * @param {string} id
   */
  has(id) {
    return this.calls.has(id);
  }

  /** @param {string} id */
  inCall(id) {
    const call = this.calls.get(id);
    return Boolean(call && this.sip && call.state === this.sip.SessionState.Established);
  }

  /**
   * Answers the interaction's ringing INVITE (or the one still on its way).
   * @param {string} id
   */
  async answer(id) {
    const invitation = this.calls.get(id);
    if (!invitation) {
      this.accepted.add(id);
      return;
    }
    this.accepted.delete(id);
    if (invitation.state !== this.sip.SessionState.Initial) return;
    await invitation.accept({ sessionDescriptionHandlerOptions: { constraints: { audio: true, video: false } } });
  }

  /**
   * Stops (or restarts) sending the microphone on this call.
   * @param {string} id @param {boolean} muted
   */
  setMuted(id, muted) {
    const handler = this.calls.get(id)?.sessionDescriptionHandler;
    const connection = handler?.peerConnection;
    if (!connection) return false;
    for (const sender of connection.getSenders()) if (sender.track) sender.track.enabled = !muted;
    return true;
  }

  /**
   * Sends a digit to the far end (RFC 4733 events, through the browser's RTCDTMFSender).
   * @param {string} id @param {string} digit
   */
  sendDigit(id, digit) {
    const handler = this.calls.get(id)?.sessionDescriptionHandler;
    return Boolean(handler && handler.sendDtmf(digit, { duration: 160, interToneGap: 70 }));
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.refreshTimer);
    clearTimeout(this.reconnectTimer);
    if (this.ua) void this.ua.stop().catch(() => undefined);
  }
}

/**
 * sip.js's options for each call's peer connection: its RTCIceServer list (a STUN entry carries no credentials:
 * a null would become the string "null").
 * @param {SoftphoneInfo} info
 */
function handlerOptions(info) {
  const iceServers = (info.ice_servers ?? []).map((server) =>
    server.username ? { urls: server.urls, username: server.username, credential: server.credential ?? "" } : { urls: server.urls },
  );
  return { peerConnectionConfiguration: { iceServers } };
}

/** @param {unknown} error */
function errorText(error) {
  return error instanceof Error ? error.message : String(error);
}
